/* nerc serve: parameters, start (model, batcher, listening socket, libmicrohttpd) and the graceful stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "serve/serve_internal.h"

enum { MAX_BATCH_TOKENS = 1 << 17 };

nerc_server_params nerc_server_default_params(void) {
    return (nerc_server_params){.host = "127.0.0.1", .port = 8080, .threads = 0, .http_threads = 2,
                                .max_connections = 512, .max_batch_tokens = 4096, .max_wait_ms = 5,
                                .max_queue = 1024, .max_body_bytes = 1 << 20, .timeout_s = 30,
                                .predict = nerc_predict_default_params()};
}

static nerc_status check_range(const char *name, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
        return nerc_errorf(NERC_ERR_ARG, "serve: %s %lld must be in [%lld, %lld]", name, (long long)v, (long long)lo,
                           (long long)hi);
    return NERC_OK;
}

static nerc_status check_params(const nerc_server_params *p) {
    NERC_TRY(check_range("port", p->port, 0, 65535));
    NERC_TRY(check_range("threads", p->threads, 0, 1024));
    NERC_TRY(check_range("http_threads", p->http_threads, 1, 64));
    NERC_TRY(check_range("max_connections", p->max_connections, 1, 1 << 20));
    NERC_TRY(check_range("max_batch_tokens", p->max_batch_tokens, 1, MAX_BATCH_TOKENS));
    NERC_TRY(check_range("max_wait_ms", p->max_wait_ms, 0, 60000));
    NERC_TRY(check_range("max_queue", p->max_queue, 1, 1 << 20));
    NERC_TRY(check_range("max_body_bytes", p->max_body_bytes, 1, (int64_t)1 << 40));
    return check_range("timeout_s", p->timeout_s, 1, 86400);
}

/* ---- the model ------------------------------------------------------------------- */

/* {"status": "ok", "model": DIR, "labels": [...]}, made once. */
static nerc_status make_health(nerc_server *s) {
    const nerc_model *m = nerc_predictor_model(s->pr);
    json_t *labels = json_array();
    for (int32_t k = 0; labels && k < nerc_model_num_labels(m); k++)
        json_array_append_new(labels, json_string(nerc_model_label(m, k)));
    json_t *o = json_pack("{s:s, s:o?, s:o}", "status", "ok", "model", json_string(s->model_dir), "labels", labels);
    s->health = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s->health)
        return nerc_errorf(NERC_ERR_NOMEM, "serve: out of memory");
    s->health_len = strlen(s->health);
    return NERC_OK;
}

/* The predictor packs up to max_batch_tokens rows in one forward pass: one window per 3 rows at most. */
static nerc_status load_predictor(nerc_server *s) {
    nerc_predict_params pp = s->p.predict;
    pp.max_tokens = s->p.max_batch_tokens;
    pp.batch_size = s->p.max_batch_tokens / 3 > 8 ? s->p.max_batch_tokens / 3 : 8;
    NERC_TRY(nerc_predictor_load(&s->pr, s->model_dir, &pp));
    s->p.predict = *nerc_predictor_params(s->pr);
    return make_health(s);
}

/* ---- the listening socket -------------------------------------------------------- */

static nerc_status open_listener(nerc_server *s) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    if (inet_pton(AF_INET, s->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET, v4->sin_port = htons((uint16_t)s->p.port), len = sizeof *v4;
    } else if (inet_pton(AF_INET6, s->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6, v6->sin6_port = htons((uint16_t)s->p.port), len = sizeof *v6;
    } else {
        return nerc_errorf(NERC_ERR_ARG, "serve: host '%s' is not a numeric IPv4 or IPv6 address", s->host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return nerc_errorf(NERC_ERR_IO, "serve: socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return nerc_errorf(NERC_ERR_IO, "serve: cannot listen on %s port %d: %s", s->host, (int)s->p.port,
                           strerror(e));
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        s->port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    s->listen_fd = fd;
    return NERC_OK;
}

static nerc_status start_daemon(nerc_server *s) {
    /* poll, not epoll: with epoll, libmicrohttpd 0.9.75 missed some clients that hung up mid-body
     * (they lingered until the idle timeout). Errors are not logged: they are the clients'. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, s->p.http_threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, s->p.max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->p.timeout_s, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_on_completed, s},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->daemon)
        return nerc_errorf(NERC_ERR_IO, "serve: libmicrohttpd could not start on %s port %d", s->host, (int)s->port);
    return NERC_OK;
}

/* ---- start ------------------------------------------------------------------------ */

static nerc_status init_sync(nerc_server *s) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_mutex_init(&s->lock, NULL) | pthread_cond_init(&s->work, &ca) | pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);
    return bad ? nerc_errorf(NERC_ERR_INTERNAL, "serve: cannot create locks") : NERC_OK;
}

static nerc_status start(nerc_server *s) {
    NERC_TRY(load_predictor(s));
    s->ring = malloc((size_t)s->p.max_queue * sizeof *s->ring);
    s->batch = serve_batch_new(s->p.max_queue);
    if (!s->ring || !s->batch)
        return nerc_errorf(NERC_ERR_NOMEM, "serve: out of memory for a queue of %d texts", (int)s->p.max_queue);
    NERC_TRY(open_listener(s));
    if (pthread_create(&s->batcher, NULL, batcher_main, s) != 0)
        return nerc_errorf(NERC_ERR_INTERNAL, "serve: cannot start the batcher thread");
    s->batcher_started = 1;
    return start_daemon(s);
}

nerc_status nerc_server_start(nerc_server **out, const char *model_dir, const nerc_server_params *params) {
    *out = NULL;
    nerc_server_params p = params ? *params : nerc_server_default_params();
    if (!model_dir)
        return nerc_errorf(NERC_ERR_ARG, "serve: a model directory is required");
    NERC_TRY(check_params(&p));
    nerc_server *s = calloc(1, sizeof *s);
    if (!s)
        return nerc_errorf(NERC_ERR_NOMEM, "serve: out of memory");
    s->p = p;
    s->listen_fd = -1;
    metrics_init(&s->metrics);
    s->model_dir = strdup(model_dir);
    s->host = strdup(p.host ? p.host : "127.0.0.1");
    s->p.host = s->host;
    nerc_status st = s->model_dir && s->host ? init_sync(s) : nerc_errorf(NERC_ERR_NOMEM, "serve: out of memory");
    if (st == NERC_OK)
        st = start(s);
    if (st != NERC_OK) {
        nerc_server_free(s);
        return st;
    }
    *out = s;
    return NERC_OK;
}

int32_t nerc_server_port(const nerc_server *s) { return s->port; }

/* ---- stop --------------------------------------------------------------------------- */

/* Waits on `cond` until *counter is 0 or `seconds` pass (lock held). */
static void wait_zero(nerc_server *s, pthread_cond_t *cond, const int32_t *counter, double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)seconds;
    while (*counter > 0)
        if (pthread_cond_timedwait(cond, &s->lock, &ts) == ETIMEDOUT)
            return;
}

void nerc_server_stop(nerc_server *s) {
    if (!s || s->stopped)
        return;
    s->stopped = 1;
    pthread_mutex_lock(&s->lock);
    s->draining = 1;
    pthread_mutex_unlock(&s->lock);
    if (s->daemon)
        MHD_quiesce_daemon(s->daemon); /* no new connections; the socket is closed below */
    pthread_mutex_lock(&s->lock);
    wait_zero(s, &s->idle, &s->n_working, s->p.timeout_s); /* requests that had arrived are answered */
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    if (s->batcher_started)
        pthread_join(s->batcher, NULL); /* what is still queued was answered 503 */
    s->batcher_started = 0;
    pthread_mutex_lock(&s->lock);
    /* libmicrohttpd must not stop with a suspended connection: wait until every resumed one is answered */
    while (s->n_suspended > 0)
        wait_zero(s, &s->idle, &s->n_suspended, 1);
    pthread_mutex_unlock(&s->lock);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
}

void nerc_server_free(nerc_server *s) {
    if (!s)
        return;
    if (s->batcher_started || s->daemon) {
        nerc_server_stop(s);
    } else if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->idle);
    metrics_free(&s->metrics);
    serve_batch_free(s->batch);
    free(s->ring);
    free(s->health);
    nerc_predictor_free(s->pr);
    free(s->model_dir);
    free(s->host);
    free(s);
}
