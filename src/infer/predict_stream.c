/* Streaming prediction over files: text lines, CoNLL sentences or JSONL word lists, batch_size documents at a time.
 * Over several ranks (dist) the groups go round the ranks (predict_shard.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"
#include "infer/predict_stream.h"
#include "core/utf8.h"

enum { STREAM_MAX_BYTES = 1 << 20 }; /* flush a batch once its text reaches this size */

/* A line reader over getline's reusable buffer; strips "\n" / "\r\n". */
struct line_reader {
    FILE *in;
    const char *name;
    char *buf;
    size_t cap;
    int64_t line;
};

/* 1 with a line in (*s, *len), 0 at end of file, -1 on a read error. */
static int next_line(line_reader *r, char **s, size_t *len) {
    ssize_t n = getline(&r->buf, &r->cap, r->in);
    if (n < 0)
        return ferror(r->in) ? -1 : 0;
    r->line++;
    size_t m = (size_t)n;
    if (m && r->buf[m - 1] == '\n')
        m--;
    if (m && r->buf[m - 1] == '\r')
        m--;
    r->buf[m] = '\0';
    *s = r->buf;
    *len = m;
    return 1;
}

static nerc_status check_utf8(const line_reader *r, const char *s, size_t len) {
    size_t bad = utf8_validate(s, len);
    if (bad < len)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu of the line", r->name,
                           (long long)r->line, bad);
    return NERC_OK;
}

/* ---- a batch of documents, each a list of items (one text line, or words) ---- */

static void doc_buf_free(doc_buf *b) {
    free(b->bytes), free(b->starts), free(b->lens), free(b->ptrs), free(b->first), free(b->line);
}

static nerc_status doc_buf_init(doc_buf *b, int words) {
    *b = (doc_buf){.words = words};
    size_t cap = 0;
    NERC_TRY(predict_grow((void **)&b->first, &b->docs_cap, 1, sizeof *b->first));
    NERC_TRY(predict_grow((void **)&b->line, &cap, b->docs_cap, sizeof *b->line));
    b->first[0] = 0;
    return NERC_OK;
}

static nerc_status add_item(doc_buf *b, const char *s, size_t len, int64_t line) {
    if (b->n_items == b->items_cap) {
        size_t c0 = b->items_cap, c1 = b->items_cap, c2 = b->items_cap;
        NERC_TRY(predict_grow((void **)&b->starts, &c0, b->n_items + 1, sizeof *b->starts));
        NERC_TRY(predict_grow((void **)&b->lens, &c1, b->n_items + 1, sizeof *b->lens));
        NERC_TRY(predict_grow((void **)&b->ptrs, &c2, b->n_items + 1, sizeof *b->ptrs));
        b->items_cap = c0;
    }
    if (len > SIZE_MAX - b->n_bytes - 1)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: input too long");
    NERC_TRY(predict_grow((void **)&b->bytes, &b->bytes_cap, b->n_bytes + len + 1, 1));
    if (b->first[b->n_docs] == b->n_items)
        b->line[b->n_docs] = line;
    memcpy(b->bytes + b->n_bytes, s, len);
    b->starts[b->n_items] = b->n_bytes;
    b->lens[b->n_items++] = len;
    b->n_bytes += len;
    b->bytes[b->n_bytes++] = '\0';
    return NERC_OK;
}

/* Ends the open document (possibly empty) at `line`. */
static nerc_status close_doc(doc_buf *b, int64_t line) {
    size_t c0 = b->docs_cap, c1 = b->docs_cap;
    NERC_TRY(predict_grow((void **)&b->first, &c0, b->n_docs + 2, sizeof *b->first));
    NERC_TRY(predict_grow((void **)&b->line, &c1, b->n_docs + 2, sizeof *b->line));
    b->docs_cap = c0;
    if (b->first[b->n_docs] == b->n_items)
        b->line[b->n_docs] = line;
    b->first[++b->n_docs] = b->n_items;
    return NERC_OK;
}

static nerc_status add_doc(const stream *s, const doc_buf *b, size_t d) {
    size_t i = b->first[d], n = b->first[d + 1] - i;
    nerc_status st = b->words ? predict_add_words(s->pr, b->ptrs + i, b->lens + i, (int32_t)n)
                              : predict_add_text(s->pr, b->ptrs[i], b->lens[i]);
    return st == NERC_OK ? st : nerc_error_prefix(st, "%s:%lld", s->name, (long long)b->line[d]);
}

nerc_status stream_emit(const stream *s, const doc_buf *b, size_t d, const nerc_prediction *p) {
    size_t i = b->first[d], n = b->first[d + 1] - i;
    if (b->words)
        return s->words_fn(n ? b->ptrs + i : NULL, n ? b->lens + i : NULL, (int32_t)n, p, s->user);
    return s->text_fn(b->ptrs[i], b->lens[i], p, s->user);
}

static nerc_status emit_doc(const stream *s, const doc_buf *b, size_t d) {
    nerc_prediction p;
    NERC_TRY(predict_batch_result(s->pr, (int32_t)d, nerc_predictor_params(s->pr)->aggregation, &p));
    return stream_emit(s, b, d, &p);
}

nerc_status stream_run_docs(const stream *s, doc_buf *b) {
    for (size_t i = 0; i < b->n_items; i++)
        b->ptrs[i] = b->bytes + b->starts[i];
    predict_batch_reset(s->pr);
    for (size_t d = 0; d < b->n_docs; d++)
        NERC_TRY(add_doc(s, b, d));
    nerc_status st = predict_batch_run(s->pr);
    if (st != NERC_OK && b->n_docs)
        return nerc_error_prefix(st, "%s:%lld", s->name, (long long)b->line[0]);
    return NERC_OK;
}

/* Predicts every closed document of the buffer, in order. */
static nerc_status predict_docs(const stream *s, doc_buf *b) {
    NERC_TRY(stream_run_docs(s, b));
    for (size_t d = 0; d < b->n_docs; d++)
        NERC_TRY(emit_doc(s, b, d));
    return NERC_OK;
}

/* Predicts the closed documents (or hands them to the ranks) and empties the buffer, even on failure. */
static nerc_status flush(const stream *s, doc_buf *b) {
    nerc_status st = s->shard ? shard_flush(s, b) : predict_docs(s, b);
    b->n_docs = b->n_items = b->n_bytes = 0;
    b->first[0] = 0;
    return st;
}

static nerc_status flush_if_full(const stream *s, doc_buf *b) {
    int full = b->n_docs >= (size_t)nerc_predictor_params(s->pr)->batch_size || b->n_bytes >= STREAM_MAX_BYTES;
    return full ? flush(s, b) : NERC_OK;
}

/* On a bad line, the documents before it are still predicted; the line's error is kept. */
static nerc_status flush_before_error(const stream *s, doc_buf *b, nerc_status st) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", nerc_last_error());
    b->n_items = b->first[b->n_docs]; /* drop the open document */
    NERC_TRY(flush(s, b));
    return nerc_errorf(st, "%s", msg);
}

/* Reads every line through `fn`, then flushes what is left. */
nerc_status stream_read(const stream *s, FILE *in, int words, line_fn fn) {
    line_reader r = {in, s->name, NULL, 0, 0};
    doc_buf b;
    nerc_status st = doc_buf_init(&b, words);
    char *line;
    size_t len;
    int got = 0;
    while (st == NERC_OK && (got = next_line(&r, &line, &len)) > 0)
        st = fn(s, &b, &r, line, len);
    if (st != NERC_OK)
        st = flush_before_error(s, &b, st);
    if (st == NERC_OK && got < 0)
        st = nerc_errorf(NERC_ERR_IO, "%s:%lld: read error", s->name, (long long)r.line + 1);
    if (st == NERC_OK && b.first[b.n_docs] < b.n_items)
        st = close_doc(&b, r.line);
    if (st == NERC_OK)
        st = flush(s, &b);
    doc_buf_free(&b);
    free(r.buf);
    return st;
}

static nerc_status stream_run(const stream *s, FILE *in, int words, line_fn fn) {
    return dist_size() > 1 ? shard_run(s, in, words, fn) : stream_read(s, in, words, fn);
}

/* ---- raw text lines ----------------------------------------------------------- */

static nerc_status text_line(const stream *s, doc_buf *b, const line_reader *r, const char *line, size_t len) {
    NERC_TRY(check_utf8(r, line, len));
    NERC_TRY(add_item(b, line, len, r->line));
    NERC_TRY(close_doc(b, r->line));
    return flush_if_full(s, b);
}

nerc_status nerc_predict_lines(nerc_predictor *pr, FILE *in, const char *name, nerc_predict_text_fn fn, void *user) {
    stream s = {pr, name ? name : "<input>", fn, NULL, user, NULL, NULL};
    return stream_run(&s, in, 0, text_line);
}

/* ---- CoNLL columns ------------------------------------------------------------- */

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Ends the open sentence, if it has words. */
static nerc_status end_sentence(const stream *s, doc_buf *b, int64_t line) {
    if (b->first[b->n_docs] == b->n_items)
        return NERC_OK;
    NERC_TRY(close_doc(b, line));
    return flush_if_full(s, b);
}

/* A blank line ends the sentence, -DOCSTART- is skipped, else the first column is a word. */
static nerc_status conll_line(const stream *s, doc_buf *b, const line_reader *r, const char *line, size_t len) {
    size_t i = 0;
    while (i < len && is_space(line[i]))
        i++;
    size_t j = i;
    while (j < len && !is_space(line[j]))
        j++;
    if (i == len || (j - i == 10 && !memcmp(line + i, "-DOCSTART-", 10)))
        return end_sentence(s, b, r->line);
    NERC_TRY(check_utf8(r, line, len));
    return add_item(b, line + i, j - i, r->line);
}

nerc_status nerc_predict_conll(nerc_predictor *pr, FILE *in, const char *name, nerc_predict_words_fn fn,
                               void *user) {
    stream s = {pr, name ? name : "<input>", NULL, fn, user, NULL, NULL};
    return stream_run(&s, in, 1, conll_line);
}

/* ---- JSON Lines ------------------------------------------------------------------ */

static nerc_status json_words(doc_buf *b, const line_reader *r, const json_t *doc, const char *key) {
    const json_t *arr = json_object_get(doc, key);
    if (!json_is_array(arr))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%lld: expected an object with a list \"%s\"", r->name,
                           (long long)r->line, key);
    size_t i;
    const json_t *w;
    json_array_foreach(arr, i, w) {
        if (!json_is_string(w))
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%lld: %s[%zu] is not a string", r->name, (long long)r->line,
                               key, i);
        NERC_TRY(add_item(b, json_string_value(w), json_string_length(w), r->line));
    }
    return NERC_OK;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i]))
            return 0;
    return 1;
}

/* One object per line; a blank line is skipped; an empty list is an empty sentence. */
static nerc_status jsonl_line(const stream *s, doc_buf *b, const line_reader *r, const char *line, size_t len) {
    if (blank(line, len))
        return NERC_OK;
    json_error_t err;
    json_t *doc = json_loadb(line, len, JSON_ALLOW_NUL, &err);
    if (!doc)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%lld:%d: invalid JSON: %s", r->name, (long long)r->line,
                           err.column, err.text);
    nerc_status st = json_words(b, r, doc, s->key);
    json_decref(doc);
    NERC_TRY(st);
    NERC_TRY(close_doc(b, r->line));
    return flush_if_full(s, b);
}

nerc_status nerc_predict_jsonl(nerc_predictor *pr, FILE *in, const char *name, const char *tokens_key,
                               nerc_predict_words_fn fn, void *user) {
    stream s = {pr, name ? name : "<input>", NULL, fn, user, tokens_key ? tokens_key : "tokens", NULL};
    return stream_run(&s, in, 1, jsonl_line);
}
