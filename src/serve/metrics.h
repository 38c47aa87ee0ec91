/* Server counters and histograms, rendered as Prometheus text. Thread-safe. */
#ifndef NERC_SERVE_METRICS_H
#define NERC_SERVE_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum { METRICS_MAX_BUCKETS = 16, METRICS_CODES = 10 };

typedef struct {
    int n;                              /* finite upper bounds; +Inf is implicit */
    const double *bounds;
    uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last = +Inf */
    double sum;
    uint64_t count;
} metrics_histogram;

typedef struct {
    pthread_mutex_t lock;
    uint64_t by_code[METRICS_CODES];    /* see metrics.c: 200 400 404 405 413 415 500 503 504 other */
    metrics_histogram latency;          /* seconds from a prediction request's headers to its answer */
    metrics_histogram batch_texts;      /* texts per forward batch */
    metrics_histogram batch_rows;       /* rows (sub-tokens + [CLS]/[SEP]) per forward batch */
    uint64_t texts_total, rows_total;
    double busy_seconds;                /* time the batcher spent predicting */
} serve_metrics;

void metrics_init(serve_metrics *m);
void metrics_free(serve_metrics *m);
/* One answered request; latency < 0 when it is not a prediction (health, metrics, early errors). */
void metrics_request(serve_metrics *m, int code, double latency);
/* One batch of `texts` texts and `rows` rows that took `seconds`. */
void metrics_batch(serve_metrics *m, int32_t texts, int64_t rows, double seconds);
/* Prometheus text exposition (version 0.0.4); malloc'ed, NULL when out of memory. */
char *metrics_render(serve_metrics *m, int32_t queue_texts, int32_t queue_cap, size_t *len);

#endif
