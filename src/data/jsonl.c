/* JSON Lines datasets as HF Datasets exports them: {"tokens": [...], "ner_tags": [...]} per line. */
#include "data/builder.h"
#include "core/error.h"
#include "core/fs.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

nerc_jsonl_params nerc_jsonl_default_params(void) {
    nerc_jsonl_params p = {"tokens", "ner_tags"};
    return p;
}

typedef struct {
    ds_builder *b;
    const nerc_label_set *labels;
    const nerc_jsonl_params *params;
    int tag_kind; /* 0 unknown yet, 1 strings, 2 integers */
} jsonl_reader;

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Checks that the line's tags are all strings or all integers, as earlier lines. */
static nerc_status check_tag_kind(jsonl_reader *r, json_t *tags, int32_t line) {
    const char *name = r->b->name;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        int kind = json_is_string(t) ? 1 : json_is_integer(t) ? 2 : 0;
        if (kind == 0)
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: %s[%zu] is neither a string nor an integer", name,
                               (int)line, r->params->tags_key, i);
        if (r->tag_kind && kind != r->tag_kind)
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: %s mixes string and integer tags", name,
                               (int)line, r->params->tags_key);
        r->tag_kind = kind;
    }
    if (r->tag_kind == 2 && !r->labels)
        return nerc_errorf(NERC_ERR_ARG,
                           "%s:%d: integer %s need a label list (from the command line or the model's config)",
                           name, (int)line, r->params->tags_key);
    r->b->int_tags = r->tag_kind == 2;
    return NERC_OK;
}

/* A tag must survive a round trip through a CoNLL column. */
static int valid_tag(const char *s, size_t n) {
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f')
            return 0;
    return 1;
}

static nerc_status add_json_word(jsonl_reader *r, json_t *word, json_t *tag, size_t i, int32_t line) {
    const char *name = r->b->name;
    if (!json_is_string(word))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: %s[%zu] is not a string", name, (int)line,
                           r->params->tokens_key, i);
    const char *w = json_string_value(word);
    size_t wlen = json_string_length(word);
    if (r->tag_kind == 1 && !valid_tag(json_string_value(tag), json_string_length(tag)))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: %s[%zu] is empty or contains whitespace", name,
                           (int)line, r->params->tags_key, i);
    if (r->tag_kind == 1)
        return ds_builder_add_word(r->b, w, wlen, json_string_value(tag), json_string_length(tag), line);
    json_int_t id = json_integer_value(tag);
    if (id < 0 || id >= r->labels->n)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: tag %lld out of range (%d labels)", name, (int)line,
                           (long long)id, (int)r->labels->n);
    return ds_builder_add_word_id(r->b, w, wlen, (int32_t)id, line);
}

static nerc_status add_sentence(jsonl_reader *r, json_t *obj, int32_t line) {
    const char *name = r->b->name;
    if (!json_is_object(obj))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: not a JSON object", name, (int)line);
    json_t *words = json_object_get(obj, r->params->tokens_key);
    json_t *tags = json_object_get(obj, r->params->tags_key);
    if (!json_is_array(words) || !json_is_array(tags))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: needs arrays \"%s\" and \"%s\"", name, (int)line,
                           r->params->tokens_key, r->params->tags_key);
    if (json_array_size(words) != json_array_size(tags))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: %zu words but %zu tags", name, (int)line,
                           json_array_size(words), json_array_size(tags));
    NERC_TRY(check_tag_kind(r, tags, line));
    for (size_t i = 0; i < json_array_size(words); i++)
        NERC_TRY(add_json_word(r, json_array_get(words, i), json_array_get(tags, i), i, line));
    return ds_builder_end_sentence(r->b, 1);
}

static nerc_status parse_json_line(void *ctx, const char *line, size_t len, int32_t lineno) {
    jsonl_reader *r = ctx;
    if (blank(line, len))
        return NERC_OK;
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);
    if (!obj)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d:%d: %s", r->b->name, (int)lineno, jerr.column, jerr.text);
    nerc_status st = add_sentence(r, obj, lineno);
    json_decref(obj);
    return st;
}

nerc_status nerc_dataset_parse_jsonl(nerc_dataset **out, const char *data, size_t len, const char *name,
                                     const nerc_label_set *labels, const nerc_jsonl_params *params) {
    *out = NULL;
    nerc_jsonl_params defaults = nerc_jsonl_default_params();
    if (!params)
        params = &defaults;
    if (!data && len)
        return nerc_errorf(NERC_ERR_ARG, "%s: no data", name);
    ds_builder b;
    NERC_TRY(ds_builder_init(&b, name));
    jsonl_reader r = {&b, labels, params, 0};
    return ds_builder_parse_lines(&b, data, len, parse_json_line, &r, labels, out);
}

nerc_status nerc_dataset_read_jsonl(nerc_dataset **out, const char *path, const nerc_label_set *labels,
                                    const nerc_jsonl_params *params) {
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    NERC_TRY(fs_read_file(path, 0, &data, &len));
    nerc_status st = nerc_dataset_parse_jsonl(out, data, len, path, labels, params);
    free(data);
    return st;
}

static int has_json_extension(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (!strcmp(dot, ".jsonl") || !strcmp(dot, ".json"));
}

nerc_status nerc_dataset_read(nerc_dataset **out, const char *path, const nerc_label_set *labels) {
    if (has_json_extension(path))
        return nerc_dataset_read_jsonl(out, path, labels, NULL);
    return nerc_dataset_read_conll(out, path, labels);
}
