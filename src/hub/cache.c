/* Hugging Face cache layout (models--ORG--NAME/{blobs,refs,snapshots}), the
 * HF_* environment, and nerc_hub_resolve: a hub id -> its cached snapshot. */
#include "hub/cache.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fs.h"

char *hub_strf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* One part of a repo id: [\w.-]+ that starts and ends with \w. */
static int valid_part(const char *s, size_t n) {
    if (n == 0 || !is_word_char(s[0]) || !is_word_char(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_word_char(s[i]) && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

int hub_is_repo_id(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 96 || strstr(s, "--") || strstr(s, ".."))
        return 0;
    const char *slash = strchr(s, '/');
    if (!slash)
        return valid_part(s, n);
    return valid_part(s, (size_t)(slash - s)) && valid_part(slash + 1, strlen(slash + 1));
}

int hub_is_commit(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
            return 0;
    return n == 40;
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* "~/x" -> "$HOME/x" (malloc'd copy otherwise). */
static char *expand_home(const char *p) {
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0') && env("HOME"))
        return hub_strf("%s%s", env("HOME"), p + 1);
    return strdup(p);
}

static char *hf_home(void) {
    if (env("HF_HOME"))
        return expand_home(env("HF_HOME"));
    if (env("XDG_CACHE_HOME"))
        return hub_strf("%s/huggingface", env("XDG_CACHE_HOME"));
    return hub_strf("%s/.cache/huggingface", env("HOME") ? env("HOME") : "");
}

char *hub_cache_dir_for(const char *given) {
    if (given)
        return expand_home(given);
    if (env("HF_HUB_CACHE"))
        return expand_home(env("HF_HUB_CACHE"));
    if (env("HUGGINGFACE_HUB_CACHE"))
        return expand_home(env("HUGGINGFACE_HUB_CACHE"));
    char *home = hf_home();
    char *dir = home ? hub_strf("%s/hub", home) : NULL;
    free(home);
    return dir;
}

char *hub_endpoint_for(const char *given) {
    const char *e = given ? given : env("HF_ENDPOINT") ? env("HF_ENDPOINT") : "https://huggingface.co";
    char *s = strdup(e);
    for (size_t n = s ? strlen(s) : 0; n > 0 && s[n - 1] == '/'; n--)
        s[n - 1] = '\0';
    return s;
}

/* The first line of a token file, trimmed; NULL if absent or empty. */
static char *read_token_file(const char *path) {
    char *data = NULL;
    size_t len = 0;
    if (fs_read_file(path, 4096, &data, &len) != NERC_OK)
        return NULL;
    size_t a = 0;
    while (a < len && isspace((unsigned char)data[a]))
        a++;
    size_t b = a;
    while (b < len && !isspace((unsigned char)data[b]))
        b++;
    data[b] = '\0';
    memmove(data, data + a, b - a + 1);
    if (!*data) {
        free(data);
        return NULL;
    }
    return data;
}

char *hub_token_for(const char *given) {
    if (given)
        return *given ? strdup(given) : NULL;
    if (env("HF_TOKEN"))
        return strdup(env("HF_TOKEN"));
    if (env("HUGGING_FACE_HUB_TOKEN"))
        return strdup(env("HUGGING_FACE_HUB_TOKEN"));
    char *home = env("HF_TOKEN_PATH") ? NULL : hf_home();
    char *path = env("HF_TOKEN_PATH") ? expand_home(env("HF_TOKEN_PATH")) : home ? hub_strf("%s/token", home) : NULL;
    char *tok = path ? read_token_file(path) : NULL;
    free(home);
    free(path);
    return tok;
}

int hub_offline_env(void) {
    const char *v = env("HF_HUB_OFFLINE");
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true"));
}

char *hub_storage_dir(const char *cache, const char *repo_id) {
    const char *slash = strchr(repo_id, '/');
    if (!slash)
        return hub_strf("%s/models--%s", cache, repo_id);
    return hub_strf("%s/models--%.*s--%s", cache, (int)(slash - repo_id), repo_id, slash + 1);
}

int hub_read_ref(const char *storage, const char *revision, char commit[41]) {
    if (hub_is_commit(revision)) {
        memcpy(commit, revision, 41);
        return 0;
    }
    char *path = hub_strf("%s/refs/%s", storage, revision);
    char *data = NULL;
    size_t len = 0;
    int ok = path && fs_read_file(path, 256, &data, &len) == NERC_OK;
    free(path);
    if (ok) {
        while (len > 0 && isspace((unsigned char)data[len - 1]))
            data[--len] = '\0';
        ok = hub_is_commit(data);
        if (ok)
            memcpy(commit, data, 41);
    }
    free(data);
    return ok ? 0 : -1;
}

nerc_status hub_write_ref(const char *storage, const char *revision, const char *commit) {
    if (!strcmp(revision, commit))
        return NERC_OK;
    char *path = hub_strf("%s/refs/%s", storage, revision);
    if (!path)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    char *slash = strrchr(path, '/');
    *slash = '\0';
    nerc_status st = fs_mkdirs(path);
    *slash = '/';
    if (st == NERC_OK)
        st = fs_write_file_atomic(path, commit, strlen(commit));
    free(path);
    return st;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *hub_cached_snapshot(const char *storage, const char *revision) {
    char commit[41];
    if (hub_read_ref(storage, revision, commit) != 0)
        return NULL;
    char *snap = hub_strf("%s/snapshots/%s", storage, commit);
    if (snap && !is_dir(snap)) {
        free(snap);
        return NULL;
    }
    return snap;
}

nerc_status hub_copy_out(char *out, size_t out_size, const char *s, const char *what) {
    size_t n = strlen(s);
    if (!out || n >= out_size)
        return nerc_errorf(NERC_ERR_ARG, "%s: path longer than the %zu-byte buffer", what, out_size);
    memcpy(out, s, n + 1);
    return NERC_OK;
}

nerc_status nerc_hub_cache_dir(char *out, size_t out_size) {
    char *cache = hub_cache_dir_for(NULL);
    if (!cache)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    nerc_status st = hub_copy_out(out, out_size, cache, cache);
    free(cache);
    return st;
}

nerc_status nerc_hub_resolve(const char *name, char *out, size_t out_size) {
    if (!name || !out)
        return nerc_errorf(NERC_ERR_ARG, "nerc_hub_resolve: NULL argument");
    struct stat sb;
    if (stat(name, &sb) == 0)
        return hub_copy_out(out, out_size, name, name);
    if (!hub_is_repo_id(name))
        return nerc_errorf(NERC_ERR_IO, "%s: no such file or directory", name);
    char *cache = hub_cache_dir_for(NULL);
    char *storage = cache ? hub_storage_dir(cache, name) : NULL;
    char *snap = storage ? hub_cached_snapshot(storage, "main") : NULL;
    nerc_status st;
    if (snap)
        st = hub_copy_out(out, out_size, snap, name);
    else if (!storage)
        st = nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    else
        st = nerc_errorf(NERC_ERR_IO,
                         "%s: no such directory, and no snapshot of hub model '%s' in %s (fetch it with: nerc "
                         "download %s)",
                         name, name, cache, name);
    free(snap);
    free(storage);
    free(cache);
    return st;
}
