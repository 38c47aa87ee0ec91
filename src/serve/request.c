/* Parsing and checking the JSON body of a prediction request (the HF Inference API's shape). */
#include "serve/request.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void serve_request_free(serve_request *r) {
    json_decref(r->root);
    free(r->texts);
    free(r->lens);
    memset(r, 0, sizeof *r);
}

/* "parameters": an object; its aggregation_strategy, when present, a known name. */
static nerc_status parse_parameters(serve_request *r, const json_t *params) {
    if (!json_is_object(params))
        return nerc_errorf(NERC_ERR_FORMAT, "\"parameters\" must be an object");
    const json_t *agg = json_object_get(params, "aggregation_strategy");
    if (!agg || json_is_null(agg))
        return NERC_OK;
    if (!json_is_string(agg))
        return nerc_errorf(NERC_ERR_FORMAT, "\"parameters.aggregation_strategy\" must be a string");
    const char *name = json_string_value(agg);
    if (strlen(name) != json_string_length(agg) || nerc_aggregation_parse(name, &r->aggregation) != NERC_OK)
        return nerc_errorf(NERC_ERR_FORMAT,
                           "\"parameters.aggregation_strategy\" must be one of none, simple, first, average, max");
    r->has_aggregation = 1;
    return NERC_OK;
}

static nerc_status alloc_texts(serve_request *r, size_t n) {
    r->texts = malloc(n * sizeof *r->texts);
    r->lens = malloc(n * sizeof *r->lens);
    if (!r->texts || !r->lens)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory for %zu texts", n);
    r->n_texts = (int32_t)n;
    return NERC_OK;
}

/* "inputs": a string, or a non-empty list of strings. */
static nerc_status parse_inputs(serve_request *r, const json_t *inputs) {
    if (json_is_string(inputs)) {
        NERC_TRY(alloc_texts(r, 1));
        r->texts[0] = json_string_value(inputs);
        r->lens[0] = json_string_length(inputs);
        return NERC_OK;
    }
    if (!json_is_array(inputs))
        return nerc_errorf(NERC_ERR_FORMAT, "\"inputs\" must be a string or a list of strings");
    size_t n = json_array_size(inputs);
    if (n == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "\"inputs\" is an empty list");
    if (n > INT32_MAX)
        return nerc_errorf(NERC_ERR_FORMAT, "\"inputs\" has too many texts");
    r->is_list = 1;
    NERC_TRY(alloc_texts(r, n));
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(inputs, i);
        if (!json_is_string(t))
            return nerc_errorf(NERC_ERR_FORMAT, "\"inputs\"[%zu] must be a string", i);
        r->texts[i] = json_string_value(t);
        r->lens[i] = json_string_length(t);
    }
    return NERC_OK;
}

static nerc_status parse_root(serve_request *r) {
    if (!json_is_object(r->root))
        return nerc_errorf(NERC_ERR_FORMAT, "the body must be a JSON object with \"inputs\"");
    const json_t *inputs = json_object_get(r->root, "inputs");
    if (!inputs)
        return nerc_errorf(NERC_ERR_FORMAT, "the body has no \"inputs\"");
    NERC_TRY(parse_inputs(r, inputs));
    const json_t *params = json_object_get(r->root, "parameters");
    return params && !json_is_null(params) ? parse_parameters(r, params) : NERC_OK;
}

nerc_status serve_request_parse(serve_request *out, const char *body, size_t len) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    out->root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!out->root)
        return nerc_errorf(NERC_ERR_FORMAT, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                           err.text);
    nerc_status st = parse_root(out);
    if (st != NERC_OK)
        serve_request_free(out);
    return st;
}
