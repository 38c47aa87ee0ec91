/* HTTP(S) for the hub client, over libcurl: HEAD without following
 * redirects, GET into memory, and a resumable GET into a file (Range). */
#ifndef NERC_HUB_HTTP_H
#define NERC_HUB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "nerc/common.h"

/* How an exchange ended below HTTP. */
typedef enum {
    HUB_NET_OK = 0,      /* an HTTP answer arrived (whatever its status) */
    HUB_NET_UNREACHABLE, /* no connection: DNS, refused, connect timeout */
    HUB_NET_BROKEN,      /* the connection dropped or stalled mid-answer */
    HUB_NET_OTHER        /* TLS, protocol, local write error ... */
} hub_net;

/* The response headers the hub client reads (of the last response when
 * redirects were followed). Sizes are -1 when absent. */
typedef struct {
    long status;
    char etag[160];
    char linked_etag[160];     /* X-Linked-Etag: the LFS object's sha256 */
    char repo_commit[64];      /* X-Repo-Commit */
    char location[2048];
    char error_code[64];       /* X-Error-Code (RepoNotFound, EntryNotFound, RevisionNotFound, GatedRepo) */
    char error_message[256];   /* X-Error-Message */
    int64_t content_length;
    int64_t linked_size;       /* X-Linked-Size */
    int64_t range_start;       /* first byte of a 206 answer (Content-Range) */
} hub_headers;

void hub_headers_reset(hub_headers *h);
/* Feeds one raw header line ("Name: value\r\n", or a status line, which
 * starts a new response and resets the fields). Never fails; bounded copies. */
void hub_headers_line(hub_headers *h, const char *line, size_t len);

typedef struct hub_http hub_http;

/* token: sent as "Authorization: Bearer <token>" on requests made with auth. */
nerc_status hub_http_init(hub_http **out, const char *token, long connect_timeout_s, long stall_timeout_s);
void hub_http_free(hub_http *h);

/* The outcome of the last call (HUB_NET_OK when an HTTP answer came). */
hub_net hub_http_net(const hub_http *h);

/* HEAD url, redirects not followed (Location is reported). */
nerc_status hub_http_head(hub_http *h, const char *url, int auth, hub_headers *hd);
/* GET url (redirects followed) into a malloc'd, NUL-terminated body of at
 * most max bytes. Error answers also fill the body. */
nerc_status hub_http_get(hub_http *h, const char *url, int auth, size_t max, hub_headers *hd, char **body,
                         size_t *len);

/* Progress of a file transfer: bytes of this answer so far. */
typedef void (*hub_http_progress)(uint64_t received, void *user);

/* GET url (redirects followed) into fd, which holds `offset` bytes already:
 * asks for "Range: bytes=offset-" when offset > 0. A 206 answer is appended;
 * a 200 answer replaces the file (the server ignored the range). An error
 * answer (>= 400) leaves fd untouched. *received counts body bytes written. */
nerc_status hub_http_get_file(hub_http *h, const char *url, int auth, int fd, uint64_t offset, hub_headers *hd,
                              hub_http_progress progress, void *user, uint64_t *received);

#endif
