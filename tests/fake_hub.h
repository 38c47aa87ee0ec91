/* A fake Hugging Face hub on 127.0.0.1 (libmicrohttpd, one internal thread)
 * for the download tests: the model API, resolve URLs (small files answered
 * directly, LFS files redirected to /lfs/<sha256> with X-Linked-Etag/-Size),
 * HTTP Range, and switches for failures (a connection dropped half way, a
 * corrupted body, forced 401/404/500 answers, a required token). It counts
 * what it serves so tests can assert that nothing was transferred. */
#ifndef NERC_TEST_FAKE_HUB_H
#define NERC_TEST_FAKE_HUB_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUB_COMMIT "0123456789abcdef0123456789abcdef01234567"
#define HUB_MAX_FILES 8

typedef struct {
    const char *path;
    char *data;
    size_t len;
    int lfs;
    char etag[65]; /* git sha1 (made up) for small files, sha256 for LFS files */
} hub_file;

typedef struct {
    struct MHD_Daemon *d;
    unsigned port;
    hub_file files[HUB_MAX_FILES];
    int n_files;
    pthread_mutex_t mu;
    /* switches (set by the test between downloads) */
    long drop_at;          /* > 0: the next LFS GET stops at this absolute offset and closes */
    int corrupt;           /* flip one byte of LFS bodies */
    int api_status;        /* non-zero: the model API answers this */
    const char *api_error; /* X-Error-Code of that answer */
    int require_token;     /* API and resolve need "Authorization: Bearer secret" */
    int unsafe_listing;    /* list a path that climbs out of the directory */
    /* counters */
    int n_api, n_head, n_get, n_lfs_get;
    long body_bytes;       /* file bytes sent (resolve + lfs GETs) */
    long last_range;       /* start of the last Range request, -1 none */
    int lfs_saw_auth;      /* an /lfs request carried Authorization */
} fake_hub;

static void fake_hub_sha256(const char *data, size_t len, char hex[65]) {
    unsigned char md[32];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Adds a file (taking `data`): an LFS file is named by its sha256, a small
 * one by its git blob sha1, as on the hub. */
static void fake_hub_add(fake_hub *h, const char *path, char *data, size_t len, int lfs) {
    hub_file *f = &h->files[h->n_files++];
    *f = (hub_file){.path = path, .data = data, .len = len, .lfs = lfs};
    if (lfs) {
        fake_hub_sha256(data, len, f->etag);
        return;
    }
    char head[32];
    int n = snprintf(head, sizeof head, "blob %zu", len) + 1; /* with its NUL */
    unsigned char md[20];
    unsigned mdn = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, head, (size_t)n);
    EVP_DigestUpdate(ctx, data, len);
    EVP_DigestFinal_ex(ctx, md, &mdn);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 20; i++)
        snprintf(f->etag + 2 * i, 3, "%02x", md[i]);
}

static const hub_file *fake_hub_find(const fake_hub *h, const char *path, int by_sha) {
    for (int i = 0; i < h->n_files; i++)
        if (!strcmp(by_sha ? h->files[i].etag : h->files[i].path, path))
            return &h->files[i];
    return NULL;
}

static enum MHD_Result fake_hub_send(struct MHD_Connection *c, unsigned status, struct MHD_Response *r) {
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result fake_hub_text(struct MHD_Connection *c, unsigned status, const char *body,
                                     const char *error_code) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (error_code)
        MHD_add_response_header(r, "X-Error-Code", error_code);
    if (status >= 400)
        MHD_add_response_header(r, "X-Error-Message", body);
    return fake_hub_send(c, status, r);
}

static enum MHD_Result fake_hub_api(fake_hub *h, struct MHD_Connection *c, const char *repo) {
    pthread_mutex_lock(&h->mu);
    h->n_api++;
    int status = h->api_status;
    const char *code = h->api_error;
    pthread_mutex_unlock(&h->mu);
    if (status)
        return fake_hub_text(c, (unsigned)status, "forced failure", code);
    if (strcmp(repo, "org/tiny") != 0)
        return fake_hub_text(c, 404, "Repository not found", "RepoNotFound");
    char body[2048];
    int n = snprintf(body, sizeof body, "{\"id\": \"org/tiny\", \"sha\": \"%s\", \"siblings\": [", HUB_COMMIT);
    for (int i = 0; i < h->n_files; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"rfilename\": \"%s\"}", i ? ", " : "",
                      h->files[i].path);
    if (h->unsafe_listing)
        n += snprintf(body + n, sizeof body - (size_t)n, ", {\"rfilename\": \"../escape.txt\"}");
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    return fake_hub_text(c, 200, body, NULL);
}

typedef struct {
    fake_hub *h;
    const hub_file *f;
    size_t start, stop; /* send [start, stop), then close if stop < len */
} fake_body;

static ssize_t fake_hub_read(void *cls, uint64_t pos, char *buf, size_t max) {
    fake_body *b = cls;
    size_t at = b->start + (size_t)pos;
    if (at >= b->stop)
        return b->stop < b->f->len ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = b->stop - at < max ? b->stop - at : max;
    if (n > 4096)
        n = 4096; /* small blocks: a drop lands where it is asked to */
    memcpy(buf, b->f->data + at, n);
    pthread_mutex_lock(&b->h->mu);
    if (b->h->corrupt && at <= 1000 && 1000 < at + n)
        buf[1000 - at] ^= 0x55;
    b->h->body_bytes += (long)n;
    pthread_mutex_unlock(&b->h->mu);
    return (ssize_t)n;
}

/* The bytes of a file, honouring "Range: bytes=N-" (206) and drop_at. */
static enum MHD_Result fake_hub_body(fake_hub *h, struct MHD_Connection *c, const hub_file *f, int is_lfs_url) {
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    size_t start = 0;
    if (range && sscanf(range, "bytes=%zu-", &start) != 1)
        start = 0;
    pthread_mutex_lock(&h->mu);
    h->last_range = range ? (long)start : -1;
    size_t stop = f->len;
    if (is_lfs_url && h->drop_at > 0 && (size_t)h->drop_at > start && (size_t)h->drop_at < f->len) {
        stop = (size_t)h->drop_at;
        h->drop_at = 0; /* once */
    }
    pthread_mutex_unlock(&h->mu);
    if (start > f->len)
        return fake_hub_text(c, 416, "range not satisfiable", NULL);
    fake_body *b = malloc(sizeof *b);
    *b = (fake_body){h, f, start, stop};
    struct MHD_Response *r = MHD_create_response_from_callback(f->len - start, 4096, fake_hub_read, b, free);
    char etag[80], cr[96];
    snprintf(etag, sizeof etag, "\"%s\"", f->etag);
    MHD_add_response_header(r, "ETag", etag);
    if (range) {
        snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", start, f->len ? f->len - 1 : 0, f->len);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    return fake_hub_send(c, range ? 206 : 200, r);
}

/* HEAD/GET /{repo}/resolve/{rev}/{path} */
static enum MHD_Result fake_hub_resolve(fake_hub *h, struct MHD_Connection *c, const char *method, const char *repo,
                                        const char *rest) {
    int head = !strcmp(method, "HEAD");
    pthread_mutex_lock(&h->mu);
    head ? h->n_head++ : h->n_get++;
    pthread_mutex_unlock(&h->mu);
    if (!strcmp(repo, "org/renamed")) { /* a renamed repository: relative redirect */
        char loc[1024];
        snprintf(loc, sizeof loc, "/org/tiny/resolve/%s", rest);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", loc);
        return fake_hub_send(c, 307, r);
    }
    const char *slash = strchr(rest, '/');
    if (strcmp(repo, "org/tiny") != 0 || !slash)
        return fake_hub_text(c, 404, "Repository not found", "RepoNotFound");
    const hub_file *f = fake_hub_find(h, slash + 1, 0);
    if (!f)
        return fake_hub_text(c, 404, "Entry not found", "EntryNotFound");
    if (!f->lfs) {
        if (!head)
            return fake_hub_body(h, c, f, 0);
        char etag[80];
        snprintf(etag, sizeof etag, "\"%s\"", f->etag);
        struct MHD_Response *r = MHD_create_response_from_buffer(f->len, f->data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "X-Repo-Commit", HUB_COMMIT);
        return fake_hub_send(c, 200, r);
    }
    char loc[256], etag[80], size[32];
    snprintf(loc, sizeof loc, "http://127.0.0.1:%u/lfs/%s", h->port, f->etag);
    snprintf(etag, sizeof etag, "\"%s\"", f->etag);
    snprintf(size, sizeof size, "%zu", f->len);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Location", loc);
    MHD_add_response_header(r, "X-Linked-Etag", etag);
    MHD_add_response_header(r, "X-Linked-Size", size);
    MHD_add_response_header(r, "ETag", "\"0000000000000000000000000000000000000000\""); /* the pointer file's */
    MHD_add_response_header(r, "X-Repo-Commit", HUB_COMMIT);
    return fake_hub_send(c, 302, r);
}

static enum MHD_Result fake_hub_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                        const char *version, const char *upload, size_t *upload_size, void **state) {
    (void)version, (void)upload, (void)upload_size, (void)state;
    fake_hub *h = cls;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    int authorized = auth && !strcmp(auth, "Bearer secret");
    char repo[256];
    if (!strncmp(url, "/lfs/", 5)) {
        pthread_mutex_lock(&h->mu);
        h->n_lfs_get++;
        h->lfs_saw_auth |= auth != NULL;
        pthread_mutex_unlock(&h->mu);
        const hub_file *f = fake_hub_find(h, url + 5, 1);
        return f ? fake_hub_body(h, c, f, 1) : fake_hub_text(c, 404, "no such object", NULL);
    }
    if (h->require_token && !authorized)
        return fake_hub_text(c, 401, "Invalid credentials in Authorization header", NULL);
    const char *api = "/api/models/", *rev = strstr(url, "/revision/");
    if (!strncmp(url, api, strlen(api)) && rev) {
        snprintf(repo, sizeof repo, "%.*s", (int)(rev - url - strlen(api)), url + strlen(api));
        if (!strcmp(repo, "org/renamed")) {
            struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Location", "/api/models/org/tiny/revision/main");
            return fake_hub_send(c, 307, r);
        }
        return fake_hub_api(h, c, repo);
    }
    const char *res = strstr(url, "/resolve/");
    if (res) {
        snprintf(repo, sizeof repo, "%.*s", (int)(res - url - 1), url + 1);
        return fake_hub_resolve(h, c, method, repo, res + 9);
    }
    return fake_hub_text(c, 404, "not found", NULL);
}

/* Starts on 127.0.0.1 with an ephemeral port; 0 on success. */
static int fake_hub_start(fake_hub *h) {
    pthread_mutex_init(&h->mu, NULL);
    h->last_range = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_hub_handler, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)10, MHD_OPTION_END);
    if (!h->d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    return h->port ? 0 : -1;
}

static void fake_hub_stop(fake_hub *h) {
    if (h->d)
        MHD_stop_daemon(h->d);
    for (int i = 0; i < h->n_files; i++)
        free(h->files[i].data);
    pthread_mutex_destroy(&h->mu);
}

/* Zeroes the counters and switches between scenarios. */
static void fake_hub_reset(fake_hub *h) {
    pthread_mutex_lock(&h->mu);
    h->drop_at = 0;
    h->corrupt = h->api_status = h->require_token = h->unsafe_listing = 0;
    h->api_error = NULL;
    h->n_api = h->n_head = h->n_get = h->n_lfs_get = 0;
    h->body_bytes = 0;
    h->last_range = -1;
    h->lfs_saw_auth = 0;
    pthread_mutex_unlock(&h->mu);
}

#endif
