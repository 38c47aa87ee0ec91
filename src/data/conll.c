/* CoNLL column files: read (word first, tag last, -DOCSTART-, blank lines) and write "word gold pred". */
#include "data/builder.h"
#include "core/error.h"
#include "core/fs.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Splits off the first and the last whitespace-separated column of a line. */
typedef struct {
    const char *first, *last;
    size_t first_len, last_len;
    int n_cols; /* 0, 1 or 2 (meaning two or more) */
} conll_cols;

static conll_cols split_line(const char *line, size_t len) {
    conll_cols c = {0};
    size_t i = 0, end = len;
    while (i < end && is_space(line[i]))
        i++;
    while (end > i && is_space(line[end - 1]))
        end--;
    if (i == end)
        return c;
    c.first = line + i;
    while (i < end && !is_space(line[i]))
        i++;
    c.first_len = (size_t)(line + i - c.first);
    c.n_cols = 1;
    if (i == end)
        return c;
    size_t j = end;
    while (!is_space(line[j - 1]))
        j--;
    c.last = line + j;
    c.last_len = end - j;
    c.n_cols = 2;
    return c;
}

static nerc_status parse_line(void *ctx, const char *line, size_t len, int32_t lineno) {
    ds_builder *b = ctx;
    if (!utf8_valid(line, len))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: invalid UTF-8 (or a NUL byte)", b->name, (int)lineno);
    conll_cols c = split_line(line, len);
    if (c.n_cols == 0)
        return ds_builder_end_sentence(b, 0);
    if (c.first_len == 10 && memcmp(c.first, "-DOCSTART-", 10) == 0)
        return ds_builder_new_doc(b);
    if (c.n_cols == 1)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: one column ('%.*s'); expected 'word ... tag'",
                           b->name, (int)lineno, (int)(c.first_len > 40 ? 40 : c.first_len), c.first);
    return ds_builder_add_word(b, c.first, c.first_len, c.last, c.last_len, lineno);
}

nerc_status nerc_dataset_parse_conll(nerc_dataset **out, const char *data, size_t len, const char *name,
                                     const nerc_label_set *labels) {
    *out = NULL;
    if (!data && len)
        return nerc_errorf(NERC_ERR_ARG, "%s: no data", name);
    ds_builder b;
    NERC_TRY(ds_builder_init(&b, name));
    return ds_builder_parse_lines(&b, data, len, parse_line, &b, labels, out);
}

nerc_status nerc_dataset_read_conll(nerc_dataset **out, const char *path, const nerc_label_set *labels) {
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    NERC_TRY(fs_read_file(path, 0, &data, &len));
    nerc_status st = nerc_dataset_parse_conll(out, data, len, path, labels);
    free(data);
    return st;
}

/* ---- writing ---- */

/* Bytes of one sentence's lines, for sizing the output buffer. */
static size_t conll_bytes(const nerc_dataset *ds, const int32_t *pred) {
    size_t n = 0;
    for (int32_t w = 0; w < ds->n_words; w++) {
        size_t wl = nerc_dataset_word_len(ds, w);
        n += (wl ? wl : 1) + strlen(ds->labels.names[ds->tags[w]]) +
             strlen(ds->labels.names[pred ? pred[w] : ds->tags[w]]) + 3;
    }
    return n + (size_t)ds->n_sents;
}

static char *put_word(char *p, const char *word, size_t len) {
    if (len == 0)
        *p++ = '_';
    for (size_t i = 0; i < len; i++)
        *p++ = is_space(word[i]) || word[i] == '\n' ? '_' : word[i];
    return p;
}

static char *put_str(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

nerc_status nerc_dataset_write_conll(const nerc_dataset *ds, const int32_t *pred, const char *path) {
    for (int32_t w = 0; pred && w < ds->n_words; w++)
        if (pred[w] < 0 || pred[w] >= ds->labels.n)
            return nerc_errorf(NERC_ERR_ARG, "%s: prediction %d of word %d is not a label id", path,
                               (int)pred[w], (int)w);
    size_t size = conll_bytes(ds, pred);
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    char *p = buf;
    for (int32_t s = 0; s < ds->n_sents; s++) {
        for (int32_t w = ds->sent_offsets[s]; w < ds->sent_offsets[s + 1]; w++) {
            p = put_word(p, nerc_dataset_word(ds, w), nerc_dataset_word_len(ds, w));
            *p++ = ' ';
            p = put_str(p, ds->labels.names[ds->tags[w]]);
            *p++ = ' ';
            p = put_str(p, ds->labels.names[pred ? pred[w] : ds->tags[w]]);
            *p++ = '\n';
        }
        *p++ = '\n';
    }
    nerc_status st = fs_write_file_atomic(path, buf, (size_t)(p - buf));
    free(buf);
    return st;
}
