/* UTF-8 decoding and the BERT normalizer / pre-tokenizer character classes. */
#ifndef NERC_TEXT_NORMALIZE_H
#define NERC_TEXT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Decodes one strict UTF-8 scalar value at s[*pos] (no overlongs, surrogates or
 * values above U+10FFFF); advances *pos. Returns false on invalid input. */
bool utf8_decode(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp);
/* Writes the UTF-8 of cp (a scalar value) into out[0..4); returns its length. */
size_t utf8_encode(uint32_t cp, char *out);
/* Byte offset of the first invalid sequence, or len when s is valid UTF-8. */
size_t utf8_validate(const char *s, size_t len);

/* Normalizes one original character into out (at most NORM_MAX_EXPANSION entries);
 * returns how many were written. */
enum { NORM_MAX_EXPANSION = 3 };
size_t normalize_char(const norm_config *cfg, uint32_t cp, uint32_t out[NORM_MAX_EXPANSION]);

bool pretok_is_space(uint32_t cp);
bool pretok_is_punct(uint32_t cp);

#endif
