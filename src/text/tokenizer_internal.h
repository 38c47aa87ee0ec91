/* The nerc_tokenizer object, shared by the loader (tokenizer.c) and the encoder (encode.c). */
#ifndef NERC_TEXT_TOKENIZER_INTERNAL_H
#define NERC_TEXT_TOKENIZER_INTERNAL_H

#include "nerc/text.h"
#include "text/normalize.h"
#include "text/vocab.h"

enum { TOK_MAX_TEMPLATE = 8, TOK_MAX_SPECIALS = 64, TOK_MAX_CHARS_LIMIT = 1 << 20 };

/* An added token matched literally in raw text before normalization. */
typedef struct {
    char *content;
    size_t len;
    int32_t id;
} tok_special;

struct nerc_tokenizer {
    vocab vocab;                 /* the WordPiece model's vocabulary */
    tok_special specials[TOK_MAX_SPECIALS];
    int32_t n_specials;
    uint8_t special_first_byte[256]; /* 1 if some special token starts with this byte */
    norm_config norm;
    char prefix[32];             /* continuing_subword_prefix, e.g. "##" */
    size_t prefix_len;
    int32_t max_chars;           /* max_input_chars_per_word */
    int32_t unk_id, cls_id, sep_id, pad_id;
    int32_t template_prefix[TOK_MAX_TEMPLATE], n_template_prefix; /* ids before $A */
    int32_t template_suffix[TOK_MAX_TEMPLATE], n_template_suffix; /* ids after $A */
};

/* Parsers of in-memory tokenizer files (fuzzing, tests): a tokenizer.json, or a
 * vocab.txt with tokenizer_config.json's defaults. `name` labels messages. */
nerc_status tokenizer_parse_json(nerc_tokenizer **out, const char *data, size_t len, const char *name);
nerc_status tokenizer_parse_vocab(nerc_tokenizer **out, const char *data, size_t len, const char *name);

#endif
