/* The batcher thread: the only user of the predictor. It packs waiting texts into forward passes of up
 * to max_batch_tokens rows, stores each text's entities in its job and resumes finished requests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"

/* Connections of finished jobs, resumed once the lock is released. */
typedef struct {
    struct MHD_Connection **conns; /* [max_queue] */
    int32_t n;
} resume_list;

/* The texts of one forward batch. */
struct serve_batch {
    serve_item *items;         /* [max_queue] */
    const char **texts;        /* [max_queue] */
    size_t *lens;              /* [max_queue] */
    nerc_aggregation *aggs;    /* [max_queue] */
    char **errors;             /* [max_queue] message of a text that failed, else NULL */
    int32_t n, next;           /* texts; the next one the predictor reports */
    int64_t rows;
    resume_list done;
};
typedef serve_batch batch;

void serve_batch_free(serve_batch *b) {
    if (!b)
        return;
    free(b->items), free(b->texts), free(b->lens), free(b->aggs), free(b->errors), free(b->done.conns);
    free(b);
}

serve_batch *serve_batch_new(int32_t cap) {
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t n = (size_t)cap;
    b->items = malloc(n * sizeof *b->items);
    b->texts = malloc(n * sizeof *b->texts);
    b->lens = malloc(n * sizeof *b->lens);
    b->aggs = malloc(n * sizeof *b->aggs);
    b->errors = calloc(n, sizeof *b->errors);
    b->done.conns = malloc(n * sizeof *b->done.conns);
    if (!b->items || !b->texts || !b->lens || !b->aggs || !b->errors || !b->done.conns) {
        serve_batch_free(b);
        return NULL;
    }
    return b;
}

static void resume_all(resume_list *r) {
    for (int32_t i = 0; i < r->n; i++)
        MHD_resume_connection(r->conns[i]);
    r->n = 0;
}

/* ---- ending jobs (under the lock) ------------------------------------------------- */

/* One text of the job is answered or dropped; the last one finishes the job. */
static void text_done(nerc_server *s, serve_job *job, resume_list *r) {
    if (--job->n_pending > 0)
        return;
    char msg[128];
    int status = 200;
    const char *err = NULL;
    if (job->error[0]) {
        status = job->status ? job->status : 500;
        err = job->error;
    } else if (serve_now() > job->deadline) {
        snprintf(msg, sizeof msg, "the request was not answered within %d s (--timeout-s)", (int)s->p.timeout_s);
        status = 504, err = msg;
    }
    char keep[sizeof job->error];
    snprintf(keep, sizeof keep, "%s", err ? err : "");
    if (job_finish(job, status, keep))
        r->conns[r->n++] = job->conn;
}

/* Marks a job failed with `status` unless it already is. */
static void job_fail(serve_job *job, int status, const char *msg) {
    if (job->error[0])
        return;
    job->status = status;
    snprintf(job->error, sizeof job->error, "%s", msg);
}

/* Drops every waiting text with 503 (the stop). */
static void fail_queue(nerc_server *s, resume_list *r) {
    while (s->count) {
        serve_job *job = queue_front(s)->job;
        queue_pop(s);
        job_fail(job, 503, "the server is shutting down");
        text_done(s, job, r);
    }
}

/* ---- taking a batch (under the lock) --------------------------------------------- */

/* Waits, up to max_wait_ms after the oldest text was queued, for a full batch. */
static void wait_to_fill(nerc_server *s) {
    double until = queue_front(s)->job->queued + s->p.max_wait_ms / 1000.0;
    while (!s->stopping && s->count && s->count < s->p.max_queue && s->queued_rows < s->p.max_batch_tokens) {
        double now = serve_now();
        if (now >= until)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = until - now;
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&s->work, &s->lock, &ts) == ETIMEDOUT)
            return;
    }
}

/* Pops texts while they fit in max_batch_tokens rows (the first always); texts of requests
 * past their deadline are dropped, and their requests answered 504. */
static void take_batch(nerc_server *s, batch *b, resume_list *r) {
    b->n = 0, b->rows = 0;
    double now = serve_now();
    char msg[128];
    snprintf(msg, sizeof msg, "the request was not answered within %d s (--timeout-s)", (int)s->p.timeout_s);
    while (s->count) {
        serve_item it = *queue_front(s);
        serve_job *job = it.job;
        if (job->error[0] || now > job->deadline) {
            queue_pop(s);
            job_fail(job, 504, msg);
            text_done(s, job, r);
            continue;
        }
        int64_t rows = job->rows[it.index];
        if (b->n > 0 && b->rows + rows > s->p.max_batch_tokens)
            break;
        queue_pop(s);
        b->items[b->n] = it;
        b->texts[b->n] = job->req.texts[it.index];
        b->lens[b->n] = job->req.lens[it.index];
        b->aggs[b->n] = job->aggregation;
        b->n++;
        b->rows += rows;
    }
}

/* ---- predicting (without the lock) --------------------------------------------- */

static json_t *entity_json(const nerc_entity *e, nerc_aggregation a) {
    json_t *o = json_object();
    const char *word = e->word ? e->word : "";
    json_t *w = json_stringn(word, strlen(word));
    if (!o || !w) {
        json_decref(o), json_decref(w);
        return NULL;
    }
    int bad = json_object_set_new(o, a == NERC_AGGREGATION_NONE ? "entity" : "entity_group", json_string(e->type));
    bad |= json_object_set_new(o, "score", json_real(e->score));
    if (a == NERC_AGGREGATION_NONE)
        bad |= json_object_set_new(o, "index", json_integer(e->index));
    bad |= json_object_set_new(o, "word", w);
    bad |= json_object_set_new(o, "start", json_integer(e->start));
    bad |= json_object_set_new(o, "end", json_integer(e->end));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* HF's list of entities for one text. */
static json_t *entities_json(const nerc_prediction *p, nerc_aggregation a) {
    json_t *arr = json_array();
    for (int32_t i = 0; arr && i < p->n_entities; i++)
        if (json_array_append_new(arr, entity_json(&p->entities[i], a)) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static nerc_status on_text(const char *text, size_t len, const nerc_prediction *p, void *user) {
    (void)text, (void)len;
    batch *b = user;
    serve_item *it = &b->items[b->next];
    json_t *arr = entities_json(p, b->aggs[b->next]);
    if (!arr)
        return NERC_ERR_NOMEM;
    json_decref(it->job->results[it->index]);
    it->job->results[it->index] = arr;
    b->next++;
    return NERC_OK;
}

/* Predicts the batch in shared forward passes; should that fail, each text alone, so that one
 * failing text fails only its own request. */
static void run_batch(nerc_server *s, batch *b) {
    b->next = 0;
    if (nerc_predict_texts(s->pr, b->texts, b->lens, b->aggs, b->n, on_text, b) == NERC_OK)
        return;
    for (int32_t i = 0; i < b->n; i++) {
        b->next = i;
        if (nerc_predict_texts(s->pr, b->texts + i, b->lens + i, b->aggs + i, 1, on_text, b) != NERC_OK)
            b->errors[i] = strdup(nerc_last_error()[0] ? nerc_last_error() : "out of memory");
    }
}

/* Under the lock: every text of the batch is answered (or failed); finished jobs are listed. */
static void complete_batch(nerc_server *s, batch *b, resume_list *r) {
    for (int32_t i = 0; i < b->n; i++) {
        serve_job *job = b->items[i].job;
        if (b->errors[i])
            job_fail(job, 500, b->errors[i]);
        free(b->errors[i]);
        b->errors[i] = NULL;
        text_done(s, job, r);
    }
}

void *batcher_main(void *arg) {
    nerc_server *s = arg;
    batch *b = s->batch;
    resume_list *r = &b->done;
    nerc_set_threads(s->p.threads); /* OpenMP settings are per thread */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->count && !s->stopping)
            pthread_cond_wait(&s->work, &s->lock);
        if (s->stopping) {
            fail_queue(s, r);
            break;
        }
        wait_to_fill(s);
        take_batch(s, b, r);
        pthread_mutex_unlock(&s->lock);
        resume_all(r);
        if (b->n) {
            double t0 = serve_now();
            run_batch(s, b);
            metrics_batch(&s->metrics, b->n, b->rows, serve_now() - t0);
        }
        pthread_mutex_lock(&s->lock);
        complete_batch(s, b, r);
        pthread_mutex_unlock(&s->lock);
        resume_all(r);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    resume_all(r);
    return NULL;
}
