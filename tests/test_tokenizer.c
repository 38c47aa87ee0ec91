/* Tokenizer goldens (CoNLL word pieces, 643 raw-text lines from the Rust library) for every
 * loading path, a cased config, the case options, and malformed-input errors. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "nerc/text.h"
#include "test.h"

#define FIXTURES SHARED_DIR "/fixtures/tokenizer"
#define UNCASED_DIR SHARED_DIR "/models/distilbert-base-uncased"

enum { N_CONLL = 9703, N_RAW = 643, MAX_PIECES = 1024 };

/* Calls fn(line, user) for each JSON line of path; returns the number of lines. */
static int for_each_json_line(const char *path, void (*fn)(const json_t *, void *), void *user) {
    char *data = NULL;
    size_t len = 0;
    if (fs_read_file(path, 0, &data, &len) != NERC_OK) {
        CHECK_MSG(0, "%s", nerc_last_error());
        return 0;
    }
    int n = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t err;
        json_t *obj = json_loads(line, JSON_ALLOW_NUL, &err);
        CHECK_MSG(obj != NULL, "%s:%d: %s", path, n + 1, err.text);
        if (obj)
            fn(obj, user);
        json_decref(obj);
        n++;
    }
    free(data);
    return n;
}

static int ids_equal(const json_t *arr, const int32_t *ids, size_t n) {
    if (!json_is_array(arr) || json_array_size(arr) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(arr, i)) != ids[i])
            return 0;
    return 1;
}

/* ---- CoNLL word pieces ---------------------------------------------------------- */

typedef struct {
    const nerc_tokenizer *tok;
    int match, shown;
} golden_state;

static int conll_sentence_matches(const nerc_tokenizer *tok, const json_t *obj) {
    const json_t *words = json_object_get(obj, "words"), *pieces = json_object_get(obj, "word_pieces");
    int32_t ids[MAX_PIECES];
    size_t n = 0;
    ids[n++] = nerc_tokenizer_cls_id(tok);
    int ok = json_array_size(words) == json_array_size(pieces);
    for (size_t w = 0; ok && w < json_array_size(words); w++) {
        const json_t *word = json_array_get(words, w);
        int32_t got = 0;
        if (nerc_tokenizer_encode_word(tok, json_string_value(word), json_string_length(word), ids + n,
                                       (int32_t)(MAX_PIECES - 1 - n), &got) != NERC_OK ||
            n + (size_t)got >= MAX_PIECES)
            return 0;
        ok = ids_equal(json_array_get(pieces, w), ids + n, (size_t)got);
        n += (size_t)got;
    }
    ids[n++] = nerc_tokenizer_sep_id(tok);
    return ok && ids_equal(json_object_get(obj, "input_ids"), ids, n);
}

static void conll_line(const json_t *obj, void *user) {
    golden_state *st = user;
    if (conll_sentence_matches(st->tok, obj))
        st->match++;
    else if (st->shown++ < 5)
        fprintf(stderr, "  conll mismatch: %s %lld\n", json_string_value(json_object_get(obj, "split")),
                json_integer_value(json_object_get(obj, "index")));
}

static void check_conll(const nerc_tokenizer *tok, const char *label) {
    golden_state st = {tok, 0, 0};
    int n = for_each_json_line(FIXTURES "/conll_wordpieces.jsonl", conll_line, &st);
    printf("  conll_wordpieces [%s]: %d/%d sentences match\n", label, st.match, n);
    CHECK(n == N_CONLL);
    CHECK(st.match == N_CONLL);
}

/* ---- raw text -------------------------------------------------------------------- */

static int spans_equal(const json_t *arr, const int32_t *spans, int32_t n) {
    if (json_array_size(arr) != (size_t)n)
        return 0;
    for (int32_t i = 0; i < n; i++) {
        const json_t *pair = json_array_get(arr, (size_t)i);
        if (json_integer_value(json_array_get(pair, 0)) != spans[2 * i] ||
            json_integer_value(json_array_get(pair, 1)) != spans[2 * i + 1])
            return 0;
    }
    return 1;
}

static int encoding_matches(const nerc_tokenizer *tok, const nerc_encoding *e, const json_t *obj) {
    const json_t *tokens = json_object_get(obj, "tokens"), *words = json_object_get(obj, "word_ids");
    if (!ids_equal(json_object_get(obj, "input_ids"), e->ids, (size_t)e->n) ||
        !spans_equal(json_object_get(obj, "offsets"), e->offsets, e->n) ||
        !spans_equal(json_object_get(obj, "byte_offsets"), e->byte_offsets, e->n) ||
        json_array_size(tokens) != (size_t)e->n || json_array_size(words) != (size_t)e->n)
        return 0;
    for (int32_t i = 0; i < e->n; i++) {
        const char *t = nerc_tokenizer_id_to_token(tok, e->ids[i]);
        const json_t *w = json_array_get(words, (size_t)i);
        if (!t || strcmp(t, json_string_value(json_array_get(tokens, (size_t)i))))
            return 0;
        if (json_is_null(w) ? e->word_ids[i] != -1 : json_integer_value(w) != e->word_ids[i])
            return 0;
    }
    return 1;
}

static void raw_line(const json_t *obj, void *user) {
    golden_state *st = user;
    const char *hex = json_string_value(json_object_get(obj, "utf8_hex"));
    char *text = malloc(hex ? strlen(hex) / 2 + 1 : 1);
    size_t len = hex ? test_hex_decode(hex, text) : 0;
    nerc_encoding e;
    nerc_status s = nerc_tokenizer_encode(st->tok, text, len, &e);
    if (s == NERC_OK && encoding_matches(st->tok, &e, obj))
        st->match++;
    else if (st->shown++ < 5)
        fprintf(stderr, "  raw mismatch: id %lld (%s) %s\n", json_integer_value(json_object_get(obj, "id")),
                json_string_value(json_object_get(obj, "category")), s ? nerc_last_error() : "");
    nerc_encoding_free(&e);
    free(text);
}

static void check_raw(const nerc_tokenizer *tok, const char *label) {
    golden_state st = {tok, 0, 0};
    int n = for_each_json_line(FIXTURES "/raw_text.jsonl", raw_line, &st);
    printf("  raw_text [%s]: %d/%d lines match\n", label, st.match, n);
    CHECK(n == N_RAW);
    CHECK(st.match == N_RAW);
}

static void check_goldens(const nerc_tokenizer *tok, const char *label) {
    CHECK(nerc_tokenizer_vocab_size(tok) == 30522);
    CHECK(nerc_tokenizer_cls_id(tok) == 101 && nerc_tokenizer_sep_id(tok) == 102);
    CHECK(nerc_tokenizer_pad_id(tok) == 0 && nerc_tokenizer_unk_id(tok) == 100);
    CHECK(nerc_tokenizer_id_to_token(tok, 30522) == NULL && nerc_tokenizer_id_to_token(tok, -1) == NULL);
    check_conll(tok, label);
    check_raw(tok, label);
}

/* ---- temp model directories --------------------------------------------------------- */

static char tmp_dir[64];

static void write_text(const char *name, const char *content) {
    char *path = fs_join(tmp_dir, name);
    FILE *f = path ? fopen(path, "wb") : NULL;
    CHECK(f != NULL);
    if (f) {
        fputs(content, f);
        fclose(f);
    }
    free(path);
}

static void remove_file(const char *name) {
    char *path = fs_join(tmp_dir, name);
    if (path)
        unlink(path);
    free(path);
}

static void clear_tmp(void) {
    remove_file("vocab.txt");
    remove_file("tokenizer_config.json");
    remove_file("tokenizer.json");
}

/* Encodes text and compares the tokens with the space-separated `want`. */
static void check_tokens(const nerc_tokenizer *tok, const char *text, const char *want) {
    nerc_encoding e;
    char got[512] = "";
    CHECK_OK(nerc_tokenizer_encode(tok, text, strlen(text), &e));
    for (int32_t i = 0; i < e.n; i++) {
        const char *t = nerc_tokenizer_id_to_token(tok, e.ids[i]);
        strncat(got, i ? " " : "", sizeof got - strlen(got) - 1);
        strncat(got, t ? t : "?", sizeof got - strlen(got) - 1);
    }
    CHECK_MSG(!strcmp(got, want), "'%s' -> '%s', want '%s'", text, got, want);
    nerc_encoding_free(&e);
}

static const char *tiny_vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\nWorld\n##s\n!\n"
                                "héllo\nHello\xcc\x81\nHéllo\n";

static void check_case_config(const char *config, const char *text, const char *want, int32_t cls_id) {
    nerc_tokenizer *tok = NULL;
    write_text("vocab.txt", tiny_vocab);
    write_text("tokenizer_config.json", config);
    CHECK_OK(nerc_tokenizer_load(&tok, tmp_dir));
    if (tok) {
        CHECK(nerc_tokenizer_cls_id(tok) == cls_id && nerc_tokenizer_sep_id(tok) == 3);
        check_tokens(tok, text, want);
    }
    nerc_tokenizer_free(tok);
}

static void test_case_options(void) {
    check_case_config("{\"do_lower_case\": false}", "Hello Worlds! hello",
                      "[CLS] Hello World ##s ! hello [SEP]", 2);
    check_case_config("{\"do_lower_case\": false}", "Héllo HELLO", "[CLS] Héllo [UNK] [SEP]", 2);
    check_case_config("{\"do_lower_case\": true}", "HÉLLO Héllo", "[CLS] hello hello [SEP]", 2);
    check_case_config("{\"do_lower_case\": true, \"strip_accents\": false}", "HÉLLO", "[CLS] héllo [SEP]", 2);
    check_case_config("{\"do_lower_case\": false, \"strip_accents\": true}", "Héllo", "[CLS] Hello [SEP]", 2);
    /* cls_token from the config: looked up in the vocab, and matched literally in text */
    check_case_config("{\"do_lower_case\": false, \"cls_token\": \"Hello\"}", "hello Hello",
                      "Hello hello Hello [SEP]", 5);
    clear_tmp();
}

/* A cased tokenizer.json: lowercase false, an added token beyond the vocab, a custom template. */
static const char *cased_json =
    "{\"added_tokens\": [{\"id\": 5, \"content\": \"<ent>\", \"special\": true, \"normalized\": false}],\n"
    " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": false, \"strip_accents\": null},\n"
    " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},\n"
    " \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]},\n"
    " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\":\n"
    "   {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"Ab\": 4}}}\n";

static void test_cased_tokenizer_json(void) {
    nerc_tokenizer *tok = NULL;
    write_text("tokenizer.json", cased_json);
    CHECK_OK(nerc_tokenizer_load(&tok, tmp_dir));
    if (tok) {
        CHECK(nerc_tokenizer_vocab_size(tok) == 6 && nerc_tokenizer_pad_id(tok) == 0);
        check_tokens(tok, "Ab<ent>ab", "[CLS] Ab <ent> [UNK] [SEP]");
    }
    nerc_tokenizer_free(tok);
    clear_tmp();
}

/* ---- malformed input ----------------------------------------------------------------- */

static void expect_load_error(nerc_status want, const char *needle) {
    nerc_tokenizer *tok = NULL;
    nerc_status s = nerc_tokenizer_load(&tok, tmp_dir);
    CHECK_MSG(s == want, "status %d, want %d (%s)", (int)s, (int)want, nerc_last_error());
    CHECK_MSG(strstr(nerc_last_error(), needle) != NULL, "'%s' lacks '%s'", nerc_last_error(), needle);
    CHECK(tok == NULL);
    nerc_tokenizer_free(tok);
}

static void test_bad_files(void) {
    expect_load_error(NERC_ERR_IO, "no tokenizer files");
    write_text("vocab.txt", "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n");
    expect_load_error(NERC_ERR_FORMAT, "vocab.txt:3: empty line");
    write_text("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\n[UNK]\n");
    expect_load_error(NERC_ERR_FORMAT, "vocab.txt:6: duplicate token '[UNK]' (first on line 2)");
    write_text("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xff\n");
    expect_load_error(NERC_ERR_FORMAT, "vocab.txt:5: token is not valid UTF-8");
    write_text("vocab.txt", "[PAD]\n[UNK]\n[SEP]\n");
    expect_load_error(NERC_ERR_FORMAT, "cls_token '[CLS]' is not in the vocabulary");
    write_text("vocab.txt", tiny_vocab);
    write_text("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    expect_load_error(NERC_ERR_FORMAT, "'do_lower_case' must be true or false");
    write_text("tokenizer_config.json", "{\n\"do_lower_case\": true,\n}\n");
    expect_load_error(NERC_ERR_FORMAT, "tokenizer_config.json:3:");
    write_text("tokenizer.json", "{\n  \"model\": {\n    oops\n  }\n}\n");
    expect_load_error(NERC_ERR_FORMAT, "tokenizer.json:3:");
    write_text("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"a\": 1}}}");
    expect_load_error(NERC_ERR_FORMAT, "tokenizer.json:1:");
    write_text("tokenizer.json", "{\"model\": {\"type\": \"WordLevel\"}}");
    expect_load_error(NERC_ERR_ARG, "model.type: unsupported tokenizer option 'WordLevel'");
    write_text("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 0}}}");
    expect_load_error(NERC_ERR_FORMAT, "used twice");
    write_text("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 7}}}");
    expect_load_error(NERC_ERR_FORMAT, "id must be in [0, 2)");
    clear_tmp();
}

static void test_bad_text(const nerc_tokenizer *tok) {
    nerc_encoding e;
    int32_t ids[8], n = 0;
    CHECK(nerc_tokenizer_encode(tok, "ab\xff", 3, &e) == NERC_ERR_ARG);
    CHECK_MSG(strstr(nerc_last_error(), "invalid UTF-8 at byte 2"), "%s", nerc_last_error());
    CHECK(e.n == 0 && e.ids == NULL);
    CHECK(nerc_tokenizer_encode(tok, "\xed\xa0\x80", 3, &e) == NERC_ERR_ARG); /* surrogate */
    CHECK(nerc_tokenizer_encode(tok, "\xc0\xaf", 2, &e) == NERC_ERR_ARG);     /* overlong */
    CHECK(nerc_tokenizer_encode_word(tok, "\xe2\x82", 2, ids, 8, &n) == NERC_ERR_ARG);
    CHECK_OK(nerc_tokenizer_encode_word(tok, "unaffable", 9, ids, 1, &n));
    CHECK(n == 3 && ids[0] == 14477); /* un ##aff ##able: *n counts past cap */
}

int main(void) {
    nerc_tokenizer *tok = NULL;
    strcpy(tmp_dir, "/tmp/nerc_test_tokenizer_XXXXXX");
    CHECK(mkdtemp(tmp_dir) != NULL);

    CHECK_OK(nerc_tokenizer_load(&tok, UNCASED_DIR)); /* vocab.txt + tokenizer_config.json */
    if (tok) {
        check_goldens(tok, "vocab.txt");
        test_bad_text(tok);
    }
    nerc_tokenizer_free(tok);
    tok = NULL;

    CHECK_OK(nerc_tokenizer_load_file(&tok, FIXTURES "/tokenizer.json"));
    if (tok)
        check_goldens(tok, "tokenizer.json file");
    nerc_tokenizer_free(tok);
    tok = NULL;

    char *link = fs_join(tmp_dir, "tokenizer.json"), *target = realpath(FIXTURES "/tokenizer.json", NULL);
    CHECK(link && target && symlink(target, link) == 0);
    CHECK_OK(nerc_tokenizer_load(&tok, tmp_dir)); /* a model dir holding tokenizer.json */
    if (tok)
        check_goldens(tok, "tokenizer.json dir");
    nerc_tokenizer_free(tok);
    free(link);
    free(target);
    clear_tmp();

    test_case_options();
    test_cased_tokenizer_json();
    test_bad_files();
    rmdir(tmp_dir);
    return test_report("test_tokenizer");
}
