/* UTF-8 decoding and the BERT normalizer / pre-tokenizer character classes. */
#ifndef NERC_TEXT_NORMALIZE_H
#define NERC_TEXT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h"
#include "text/unicode_tables.h"

/* BertNormalizer options; `fold` is NULL when neither lowercasing nor stripping accents. */
typedef struct {
    bool clean_text;
    bool handle_chinese_chars;
    const uni_table *fold;
} norm_config;

/* One normalized code point and the original character it came from. */
typedef struct {
    uint32_t cp;
    int32_t cp_index;   /* index of the original character, in code points */
    int32_t byte_start; /* its UTF-8 span in the original text */
    int32_t byte_end;
} norm_char;

/* Normalizes one original character into out (at most NORM_MAX_EXPANSION entries);
 * returns how many were written. */
enum { NORM_MAX_EXPANSION = 3 };
size_t normalize_char(const norm_config *cfg, uint32_t cp, uint32_t out[NORM_MAX_EXPANSION]);

/* The fold table of (strip_accents, lowercase); strip_accents < 0 follows lowercase (HF). */
const uni_table *norm_fold_table(int strip_accents, bool lowercase);

/* char::is_whitespace (BertPreTokenizer, WhitespaceSplit, Strip) and BERT punctuation. */
bool pretok_is_space(uint32_t cp);
bool pretok_is_punct(uint32_t cp);

#endif
