/* Prometheus metrics of the server: requests by status, queue depth, batch sizes, latency, tokens/s. */
#include "serve/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int codes[METRICS_CODES - 1] = {200, 400, 404, 405, 413, 415, 500, 503, 504};
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double texts_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double rows_bounds[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

void metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->latency = (metrics_histogram){.n = N_OF(latency_bounds), .bounds = latency_bounds};
    m->batch_texts = (metrics_histogram){.n = N_OF(texts_bounds), .bounds = texts_bounds};
    m->batch_rows = (metrics_histogram){.n = N_OF(rows_bounds), .bounds = rows_bounds};
}

void metrics_free(serve_metrics *m) { pthread_mutex_destroy(&m->lock); }

static void observe(metrics_histogram *h, double v) {
    int b = 0;
    while (b < h->n && v > h->bounds[b])
        b++;
    h->counts[b]++;
    h->sum += v;
    h->count++;
}

void metrics_request(serve_metrics *m, int code, double latency) {
    int i = 0;
    while (i < METRICS_CODES - 1 && codes[i] != code)
        i++;
    pthread_mutex_lock(&m->lock);
    m->by_code[i]++;
    if (latency >= 0)
        observe(&m->latency, latency);
    pthread_mutex_unlock(&m->lock);
}

void metrics_batch(serve_metrics *m, int32_t texts, int64_t rows, double seconds) {
    pthread_mutex_lock(&m->lock);
    observe(&m->batch_texts, texts);
    observe(&m->batch_rows, (double)rows);
    m->texts_total += (uint64_t)texts;
    m->rows_total += (uint64_t)rows;
    m->busy_seconds += seconds;
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering --------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text_buf;

static void put(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *t, const char *fmt, ...) {
    for (int tries = 0; tries < 2 && !t->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
        } else if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = 2 * t->cap + (size_t)n + 1;
            char *b = realloc(t->buf, cap);
            if (!b)
                t->failed = 1;
            else
                t->buf = b, t->cap = cap;
        }
    }
}

static void put_histogram(text_buf *t, const char *name, const char *help, const metrics_histogram *h) {
    put(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int b = 0; b < h->n; b++) {
        cum += h->counts[b];
        put(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[b], (unsigned long long)cum);
    }
    put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)h->count, name,
        h->sum, name, (unsigned long long)h->count);
}

static void put_requests(text_buf *t, const serve_metrics *m) {
    put(t, "# HELP nerc_requests_total HTTP requests answered, by status code.\n"
           "# TYPE nerc_requests_total counter\n");
    for (int i = 0; i < METRICS_CODES; i++) {
        if (i < METRICS_CODES - 1)
            put(t, "nerc_requests_total{code=\"%d\"} %llu\n", codes[i], (unsigned long long)m->by_code[i]);
        else
            put(t, "nerc_requests_total{code=\"other\"} %llu\n", (unsigned long long)m->by_code[i]);
    }
}

char *metrics_render(serve_metrics *m, int32_t queue_texts, int32_t queue_cap, size_t *len) {
    text_buf t = {malloc(4096), 0, 4096, 0};
    t.failed = t.buf == NULL;
    pthread_mutex_lock(&m->lock);
    put_requests(&t, m);
    put(&t, "# HELP nerc_queue_texts Texts waiting for the batcher.\n# TYPE nerc_queue_texts gauge\n"
            "nerc_queue_texts %d\n# HELP nerc_queue_capacity Texts the queue holds at most (--max-queue).\n"
            "# TYPE nerc_queue_capacity gauge\nnerc_queue_capacity %d\n",
        (int)queue_texts, (int)queue_cap);
    put_histogram(&t, "nerc_request_duration_seconds", "Prediction requests, from headers to answer.", &m->latency);
    put_histogram(&t, "nerc_batch_texts", "Texts per batch (one packed forward pass unless a text is longer).",
                  &m->batch_texts);
    put_histogram(&t, "nerc_batch_tokens", "Rows (sub-tokens incl. [CLS]/[SEP]) per batch.", &m->batch_rows);
    double tps = m->busy_seconds > 0 ? (double)m->rows_total / m->busy_seconds : 0;
    put(&t, "# HELP nerc_texts_total Texts predicted.\n# TYPE nerc_texts_total counter\nnerc_texts_total %llu\n"
            "# HELP nerc_tokens_total Rows (sub-tokens incl. [CLS]/[SEP]) predicted.\n"
            "# TYPE nerc_tokens_total counter\nnerc_tokens_total %llu\n"
            "# HELP nerc_busy_seconds_total Time the batcher spent predicting.\n"
            "# TYPE nerc_busy_seconds_total counter\nnerc_busy_seconds_total %.6f\n"
            "# HELP nerc_tokens_per_second Tokens per second of batcher time (tokens_total / busy_seconds_total).\n"
            "# TYPE nerc_tokens_per_second gauge\nnerc_tokens_per_second %.1f\n",
        (unsigned long long)m->texts_total, (unsigned long long)m->rows_total, m->busy_seconds, tps);
    pthread_mutex_unlock(&m->lock);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
