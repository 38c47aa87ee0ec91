/* Data parallelism: every rank holds the model and computes a slice of each
 * batch; the gradients are summed over the ranks in fp32 buckets started as
 * the backward pass finishes each part (classifier, blocks from the last,
 * embeddings), so that the sums overlap the rest of the backward pass. The
 * loss divisor is the labelled-token count of the whole batch (every rank
 * sees the whole batch), so the summed gradient is the single-process one. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "train/trainer.h"

/* PyTorch DDP's default bucket (bucket_cap_mb = 25). */
#define BUCKET_BYTES (25LL << 20)

nerc_status dp_init(trainer *t) {
    data_parallel *dp = &t->dp;
    dp->rank = dist_rank();
    dp->size = dist_size();
    dp->offsets = malloc(((size_t)t->p->batch_size + 1) * sizeof *dp->offsets);
    if (!dp->offsets)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    /* room for the classifier, one piece per stacked category and layer, the embeddings (grows if short) */
    int32_t max_buckets = 2 + (P_LN2_B - P_QKV_W + 1) * t->m->cfg.n_layers + 16;
    return dist_reducer_init(&dp->red, max_buckets);
}

void dp_free(data_parallel *dp) {
    free(dp->offsets);
    dist_reducer_free(dp->red);
    memset(dp, 0, sizeof *dp);
}

nerc_batch dp_slice(trainer *t, const nerc_data_batch *db) {
    const data_parallel *dp = &t->dp;
    const nerc_batch *b = &db->batch;
    int32_t lo = (int32_t)((int64_t)b->n_seqs * dp->rank / dp->size);
    int32_t hi = (int32_t)((int64_t)b->n_seqs * (dp->rank + 1) / dp->size);
    int32_t row0 = b->seq_offsets[lo];
    for (int32_t q = lo; q <= hi; q++)
        dp->offsets[q - lo] = b->seq_offsets[q] - row0;
    return (nerc_batch){.n_seqs = hi - lo, .n_tokens = b->seq_offsets[hi] - row0, .input_ids = b->input_ids + row0,
                        .position_ids = b->position_ids + row0, .labels = b->labels + row0,
                        .seq_offsets = dp->offsets, .seq_keys = NULL, .seq_ids = db->seq_index + lo};
}

/* ---- gradient buckets ------------------------------------------------------------ */

static void start(data_parallel *dp, float *p, int64_t n) {
    if (dp->st == NERC_OK && n > 0)
        dp->st = dist_reducer_start(dp->red, p, n);
}

/* Starts the pending layers of every stacked category. */
static void start_pending(data_parallel *dp) {
    for (int c = P_QKV_W; c <= P_LN2_B; c++) {
        start(dp, dp->pend_lo[c], dp->pend_n[c]);
        dp->pend_n[c] = 0;
    }
    dp->pend_bytes = 0;
}

/* The backward pass hands over `part` (model/encoder.h: n_layers = the
 * classifier, then the blocks downwards, -1 = the embeddings). Block l's
 * tensors lie in every stacked category at layer l, right below layer l+1's:
 * consecutive blocks merge into one range per category. */
static void on_grads_ready(void *user, int32_t part) {
    trainer *t = user;
    data_parallel *dp = &t->dp;
    const encoder_params *g = &t->s->g;
    float *end = t->s->grad_mem + t->m->n_params;
    int32_t L = t->m->cfg.n_layers;
    if (part == L) {
        start(dp, g->cat[P_CLS_W], end - g->cat[P_CLS_W]);
    } else if (part >= 0) {
        for (int c = P_QKV_W; c <= P_LN2_B; c++) {
            int64_t per_layer = (g->cat[c + 1] - g->cat[c]) / L;
            dp->pend_lo[c] = g->cat[c] + (int64_t)part * per_layer;
            dp->pend_n[c] += per_layer;
            dp->pend_bytes += per_layer * (int64_t)sizeof(float);
        }
        if (dp->pend_bytes >= BUCKET_BYTES)
            start_pending(dp);
    } else {
        start_pending(dp);
        start(dp, t->s->grad_mem, g->cat[P_QKV_W] - t->s->grad_mem);
    }
    dp->next_part = part - 1;
    dist_reducer_poll(dp->red);
}

void dp_begin_sync(trainer *t) {
    if (t->dp.size == 1)
        return;
    t->dp.next_part = t->m->cfg.n_layers;
    t->dp.st = NERC_OK;
    t->s->on_grads_ready = on_grads_ready;
    t->s->grads_user = t;
}

nerc_status dp_finish_sync(trainer *t, double *loss, int64_t *rows) {
    data_parallel *dp = &t->dp;
    if (dp->size == 1)
        return NERC_OK;
    t->s->on_grads_ready = NULL;
    encoder_grads_settle(t->s, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* a rank without sequences in the last micro-batch hands over every part
     * itself: all ranks start the same buckets in the same order */
    while (dp->next_part >= -1)
        on_grads_ready(t, dp->next_part);
    nerc_status st = dist_reducer_wait(dp->red);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dp->wait_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (dp->st != NERC_OK)
        return dp->st;
    NERC_TRY(st);
    double sums[2] = {*loss, (double)*rows};
    NERC_TRY(dist_allreduce_f64(sums, 2, DIST_SUM));
    *loss = sums[0];
    *rows = (int64_t)sums[1];
    return NERC_OK;
}

nerc_status dp_any(int *flag) {
    int32_t v = *flag != 0;
    NERC_TRY(dist_allreduce_i32(&v, 1, DIST_MAX));
    *flag = v;
    return NERC_OK;
}
