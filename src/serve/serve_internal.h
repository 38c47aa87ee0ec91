/* Internals of nerc serve shared by the HTTP glue, the queue and the batcher.
 *
 * Threads and ownership:
 *  - libmicrohttpd threads run http.c: they receive a request, parse it,
 *    count its rows, push its texts on the queue and suspend the connection;
 *  - the batcher thread (batcher.c) is the only user of the predictor: it
 *    pops texts, predicts them in packed forward passes, stores each text's
 *    entities in its job and, once every text of a job is answered, marks the
 *    job done and resumes the connection; http.c then writes the answer;
 *  - a job belongs to its connection: it is freed when libmicrohttpd reports
 *    the request completed, which cannot happen while it is suspended.
 * Everything below marked (lock) is guarded by nerc_server.lock. */
#ifndef NERC_SERVE_INTERNAL_H
#define NERC_SERVE_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

#include "nerc/serve.h"
#include "serve/metrics.h"
#include "serve/request.h"

typedef enum {
    JOB_RECEIVING = 0, /* the body is arriving */
    JOB_QUEUED,        /* texts on the queue, connection suspended (or about to be) */
    JOB_DONE           /* status and results final; the handler answers */
} job_state;

/* One prediction request. */
typedef struct {
    nerc_server *server;
    struct MHD_Connection *conn;
    char *body;
    size_t len, cap;
    int too_large;           /* the body passed max_body_bytes: it is discarded, the answer is 413 */
    int counted;             /* arrived before the stop began: counted in n_working */
    serve_request req;
    nerc_aggregation aggregation;
    int64_t *rows;           /* [n_texts] rows each text takes */
    json_t **results;        /* [n_texts] entity arrays, set by the batcher */
    double arrival, deadline;/* monotonic seconds: headers received, answer due */
    double queued;           /* when its texts were queued */
    job_state state;         /* (lock) */
    int suspended;           /* (lock) the handler has suspended the connection */
    int32_t n_pending;       /* (lock) texts not answered yet */
    int status;              /* (lock) the answer once done: 200, 500, 503, 504 */
    char error[256];         /* (lock) its message when not 200 */
} serve_job;

typedef struct serve_batch serve_batch;

/* One waiting text: text `index` of `job`. */
typedef struct {
    serve_job *job;
    int32_t index;
} serve_item;

struct nerc_server {
    nerc_server_params p;
    char *model_dir;
    char *host;
    nerc_predictor *pr;
    char *health;            /* the /health body */
    size_t health_len;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int32_t port;
    serve_batch *batch;      /* the batcher's buffers */
    pthread_t batcher;
    int batcher_started, stopped;
    serve_metrics metrics;

    pthread_mutex_t lock;
    pthread_cond_t work;     /* the batcher waits for texts (or the stop) */
    pthread_cond_t idle;     /* the stop waits for counted requests to finish */
    serve_item *ring;        /* (lock) the queue: [max_queue] */
    int32_t head, count;     /* (lock) */
    int64_t queued_rows;     /* (lock) */
    int draining;            /* (lock) the stop began: requests arriving now get 503 */
    int stopping;            /* (lock) the batcher answers what is queued with 503 and exits */
    int32_t n_working;       /* (lock) counted requests not yet completed */
    int32_t n_suspended;     /* (lock) connections suspended and not yet answered */
};

/* Monotonic clock in seconds. */
double serve_now(void);

/* ---- queue (queue.c), all under the lock --------------------------------------- */

/* Pushes the texts of `job` if they fit: 0, or -1 when the queue is full. */
int queue_push_job(nerc_server *s, serve_job *job);
/* The oldest waiting text (count > 0). */
serve_item *queue_front(nerc_server *s);
void queue_pop(nerc_server *s);
/* Marks the job done with `status` (and message when not 200) and tells whether its
 * connection must be resumed by the caller (after unlocking): it is suspended. */
int job_finish(serve_job *job, int status, const char *error);

/* ---- batcher (batcher.c) ----------------------------------------------------------- */

/* Buffers for batches of up to `cap` texts. */
serve_batch *serve_batch_new(int32_t cap);
void serve_batch_free(serve_batch *b);
void *batcher_main(void *server);

/* ---- HTTP (http.c) ----------------------------------------------------------------- */

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe);

#endif
