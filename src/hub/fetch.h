/* One file of a hub repository: its metadata from a HEAD request on the
 * resolve URL, and a resumable, verified transfer into a .incomplete file. */
#ifndef NERC_HUB_FETCH_H
#define NERC_HUB_FETCH_H

#include "hub/http.h"
#include "nerc/hub.h"

/* What HEAD {endpoint}/{repo}/resolve/{commit}/{file} says about a file. */
typedef struct {
    char etag[160];     /* X-Linked-Etag or ETag, unquoted; safe as a file name */
    char sha256[65];    /* expected sha256 (LFS files), "" when not checkable */
    int64_t size;       /* X-Linked-Size or Content-Length; -1 unknown */
    char *url;          /* where the bytes are (the redirect target for LFS files); malloc'd */
    int auth;           /* send the token there (not to a redirect target) */
} hub_file_meta;

typedef struct {
    const char *repo_id;
    const char *endpoint;
    const char *commit;
    int has_token;
    const nerc_hub_params *params;
    hub_http *http;
    nerc_hub_stats *stats;
} hub_session;

nerc_status hub_file_head(hub_session *s, const char *file, hub_file_meta *meta);
void hub_file_meta_free(hub_file_meta *meta);

/* Transfers `file` into `incomplete` (resuming what is there, retrying a
 * dropped connection params->max_retries times), then checks its size and
 * sha256. A failed check removes `incomplete`; an interrupted transfer keeps
 * it for the next call. */
nerc_status hub_file_fetch(hub_session *s, const char *file, const hub_file_meta *meta, const char *incomplete);

/* One-line error for an HTTP answer that is not a success. file may be NULL. */
nerc_status hub_http_status_error(const hub_session *s, const char *file, const char *url, const hub_headers *hd);
/* One-line error for a transport failure (the current message names the URL). */
nerc_status hub_net_error(const hub_session *s);

/* Percent-encodes s (RFC 3986 unreserved characters kept; '/' kept when keep_slash). malloc'd. */
char *hub_url_escape(const char *s, int keep_slash);
/* sha256 of a file as 64 lowercase hex digits. */
nerc_status hub_sha256_file(const char *path, char hex[65]);

#endif
