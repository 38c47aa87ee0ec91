/* Parsing of the hub's model API answer, path safety, include globs. */
#include "hub/listing.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "hub/cache.h"

int hub_path_is_safe(const char *rel) {
    size_t n = strlen(rel);
    if (n == 0 || n > 1024 || rel[0] == '/')
        return 0;
    for (const char *c = rel; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return 0;
    for (const char *part = rel;;) {
        const char *slash = strchr(part, '/');
        size_t len = slash ? (size_t)(slash - part) : strlen(part);
        if (len == 0 || (len == 1 && part[0] == '.') || (len == 2 && part[0] == '.' && part[1] == '.'))
            return 0;
        if (!slash)
            return 1;
        part = slash + 1;
    }
}

int hub_glob_match(const char *const *globs, int n, const char *path) {
    if (n <= 0)
        return 1;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(globs[i]);
        if (len > 0 && globs[i][len - 1] == '/') { /* huggingface_hub: "folder/" means "folder/" + "*" */
            char *g = hub_strf("%s*", globs[i]);
            int hit = g && fnmatch(g, path, 0) == 0;
            free(g);
            if (hit)
                return 1;
        } else if (fnmatch(globs[i], path, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

void hub_listing_free(hub_listing *l) {
    for (int32_t i = 0; i < l->n_files; i++)
        free(l->files[i]);
    free(l->files);
    memset(l, 0, sizeof *l);
}

static nerc_status parse_siblings(hub_listing *out, const json_t *sib, const char *what) {
    if (!json_is_array(sib))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"siblings\" is missing or not an array", what);
    size_t n = json_array_size(sib);
    if (n > 1000000)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %zu files listed, more than 1000000", what, n);
    out->files = calloc(n ? n : 1, sizeof *out->files);
    if (!out->files)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *name = json_object_get(json_array_get(sib, i), "rfilename");
        if (!json_is_string(name))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: siblings[%zu] has no string \"rfilename\"", what, i);
        const char *s = json_string_value(name);
        if (strlen(s) != json_string_length(name) || !hub_path_is_safe(s))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: siblings[%zu]: unsafe file path '%.200s'", what, i, s);
        if (!(out->files[out->n_files] = strdup(s)))
            return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        out->n_files++;
    }
    return NERC_OK;
}

nerc_status hub_listing_parse(hub_listing *out, const char *json, size_t len, const char *what) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    if (!root)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", what, err.line, err.column, err.text);
    nerc_status st = NERC_OK;
    const json_t *sha = json_object_get(root, "sha");
    if (!json_is_object(root))
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: the answer is not a JSON object", what);
    else if (!json_is_string(sha) || !hub_is_commit(json_string_value(sha)))
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: no 40-hex commit \"sha\" in the answer", what);
    else
        memcpy(out->commit, json_string_value(sha), 41);
    if (st == NERC_OK)
        st = parse_siblings(out, json_object_get(root, "siblings"), what);
    json_decref(root);
    if (st != NERC_OK)
        hub_listing_free(out);
    return st;
}
