/* Regular expressions and Unicode classes from Oniguruma, the engine of HF's Rust `tokenizers`
 * (its Split / Replace patterns and the GPT-2 classes \p{L}, \p{N}, \s), so both agree exactly. */
#ifndef NERC_TEXT_REGEX_H
#define NERC_TEXT_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nerc/common.h"

typedef struct tok_regex tok_regex;

/* Per-call search state (one per thread); zero-initialise, free with tok_regex_scratch_free. */
typedef struct {
    void *region;
} tok_regex_scratch;

/* Compiles a UTF-8 pattern as `onig::Regex::new` does (default syntax, no options).
 * Errors are NERC_ERR_FORMAT "<where>: invalid regex ...". */
nerc_status tok_regex_compile(tok_regex **out, const char *pattern, size_t len, const char *where);
void tok_regex_free(tok_regex *re);

/* Leftmost match in s[0, len) at or after byte `from`: 1 with [*ms, *me), 0 when none. */
int tok_regex_search(const tok_regex *re, tok_regex_scratch *sc, const char *s, size_t len, size_t from,
                     size_t *ms, size_t *me);
void tok_regex_scratch_free(tok_regex_scratch *sc);

/* Oniguruma's Unicode classes: \p{L}, \p{N}, \s. */
bool uni_is_letter(uint32_t cp);
bool uni_is_number(uint32_t cp);
bool uni_is_regex_space(uint32_t cp);
/* \w of the Rust `regex` crate (Alphabetic, Mark, Nd, Pc, Join_Control): added-token word bounds. */
bool uni_is_word(uint32_t cp);

#endif
