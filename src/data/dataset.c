/* Dataset building: word arena, sentences, documents, IOB1 -> IOB2, label-set resolution. */
#include "data/builder.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

int utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        int extra;
        unsigned min;
        if ((c & 0xE0) == 0xC0)
            extra = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            extra = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            extra = 3, min = 0x10000, c &= 0x07;
        else
            return 0;
        if (n - i <= (size_t)extra)
            return 0;
        for (int k = 1; k <= extra; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (u[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += (size_t)extra + 1;
    }
    return 1;
}

nerc_status ds_builder_init(ds_builder *b, const char *name) {
    memset(b, 0, sizeof *b);
    b->name = name;
    b->cur_doc = -1;
    b->word_offsets = malloc(sizeof *b->word_offsets);
    b->sent_offsets = malloc(sizeof *b->sent_offsets);
    if (!b->word_offsets || !b->sent_offsets) {
        ds_builder_free(b);
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", name);
    }
    b->word_offsets[0] = 0;
    b->sent_offsets[0] = 0;
    return NERC_OK;
}

void ds_builder_free(ds_builder *b) {
    free(b->text);
    free(b->word_offsets);
    free(b->word_tag);
    free(b->word_line);
    free(b->sent_offsets);
    free(b->sent_doc);
    for (int32_t i = 0; i < b->n_tags; i++)
        free(b->tag_names[i]);
    free(b->tag_names);
    memset(b, 0, sizeof *b);
}

/* Index of `tag` in the builder's distinct tags, adding it if new. */
static nerc_status tag_index(ds_builder *b, const char *tag, size_t len, int32_t line, int32_t *out) {
    for (int32_t i = b->n_tags - 1; i >= 0; i--)
        if (strncmp(b->tag_names[i], tag, len) == 0 && b->tag_names[i][len] == '\0') {
            *out = i;
            return NERC_OK;
        }
    if (b->n_tags >= DS_MAX_TAGS)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: more than %d distinct tags", b->name, (int)line,
                           DS_MAX_TAGS);
    if (b->n_tags == b->tags_cap) {
        int32_t ncap = b->tags_cap ? 2 * b->tags_cap : 16;
        char **names = realloc(b->tag_names, (size_t)ncap * sizeof *names);
        if (!names)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
        b->tag_names = names;
        b->tags_cap = ncap;
    }
    char *copy = strndup(tag, len);
    if (!copy)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
    b->tag_names[b->n_tags] = copy;
    *out = b->n_tags++;
    return NERC_OK;
}

/* Makes room for word index `need` in the per-word arrays (offsets get one more). */
static nerc_status grow_words(ds_builder *b, int32_t need) {
    if (need < b->words_cap)
        return NERC_OK;
    int64_t ncap = b->words_cap ? 2 * (int64_t)b->words_cap : 1024;
    if (ncap > INT32_MAX - 2)
        ncap = INT32_MAX - 2;
    if (ncap <= need)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: too many words", b->name);
    int32_t *tag = realloc(b->word_tag, (size_t)ncap * sizeof *tag);
    if (tag)
        b->word_tag = tag;
    int32_t *line = realloc(b->word_line, (size_t)ncap * sizeof *line);
    if (line)
        b->word_line = line;
    uint32_t *offs = realloc(b->word_offsets, (size_t)(ncap + 1) * sizeof *offs);
    if (offs)
        b->word_offsets = offs;
    if (!tag || !line || !offs)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
    b->words_cap = (int32_t)ncap;
    return NERC_OK;
}

/* Copies the word into the arena and fills its offset and line. */
static nerc_status push_word(ds_builder *b, const char *word, size_t len, int32_t line) {
    if (len > UINT32_MAX - 1 || b->text_len > UINT32_MAX - 1 - len)
        return nerc_errorf(NERC_ERR_NOMEM, "%s:%d: dataset text over 4 GiB", b->name, (int)line);
    if (b->text_len + len + 1 > b->text_cap) {
        size_t ncap = b->text_cap ? b->text_cap : 4096;
        while (ncap < b->text_len + len + 1)
            ncap *= 2;
        char *nt = realloc(b->text, ncap);
        if (!nt)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
        b->text = nt;
        b->text_cap = ncap;
    }
    NERC_TRY(grow_words(b, b->n_words));
    memcpy(b->text + b->text_len, word, len);
    b->text_len += len;
    b->text[b->text_len++] = '\0';
    b->word_line[b->n_words] = line;
    b->word_offsets[b->n_words + 1] = (uint32_t)b->text_len;
    return NERC_OK;
}

nerc_status ds_builder_add_word(ds_builder *b, const char *word, size_t len, const char *tag,
                                size_t tag_len, int32_t line) {
    int32_t t = 0;
    NERC_TRY(tag_index(b, tag, tag_len, line, &t));
    NERC_TRY(push_word(b, word, len, line));
    b->word_tag[b->n_words++] = t;
    return NERC_OK;
}

nerc_status ds_builder_add_word_id(ds_builder *b, const char *word, size_t len, int32_t label,
                                   int32_t line) {
    NERC_TRY(push_word(b, word, len, line));
    b->word_tag[b->n_words++] = label;
    return NERC_OK;
}

nerc_status ds_builder_end_sentence(ds_builder *b, int keep_empty) {
    if (b->n_words == b->sent_start && !keep_empty)
        return NERC_OK;
    if (b->n_sents >= b->sents_cap) {
        int64_t ncap = b->sents_cap ? 2 * (int64_t)b->sents_cap : 256;
        if (ncap > INT32_MAX - 2)
            ncap = INT32_MAX - 2;
        if (ncap <= b->n_sents)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: too many sentences", b->name);
        int32_t *doc = realloc(b->sent_doc, (size_t)ncap * sizeof *doc);
        if (doc)
            b->sent_doc = doc;
        int32_t *offs = realloc(b->sent_offsets, (size_t)(ncap + 1) * sizeof *offs);
        if (offs)
            b->sent_offsets = offs;
        if (!doc || !offs)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
        b->sents_cap = (int32_t)ncap;
    }
    if (b->cur_doc < 0)
        b->cur_doc = 0;
    b->sent_doc[b->n_sents] = b->cur_doc;
    b->sent_offsets[++b->n_sents] = b->n_words;
    b->sent_start = b->n_words;
    return NERC_OK;
}

nerc_status ds_builder_new_doc(ds_builder *b) {
    NERC_TRY(ds_builder_end_sentence(b, 0));
    if (b->cur_doc == INT32_MAX - 1)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: too many documents", b->name);
    /* Sentences before the first -DOCSTART- form document 0 of their own. */
    b->cur_doc = b->n_sents > 0 || b->cur_doc >= 0 ? b->cur_doc + 1 : 0;
    return NERC_OK;
}

/* ---- IOB1 -> IOB2 ---- */

static int is_prefixed(const char *tag, char p) { return tag[0] == p && tag[1] == '-'; }

/* 1 if tag b continues the chunk of tag a (same type, a is B-X or I-X). */
static int same_chunk_type(const char *a, const char *b) {
    return (is_prefixed(a, 'B') || is_prefixed(a, 'I')) && strcmp(a + 2, b + 2) == 0;
}

/* An I-X that starts a chunk happens in IOB1 only (IOBES files are left alone). */
static int looks_iob1(const ds_builder *b) {
    for (int32_t t = 0; t < b->n_tags; t++)
        if (is_prefixed(b->tag_names[t], 'E') || is_prefixed(b->tag_names[t], 'S'))
            return 0;
    for (int32_t s = 0; s < b->n_sents; s++)
        for (int32_t w = b->sent_offsets[s]; w < b->sent_offsets[s + 1]; w++) {
            const char *tag = b->tag_names[b->word_tag[w]];
            if (!is_prefixed(tag, 'I'))
                continue;
            if (w == b->sent_offsets[s] || !same_chunk_type(b->tag_names[b->word_tag[w - 1]], tag))
                return 1;
        }
    return 0;
}

/* Rewrites chunk-initial I-X as B-X (sentence by sentence, reading old tags). */
static nerc_status convert_iob1(ds_builder *b) {
    for (int32_t s = 0; s < b->n_sents; s++) {
        int32_t prev = -1; /* old tag of the previous word */
        for (int32_t w = b->sent_offsets[s]; w < b->sent_offsets[s + 1]; w++) {
            int32_t old = b->word_tag[w];
            const char *tag = b->tag_names[old];
            if (is_prefixed(tag, 'I') && (prev < 0 || !same_chunk_type(b->tag_names[prev], tag))) {
                size_t len = strlen(tag);
                char *btag = strdup(tag);
                if (!btag)
                    return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
                btag[0] = 'B';
                nerc_status st = tag_index(b, btag, len, b->word_line[w], &b->word_tag[w]);
                free(btag);
                NERC_TRY(st);
            }
            prev = old;
        }
    }
    return NERC_OK;
}

/* ---- label resolution ---- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The label set of a training file: HF's CoNLL order, else sorted (run_ner). */
static nerc_status derive_labels(const ds_builder *b, const uint8_t *used, nerc_label_set *ls) {
    const char **names = malloc((size_t)(b->n_tags ? b->n_tags : 1) * sizeof *names);
    if (!names)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
    int32_t n = 0;
    for (int32_t t = 0; t < b->n_tags; t++)
        if (used[t])
            names[n++] = b->tag_names[t];
    int conll = n == 9;
    for (int32_t i = 0; conll && i < 9; i++) {
        int found = 0;
        for (int32_t j = 0; j < n; j++)
            found |= strcmp(names[j], nerc_conll2003_labels[i]) == 0;
        conll = found;
    }
    nerc_status st;
    if (conll) {
        st = nerc_labels_init(ls, nerc_conll2003_labels, 9);
    } else {
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        st = nerc_labels_init(ls, names, n);
    }
    free(names);
    return st;
}

/* Maps every used tag to its id in `ls` (error at its first line if absent). */
static nerc_status map_tags(ds_builder *b, const nerc_label_set *ls) {
    int32_t *id_of = malloc((size_t)(b->n_tags ? b->n_tags : 1) * sizeof *id_of);
    if (!id_of)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
    for (int32_t t = 0; t < b->n_tags; t++)
        id_of[t] = nerc_labels_find(ls, b->tag_names[t], strlen(b->tag_names[t]));
    nerc_status st = NERC_OK;
    for (int32_t w = 0; w < b->n_words; w++) {
        int32_t id = id_of[b->word_tag[w]];
        if (id < 0) {
            st = nerc_errorf(NERC_ERR_FORMAT, "%s:%d: unknown label '%s' (the model has %d labels)",
                             b->name, (int)b->word_line[w], b->tag_names[b->word_tag[w]], (int)ls->n);
            break;
        }
        b->word_tag[w] = id;
    }
    free(id_of);
    return st;
}

static nerc_status resolve_labels(ds_builder *b, const nerc_label_set *labels, nerc_label_set *ls) {
    if (b->int_tags)
        return nerc_labels_init(ls, (const char *const *)labels->names, labels->n);
    uint8_t *used = calloc((size_t)(b->n_tags ? b->n_tags : 1), 1);
    if (!used)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
    for (int32_t w = 0; w < b->n_words; w++)
        used[b->word_tag[w]] = 1;
    nerc_status st = labels ? nerc_labels_init(ls, (const char *const *)labels->names, labels->n)
                            : derive_labels(b, used, ls);
    if (st == NERC_OK)
        st = map_tags(b, ls);
    free(used);
    return st;
}

nerc_status ds_builder_finish(ds_builder *b, const nerc_label_set *labels, int32_t last_line,
                              nerc_dataset **out) {
    *out = NULL;
    nerc_dataset *ds = NULL;
    nerc_status st = ds_builder_end_sentence(b, 0);
    if (st)
        goto fail;
    if (b->n_sents == 0) {
        st = nerc_errorf(NERC_ERR_FORMAT, "%s:%d: no sentence in the input", b->name,
                         (int)(last_line > 0 ? last_line : 1));
        goto fail;
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
        goto fail;
    }
    if (!b->int_tags && looks_iob1(b)) {
        if ((st = convert_iob1(b)))
            goto fail;
        ds->iob1_converted = 1;
        nerc_logf("%s: tags are IOB1; converted to IOB2", b->name);
    }
    if ((st = resolve_labels(b, labels, &ds->labels)))
        goto fail;
    ds->n_sents = b->n_sents;
    ds->n_words = b->n_words;
    ds->n_docs = b->cur_doc + 1 > 1 ? b->cur_doc + 1 : 1;
    ds->sent_offsets = b->sent_offsets, b->sent_offsets = NULL;
    ds->sent_doc = b->sent_doc, b->sent_doc = NULL;
    ds->word_offsets = b->word_offsets, b->word_offsets = NULL;
    ds->tags = b->word_tag, b->word_tag = NULL;
    ds->text = b->text ? b->text : calloc(1, 1);
    b->text = NULL;
    if (!ds->text) {
        st = nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", b->name);
        goto fail;
    }
    ds_builder_free(b);
    *out = ds;
    return NERC_OK;
fail:
    nerc_dataset_free(ds);
    ds_builder_free(b);
    return st;
}

void nerc_dataset_free(nerc_dataset *ds) {
    if (!ds)
        return;
    free(ds->sent_offsets);
    free(ds->sent_doc);
    free(ds->word_offsets);
    free(ds->tags);
    free(ds->text);
    nerc_labels_free(&ds->labels);
    free(ds);
}

/* seqeval's chunk start (non-strict IOB2): B-X, or I-X after O / another type. */
static int starts_chunk(const char *prev, const char *tag) {
    if (strcmp(tag, "O") == 0)
        return 0;
    if (!is_prefixed(tag, 'I'))
        return 1;
    return !prev || !same_chunk_type(prev, tag);
}

int64_t nerc_dataset_count_entities(const nerc_dataset *ds) {
    int64_t n = 0;
    for (int32_t s = 0; s < ds->n_sents; s++) {
        const char *prev = NULL;
        for (int32_t w = ds->sent_offsets[s]; w < ds->sent_offsets[s + 1]; w++) {
            const char *tag = ds->labels.names[ds->tags[w]];
            n += starts_chunk(prev, tag);
            prev = tag;
        }
    }
    return n;
}

nerc_status ds_builder_parse_lines(ds_builder *b, const char *data, size_t len, ds_line_fn fn, void *ctx,
                                   const nerc_label_set *labels, nerc_dataset **out) {
    int32_t lineno = 0;
    size_t pos = 0;
    nerc_status st = NERC_OK;
    while (st == NERC_OK && pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (data + pos)) : len - pos;
        if (lineno == INT32_MAX) {
            st = nerc_errorf(NERC_ERR_FORMAT, "%s: too many lines", b->name);
            break;
        }
        st = fn(ctx, data + pos, line_len, ++lineno);
        pos += line_len + (nl != NULL);
    }
    if (st == NERC_OK)
        return ds_builder_finish(b, labels, lineno, out);
    ds_builder_free(b);
    return st;
}
