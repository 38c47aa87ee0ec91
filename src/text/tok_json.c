/* JSON helpers of the tokenizer loaders (jansson). */
#include "text/tok_json.h"

#include <stdlib.h>

#include "core/error.h"
#include "core/fs.h"

enum { TJ_MAX_FILE = 256 << 20 };

nerc_status tj_parse_object(const char *data, size_t len, const char *path, json_t **root) {
    json_error_t err;
    *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!*root)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column, err.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return nerc_errorf(NERC_ERR_FORMAT, "%s: top level is not a JSON object", path);
    }
    return NERC_OK;
}

nerc_status tj_load_path(const char *path, json_t **root) {
    char *data = NULL;
    size_t len = 0;
    *root = NULL;
    NERC_TRY(fs_read_file(path, TJ_MAX_FILE, &data, &len));
    nerc_status st = tj_parse_object(data, len, path, root);
    free(data);
    return st;
}

nerc_status tj_bool(const json_t *obj, const char *key, const char *where, bool def, bool *out) {
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v))
        return NERC_OK;
    if (!json_is_boolean(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be true or false", where, key);
    *out = json_is_true(v);
    return NERC_OK;
}

nerc_status tj_tristate(const json_t *obj, const char *key, const char *where, int *out) {
    const json_t *v = json_object_get(obj, key);
    *out = -1;
    if (!v || json_is_null(v))
        return NERC_OK;
    if (!json_is_boolean(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be true, false or null", where, key);
    *out = json_is_true(v);
    return NERC_OK;
}

nerc_status tj_token_name(const json_t *obj, const char *key, const char *where, const char *def,
                          const char **out) {
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v))
        return NERC_OK;
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v) || json_string_length(v) == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be a token string", where, key);
    *out = json_string_value(v);
    return NERC_OK;
}

nerc_status tj_id(const json_t *v, const char *where, const char *what, int32_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 28))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s must be an id in [0, 2^28)", where, what);
    *out = (int32_t)json_integer_value(v);
    return NERC_OK;
}
