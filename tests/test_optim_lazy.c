/* AdamW with lazily updated embedding rows (adamw_state.lazy_rows) against
 * the same run updating every row every step: the same bits. Two copies of
 * the tiny fixture model train on the same random batches (weight decay 0.01,
 * clip 1.0), common rows every step and rare ones now and then; the lazy copy
 * brings each batch's rows current before its forward pass. Logits must be
 * identical at every step, and parameters and both moments once every row is
 * brought current: in the middle, across a whole-table step (rows of other
 * ranks: no record of used rows), after the moments are replaced (a
 * checkpoint), and past the log's capacity (ADAMW_LOG_MAX steps). */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/encoder.h"
#include "nerc.h"
#include "test.h"
#include "train/optim.h"

enum { B = 2, T = 7, N = B * T, STEPS = 600 + ADAMW_LOG_MAX };

typedef struct {
    nerc_model *m;
    nerc_state *s;
    adamw_state opt;
} run;

static int open_run(run *r, int lazy) {
    memset(r, 0, sizeof *r);
    CHECK_OK(nerc_model_load(&r->m, "../shared/fixtures/model/tiny", NULL, 0, 0));
    if (!r->m)
        return 0;
    nerc_model_set_dropout(r->m, 0.0f, 0.0f);
    CHECK_OK(nerc_state_init(&r->s, r->m, B, N, N * T, 1));
    CHECK_OK(adamw_init(&r->opt, r->m->n_params));
    r->opt.lazy_rows = lazy;
    return r->s != NULL;
}

static void close_run(run *r) {
    adamw_free(&r->opt);
    nerc_state_free(r->s);
    nerc_model_free(r->m);
}

typedef struct {
    int32_t ids[N], pos[N], labels[N], offsets[B + 1];
    nerc_batch b;
} batch_buf;

/* Rows 1..40 often, 41..400 rarely: rows fall behind by a few steps to hundreds. */
static void random_batch(batch_buf *bb, rng_state *rng) {
    for (int i = 0; i < N; i++) {
        int rare = rng_next_u64(rng) % 8 == 0;
        bb->ids[i] = rare ? 41 + (int32_t)(rng_next_u64(rng) % 360) : 1 + (int32_t)(rng_next_u64(rng) % 40);
        bb->pos[i] = i % T;
        bb->labels[i] = (int32_t)(rng_next_u64(rng) % 9);
    }
    for (int b = 0; b <= B; b++)
        bb->offsets[b] = b * T;
    bb->b = (nerc_batch){B, N, bb->ids, bb->pos, bb->labels, bb->offsets, NULL, NULL};
}

/* One step; whole_table: as after other ranks' rows were summed in. */
static void train_step(run *r, const nerc_batch *b, int64_t step, int whole_table) {
    double loss;
    adamw_rows_current(&r->opt, r->m->params_mem, b->input_ids, b->n_tokens);
    nerc_state_zero_grad(r->s);
    CHECK_OK(nerc_forward(r->s, b, 1, (uint64_t)step));
    CHECK_OK(nerc_loss(r->s, b, 0.0, &loss));
    CHECK_OK(nerc_backward(r->s, b));
    encoder_grads_settle(r->s, whole_table);
    grad_rows gr = grad_rows_of(r->s);
    double norm;
    float clip = grad_clip_factor(r->s->grad_mem, r->m->n_params, &gr, 1.0, &norm);
    adamw_hparams hp = adamw_defaults();
    hp.weight_decay = 0.01f;
    adamw_step(&r->opt, r->m, r->s->grad_mem, &gr, clip, lr_linear(5e-4, step, 10, STEPS), &hp, NULL);
}

static int64_t floats_apart(const float *x, const float *y, int64_t n) {
    int64_t d = 0;
    for (int64_t i = 0; i < n; i++)
        d += memcmp(&x[i], &y[i], sizeof *x) != 0;
    return d;
}

static void check_same_state(run *eager, run *lazy, const char *when) {
    adamw_rows_current(&lazy->opt, lazy->m->params_mem, NULL, 0);
    int64_t n = eager->m->n_params;
    int64_t dp = floats_apart(eager->m->params_mem, lazy->m->params_mem, n);
    int64_t dm = floats_apart(eager->opt.m, lazy->opt.m, n), dv = floats_apart(eager->opt.v, lazy->opt.v, n);
    printf("  %s: parameters / m / v differing in %lld / %lld / %lld of %lld\n", when, (long long)dp, (long long)dm,
           (long long)dv, (long long)n);
    CHECK_MSG(dp == 0 && dm == 0 && dv == 0, "%s: %lld / %lld / %lld values differ", when, (long long)dp,
              (long long)dm, (long long)dv);
}

int main(void) {
    run eager, lazy;
    if (!open_run(&eager, 0) || !open_run(&lazy, 1))
        return test_report("test_optim_lazy");
    rng_state rng;
    rng_seed(&rng, 7);
    int64_t logits_apart = 0, deferred = 0;
    int64_t n_logits = N * eager.m->cfg.n_labels;
    for (int64_t step = 0; step < STEPS; step++) {
        batch_buf bb;
        random_batch(&bb, &rng);
        int whole = step == 300 || step == 301;
        train_step(&eager, &bb.b, step, whole);
        train_step(&lazy, &bb.b, step, whole);
        logits_apart += floats_apart(nerc_state_logits(eager.s), nerc_state_logits(lazy.s), n_logits);
        if (step == 100) /* rows left behind: the lazy table really defers */
            deferred = floats_apart(eager.m->params_mem, lazy.m->params_mem, eager.m->n_params);
        if (step == 200)
            check_same_state(&eager, &lazy, "after 201 steps");
        if (step == 320)
            check_same_state(&eager, &lazy, "after a whole-table step");
        if (step == 500) { /* a checkpoint saved (every row current) and loaded back: the table starts again */
            check_same_state(&eager, &lazy, "at a checkpoint");
            adamw_moments_changed(&lazy.opt);
        }
    }
    printf("  rows deferred at step 100: %lld values behind the eager run\n", (long long)deferred);
    CHECK_MSG(deferred > 0, "the lazy run updated every row at every step");
    CHECK_MSG(logits_apart == 0, "%lld logits differ over %d steps", (long long)logits_apart, STEPS);
    check_same_state(&eager, &lazy, "at the end (past the log's capacity)");
    close_run(&eager);
    close_run(&lazy);
    return test_report("test_optim_lazy");
}
