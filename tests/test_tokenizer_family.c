/* RoBERTa (byte-level BPE) and XLM-R (SentencePiece Unigram) tokenizers against the goldens of HF's
 * Rust library (9,703 CoNLL sentences word-split + 643 raw lines each): RoBERTa from tokenizer.json
 * and from vocab.json + merges.txt, XLM-R from tokenizer.json; BERT's family directory loads. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "infer/predict_internal.h"
#include "nerc/data.h"
#include "nerc/text.h"
#include "test.h"

#define FAMILY SHARED_DIR "/fixtures/family"

enum { N_SENT = 9703, N_RAW = 643, MAX_PIECES = 2048, N_HEX = 700 };

static char *raw_hex[N_HEX]; /* utf8_hex of raw_text.jsonl by id: the exact bytes */

static json_t *load_line(char *line, const char *path, int n) {
    json_error_t err;
    json_t *obj = json_loads(line, JSON_ALLOW_NUL, &err);
    CHECK_MSG(obj != NULL, "%s:%d: %s", path, n, err.text);
    return obj;
}

static void load_raw_hex(void) {
    char *data = NULL;
    size_t len = 0;
    const char *path = SHARED_DIR "/fixtures/tokenizer/raw_text.jsonl";
    CHECK_OK(fs_read_file(path, 0, &data, &len));
    int n = 0;
    for (char *line = data ? strtok(data, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_t *obj = load_line(line, path, ++n);
        json_int_t id = json_integer_value(json_object_get(obj, "id"));
        const char *hex = json_string_value(json_object_get(obj, "utf8_hex"));
        if (id >= 0 && id < N_HEX && hex)
            raw_hex[id] = strdup(hex);
        json_decref(obj);
    }
    free(data);
}

static int ints_equal(const json_t *arr, const int32_t *v, size_t n) {
    if (!json_is_array(arr) || json_array_size(arr) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        if (json_is_null(x) ? v[i] != -1 : json_integer_value(x) != v[i])
            return 0;
    }
    return 1;
}

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

/* A CoNLL sentence, word by word: per-word ids and tokens, then the whole input_ids. */
static int sentence_matches(const nerc_tokenizer *tok, const json_t *obj) {
    const json_t *words = json_object_get(obj, "words"), *wids = json_object_get(obj, "word_ids");
    const json_t *wtoks = json_object_get(obj, "word_tokens");
    int32_t ids[MAX_PIECES];
    size_t n = 0;
    ids[n++] = nerc_tokenizer_cls_id(tok);
    for (size_t w = 0; w < json_array_size(words); w++) {
        const json_t *word = json_array_get(words, w), *want_toks = json_array_get(wtoks, w);
        int32_t got = 0;
        if (nerc_tokenizer_encode_word(tok, json_string_value(word), json_string_length(word), ids + n,
                                       (int32_t)(MAX_PIECES - 1 - n), &got) != NERC_OK ||
            n + (size_t)got >= MAX_PIECES - 1 || !ints_equal(json_array_get(wids, w), ids + n, (size_t)got))
            return 0;
        for (int32_t k = 0; k < got; k++) { /* an unknown's token is its text (checked on raw lines) */
            int32_t id = ids[n + (size_t)k];
            const char *t = nerc_tokenizer_id_to_token(tok, id);
            if (!t || (id != nerc_tokenizer_unk_id(tok) && strcmp(t, json_string_value(json_array_get(want_toks, (size_t)k)))))
                return 0;
        }
        n += (size_t)got;
    }
    ids[n++] = nerc_tokenizer_sep_id(tok);
    return ints_equal(json_object_get(obj, "input_ids"), ids, n);
}

static int raw_matches(const nerc_tokenizer *tok, const json_t *obj, const char **why) {
    json_int_t id = json_integer_value(json_object_get(obj, "id"));
    const char *hex = id >= 0 && id < N_HEX ? raw_hex[id] : NULL;
    *why = "no utf8_hex";
    if (!hex)
        return 0;
    char *text = malloc(strlen(hex) / 2 + 1);
    size_t len = test_hex_decode(hex, text);
    nerc_encoding e;
    int ok = 0;
    *why = "encode failed";
    if (nerc_tokenizer_encode(tok, text, len, &e) == NERC_OK) {
        const json_t *tokens = json_object_get(obj, "tokens"), *mask = json_object_get(obj, "special_tokens_mask");
        *why = !ints_equal(json_object_get(obj, "input_ids"), e.ids, (size_t)e.n)  ? "ids"
               : !spans_equal(json_object_get(obj, "offsets"), e.offsets, e.n)     ? "offsets"
               : !ints_equal(json_object_get(obj, "word_ids"), e.word_ids, (size_t)e.n) ? "word_ids"
                                                                                    : NULL;
        for (int32_t i = 0; !*why && i < e.n; i++) {
            if (strcmp(e.tokens[i], json_string_value(json_array_get(tokens, (size_t)i))))
                *why = "tokens";
            else if (json_integer_value(json_array_get(mask, (size_t)i)) != e.special_mask[i])
                *why = "special_tokens_mask";
            else if (e.byte_offsets[2 * i] > e.byte_offsets[2 * i + 1] || (size_t)e.byte_offsets[2 * i + 1] > len)
                *why = "byte_offsets";
        }
        ok = !*why;
        nerc_encoding_free(&e);
    }
    free(text);
    return ok;
}

/* Runs every golden line of `path` through `tok`; prints and checks the counts. */
static void check_goldens(const nerc_tokenizer *tok, const char *path, const char *label) {
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(path, 0, &data, &len));
    int n_sent = 0, ok_sent = 0, n_raw = 0, ok_raw = 0, shown = 0, lineno = 0;
    for (char *line = data ? strtok(data, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_t *obj = load_line(line, path, ++lineno);
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *why = "words";
        if (kind && !strcmp(kind, "sentence")) {
            n_sent++;
            int ok = sentence_matches(tok, obj);
            ok_sent += ok;
            if (!ok && shown++ < 5)
                fprintf(stderr, "  %s: sentence mismatch: %s %lld\n", label,
                        json_string_value(json_object_get(obj, "split")),
                        json_integer_value(json_object_get(obj, "index")));
        } else if (kind && !strcmp(kind, "raw")) {
            n_raw++;
            int ok = raw_matches(tok, obj, &why);
            ok_raw += ok;
            if (!ok && shown++ < 5)
                fprintf(stderr, "  %s: raw mismatch: id %lld (%s): %s\n", label,
                        json_integer_value(json_object_get(obj, "id")),
                        json_string_value(json_object_get(obj, "category")), why);
        }
        json_decref(obj);
    }
    free(data);
    printf("  %s: %d/%d CoNLL sentences, %d/%d raw lines identical\n", label, ok_sent, n_sent, ok_raw, n_raw);
    CHECK(n_sent == N_SENT && ok_sent == N_SENT);
    CHECK(n_raw == N_RAW && ok_raw == N_RAW);
}

/* The data module on CoNLL dev: input_ids as the goldens (<s> ... </s> included), the label on
 * each word's first piece and -100 elsewhere. */
typedef struct {
    const nerc_sequences *e;
    const nerc_dataset *ds;
    int ok, n;
} dev_check;

static int dev_sentence_ok(const dev_check *dc, const json_t *obj, int32_t s) {
    const nerc_sequences *e = dc->e;
    int32_t a = e->seq_offsets[s], b = e->seq_offsets[s + 1];
    if (e->seq_sent[s] != s || !ints_equal(json_object_get(obj, "input_ids"), e->input_ids + a, (size_t)(b - a)))
        return 0;
    const json_t *wids = json_object_get(obj, "word_ids");
    int32_t row = a + 1, w0 = dc->ds->sent_offsets[s];
    if (e->labels[a] != NERC_IGNORE_INDEX || e->labels[b - 1] != NERC_IGNORE_INDEX)
        return 0;
    for (size_t w = 0; w < json_array_size(wids); w++)
        for (size_t k = 0; k < json_array_size(json_array_get(wids, w)); k++, row++)
            if (e->labels[row] != (k == 0 ? dc->ds->tags[w0 + (int32_t)w] : NERC_IGNORE_INDEX))
                return 0;
    return row == b - 1;
}

static void check_dataset_encoding(const nerc_tokenizer *tok, const char *path, const char *label) {
    nerc_label_set ls = {0};
    nerc_dataset *ds = NULL;
    nerc_sequences *e = NULL;
    CHECK_OK(nerc_labels_init(&ls, nerc_conll2003_labels, 9));
    CHECK_OK(nerc_dataset_read_conll(&ds, SHARED_DIR "/data/conll2003/dev.txt", &ls));
    if (ds)
        CHECK_OK(nerc_encode_dataset(&e, ds, tok, NULL));
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(path, 0, &data, &len));
    dev_check dc = {e, ds, 0, 0};
    int lineno = 0;
    for (char *line = e && data ? strtok(data, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_t *obj = load_line(line, path, ++lineno);
        const char *split = json_string_value(json_object_get(obj, "split"));
        json_int_t idx = json_integer_value(json_object_get(obj, "index"));
        if (split && !strcmp(split, "dev") && idx >= 0 && idx < e->n_seqs) {
            dc.n++;
            dc.ok += dev_sentence_ok(&dc, obj, (int32_t)idx);
        }
        json_decref(obj);
    }
    printf("  %s: nerc_encode_dataset on CoNLL dev: %d/%d sequences identical (input_ids, first-piece labels)\n",
           label, dc.ok, dc.n);
    CHECK(e && e->n_seqs == 3250 && dc.n == 3250 && dc.ok == 3250);
    free(data);
    nerc_sequences_free(e);
    nerc_dataset_free(ds);
    nerc_labels_free(&ls);
}

/* ---- a model directory built from symlinks to some fixture files ---- */

static char tmp_dir[64];

static void link_file(const char *src_dir, const char *name) {
    char *src = fs_join(src_dir, name), *abs = src ? realpath(src, NULL) : NULL, *dst = fs_join(tmp_dir, name);
    CHECK(abs && dst && symlink(abs, dst) == 0);
    free(src);
    free(abs);
    free(dst);
}

static void clear_tmp(void) {
    for (int i = 0; nerc_tokenizer_file_names[i]; i++) {
        char *p = fs_join(tmp_dir, nerc_tokenizer_file_names[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

static void test_roberta(void) {
    nerc_tokenizer *tok = NULL;
    CHECK_OK(nerc_tokenizer_load(&tok, FAMILY "/roberta_tiny"));
    if (tok) {
        CHECK(nerc_tokenizer_model_type(tok) == NERC_TOKENIZER_BPE);
        CHECK(nerc_tokenizer_cls_id(tok) == 0 && nerc_tokenizer_sep_id(tok) == 2 && nerc_tokenizer_pad_id(tok) == 1);
        CHECK(nerc_tokenizer_vocab_size(tok) == 50262 && nerc_tokenizer_is_special(tok, 50261));
        check_goldens(tok, FAMILY "/roberta_bpe_goldens.jsonl", "roberta tokenizer.json");
        check_dataset_encoding(tok, FAMILY "/roberta_bpe_goldens.jsonl", "roberta");
    }
    nerc_tokenizer_free(tok);
    tok = NULL;
    link_file(FAMILY "/roberta_tiny", "vocab.json");
    link_file(FAMILY "/roberta_tiny", "merges.txt");
    link_file(FAMILY "/roberta_tiny", "tokenizer_config.json");
    CHECK_OK(nerc_tokenizer_load(&tok, tmp_dir));
    if (tok) {
        CHECK(nerc_tokenizer_cls_id(tok) == 0 && nerc_tokenizer_sep_id(tok) == 2 && nerc_tokenizer_pad_id(tok) == 1);
        check_goldens(tok, FAMILY "/roberta_bpe_goldens.jsonl", "roberta vocab.json + merges.txt");
    }
    nerc_tokenizer_free(tok);
    clear_tmp();
}

static void test_xlmr(void) {
    nerc_tokenizer *tok = NULL;
    CHECK_OK(nerc_tokenizer_load(&tok, FAMILY "/xlmr_tiny"));
    if (tok) {
        CHECK(nerc_tokenizer_model_type(tok) == NERC_TOKENIZER_UNIGRAM);
        CHECK(nerc_tokenizer_cls_id(tok) == 0 && nerc_tokenizer_sep_id(tok) == 2 && nerc_tokenizer_pad_id(tok) == 1);
        CHECK(nerc_tokenizer_unk_id(tok) == 3 && nerc_tokenizer_vocab_size(tok) == 8001);
        check_goldens(tok, FAMILY "/xlmr_unigram_goldens.jsonl", "xlm-r tokenizer.json");
        check_dataset_encoding(tok, FAMILY "/xlmr_unigram_goldens.jsonl", "xlm-r");
    }
    nerc_tokenizer_free(tok);
    /* only the SentencePiece model: refused with a one-line hint */
    link_file(FAMILY "/xlmr_tiny", "sentencepiece.bpe.model");
    tok = NULL;
    nerc_status s = nerc_tokenizer_load(&tok, tmp_dir);
    CHECK(s == NERC_ERR_ARG && tok == NULL && strstr(nerc_last_error(), "tokenizer.json") &&
          !strchr(nerc_last_error(), '\n'));
    clear_tmp();
}

static void test_bert_family_dir(void) {
    nerc_tokenizer *tok = NULL;
    CHECK_OK(nerc_tokenizer_load(&tok, FAMILY "/bert_tiny"));
    if (tok) {
        CHECK(nerc_tokenizer_model_type(tok) == NERC_TOKENIZER_WORDPIECE);
        CHECK(nerc_tokenizer_cls_id(tok) == 101 && nerc_tokenizer_sep_id(tok) == 102 && nerc_tokenizer_pad_id(tok) == 0);
        CHECK(!strcmp(nerc_tokenizer_subword_prefix(tok), "##"));
    }
    nerc_tokenizer_free(tok);
}

/* The predictor on raw text: a token continues a word when the tokenizer gives it the previous
 * token's word id (nerc's rule for every family, nerc/predict.h), [UNK] never; tiny family models. */
static void check_subwords(const char *dir, const char *text, const char *want) {
    nerc_predictor *pr = NULL;
    nerc_predict_params params = nerc_predict_default_params();
    CHECK_OK(nerc_predictor_load(&pr, dir, &params));
    if (!pr)
        return;
    CHECK_OK(predict_add_text(pr, text, strlen(text)));
    char got[64] = "";
    for (int32_t i = 0; i < pr->n_tokens && i < 60; i++)
        got[i] = pr->is_subword[i] ? '1' : '0';
    CHECK_MSG(!strcmp(got, want), "%s '%s': sub-words %s, want %s", dir, text, got, want);
    nerc_predictor_free(pr);
}

static void test_predict_subwords(void) {
    check_subwords(FAMILY "/bert_tiny", "Hello, World! unaffable", "0000011");
    check_subwords(FAMILY "/roberta_tiny", "Hello, World!", "0000"); /* Hello , ĠWorld ! : 4 pre-tokens */
    check_subwords(FAMILY "/xlmr_tiny", "Hello, World!", "011100"); /* ▁He ll o , | ▁World !; "!" is <unk> here */
}

int main(void) {
    strcpy(tmp_dir, "/tmp/nerc_test_family_XXXXXX");
    CHECK(mkdtemp(tmp_dir) != NULL);
    load_raw_hex();
    test_bert_family_dir();
    test_roberta();
    test_xlmr();
    test_predict_subwords();
    rmdir(tmp_dir);
    for (int i = 0; i < N_HEX; i++)
        free(raw_hex[i]);
    return test_report("test_tokenizer_family");
}
