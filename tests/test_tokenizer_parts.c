/* The tokenizer's parts on small hand-made tokenizer.json files, with expectations taken from HF's
 * Rust sources and tests: added tokens (lstrip, rstrip, single_word, normalized), Split behaviours,
 * Metaspace prepend schemes, Replace / Strip / Prepend / Lowercase alignments, BPE (unk, fusing,
 * byte fallback, prefixes), Unigram (Viterbi, fused unknowns, byte fallback), RoBERTa's offset
 * trimming; the hand-written GPT-2 pattern against Oniguruma running the real regex; and bad files
 * (one-line errors naming the file and the field). */
#include <stdlib.h>
#include <string.h>

#include "nerc/text.h"
#include "test.h"
#include "text/tokenizer_internal.h"

static nerc_tokenizer *parse(const char *json) {
    nerc_tokenizer *tok = NULL;
    nerc_status s = tokenizer_parse_json(&tok, json, strlen(json), "t.json");
    CHECK_MSG(s == NERC_OK, "%s", nerc_last_error());
    return tok;
}

/* "tok[start,end]w" for each token, space-separated (w = word id, '-' for specials). */
static void describe(const nerc_tokenizer *tok, const char *text, char *out, size_t cap) {
    nerc_encoding e;
    out[0] = '\0';
    if (nerc_tokenizer_encode(tok, text, strlen(text), &e) != NERC_OK) {
        snprintf(out, cap, "error: %s", nerc_last_error());
        return;
    }
    for (int32_t i = 0; i < e.n; i++) {
        char one[128];
        char w[16] = "-";
        if (e.word_ids[i] >= 0)
            snprintf(w, sizeof w, "%d", (int)e.word_ids[i]);
        snprintf(one, sizeof one, "%s%s[%d,%d]%s", i ? " " : "", e.tokens[i], (int)e.offsets[2 * i],
                 (int)e.offsets[2 * i + 1], w);
        strncat(out, one, cap - strlen(out) - 1);
    }
    nerc_encoding_free(&e);
}

static void expect(const nerc_tokenizer *tok, const char *text, const char *want) {
    char got[2048];
    if (!tok)
        return;
    describe(tok, text, got, sizeof got);
    CHECK_MSG(!strcmp(got, want), "'%s'\n     got  %s\n     want %s", text, got, want);
}

/* ---- WordPiece with added tokens ---- */

static const char *wp_json =
    "{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true},"
    " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
    " \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 2], \"cls\": [\"[CLS]\", 1]},"
    " \"added_tokens\": ["
    "  {\"id\": 7, \"content\": \"<mask>\", \"special\": true, \"normalized\": false, \"lstrip\": true},"
    "  {\"id\": 8, \"content\": \"<r>\", \"special\": true, \"normalized\": false, \"rstrip\": true},"
    "  {\"id\": 9, \"content\": \"xx\", \"special\": false, \"normalized\": false, \"single_word\": true},"
    "  {\"id\": 10, \"content\": \"HeLLo\", \"special\": false, \"normalized\": true}],"
    " \"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"a\": 3,"
    "   \"b\": 4, \"##b\": 5, \"say\": 6}}}";

static void test_added_tokens(void) {
    nerc_tokenizer *tok = parse(wp_json);
    /* lstrip takes the spaces before <mask> into its span; rstrip those after <r> */
    expect(tok, "a  <mask> b", "[CLS][0,0]- a[0,1]0 <mask>[1,9]1 b[10,11]2 [SEP][0,0]-");
    expect(tok, "a <r>  b", "[CLS][0,0]- a[0,1]0 <r>[2,7]1 b[7,8]2 [SEP][0,0]-");
    /* single_word: only between non-word characters */
    expect(tok, "a xx b", "[CLS][0,0]- a[0,1]0 xx[2,4]1 b[5,6]2 [SEP][0,0]-");
    expect(tok, "axx b", "[CLS][0,0]- [UNK][0,3]0 b[4,5]1 [SEP][0,0]-");
    /* a normalized token matches the normalized text */
    expect(tok, "say HELLO", "[CLS][0,0]- say[0,3]0 HeLLo[4,9]1 [SEP][0,0]-");
    expect(tok, "ab", "[CLS][0,0]- a[0,1]0 ##b[1,2]0 [SEP][0,0]-");
    if (tok) {
        CHECK(nerc_tokenizer_is_special(tok, 7) && !nerc_tokenizer_is_special(tok, 9));
        CHECK(nerc_tokenizer_vocab_size(tok) == 11 && !strcmp(nerc_tokenizer_id_to_token(tok, 10), "HeLLo"));
    }
    nerc_tokenizer_free(tok);
}

/* ---- a character-level BPE to show splits (one token per char, word id per split) ---- */

static char *char_bpe(const char *pre, const char *norm, const char *extra_model) {
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_ .!?'\xe2\x96\x81";
    char *json = malloc(16384);
    int n = snprintf(json, 16384, "{\"normalizer\": %s, \"pre_tokenizer\": %s, \"model\": {\"type\": \"BPE\", %s "
                     "\"merges\": [], \"vocab\": {", norm, pre, extra_model);
    int id = 0;
    for (const char *c = chars; *c; c++) {
        if ((unsigned char)*c >= 0x80) { /* the one multibyte entry: U+2581 */
            n += snprintf(json + n, 16384 - (size_t)n, "%s\"\xe2\x96\x81\": %d", id ? "," : "", id);
            id++;
            break;
        }
        n += snprintf(json + n, 16384 - (size_t)n, "%s\"%s%c\": %d", id ? "," : "", *c == '"' ? "\\" : "", *c, id);
        id++;
    }
    snprintf(json + n, 16384 - (size_t)n, "}}}");
    return json;
}

/* The splits of text as "piece|piece|..." (chars of one word id joined). */
static void splits_of(const char *pre, const char *norm, const char *text, const char *want) {
    char *json = char_bpe(pre, norm, "");
    nerc_tokenizer *tok = parse(json);
    free(json);
    if (!tok)
        return;
    nerc_encoding e;
    char got[512] = "";
    CHECK_OK(nerc_tokenizer_encode(tok, text, strlen(text), &e));
    for (int32_t i = 0; i < e.n; i++) {
        if (i > 0 && e.word_ids[i] != e.word_ids[i - 1])
            strcat(got, "|");
        strcat(got, e.tokens[i]);
    }
    CHECK_MSG(!strcmp(got, want), "%s on '%s': got '%s', want '%s'", pre, text, got, want);
    nerc_encoding_free(&e);
    nerc_tokenizer_free(tok);
}

static void test_split_behaviors(void) {
    const char *t = "the-final--countdown";
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                        "Contiguous"};
    static const char *const want[] = {"the|final|countdown", "the|-|final|-|-|countdown",
                                       "the-|final-|-|countdown", "the|-final|-|-countdown",
                                       "the|-|final|--|countdown"};
    for (int k = 0; k < 5; k++) {
        char pre[160];
        snprintf(pre, sizeof pre, "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"%s\", "
                 "\"invert\": false}", names[k]);
        splits_of(pre, "null", t, want[k]);
    }
    splits_of("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"-+\"}, \"behavior\": \"Removed\", \"invert\": true}",
              "null", t, "-|--");
    splits_of("{\"type\": \"WhitespaceSplit\"}", "null", "  a b\tc ", "a|b|c");
    splits_of("{\"type\": \"Whitespace\"}", "null", "Hey friend!  How?", "Hey|friend|!|How|?");
    splits_of("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"WhitespaceSplit\"},"
              " {\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Isolated\", \"invert\": false}]}",
              "null", "a-b c", "a|-|b|c");
}

static void test_metaspace(void) {
    const char *base = "{\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\", \"prepend_scheme\": \"%s\","
                       " \"split\": %s}";
    char pre[192];
    snprintf(pre, sizeof pre, base, "always", "true");
    splits_of(pre, "null", "Hey   friend!", "\xe2\x96\x81Hey|\xe2\x96\x81|\xe2\x96\x81|\xe2\x96\x81" "friend!");
    snprintf(pre, sizeof pre, base, "never", "true");
    splits_of(pre, "null", "Hey friend", "Hey|\xe2\x96\x81" "friend");
    snprintf(pre, sizeof pre, base, "first", "false");
    splits_of(pre, "null", "Hey friend", "\xe2\x96\x81Hey\xe2\x96\x81" "friend");
    /* legacy add_prefix_space */
    splits_of("{\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\", \"add_prefix_space\": false}", "null", "a b",
              "a|\xe2\x96\x81" "b");
    /* word input: every word gets its prefix */
    char *json = char_bpe("{\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\", \"prepend_scheme\": \"first\"}",
                          "null", "");
    nerc_tokenizer *tok = parse(json);
    free(json);
    int32_t ids[8], n = 0;
    if (tok) {
        CHECK_OK(nerc_tokenizer_encode_word(tok, "ab", 2, ids, 8, &n));
        CHECK(n == 3 && !strcmp(nerc_tokenizer_id_to_token(tok, ids[0]), "\xe2\x96\x81"));
    }
    nerc_tokenizer_free(tok);
}

static void test_normalizer_alignments(void) {
    char *json = char_bpe("{\"type\": \"WhitespaceSplit\"}",
                          "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Strip\", \"strip_left\": true,"
                          " \"strip_right\": true}, {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"},"
                          " \"content\": \"_\"}, {\"type\": \"Lowercase\"}, {\"type\": \"Prepend\", \"prepend\": \"!\"}]}",
                          "");
    nerc_tokenizer *tok = parse(json);
    free(json);
    /* stripped ends vanish; "   " -> "_" aligned to the last space; "!" aligned to the first char */
    expect(tok, "  A   Bc ", "![2,3]0 a[2,3]0 _[5,6]0 b[6,7]0 c[7,8]0");
    nerc_tokenizer_free(tok);
}

/* ---- BPE ---- */

static void test_bpe(void) {
    /* HF's test: unrelated with 8 merges */
    nerc_tokenizer *tok = parse(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"u\": 0, \"n\": 1, \"r\": 2, \"e\": 3, \"l\": 4, \"a\": 5,"
        " \"t\": 6, \"d\": 7, \"re\": 8, \"at\": 9, \"ed\": 10, \"un\": 11, \"ated\": 12, \"rel\": 13,"
        " \"related\": 14, \"unrelated\": 15, \"<unk>\": 16}, \"merges\": [\"r e\", \"a t\", \"e d\", \"u n\","
        " [\"at\", \"ed\"], \"re l\", \"rel ated\", \"un related\"], \"unk_token\": \"<unk>\"}}");
    expect(tok, "unrelated", "unrelated[0,9]0");
    expect(tok, "xxunrelatedx", "<unk>[0,1]0 <unk>[1,2]0 unrelated[2,11]0 <unk>[11,12]0");
    nerc_tokenizer_free(tok);
    /* fuse_unk, byte fallback, continuing_subword_prefix (HF's tests) */
    tok = parse("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2}, \"merges\": [],"
                " \"unk_token\": \"<unk>\", \"fuse_unk\": true}}");
    expect(tok, "accb", "a[0,1]0 <unk>[1,3]0 b[3,4]0");
    nerc_tokenizer_free(tok);
    /* HF keeps an <unk> pending across byte-fallback pieces: it lands after them */
    tok = parse("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"<0x61>\": 1, \"<0xC3>\": 2,"
                " \"<0xA9>\": 3}, \"merges\": [], \"unk_token\": \"<unk>\", \"byte_fallback\": true}}");
    expect(tok, "ac\xc3\xa9", "<0x61>[0,1]0 <0xC3>[2,3]0 <0xA9>[2,3]0 <unk>[1,2]0");
    nerc_tokenizer_free(tok);
    tok = parse("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"##b\": 1, \"##c\": 2, \"ab\": 3, \"abc\": 4},"
                " \"merges\": [\"a ##b\", \"ab ##c\"], \"continuing_subword_prefix\": \"##\"}}");
    expect(tok, "abc", "abc[0,3]0");
    nerc_tokenizer_free(tok);
}

/* RoBERTa's trimming: the leading space of a token leaves its offsets; add_prefix_space keeps
 * the one it added on the first token. */
static void test_trim_offsets(void) {
    const char *fmt = "{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": %s},"
                      " \"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 1], \"cls\": [\"<s>\", 0],"
                      " \"trim_offsets\": true, \"add_prefix_space\": %s},"
                      " \"model\": {\"type\": \"BPE\", \"vocab\": {\"<s>\": 0, \"</s>\": 1, \"\\u0120\": 2, \"a\": 3,"
                      " \"b\": 4, \"\\u0120a\": 5, \"\\u0120b\": 6}, \"merges\": [\"\\u0120 a\", \"\\u0120 b\"]}}";
    char json[1024];
    snprintf(json, sizeof json, fmt, "false", "false");
    nerc_tokenizer *tok = parse(json);
    expect(tok, "a  b ", "<s>[0,0]- a[0,1]0 \xc4\xa0[2,2]1 \xc4\xa0" "b[3,4]2 \xc4\xa0[5,5]3 </s>[0,0]-");
    nerc_tokenizer_free(tok);
    snprintf(json, sizeof json, fmt, "true", "true");
    tok = parse(json);
    expect(tok, "a b", "<s>[0,0]- \xc4\xa0" "a[0,1]0 \xc4\xa0" "b[2,3]1 </s>[0,0]-");
    nerc_tokenizer_free(tok);
}

/* ---- Unigram ---- */

static void test_unigram(void) {
    /* HF's doc example: abcdacdxx -> abcd a cd xx (the unknowns fused, their text as token) */
    nerc_tokenizer *tok = parse("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0],"
                                " [\"a\", 0.0], [\"b\", 0.0], [\"c\", 0.0], [\"d\", 0.0], [\"cd\", 1.0], [\"ab\", 2.0],"
                                " [\"abc\", 5.0], [\"abcd\", 10.0]]}}");
    expect(tok, "abcdacdxx", "abcd[0,4]0 a[4,5]0 cd[5,7]0 xx[7,9]0");
    if (tok) {
        int32_t ids[8], n = 0;
        CHECK_OK(nerc_tokenizer_encode_word(tok, "abcdacdxx", 9, ids, 8, &n));
        CHECK(n == 4 && ids[3] == 0);
    }
    nerc_tokenizer_free(tok);
    tok = parse("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"byte_fallback\": true, \"vocab\": [[\"<unk>\", 0.0],"
                " [\"a\", -1.0], [\"<0x78>\", -2.0]]}}");
    expect(tok, "axy", "a[0,1]0 xy[1,3]0"); /* <unk>, shown as its text */
    expect(tok, "ax", "a[0,1]0 <0x78>[1,2]0");
    nerc_tokenizer_free(tok);
    tok = parse("{\"model\": {\"type\": \"Unigram\", \"unk_id\": null, \"vocab\": [[\"a\", -1.0]]}}");
    if (tok) {
        nerc_encoding e;
        CHECK(nerc_tokenizer_encode(tok, "ab", 2, &e) == NERC_ERR_ARG && strstr(nerc_last_error(), "unk_id"));
    }
    nerc_tokenizer_free(tok);
}

/* ---- the GPT-2 pattern: hand-written matcher == Oniguruma on the real regex ---- */

static void test_gpt2_pattern(void) {
    static const char gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+";
    char vocab_json[8192], regex_pre[512];
    int n = 0;
    for (int b = 0; b < 256; b++) { /* the 256 byte-level chars, one id each */
        unsigned k = b <= 0x20 ? (unsigned)b : b <= 0xA0 ? (unsigned)b - 0x7F + 0x21 : 0x21 + 0x22;
        unsigned cp = ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) ? (unsigned)b : 256 + k;
        n += snprintf(vocab_json + n, sizeof vocab_json - (size_t)n, "%s\"\\u%04x\": %d", b ? "," : "", cp, b);
    }
    snprintf(regex_pre, sizeof regex_pre, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\","
             " \"pattern\": {\"Regex\": \"%s\"}, \"behavior\": \"Isolated\", \"invert\": false},"
             " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}", gpt2);
    char *json_a = malloc(16384), *json_b = malloc(16384);
    snprintf(json_a, 16384, "{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
             " \"model\": {\"type\": \"BPE\", \"merges\": [], \"vocab\": {%s}}}", vocab_json);
    snprintf(json_b, 16384, "{\"pre_tokenizer\": %s, \"model\": {\"type\": \"BPE\", \"merges\": [], \"vocab\": {%s}}}",
             regex_pre, vocab_json);
    nerc_tokenizer *a = parse(json_a), *b = parse(json_b);
    free(json_a);
    free(json_b);
    static const char *const atoms[] = {"a", "Z", "\xc3\xa9", "7", "\xd9\xa3", " ", "  ", "\t", "\n", "\xc2\xa0",
                                        "\xe3\x80\x80", "'", "'s", "'re", "'ll", "'S", "!", "?!", "-", "\xe4\xb8\xad",
                                        "\xcc\x81", "\xf0\x9f\x98\x80", "\xe2\x80\x8b", "_", "\xc2\x85", "\xe2\x85\xa7"};
    uint64_t rng = 42;
    int same = 0, total = 3000;
    for (int it = 0; a && b && it < total; it++) {
        char text[256] = "";
        int len = (int)(rng % 12) + 1;
        for (int k = 0; k < len; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            strcat(text, atoms[(rng >> 33) % (sizeof atoms / sizeof atoms[0])]);
        }
        nerc_encoding ea, eb;
        if (nerc_tokenizer_encode(a, text, strlen(text), &ea) != NERC_OK)
            continue;
        if (nerc_tokenizer_encode(b, text, strlen(text), &eb) == NERC_OK) {
            int eq = ea.n == eb.n;
            for (int32_t i = 0; eq && i < ea.n; i++)
                eq = ea.ids[i] == eb.ids[i] && ea.word_ids[i] == eb.word_ids[i] &&
                     ea.byte_offsets[2 * i] == eb.byte_offsets[2 * i];
            same += eq;
            if (!eq)
                fprintf(stderr, "  gpt2 pattern differs on '%s'\n", text);
            nerc_encoding_free(&eb);
        }
        nerc_encoding_free(&ea);
    }
    printf("  GPT-2 pattern: hand-written == Oniguruma on %d/%d random strings\n", same, total);
    CHECK(same == total);
    nerc_tokenizer_free(a);
    nerc_tokenizer_free(b);
}

/* ---- bad files ---- */

static void expect_error(const char *json, nerc_status want, const char *needle) {
    nerc_tokenizer *tok = NULL;
    nerc_status s = tokenizer_parse_json(&tok, json, strlen(json), "t.json");
    const char *msg = nerc_last_error();
    CHECK_MSG(s == want && tok == NULL, "status %d, want %d (%s)", (int)s, (int)want, msg);
    CHECK_MSG(strstr(msg, needle) && strstr(msg, "t.json") && !strchr(msg, '\n'), "'%s' lacks '%s'", msg, needle);
    nerc_tokenizer_free(tok);
}

#define WP_MODEL "\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}}"
#define BPE_MODEL(merges) "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": " merges "}"

static void test_bad_files(void) {
    expect_error("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}", NERC_ERR_ARG, "model.type");
    expect_error("{\"normalizer\": {\"type\": \"NFKC\"}, " WP_MODEL "}", NERC_ERR_ARG, "normalizer: unsupported");
    expect_error("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Lowercase\"},"
                 " {\"type\": \"StripAccents\"}]}, " WP_MODEL "}", NERC_ERR_ARG, "normalizer.normalizers[1]");
    expect_error("{\"pre_tokenizer\": {\"type\": \"Punctuation\"}, " WP_MODEL "}", NERC_ERR_ARG, "pre_tokenizer");
    expect_error("{\"post_processor\": {\"type\": \"Fancy\"}, " WP_MODEL "}", NERC_ERR_ARG, "post_processor");
    expect_error("{" BPE_MODEL("[\"a c\"]") "}", NERC_ERR_FORMAT, "token 'c' is not in the vocabulary");
    expect_error("{" BPE_MODEL("[\"b a\"]") "}", NERC_ERR_FORMAT, "merged token 'ba'");
    expect_error("{" BPE_MODEL("[\"ab\"]") "}", NERC_ERR_FORMAT, "model.merges[0]");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}}",
                 NERC_ERR_ARG, "model.dropout");
    expect_error("{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", -1.0]]}}", NERC_ERR_FORMAT,
                 "model.unk_id");
    expect_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0], [\"a\", -2.0]]}}", NERC_ERR_FORMAT,
                 "appears twice");
    expect_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}}", NERC_ERR_FORMAT, "model.vocab[0]");
    expect_error("{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"not base64!\"}, " WP_MODEL "}",
                 NERC_ERR_FORMAT, "precompiled_charsmap is not base64");
    /* a trie of 64 bytes announced in 8: too short */
    expect_error("{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"QAAAAAAAAAA=\"}, " WP_MODEL "}",
                 NERC_ERR_FORMAT, "does not fit");
    expect_error("{\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(\"}, \"content\": \"\"}, "
                 WP_MODEL "}", NERC_ERR_FORMAT, "invalid regex");
    expect_error("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}, " WP_MODEL "}",
                 NERC_ERR_FORMAT, "replacement");
    expect_error("{\"added_tokens\": [{\"id\": 1, \"content\": \"zz\"}], " WP_MODEL "}", NERC_ERR_FORMAT,
                 "added_tokens[0]");
    expect_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", NERC_ERR_FORMAT, "model.unk_token");
}

/* A charsmap whose only leaf points outside the replacement strings is refused at load. */
static void test_bad_charsmap_leaf(void) {
    /* units: [0] root offset 0; ['a'=0x61] label 0x61 with has_leaf, offset 0 -> value at unit 0x61;
     * its value 1000 > the 2-byte blob. Built as bytes, then base64. */
    enum { N = 0x62 };
    uint8_t data[4 + 4 * N + 2];
    memset(data, 0, sizeof data);
    uint32_t units[N] = {0};
    units[0x61] = 0x61u | (1u << 8); /* label 'a', leaf, offset 0: the value unit is 0x61 itself */
    data[0] = (uint8_t)(4 * N & 0xFF);
    data[1] = (uint8_t)(4 * N >> 8);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 4; k++)
            data[4 + 4 * i + k] = (uint8_t)(units[i] >> (8 * k));
    data[4 + 4 * N] = 'x';
    /* value of unit 0x61 = its low 31 bits = 0x161 > 2 */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char enc[600], json[1024];
    size_t m = 0, len = sizeof data;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0) |
                     (i + 2 < len ? data[i + 2] : 0);
        enc[m++] = b64[v >> 18 & 63];
        enc[m++] = b64[v >> 12 & 63];
        enc[m++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        enc[m++] = i + 2 < len ? b64[v & 63] : '=';
    }
    enc[m] = '\0';
    snprintf(json, sizeof json, "{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"%s\"}, "
             WP_MODEL "}", enc);
    expect_error(json, NERC_ERR_FORMAT, "points outside");
}

int main(void) {
    test_added_tokens();
    test_split_behaviors();
    test_metaspace();
    test_normalizer_alignments();
    test_bpe();
    test_trim_offsets();
    test_unigram();
    test_gpt2_pattern();
    test_bad_files();
    test_bad_charsmap_leaf();
    return test_report("test_tokenizer_parts");
}
