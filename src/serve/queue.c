/* The bounded queue of waiting texts (a ring over max_queue items) and the end of a job. */
#include <stdio.h>
#include <time.h>

#include "serve/serve_internal.h"

double serve_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int queue_push_job(nerc_server *s, serve_job *job) {
    int32_t n = job->req.n_texts, cap = s->p.max_queue;
    if (n > cap - s->count)
        return -1;
    for (int32_t i = 0; i < n; i++) {
        int32_t at = (s->head + s->count) % cap;
        s->ring[at] = (serve_item){job, i};
        s->count++;
        s->queued_rows += job->rows[i];
    }
    job->n_pending = n;
    job->state = JOB_QUEUED;
    return 0;
}

serve_item *queue_front(nerc_server *s) { return &s->ring[s->head]; }

void queue_pop(nerc_server *s) {
    serve_item *it = &s->ring[s->head];
    s->queued_rows -= it->job->rows[it->index];
    s->head = (s->head + 1) % s->p.max_queue;
    s->count--;
}

int job_finish(serve_job *job, int status, const char *error) {
    job->state = JOB_DONE;
    job->status = status;
    if (status != 200)
        snprintf(job->error, sizeof job->error, "%s", error ? error : "internal error");
    return job->suspended;
}
