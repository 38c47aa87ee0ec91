/* Internal: accumulate sentences of a dataset (shared by the CoNLL and JSONL readers). */
#ifndef NERC_DATA_BUILDER_H
#define NERC_DATA_BUILDER_H

#include "nerc/data.h"

/* Most distinct tag strings a file may use (NER label sets have a few dozen). */
#define DS_MAX_TAGS 1024

typedef struct {
    const char *name;        /* file name for messages */
    char *text;              /* word arena */
    size_t text_len, text_cap;
    uint32_t *word_offsets;  /* [n_words+1] */
    int32_t *word_tag;       /* [n_words] index into tag_names, or a label id (int_tags) */
    int32_t *word_line;      /* [n_words] source line, for messages */
    int32_t n_words, words_cap;
    int32_t *sent_offsets;   /* [n_sents+1] */
    int32_t *sent_doc;       /* [n_sents] */
    int32_t n_sents, sents_cap;
    int32_t sent_start;      /* first word of the open sentence */
    int32_t cur_doc;         /* -1 before any -DOCSTART- / sentence */
    char **tag_names;        /* distinct tags seen, in order of appearance */
    int32_t n_tags, tags_cap;
    int int_tags;            /* word_tag already holds label ids */
} ds_builder;

nerc_status ds_builder_init(ds_builder *b, const char *name);
void ds_builder_free(ds_builder *b);
/* Appends a word with a string tag (tag_len bytes) read at `line`. */
nerc_status ds_builder_add_word(ds_builder *b, const char *word, size_t len, const char *tag,
                                size_t tag_len, int32_t line);
/* Appends a word whose tag is already a label id (integer JSONL tags). */
nerc_status ds_builder_add_word_id(ds_builder *b, const char *word, size_t len, int32_t label,
                                   int32_t line);
/* Closes the open sentence; an empty one is kept only if keep_empty. */
nerc_status ds_builder_end_sentence(ds_builder *b, int keep_empty);
/* A -DOCSTART- line: closes the open sentence, starts a document. */
nerc_status ds_builder_new_doc(ds_builder *b);
/* Converts IOB1, resolves tags against `labels` (or derives the label set),
 * and moves the arrays into a new dataset. `last_line` is used for "no
 * sentence" messages. The builder is emptied either way. */
nerc_status ds_builder_finish(ds_builder *b, const nerc_label_set *labels, int32_t last_line,
                              nerc_dataset **out);

/* 1 if s[0..n) is valid UTF-8 without NUL bytes. */
int utf8_valid(const char *s, size_t n);

/* Feeds every line of data (split at '\n'; the last may lack one) to
 * fn(ctx, line, len, lineno), then finishes the builder into *out. On any
 * failure the builder is freed and the failing status returned. */
typedef nerc_status (*ds_line_fn)(void *ctx, const char *line, size_t len, int32_t lineno);
nerc_status ds_builder_parse_lines(ds_builder *b, const char *data, size_t len, ds_line_fn fn, void *ctx,
                                   const nerc_label_set *labels, nerc_dataset **out);

#endif
