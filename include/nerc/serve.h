/* nerc/serve.h — an HTTP inference server with the Hugging Face Inference
 * API's JSON interface and dynamic batching (libmicrohttpd).
 *
 *   POST /predict (alias POST /)   {"inputs": "text" | ["text", ...],
 *                                   "parameters": {"aggregation_strategy": "simple"}}
 *        -> 200 [{"entity_group", "score", "word", "start", "end"}, ...] for one text,
 *           an array of such arrays for a list, in input order ("entity" and
 *           "index" instead of "entity_group" with aggregation "none")
 *   GET /health  -> 200 {"status": "ok", "model": DIR, "labels": [...]}
 *   GET /metrics -> Prometheus text
 *   errors       -> {"error": "one line"} with 400 / 404 / 405 / 413 / 415 /
 *                   503 (+ Retry-After) / 504
 *
 * Connections are served by a pool of libmicrohttpd poll threads; a request's texts
 * go to one bounded queue and its connection is suspended. One batcher
 * thread, the only user of the predictor, packs waiting texts into forward
 * passes of up to max_batch_tokens rows (waiting up to max_wait_ms for more
 * once the first text is there) and resumes each connection when all its
 * texts are done. Entities are those of nerc_predict_text (nerc predict) for
 * the same text and options. */
#ifndef NERC_SERVE_H
#define NERC_SERVE_H

#include "nerc/common.h"
#include "nerc/predict.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *host;         /* numeric IPv4 / IPv6 address to listen on (default "127.0.0.1") */
    int32_t port;             /* default 8080; 0 = a free port (nerc_server_port says which) */
    int32_t threads;          /* compute threads of the batcher (0 = OMP_NUM_THREADS or all cores) */
    int32_t http_threads;     /* libmicrohttpd poll threads (default 2) */
    int32_t max_connections;  /* open connections at most (default 512) */
    int32_t max_batch_tokens; /* rows per forward pass: sub-tokens + [CLS]/[SEP] of each window
                               * (default 4096); a text longer than this runs alone */
    int32_t max_wait_ms;      /* how long a batch waits to fill once its first text is queued (default 5) */
    int32_t max_queue;        /* texts waiting at most; beyond: 503 (default 1024) */
    int64_t max_body_bytes;   /* request body at most; beyond: 413 (default 1 MiB) */
    int32_t timeout_s;        /* a request not answered by then gets 504; also the idle
                               * timeout of connections (default 30) */
    nerc_predict_params predict; /* max_length, stride, precision, and the aggregation of requests
                                  * that name none; batch_size and max_tokens are set by the server */
} nerc_server_params;

nerc_server_params nerc_server_default_params(void);

typedef struct nerc_server nerc_server;

/* Loads the model directory, starts the batcher and listens. Returns once
 * requests are being answered. A taken port or a bad host is NERC_ERR_IO /
 * NERC_ERR_ARG naming the address. */
nerc_status nerc_server_start(nerc_server **out, const char *model_dir, const nerc_server_params *params);
/* The port it listens on (the chosen one when started with port 0). */
int32_t nerc_server_port(const nerc_server *s);
/* Graceful stop: closes the listening socket, answers every request that had
 * arrived (later ones on open connections get 503), then closes the
 * connections and joins the threads. Waits at most timeout_s for requests
 * still being received. Safe to call twice. */
void nerc_server_stop(nerc_server *s);
/* Stops (if running) and frees. */
void nerc_server_free(nerc_server *s);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
