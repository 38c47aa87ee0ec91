/* A small blocking HTTP/1.1 client over loopback TCP for the server's tests and load benchmark:
 * keep-alive connections, Content-Length or chunked request bodies, Content-Length responses. */
#ifndef NERC_TEST_HTTP_CLIENT_H
#define NERC_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { HTTP_BUF = 16384 };

typedef struct {
    int fd;
    char buf[HTTP_BUF + 1]; /* bytes read and not yet consumed (+1 for a NUL) */
    size_t have;
} http_conn;

typedef struct {
    int status;
    char *body;          /* NUL-terminated */
    size_t len;
    int close;           /* "Connection: close" */
    char retry_after[32], allow[64], content_type[128];
} http_resp;

static inline void http_resp_free(http_resp *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Connects to 127.0.0.1:port with send/receive timeouts of `timeout_s`; 0 or -1. */
static inline int http_open(http_conn *c, int port, int timeout_s) {
    c->have = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    struct timeval tv = {timeout_s, 0};
    int one = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* Closes; with `reset` the peer sees a RST (SO_LINGER 0) instead of a FIN. */
static inline void http_close(http_conn *c, int reset) {
    if (c->fd < 0)
        return;
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    c->fd = -1;
}

static inline int http_send_all(http_conn *c, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* Sends a request. chunk = 0: Content-Length; else Transfer-Encoding: chunked in pieces of
 * `chunk` bytes. content_type NULL: no header. extra: more header lines ("X: y\r\n") or NULL. */
static inline int http_send(http_conn *c, const char *method, const char *path, const char *content_type,
                            const char *extra, const char *body, size_t len, size_t chunk) {
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    if (content_type)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (extra)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s", extra);
    if (body && !chunk)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    if (body && chunk)
        n += snprintf(head + n, sizeof head - (size_t)n, "Transfer-Encoding: chunked\r\n");
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    if (http_send_all(c, head, (size_t)n) != 0)
        return -1;
    if (!body)
        return 0;
    if (!chunk)
        return http_send_all(c, body, len);
    for (size_t at = 0; at < len; at += chunk) {
        size_t k = len - at < chunk ? len - at : chunk;
        char size[32];
        int m = snprintf(size, sizeof size, "%zx\r\n", k);
        if (http_send_all(c, size, (size_t)m) || http_send_all(c, body + at, k) || http_send_all(c, "\r\n", 2))
            return -1;
    }
    return http_send_all(c, "0\r\n\r\n", 5);
}

/* Reads at least one more byte into the buffer; -1 on EOF / error / timeout. */
static inline int http_fill(http_conn *c) {
    if (c->have == HTTP_BUF)
        return -1;
    ssize_t k;
    do
        k = recv(c->fd, c->buf + c->have, HTTP_BUF - c->have, 0);
    while (k < 0 && errno == EINTR);
    if (k <= 0)
        return -1;
    c->have += (size_t)k;
    return 0;
}

static inline void http_header_value(const char *line, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) || line[n] != ':')
        return;
    line += n + 1;
    while (*line == ' ')
        line++;
    snprintf(out, cap, "%.*s", (int)strcspn(line, "\r"), line);
}

/* Parses the status line and headers of buf[0, end). */
static inline void http_parse_head(const char *buf, size_t end, http_resp *r, size_t *content_length) {
    char line[1024], v[128];
    *content_length = (size_t)-1;
    r->status = atoi(buf + 9);
    for (const char *p = strstr(buf, "\r\n") + 2; p < buf + end - 2; p = strstr(p, "\r\n") + 2) {
        snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\r"), p);
        v[0] = '\0';
        http_header_value(line, "Content-Length", v, sizeof v);
        if (v[0])
            *content_length = (size_t)strtoull(v, NULL, 10);
        v[0] = '\0';
        http_header_value(line, "Connection", v, sizeof v);
        if (v[0])
            r->close = !strcasecmp(v, "close");
        http_header_value(line, "Retry-After", r->retry_after, sizeof r->retry_after);
        http_header_value(line, "Allow", r->allow, sizeof r->allow);
        http_header_value(line, "Content-Type", r->content_type, sizeof r->content_type);
    }
}

/* The end of the buffered response head, or NULL. */
static inline char *http_head_end(http_conn *c) {
    c->buf[c->have] = '\0';
    return strstr(c->buf, "\r\n\r\n");
}

/* Reads one response (1xx interim answers skipped); 0 or -1. */
static inline int http_read(http_conn *c, http_resp *r) {
    memset(r, 0, sizeof *r);
    for (;;) {
        char *end;
        while (!(end = http_head_end(c)))
            if (http_fill(c) != 0)
                return -1;
        size_t head = (size_t)(end - c->buf) + 4, clen;
        if (strncmp(c->buf, "HTTP/1.", 7))
            return -1;
        http_parse_head(c->buf, head, r, &clen);
        if (r->status >= 100 && r->status < 200) {
            memmove(c->buf, c->buf + head, c->have - head);
            c->have -= head;
            continue;
        }
        if (clen == (size_t)-1 || clen > (1u << 30))
            return -1;
        r->body = malloc(clen + 1);
        if (!r->body)
            return -1;
        size_t got = c->have - head < clen ? c->have - head : clen;
        memcpy(r->body, c->buf + head, got);
        while (got < clen) {
            ssize_t k = recv(c->fd, r->body + got, clen - got, 0);
            if (k <= 0) {
                if (k < 0 && errno == EINTR)
                    continue;
                http_resp_free(r);
                return -1;
            }
            got += (size_t)k;
        }
        r->body[clen] = '\0';
        r->len = clen;
        size_t used = head + (c->have - head < clen ? c->have - head : clen);
        memmove(c->buf, c->buf + used, c->have - used);
        c->have -= used;
        return 0;
    }
}

/* One request on an open connection: send, then read the answer. */
static inline int http_roundtrip(http_conn *c, const char *method, const char *path, const char *body, size_t len,
                                 http_resp *r) {
    memset(r, 0, sizeof *r);
    if (http_send(c, method, path, body ? "application/json" : NULL, NULL, body, len, 0) != 0)
        return -1;
    return http_read(c, r);
}

/* One request on a fresh connection. */
static inline int http_once(int port, const char *method, const char *path, const char *body, http_resp *r) {
    http_conn c;
    memset(r, 0, sizeof *r);
    if (http_open(&c, port, 30) != 0)
        return -1;
    int rc = http_roundtrip(&c, method, path, body, body ? strlen(body) : 0, r);
    http_close(&c, 0);
    return rc;
}

#endif
