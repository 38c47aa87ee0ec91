/* HTTP(S) requests of the hub client over libcurl, and the parsing of the
 * response headers the hub uses (ETag, X-Linked-Etag/-Size, X-Repo-Commit). */
#include "hub/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"

struct hub_http {
    CURL *curl;
    struct curl_slist *auth; /* "Authorization: Bearer ..." or NULL */
    long connect_timeout_s, stall_timeout_s;
    hub_net net;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- response headers ------------------------------------------------------ */

void hub_headers_reset(hub_headers *h) {
    memset(h, 0, sizeof *h);
    h->content_length = h->linked_size = h->range_start = -1;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n) {
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* ETag forms W/"x" and "x" -> x (huggingface_hub's _normalize_etag). */
static void copy_etag(char *dst, size_t cap, const char *v, size_t n) {
    if (n >= 2 && v[0] == 'W' && v[1] == '/')
        v += 2, n -= 2;
    if (n >= 1 && v[0] == '"')
        v++, n--;
    if (n >= 1 && v[n - 1] == '"')
        n--;
    copy_value(dst, cap, v, n);
}

/* Decimal digits only, no overflow; -1 otherwise. */
static int64_t parse_size(const char *v, size_t n) {
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static void parse_status_line(hub_headers *h, const char *line, size_t len) {
    hub_headers_reset(h);
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return;
    size_t i = (size_t)(sp - line) + 1;
    long code = 0;
    int digits = 0;
    for (; i < len && digits < 3 && isdigit((unsigned char)line[i]); i++, digits++)
        code = code * 10 + (line[i] - '0');
    h->status = digits == 3 ? code : 0;
}

/* "bytes START-END/TOTAL" -> START. */
static int64_t parse_range_start(const char *v, size_t n) {
    if (n < 6 || strncasecmp(v, "bytes ", 6) != 0)
        return -1;
    const char *dash = memchr(v + 6, '-', n - 6);
    return dash ? parse_size(v + 6, (size_t)(dash - (v + 6))) : -1;
}

void hub_headers_line(hub_headers *h, const char *line, size_t len) {
    if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
        parse_status_line(h, line, len);
        return;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    size_t vlen = (size_t)(end - v);
#define IS(name) (nlen == sizeof name - 1 && !strncasecmp(line, name, nlen))
    if (IS("etag"))
        copy_etag(h->etag, sizeof h->etag, v, vlen);
    else if (IS("x-linked-etag"))
        copy_etag(h->linked_etag, sizeof h->linked_etag, v, vlen);
    else if (IS("x-repo-commit"))
        copy_value(h->repo_commit, sizeof h->repo_commit, v, vlen);
    else if (IS("location"))
        copy_value(h->location, sizeof h->location, v, vlen);
    else if (IS("x-error-code"))
        copy_value(h->error_code, sizeof h->error_code, v, vlen);
    else if (IS("x-error-message"))
        copy_value(h->error_message, sizeof h->error_message, v, vlen);
    else if (IS("content-length"))
        h->content_length = parse_size(v, vlen);
    else if (IS("x-linked-size"))
        h->linked_size = parse_size(v, vlen);
    else if (IS("content-range"))
        h->range_start = parse_range_start(v, vlen);
#undef IS
}

static size_t on_header(char *buf, size_t size, size_t n, void *user) {
    hub_headers_line(user, buf, size * n);
    return size * n;
}

/* ---- the handle ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

nerc_status hub_http_init(hub_http **out, const char *token, long connect_timeout_s, long stall_timeout_s) {
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return nerc_errorf(NERC_ERR_INTERNAL, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    hub_http *h = calloc(1, sizeof *h);
    if (!h || !(h->curl = curl_easy_init())) {
        free(h);
        return nerc_errorf(NERC_ERR_NOMEM, "libcurl: cannot create a handle");
    }
    h->connect_timeout_s = connect_timeout_s;
    h->stall_timeout_s = stall_timeout_s;
    if (token) {
        size_t n = strlen(token) + 32;
        char *line = malloc(n);
        if (line) {
            snprintf(line, n, "Authorization: Bearer %s", token);
            h->auth = curl_slist_append(NULL, line);
            free(line);
        }
        if (!h->auth) {
            hub_http_free(h);
            return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        }
    }
    *out = h;
    return NERC_OK;
}

void hub_http_free(hub_http *h) {
    if (!h)
        return;
    curl_slist_free_all(h->auth);
    curl_easy_cleanup(h->curl);
    free(h);
}

hub_net hub_http_net(const hub_http *h) { return h->net; }

static void setup(hub_http *h, const char *url, int auth, hub_headers *hd) {
    CURL *c = h->curl;
    curl_easy_reset(c);
    hub_headers_reset(hd);
    h->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "nerc/" NERC_VERSION " (libcurl)");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, hd);
    if (auth && h->auth)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->auth);
}

static hub_net classify(CURLcode rc, const hub_headers *hd) {
    switch (rc) {
    case CURLE_OK: return HUB_NET_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return HUB_NET_UNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT: return hd->status ? HUB_NET_BROKEN : HUB_NET_UNREACHABLE;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING: return HUB_NET_BROKEN;
    default: return HUB_NET_OTHER;
    }
}

/* Runs the prepared request; a transport failure becomes "METHOD url: reason". */
static nerc_status perform(hub_http *h, const char *method, const char *url, hub_headers *hd) {
    CURLcode rc = curl_easy_perform(h->curl);
    h->net = classify(rc, hd);
    if (rc == CURLE_OK)
        return NERC_OK;
    return nerc_errorf(NERC_ERR_IO, "%s %s: %s", method, url, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
}

nerc_status hub_http_head(hub_http *h, const char *url, int auth, hub_headers *hd) {
    setup(h, url, auth, hd);
    curl_easy_setopt(h->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
    return perform(h, "HEAD", url, hd);
}

/* ---- bodies ---------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap, max;
} membuf;

static int membuf_add(membuf *m, const char *p, size_t n) {
    if (m->len + n > m->max)
        n = m->max - m->len; /* keep what fits, drop the rest */
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *d = realloc(m->data, cap);
        if (!d)
            return -1;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, p, n);
    m->len += n;
    m->data[m->len] = '\0';
    return 0;
}

typedef struct {
    membuf mem;
    int too_big;
} mem_sink;

static size_t on_body_mem(char *buf, size_t size, size_t n, void *user) {
    mem_sink *s = user;
    size_t bytes = size * n;
    if (s->mem.len + bytes > s->mem.max)
        s->too_big = 1;
    return membuf_add(&s->mem, buf, bytes) == 0 && !s->too_big ? bytes : 0;
}

nerc_status hub_http_get(hub_http *h, const char *url, int auth, size_t max, hub_headers *hd, char **body,
                         size_t *len) {
    *body = NULL;
    *len = 0;
    mem_sink s = {.mem = {.max = max}};
    setup(h, url, auth, hd);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body_mem);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &s);
    nerc_status st = perform(h, "GET", url, hd);
    if (s.too_big)
        st = nerc_errorf(NERC_ERR_FORMAT, "GET %s: answer larger than %zu bytes", url, max);
    if (st == NERC_OK && !s.mem.data && membuf_add(&s.mem, "", 0) != 0)
        st = nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st != NERC_OK) {
        free(s.mem.data);
        return st;
    }
    *body = s.mem.data;
    *len = s.mem.len;
    return NERC_OK;
}

typedef struct {
    int fd;
    uint64_t offset, pos, received;
    int started;
    hub_headers *hd;
    hub_http_progress progress;
    void *user;
    nerc_status st;
    const char *url;
} file_sink;

/* At the first body byte: where the answer goes (append after a 206, from
 * zero after a 200; error answers are not written). */
static int file_sink_start(file_sink *s) {
    s->started = 1;
    long code = s->hd->status;
    if (code == 206) {
        if (s->hd->range_start != (int64_t)s->offset) {
            s->st = nerc_errorf(NERC_ERR_FORMAT, "GET %s: asked for bytes from %llu, got a range from %lld", s->url,
                                (unsigned long long)s->offset, (long long)s->hd->range_start);
            return -1;
        }
        s->pos = s->offset;
    } else if (code == 200) {
        if (s->offset > 0 && ftruncate(s->fd, 0) != 0) {
            s->st = nerc_errorf(NERC_ERR_IO, "truncate: %s", strerror(errno));
            return -1;
        }
        s->pos = 0;
    }
    return 0;
}

static size_t on_body_file(char *buf, size_t size, size_t n, void *user) {
    file_sink *s = user;
    size_t bytes = size * n;
    if (!s->started && file_sink_start(s) != 0)
        return 0;
    if (s->hd->status != 200 && s->hd->status != 206)
        return bytes; /* an error answer's body: not ours to keep */
    for (size_t done = 0; done < bytes;) {
        ssize_t w = pwrite(s->fd, buf + done, bytes - done, (off_t)s->pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->st = nerc_errorf(NERC_ERR_IO, "write: %s", w < 0 ? strerror(errno) : "no progress");
            return 0;
        }
        done += (size_t)w;
        s->pos += (uint64_t)w;
    }
    s->received += bytes;
    if (s->progress)
        s->progress(s->received, s->user);
    return bytes;
}

nerc_status hub_http_get_file(hub_http *h, const char *url, int auth, int fd, uint64_t offset, hub_headers *hd,
                              hub_http_progress progress, void *user, uint64_t *received) {
    file_sink s = {.fd = fd, .offset = offset, .hd = hd, .progress = progress, .user = user, .url = url};
    char range[32];
    setup(h, url, auth, hd);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body_file);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &s);
    if (offset > 0) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)offset);
        curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
    }
    nerc_status st = perform(h, "GET", url, hd);
    *received = s.received;
    if (s.st != NERC_OK) { /* our own failure: its message, not curl's "write error" */
        h->net = HUB_NET_OTHER;
        return nerc_error_prefix(s.st, "GET %s", url);
    }
    if (st == NERC_OK && !s.started && offset > 0 && hd->status == 200 && ftruncate(fd, 0) != 0)
        return nerc_errorf(NERC_ERR_IO, "truncate: %s", strerror(errno)); /* an empty 200 answer */
    return st;
}
