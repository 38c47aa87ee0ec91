/* One file of a hub repository: HEAD on its resolve URL (ETag, size, the
 * redirect to its content), then a resumable transfer into a .incomplete file
 * checked against the announced size and, for LFS files, the sha256 ETag. */
#include "hub/fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "hub/cache.h"

/* ---- small helpers ---------------------------------------------------------- */

char *hub_url_escape(const char *s, int keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~' || (keep_slash && *c == '/')) {
            *o++ = (char)*c;
        } else {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 15];
        }
    }
    *o = '\0';
    return out;
}

nerc_status hub_sha256_file(const char *path, char hex[65]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nerc_errorf(NERC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    nerc_status st = ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
                         ? NERC_OK
                         : nerc_errorf(NERC_ERR_NOMEM, "%s: cannot start a sha256", path);
    for (ssize_t n; st == NERC_OK && (n = read(fd, buf, CHUNK)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            st = nerc_errorf(NERC_ERR_IO, "%s: read error: %s", path, strerror(errno));
        else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            st = nerc_errorf(NERC_ERR_INTERNAL, "%s: sha256 failed", path);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (st == NERC_OK && (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32))
        st = nerc_errorf(NERC_ERR_INTERNAL, "%s: sha256 failed", path);
    for (unsigned i = 0; st == NERC_OK && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    return st;
}

/* An ETag becomes a file name in blobs/: letters, digits, '.', '_', '-'. */
static int etag_is_safe(const char *e) {
    if (!*e || !strcmp(e, ".") || !strcmp(e, ".."))
        return 0;
    for (; *e; e++)
        if (!isalnum((unsigned char)*e) && *e != '.' && *e != '_' && *e != '-')
            return 0;
    return 1;
}

static int is_sha256_hex(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
            return 0;
    return n == 64;
}

/* ---- errors ----------------------------------------------------------------- */

nerc_status hub_http_status_error(const hub_session *s, const char *file, const char *url, const hub_headers *hd) {
    char hub_msg[300] = "";
    if (hd->error_message[0])
        snprintf(hub_msg, sizeof hub_msg, ": %s", hd->error_message);
    long code = hd->status;
    if (code == 401 || code == 403 || !strcmp(hd->error_code, "GatedRepo"))
        return nerc_errorf(NERC_ERR_IO, "%s: HTTP %ld from %s%s (%s)", s->repo_id, code, url, hub_msg,
                           s->has_token ? "the token in HF_TOKEN was refused or has no access to this repository"
                                        : "a private or gated repository, or none by that name: set HF_TOKEN to a "
                                          "token with access");
    if (code == 404 && !strcmp(hd->error_code, "RevisionNotFound"))
        return nerc_errorf(NERC_ERR_IO, "%s: revision '%s' not found (HTTP 404 from %s)%s", s->repo_id,
                           s->params->revision, url, hub_msg);
    if (code == 404 && (file || !strcmp(hd->error_code, "EntryNotFound")))
        return nerc_errorf(NERC_ERR_IO, "%s: file '%s' not found at %s (HTTP 404 from %s)%s", s->repo_id,
                           file ? file : "?", s->commit ? s->commit : s->params->revision, url, hub_msg);
    if (code == 404)
        return nerc_errorf(NERC_ERR_IO, "%s: repository not found (HTTP 404 from %s)%s", s->repo_id, url, hub_msg);
    if (code >= 500)
        return nerc_errorf(NERC_ERR_IO, "%s: the hub failed with HTTP %ld (server error) for %s%s; try again later",
                           s->repo_id, code, url, hub_msg);
    return nerc_errorf(NERC_ERR_IO, "%s: unexpected HTTP %ld from %s%s", s->repo_id, code, url, hub_msg);
}

nerc_status hub_net_error(const hub_session *s) {
    if (hub_http_net(s->http) == HUB_NET_UNREACHABLE)
        return nerc_error_prefix(NERC_ERR_IO,
                                 "%s: cannot reach the hub at %s (no network? HF_HUB_OFFLINE=1 uses the cache only, "
                                 "HF_ENDPOINT sets a mirror)",
                                 s->repo_id, s->endpoint);
    return nerc_error_prefix(NERC_ERR_IO, "%s", s->repo_id);
}

/* ---- HEAD ------------------------------------------------------------------- */

/* url with its path replaced by `path` (a relative redirect): scheme://host[:port] + path. */
static char *same_origin(const char *url, const char *path) {
    const char *host = strstr(url, "://");
    const char *slash = host ? strchr(host + 3, '/') : NULL;
    int origin = slash ? (int)(slash - url) : (int)strlen(url);
    return hub_strf("%.*s%s", origin, url, path);
}

void hub_file_meta_free(hub_file_meta *meta) {
    free(meta->url);
    meta->url = NULL;
}

/* Fills meta from the answer that ended the HEAD chain at `url`. */
static nerc_status meta_from_headers(const hub_session *s, const char *file, const char *url, const hub_headers *hd,
                                     hub_file_meta *meta) {
    const char *etag = hd->linked_etag[0] ? hd->linked_etag : hd->etag;
    if (!etag_is_safe(etag))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s': the hub sent no usable ETag (got '%.80s') for %s", s->repo_id,
                           file, etag, url);
    snprintf(meta->etag, sizeof meta->etag, "%s", etag);
    meta->sha256[0] = '\0';
    if (hd->linked_etag[0] && is_sha256_hex(hd->linked_etag))
        memcpy(meta->sha256, hd->linked_etag, 65);
    int redirected = hd->status >= 300 && hd->status < 400;
    meta->size = hd->linked_size >= 0 ? hd->linked_size : redirected ? -1 : hd->content_length;
    meta->url = strdup(redirected ? hd->location : url);
    if (!meta->url)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    meta->auth = !redirected; /* as huggingface_hub: no token to where the hub redirects (a CDN) */
    return NERC_OK;
}

nerc_status hub_file_head(hub_session *s, const char *file, hub_file_meta *meta) {
    memset(meta, 0, sizeof *meta);
    char *path = hub_url_escape(file, 1);
    char *url = path ? hub_strf("%s/%s/resolve/%s/%s", s->endpoint, s->repo_id, s->commit, path) : NULL;
    free(path);
    nerc_status st = url ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    hub_headers hd;
    /* relative redirects (a renamed repository) are followed; absolute ones point at the content */
    for (int hops = 0; st == NERC_OK; hops++) {
        st = hub_http_head(s->http, url, 1, &hd);
        if (st != NERC_OK) {
            st = hub_net_error(s);
            break;
        }
        int redirect = hd.status >= 300 && hd.status < 400;
        if (redirect && hd.location[0] == '/' && hops < 5) {
            char *next = same_origin(url, hd.location);
            free(url);
            url = next;
            st = url ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
            continue;
        }
        if (redirect && !hd.location[0])
            st = nerc_errorf(NERC_ERR_FORMAT, "%s: HTTP %ld without a Location from %s", s->repo_id, hd.status, url);
        else if (!redirect && hd.status != 200)
            st = hub_http_status_error(s, file, url, &hd);
        else
            st = meta_from_headers(s, file, url, &hd, meta);
        break;
    }
    free(url);
    return st;
}

/* ---- transfer --------------------------------------------------------------- */

typedef struct {
    const hub_session *s;
    const char *file;
    uint64_t base;
    uint64_t total;
} progress_ctx;

static void on_progress(uint64_t received, void *user) {
    progress_ctx *c = user;
    const nerc_hub_params *p = c->s->params;
    if (p->progress)
        p->progress(NERC_HUB_FILE_PROGRESS, c->file, c->base + received, c->total, p->progress_user);
}

/* Size, then sha256 for LFS files; a mismatch removes the file. */
static nerc_status verify(const hub_session *s, const char *file, const hub_file_meta *meta, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nerc_errorf(NERC_ERR_IO, "%s: %s", path, strerror(errno));
    nerc_status st = NERC_OK;
    if (meta->size >= 0 && sb.st_size != meta->size)
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: '%s': got %lld bytes, the hub announced %lld; the download was removed",
                         s->repo_id, file, (long long)sb.st_size, (long long)meta->size);
    char hex[65];
    if (st == NERC_OK && meta->sha256[0]) {
        NERC_TRY(hub_sha256_file(path, hex));
        if (strcmp(hex, meta->sha256) != 0)
            st = nerc_errorf(NERC_ERR_FORMAT,
                             "%s: '%s': sha256 %s does not match the hub's ETag %s: the download is corrupt and was "
                             "removed",
                             s->repo_id, file, hex, meta->sha256);
    }
    if (st != NERC_OK)
        unlink(path);
    return st;
}

/* GET rounds until the file is whole; returns with the fd still open. */
static nerc_status transfer(hub_session *s, const char *file, const hub_file_meta *meta, int fd, uint64_t have) {
    const nerc_hub_params *p = s->params;
    progress_ctx pc = {s, file, have, meta->size >= 0 ? (uint64_t)meta->size : 0};
    if (p->progress)
        p->progress(NERC_HUB_FILE_START, file, have, pc.total, p->progress_user);
    for (int attempt = 0; meta->size < 0 || have != (uint64_t)meta->size; attempt++) {
        hub_headers hd;
        uint64_t got = 0;
        pc.base = have;
        nerc_status st = hub_http_get_file(s->http, meta->url, meta->auth, fd, have, &hd, on_progress, &pc, &got);
        s->stats->bytes += got;
        uint64_t asked = have;
        if (hd.status == 200)
            have = got;
        else if (hd.status == 206)
            have += got;
        if (st == NERC_OK && hd.status == 416 && asked > 0 && attempt < 1 && ftruncate(fd, 0) == 0) {
            have = 0; /* the server cannot continue this range: start over */
            continue;
        }
        if (st == NERC_OK)
            return hd.status == 200 || hd.status == 206 ? NERC_OK : hub_http_status_error(s, file, meta->url, &hd);
        if (hub_http_net(s->http) == HUB_NET_BROKEN && got > 0 && attempt < p->max_retries) {
            nerc_logf("%s: connection dropped at %llu bytes; resuming", file, (unsigned long long)have);
            continue;
        }
        if (hub_http_net(s->http) != HUB_NET_BROKEN)
            return hub_net_error(s);
        return nerc_error_prefix(NERC_ERR_IO,
                                 "%s: '%s' interrupted at %llu of %lld bytes (run again to resume from the partial "
                                 "file)",
                                 s->repo_id, file, (unsigned long long)have, (long long)meta->size);
    }
    return NERC_OK;
}

nerc_status hub_file_fetch(hub_session *s, const char *file, const hub_file_meta *meta, const char *incomplete) {
    int fd = open(incomplete, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return nerc_errorf(NERC_ERR_IO, "%s: cannot create: %s", incomplete, strerror(errno));
    struct stat sb;
    uint64_t have = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    if (meta->size >= 0 && have > (uint64_t)meta->size) {
        have = 0; /* longer than the file: not a prefix of it */
        if (ftruncate(fd, 0) != 0) {
            close(fd);
            return nerc_errorf(NERC_ERR_IO, "%s: truncate failed: %s", incomplete, strerror(errno));
        }
    }
    nerc_status st = transfer(s, file, meta, fd, have);
    if (st == NERC_OK && fsync(fd) != 0)
        st = nerc_errorf(NERC_ERR_IO, "%s: fsync failed: %s", incomplete, strerror(errno));
    if (close(fd) != 0 && st == NERC_OK)
        st = nerc_errorf(NERC_ERR_IO, "%s: close failed: %s", incomplete, strerror(errno));
    if (st != NERC_OK && stat(incomplete, &sb) == 0 && sb.st_size == 0)
        unlink(incomplete); /* nothing to resume from */
    return st == NERC_OK ? verify(s, file, meta, incomplete) : st;
}
