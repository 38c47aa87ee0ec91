/* The body of a prediction request (Hugging Face Inference API JSON), parsed and checked. */
#ifndef NERC_SERVE_REQUEST_H
#define NERC_SERVE_REQUEST_H

#include <jansson.h>

#include "nerc/predict.h"

typedef struct {
    json_t *root;          /* owns the texts */
    int32_t n_texts;
    const char **texts;    /* [n_texts] UTF-8 (jansson checked it), may hold NUL bytes */
    size_t *lens;          /* [n_texts] */
    int is_list;           /* "inputs" was a list: answer a list of lists */
    int has_aggregation;   /* "parameters": {"aggregation_strategy": ...} was given */
    nerc_aggregation aggregation;
} serve_request;

/* Parses {"inputs": "text" | ["text", ...], "parameters": {"aggregation_strategy": "simple"}}.
 * Other keys of the object and of "parameters" are ignored (HF clients send "options").
 * Malformed JSON, invalid UTF-8, wrong field types, an empty list or an unknown strategy
 * are NERC_ERR_FORMAT with a one-line message (nerc_last_error) fit for a 400 answer.
 * Pure: no I/O, no globals; `out` is zeroed first and freed on failure. */
nerc_status serve_request_parse(serve_request *out, const char *body, size_t len);
void serve_request_free(serve_request *r);

#endif
