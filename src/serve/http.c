/* libmicrohttpd glue: routing, request bodies, JSON answers and errors, the hand-off to the batcher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "serve/serve_internal.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(8))

/* ---- answers --------------------------------------------------------------------- */

typedef struct {
    int status;
    const char *content_type;
    const char *allow;       /* 405: the methods the path takes */
    double latency;          /* < 0: not a prediction */
} answer_info;

/* Queues `body` (malloc'ed, handed to libmicrohttpd) with the status and headers of `info`. */
static enum MHD_Result answer(nerc_server *s, struct MHD_Connection *c, char *body, size_t len,
                              const answer_info *info) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, info->content_type);
    if (info->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, info->allow);
    if (info->status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    pthread_mutex_lock(&s->lock);
    int draining = s->draining;
    pthread_mutex_unlock(&s->lock);
    if (draining)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)info->status, r);
    MHD_destroy_response(r);
    metrics_request(&s->metrics, info->status, info->latency);
    return ok;
}

/* {"error": msg} with msg reduced to printable ASCII (it may quote client bytes). */
static enum MHD_Result answer_error(nerc_server *s, struct MHD_Connection *c, int status, const char *msg,
                                    const char *allow, double latency) {
    char clean[300];
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < sizeof clean; p++)
        clean[n++] = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?';
    clean[n] = '\0';
    json_t *o = json_pack("{s:s}", "error", clean);
    char *body = o ? json_dumps(o, DUMP_FLAGS) : NULL;
    json_decref(o);
    if (!body)
        return MHD_NO;
    answer_info info = {status, "application/json", allow, latency};
    return answer(s, c, body, strlen(body), &info);
}

static enum MHD_Result answer_copy(nerc_server *s, struct MHD_Connection *c, const char *text, size_t len,
                                   const char *content_type) {
    char *body = malloc(len ? len : 1);
    if (!body)
        return MHD_NO;
    memcpy(body, text, len);
    answer_info info = {200, content_type, NULL, -1};
    return answer(s, c, body, len, &info);
}

static enum MHD_Result answer_metrics(nerc_server *s, struct MHD_Connection *c) {
    pthread_mutex_lock(&s->lock);
    int32_t queued = s->count;
    pthread_mutex_unlock(&s->lock);
    size_t len = 0;
    char *text = metrics_render(&s->metrics, queued, s->p.max_queue, &len);
    if (!text)
        return MHD_NO;
    answer_info info = {200, "text/plain; version=0.0.4; charset=utf-8", NULL, -1};
    return answer(s, c, text, len, &info);
}

/* ---- jobs ------------------------------------------------------------------------ */

static void job_free(serve_job *job) {
    for (int32_t i = 0; job->results && i < job->req.n_texts; i++)
        json_decref(job->results[i]);
    free(job->results);
    free(job->rows);
    free(job->body);
    serve_request_free(&job->req);
    free(job);
}

/* The answer of a finished job: its entities, or its error. */
static enum MHD_Result answer_job(nerc_server *s, struct MHD_Connection *c, serve_job *job) {
    double latency = serve_now() - job->arrival;
    if (job->status != 200)
        return answer_error(s, c, job->status, job->error, NULL, latency);
    json_t *out = job->req.is_list ? json_array() : json_incref(job->results[0]);
    for (int32_t i = 0; job->req.is_list && out && i < job->req.n_texts; i++)
        if (json_array_append(out, job->results[i]) != 0) {
            json_decref(out);
            out = NULL;
        }
    char *body = out ? json_dumps(out, DUMP_FLAGS) : NULL;
    json_decref(out);
    if (!body)
        return answer_error(s, c, 500, "out of memory writing the answer", NULL, latency);
    answer_info info = {200, "application/json", NULL, latency};
    return answer(s, c, body, strlen(body), &info);
}

/* Appends upload bytes; past max_body_bytes the body is dropped and the answer will be 413. */
static void take_upload(nerc_server *s, serve_job *job, const char *data, size_t n) {
    if (job->too_large)
        return;
    if (n > (size_t)s->p.max_body_bytes - job->len) {
        job->too_large = 1;
        free(job->body);
        job->body = NULL;
        job->len = job->cap = 0;
        return;
    }
    if (job->len + n > job->cap) {
        size_t cap = job->cap * 2 > job->len + n ? job->cap * 2 : job->len + n;
        if (cap > (size_t)s->p.max_body_bytes)
            cap = (size_t)s->p.max_body_bytes;
        char *b = realloc(job->body, cap ? cap : 1);
        if (!b) {
            job->too_large = 1; /* answered 413: the body cannot be held */
            return;
        }
        job->body = b, job->cap = cap;
    }
    memcpy(job->body + job->len, data, n);
    job->len += n;
}

/* Parses the body and counts each text's rows (in this thread, not the batcher's). 0 or an HTTP status. */
static int prepare_job(nerc_server *s, serve_job *job, char *msg, size_t cap) {
    if (job->too_large) {
        snprintf(msg, cap, "the body is larger than %lld bytes (--max-body-bytes)", (long long)s->p.max_body_bytes);
        return 413;
    }
    if (serve_request_parse(&job->req, job->body ? job->body : "", job->len) != NERC_OK) {
        snprintf(msg, cap, "%s", nerc_last_error());
        return 400;
    }
    free(job->body);
    job->body = NULL;
    int32_t n = job->req.n_texts;
    if (n > s->p.max_queue) {
        snprintf(msg, cap, "%d texts in one request; this server queues at most %d (--max-queue)", (int)n,
                 (int)s->p.max_queue);
        return 413;
    }
    job->aggregation = job->req.has_aggregation ? job->req.aggregation : s->p.predict.aggregation;
    job->rows = malloc((size_t)n * sizeof *job->rows);
    job->results = calloc((size_t)n, sizeof *job->results);
    if (!job->rows || !job->results) {
        snprintf(msg, cap, "out of memory for %d texts", (int)n);
        return 500;
    }
    for (int32_t i = 0; i < n; i++)
        if (nerc_predict_count_rows(s->pr, job->req.texts[i], job->req.lens[i], &job->rows[i]) != NERC_OK) {
            snprintf(msg, cap, "\"inputs\"[%d]: %s", (int)i, nerc_last_error());
            return 400;
        }
    return 0;
}

/* The body is complete: check it, queue its texts and suspend the connection until the batcher is done. */
static enum MHD_Result submit(nerc_server *s, struct MHD_Connection *c, serve_job *job) {
    char msg[300];
    int status = prepare_job(s, job, msg, sizeof msg);
    if (status)
        return answer_error(s, c, status, msg, NULL, serve_now() - job->arrival);
    pthread_mutex_lock(&s->lock);
    if (s->stopping || (s->draining && !job->counted)) {
        pthread_mutex_unlock(&s->lock);
        return answer_error(s, c, 503, "the server is shutting down", NULL, serve_now() - job->arrival);
    }
    job->queued = serve_now();
    job->deadline = job->arrival + s->p.timeout_s;
    if (queue_push_job(s, job) != 0) {
        int32_t waiting = s->count;
        pthread_mutex_unlock(&s->lock);
        snprintf(msg, sizeof msg, "the queue is full (%d texts waiting, --max-queue %d); retry later", (int)waiting,
                 (int)s->p.max_queue);
        return answer_error(s, c, 503, msg, NULL, serve_now() - job->arrival);
    }
    s->n_suspended++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    MHD_suspend_connection(c);
    pthread_mutex_lock(&s->lock);
    job->suspended = 1;
    int resume_now = job->state == JOB_DONE; /* the batcher finished before the suspension */
    pthread_mutex_unlock(&s->lock);
    if (resume_now)
        MHD_resume_connection(c);
    return MHD_YES;
}

/* ---- routing ------------------------------------------------------------------------ */

/* "application/json", any case, optionally followed by parameters ("; charset=utf-8"). */
static int is_json_type(const char *ct) {
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n))
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Checks made on the headers alone; 0 or an HTTP status with its message. */
static int check_headers(nerc_server *s, struct MHD_Connection *c, char *msg, size_t cap) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(ct)) {
        snprintf(msg, cap, "Content-Type must be application/json (got %s)", ct ? ct : "none");
        return 415;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->p.max_body_bytes) {
        snprintf(msg, cap, "the body is larger than %lld bytes (--max-body-bytes)", (long long)s->p.max_body_bytes);
        return 413;
    }
    return 0;
}

/* A new prediction request: its job, counted for the graceful stop unless the stop began. */
static enum MHD_Result start_job(nerc_server *s, struct MHD_Connection *c, void **con_cls) {
    char msg[300];
    int status = check_headers(s, c, msg, sizeof msg);
    if (status)
        return answer_error(s, c, status, msg, NULL, -1);
    serve_job *job = calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    job->server = s;
    job->conn = c;
    job->arrival = serve_now();
    pthread_mutex_lock(&s->lock);
    int draining = s->draining;
    if (!draining) {
        job->counted = 1;
        s->n_working++;
    }
    pthread_mutex_unlock(&s->lock);
    if (draining) {
        free(job);
        return answer_error(s, c, 503, "the server is shutting down", NULL, -1);
    }
    *con_cls = job;
    return MHD_YES;
}

/* GET routes are answered on the handler's second call: an answer queued with the headers alone
 * makes libmicrohttpd close the connection (it cannot know the body is over). */
static char route_health, route_metrics;

static int is_route(const void *con_cls) { return con_cls == &route_health || con_cls == &route_metrics; }

/* The first call of a request (headers only): answers errors, or marks a GET route, or starts a job. */
static enum MHD_Result route(nerc_server *s, struct MHD_Connection *c, const char *url, const char *method,
                             void **con_cls) {
    int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    char msg[300];
    if (!strcmp(url, "/health") || !strcmp(url, "/metrics")) {
        if (!get) {
            snprintf(msg, sizeof msg, "%s takes GET, not %.20s", url, method);
            return answer_error(s, c, 405, msg, "GET, HEAD", -1);
        }
        *con_cls = url[1] == 'h' ? &route_health : &route_metrics;
        return MHD_YES;
    }
    if (strcmp(url, "/") && strcmp(url, "/predict")) {
        snprintf(msg, sizeof msg, "no such path %.100s (POST /predict, GET /health, GET /metrics)", url);
        return answer_error(s, c, 404, msg, NULL, -1);
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST)) {
        snprintf(msg, sizeof msg, "%s takes POST, not %.20s", url, method);
        return answer_error(s, c, 405, msg, "POST", -1);
    }
    return start_job(s, c, con_cls);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    nerc_server *s = cls;
    if (!*con_cls)
        return route(s, c, url, method, con_cls);
    if (is_route(*con_cls)) {
        if (*upload_size) {
            *upload_size = 0; /* a GET body is ignored */
            return MHD_YES;
        }
        return *con_cls == &route_health ? answer_copy(s, c, s->health, s->health_len, "application/json")
                                         : answer_metrics(s, c);
    }
    serve_job *job = *con_cls;
    if (*upload_size) {
        take_upload(s, job, upload, *upload_size);
        *upload_size = 0;
        /* libmicrohttpd cannot answer before the body ends: a body still arriving after the
         * timeout (an endless chunked upload) closes the connection instead */
        return serve_now() - job->arrival > s->p.timeout_s ? MHD_NO : MHD_YES;
    }
    pthread_mutex_lock(&s->lock);
    job_state state = job->state;
    if (state == JOB_DONE && job->suspended) {
        job->suspended = 0;
        if (--s->n_suspended == 0)
            pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->lock);
    if (state == JOB_RECEIVING)
        return submit(s, c, job);
    return state == JOB_DONE ? answer_job(s, c, job) : MHD_YES;
}

void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c, (void)toe;
    nerc_server *s = cls;
    serve_job *job = *con_cls;
    if (!job || is_route(job))
        return;
    pthread_mutex_lock(&s->lock);
    int queued = job->state == JOB_QUEUED; /* cannot happen: a suspended connection does not complete */
    if (job->suspended && !queued) {
        /* resumed, but the client was gone: closed without the handler's last call */
        job->suspended = 0;
        s->n_suspended--;
    }
    if (job->counted && !queued)
        s->n_working--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    if (queued) {
        nerc_logf("serve: a request completed while queued; its job is kept");
        return;
    }
    job_free(job);
    *con_cls = NULL;
}
