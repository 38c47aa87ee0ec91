/* JSON helpers of the tokenizer loaders: strict parsing and typed fields with messages naming
 * the file and the field. */
#ifndef NERC_TEXT_TOK_JSON_H
#define NERC_TEXT_TOK_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "nerc/text.h"

/* Parses a JSON object (duplicate keys rejected); "path:line:column: ..." on error. */
nerc_status tj_parse_object(const char *data, size_t len, const char *path, json_t **root);
nerc_status tj_load_path(const char *path, json_t **root);
/* A boolean field: absent or null gives `def`. */
nerc_status tj_bool(const json_t *obj, const char *key, const char *where, bool def, bool *out);
/* strip_accents style: null/absent -> -1, else 0/1. */
nerc_status tj_tristate(const json_t *obj, const char *key, const char *where, int *out);
/* A string field, or the "content" of an AddedToken object; `def` when absent or null. */
nerc_status tj_token_name(const json_t *obj, const char *key, const char *where, const char *def,
                          const char **out);
/* An id in [0, 2^28). */
nerc_status tj_id(const json_t *v, const char *where, const char *what, int32_t *out);

/* A {token: id} object (tokenizer.json model.vocab, vocab.json) into tok->vocab; ids 0..n-1. */
nerc_status vocab_from_json(nerc_tokenizer *tok, const json_t *v, const char *path, const char *label);

#endif
