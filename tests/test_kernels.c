/* Every op two ways (ggml style): the optimised kernel against a naive
 * reference, and each backward against central finite differences of
 * loss = sum(w * forward(x)) with random w, on small random shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "kernels/vmath.h"
#include "model/encoder.h"
#include "nerc.h"
#include "test.h"

#define FD_EPS 1e-2f
/* |fd - analytic| <= FD_TOL * (1 + |analytic|): float32 central differences. */
#define FD_TOL 1e-3

static rng_state rng;

static float *randn(int64_t n, float scale) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(&rng) * scale;
    return x;
}

static float *zeros(int64_t n) { return calloc((size_t)n, sizeof(float)); }

static double weighted_sum(const float *w, const float *y, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)w[i] * y[i];
    return s;
}

/* A forward pass closure: recomputes out from the current inputs. */
typedef void (*fwd_fn)(void *ctx);

/* Compares analytic gradient `g` of input `x` (n values) with finite
 * differences of sum(w*out) where out (m values) is recomputed by f(ctx). */
static void fd_check(const char *what, float *x, const float *g, int64_t n, fwd_fn f, void *ctx, const float *w,
                     const float *out, int64_t m) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + FD_EPS;
        f(ctx);
        double lp = weighted_sum(w, out, m);
        x[i] = keep - FD_EPS;
        f(ctx);
        double lm = weighted_sum(w, out, m);
        x[i] = keep;
        double fd = (lp - lm) / (2.0 * FD_EPS);
        double err = fabs(fd - g[i]) / (1.0 + fabs(g[i]));
        worst = err > worst ? err : worst;
    }
    f(ctx);
    CHECK_MSG(worst <= FD_TOL, "%s: finite-difference error %.3g", what, worst);
    printf("  %-28s fd max rel err %.2e\n", what, worst);
}

/* ---- gemm ---------------------------------------------------------------- */

static void test_gemm(void) {
    int64_t M = 37, N = 29, K = 53;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float *A = randn(M * K, 1), *B = randn(K * N, 1), *C1 = randn(M * N, 1);
            float *C2 = malloc((size_t)(M * N) * sizeof *C2);
            memcpy(C2, C1, (size_t)(M * N) * sizeof *C2);
            gemm_f32(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 1.0f, C1, N);
            gemm_f32_ref(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 1.0f, C2, N);
            double worst = 0.0;
            for (int64_t i = 0; i < M * N; i++)
                worst = fmax(worst, fabs(C1[i] - C2[i]));
            CHECK_MSG(worst < 1e-4, "gemm ta=%d tb=%d: max diff %.3g", ta, tb, worst);
            free(A), free(B), free(C1), free(C2);
        }
}

/* ---- linear ------------------------------------------------------------- */

typedef struct {
    float *out, *inp, *w, *b;
    int64_t N, IC, OC;
} linear_ctx;

static void linear_fwd(void *c) {
    linear_ctx *l = c;
    linear_forward(l->out, l->inp, l->w, l->b, l->N, l->IC, l->OC);
}

static void test_linear(void) {
    linear_ctx l = {NULL, NULL, NULL, NULL, 5, 7, 6};
    l.out = zeros(l.N * l.OC), l.inp = randn(l.N * l.IC, 1), l.w = randn(l.OC * l.IC, 0.5f), l.b = randn(l.OC, 0.5f);
    float *w = randn(l.N * l.OC, 1), *di = zeros(l.N * l.IC), *dw = zeros(l.OC * l.IC), *db = zeros(l.OC);
    linear_fwd(&l);
    linear_backward(di, dw, db, w, l.inp, l.w, l.N, l.IC, l.OC, 1.0f, 1.0f);
    fd_check("linear d_inp", l.inp, di, l.N * l.IC, linear_fwd, &l, w, l.out, l.N * l.OC);
    fd_check("linear d_weight", l.w, dw, l.OC * l.IC, linear_fwd, &l, w, l.out, l.N * l.OC);
    fd_check("linear d_bias", l.b, db, l.OC, linear_fwd, &l, w, l.out, l.N * l.OC);
    free(l.out), free(l.inp), free(l.w), free(l.b), free(w), free(di), free(dw), free(db);
}

/* ---- layernorm ---------------------------------------------------------- */

typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b;
    int64_t N, C;
} ln_ctx;

static void ln_fwd(void *c) {
    ln_ctx *l = c;
    layernorm_forward(l->out, l->mean, l->rstd, l->inp, l->w, l->b, l->N, l->C, 1e-12f);
}

static void test_layernorm(void) {
    ln_ctx l = {NULL, NULL, NULL, NULL, NULL, NULL, 4, 16};
    l.out = zeros(l.N * l.C), l.mean = zeros(l.N), l.rstd = zeros(l.N), l.inp = randn(l.N * l.C, 2);
    l.w = randn(l.C, 1), l.b = randn(l.C, 1);
    float *w = randn(l.N * l.C, 1), *di = zeros(l.N * l.C), *dw = zeros(l.C), *db = zeros(l.C);
    ln_fwd(&l);
    layernorm_backward(di, dw, db, w, l.inp, l.w, l.mean, l.rstd, l.N, l.C);
    fd_check("layernorm d_inp", l.inp, di, l.N * l.C, ln_fwd, &l, w, l.out, l.N * l.C);
    fd_check("layernorm d_weight", l.w, dw, l.C, ln_fwd, &l, w, l.out, l.N * l.C);
    fd_check("layernorm d_bias", l.b, db, l.C, ln_fwd, &l, w, l.out, l.N * l.C);
    free(l.out), free(l.mean), free(l.rstd), free(l.inp), free(l.w), free(l.b), free(w), free(di), free(dw), free(db);
}

/* ---- gelu --------------------------------------------------------------- */

typedef struct {
    float *out, *inp;
    int64_t n;
} act_ctx;

static void gelu_fwd(void *c) {
    act_ctx *a = c;
    gelu_forward(a->out, a->inp, a->n);
}

static void test_gelu(void) {
    act_ctx a = {zeros(64), randn(64, 2), 64};
    float *w = randn(64, 1), *di = zeros(64);
    gelu_fwd(&a);
    CHECK_NEAR(a.out[0], 0.5 * a.inp[0] * (1.0 + erf(a.inp[0] / sqrt(2.0))), 1e-6);
    gelu_backward(di, w, a.inp, 64);
    fd_check("gelu d_inp", a.inp, di, 64, gelu_fwd, &a, w, a.out, 64);
    free(a.out), free(a.inp), free(w), free(di);
}

static void gelu_tanh_fwd(void *c) {
    act_ctx *a = c;
    gelu_tanh_forward(a->out, a->inp, a->n);
}

/* HF gelu_new: against the formula in double, then finite differences. */
static void test_gelu_tanh(void) {
    act_ctx a = {zeros(64), randn(64, 2), 64};
    a.inp[0] = 30.0f, a.inp[1] = -30.0f; /* saturated: slope exactly 1 and 0 */
    float *w = randn(64, 1), *di = zeros(64);
    gelu_tanh_fwd(&a);
    double worst = 0.0;
    for (int i = 0; i < 64; i++) {
        double x = a.inp[i], want = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        worst = fmax(worst, fabs(a.out[i] - want) / fmax(1.0, fabs(want)));
    }
    CHECK_MSG(worst < 1e-6, "gelu_tanh: max relative error %.3g vs the formula in double", worst);
    gelu_tanh_backward(di, w, a.inp, 64);
    CHECK(di[0] == w[0] && di[1] == 0.0f);
    fd_check("gelu_tanh d_inp", a.inp + 2, di + 2, 62, gelu_tanh_fwd, &a, w, a.out, 64);
    free(a.out), free(a.inp), free(w), free(di);
}

/* ---- embeddings ----------------------------------------------------------- */

typedef struct {
    float *out, *wte, *wpe, *wtt;
    int32_t *ids, *pos;
    int64_t N, C;
} emb_ctx;

static void emb_fwd(void *c) {
    emb_ctx *e = c;
    embedding_forward(e->out, e->ids, e->pos, e->wte, e->wpe, e->wtt, e->N, e->C);
}

/* Word + position (+ token type) embeddings; padding_idx rows of the word and
 * (RoBERTa) position tables get no gradient. */
static void test_embedding(void) {
    int32_t ids[6] = {3, 0, 3, 1, 0, 2}, pos[6] = {0, 1, 2, 0, 1, 2};
    emb_ctx e = {zeros(6 * 4), randn(5 * 4, 1), randn(3 * 4, 1), randn(4, 1), ids, pos, 6, 4};
    float *w = randn(6 * 4, 1), *dwte = zeros(5 * 4), *dwpe = zeros(3 * 4), *dwtt = zeros(4);
    emb_fwd(&e);
    embedding_backward(dwte, dwpe, dwtt, w, ids, pos, 6, 4, 0, 1);
    for (int c = 0; c < 4; c++)
        CHECK(dwte[c] == 0.0f && dwpe[4 + c] == 0.0f); /* padding_idx 0 / position pad 1: no gradient */
    fd_check("embedding d_wtt", e.wtt, dwtt, 4, emb_fwd, &e, w, e.out, 6 * 4);
    fd_check("embedding d_wpe row 0", e.wpe, dwpe, 4, emb_fwd, &e, w, e.out, 6 * 4);
    fd_check("embedding d_wpe row 2", e.wpe + 8, dwpe + 8, 4, emb_fwd, &e, w, e.out, 6 * 4);
    /* rows other than the padding row: compare on a copy whose row 0 is skipped */
    fd_check("embedding d_wte rows 1..4", e.wte + 4, dwte + 4, 4 * 4, emb_fwd, &e, w, e.out, 6 * 4);
    free(e.out), free(e.wte), free(e.wpe), free(e.wtt), free(w), free(dwte), free(dwpe), free(dwtt);
}

/* ---- attention with a key mask ----------------------------------------------- */

typedef struct {
    float *ctx, *att, *qkv;
    att_layout lay;
    int64_t C, H;
} att_ctx;

static void att_fwd(void *c) {
    att_ctx *a = c;
    attention_forward(a->ctx, a->att, NULL, a->qkv, &a->lay, a->C, a->H, 0.0f, 0, 0);
}

static void test_attention(void) {
    /* two sequences: 5 rows with 3 keys (HF padding), 4 rows with 4 keys */
    static const int32_t offs[3] = {0, 5, 9}, keys[2] = {3, 4};
    int64_t C = 8, H = 2, N = 9;
    int64_t att_off[3] = {0, H * 5 * 3, H * (5 * 3 + 4 * 4)};
    att_ctx a = {zeros(N * C), zeros(att_off[2]), randn(N * 3 * C, 1), {2, offs, keys, att_off, NULL}, C, H};
    float *ctx_ref = zeros(N * C), *att_ref = zeros(att_off[2]);
    att_fwd(&a);
    attention_forward_ref(ctx_ref, att_ref, a.qkv, &a.lay, C, H);
    double worst = 0.0;
    for (int64_t i = 0; i < N * C; i++)
        worst = fmax(worst, fabs(a.ctx[i] - ctx_ref[i]));
    CHECK_MSG(worst < 1e-5, "attention vs reference: %.3g", worst);
    float *w = randn(N * C, 1), *dqkv = zeros(N * 3 * C), *datt = zeros(att_off[2]);
    attention_backward(dqkv, datt, w, a.qkv, a.att, &a.lay, C, H, 0.0f, 0, 0);
    fd_check("attention d_qkv (masked)", a.qkv, dqkv, N * 3 * C, att_fwd, &a, w, a.ctx, N * C);
    /* masked keys (rows 3, 4 of sequence 0) get no k/v gradient */
    for (int64_t r = 3; r < 5; r++)
        for (int64_t c = C; c < 3 * C; c++)
            CHECK(dqkv[r * 3 * C + c] == 0.0f);
    free(a.ctx), free(a.att), free(a.qkv), free(ctx_ref), free(att_ref), free(w), free(dqkv), free(datt);
}

/* Heads wider than a vector (D = 20: one full block of 16 and a partial one;
 * D = 64), a sequence longer than the micro-kernels' 32 key columns (the keys
 * are transposed in blocks), padded ones (fewer keys than rows), against the
 * fp64 reference; the backward of the D = 20 case by finite differences. */
enum { WIDE_SEQS = 9 };
static void attention_wide_case(int64_t D, int fd) {
    static const int32_t rows[WIDE_SEQS] = {33, 7, 1, 3, 3, 3, 3, 3, 3}, keys[WIDE_SEQS] = {33, 5, 1, 3, 2, 3, 1, 3, 3};
    int32_t offs[WIDE_SEQS + 1] = {0};
    int64_t H = 2, C = H * D, att_off[WIDE_SEQS + 1] = {0};
    for (int b = 0; b < WIDE_SEQS; b++) {
        offs[b + 1] = offs[b] + rows[b];
        att_off[b + 1] = att_off[b] + H * rows[b] * keys[b];
    }
    int64_t N = offs[WIDE_SEQS], n_att = att_off[WIDE_SEQS];
    att_ctx a = {zeros(N * C), zeros(n_att), randn(N * 3 * C, 1), {WIDE_SEQS, offs, keys, att_off, NULL}, C, H};
    float *ctx_ref = zeros(N * C), *att_ref = zeros(n_att);
    att_fwd(&a);
    attention_forward_ref(ctx_ref, att_ref, a.qkv, &a.lay, C, H);
    double worst = 0.0, worst_att = 0.0;
    for (int64_t i = 0; i < N * C; i++)
        worst = fmax(worst, fabs(a.ctx[i] - ctx_ref[i]));
    for (int64_t i = 0; i < n_att; i++)
        worst_att = fmax(worst_att, fabs(a.att[i] - att_ref[i]));
    CHECK_MSG(worst < 2e-5 && worst_att < 2e-6, "attention D=%lld vs reference: ctx %.3g, probabilities %.3g",
              (long long)D, worst, worst_att);
    if (fd) {
        float *w = randn(N * C, 1), *dqkv = zeros(N * 3 * C), *datt = zeros(n_att);
        attention_backward(dqkv, datt, w, a.qkv, a.att, &a.lay, C, H, 0.0f, 0, 0);
        fd_check("attention d_qkv (D=20, T=33)", a.qkv, dqkv, N * 3 * C, att_fwd, &a, w, a.ctx, N * C);
        free(w), free(dqkv), free(datt);
    }
    free(a.ctx), free(a.att), free(a.qkv), free(ctx_ref), free(att_ref);
}

/* 9 sequences: on 2+ threads a thread takes one head at a time; on 1 thread
 * a whole sequence's heads (kernels/attention.c, heads_per_task). */
static void test_attention_wide(void) {
    int threads = nerc_get_threads();
    attention_wide_case(20, 1);
    attention_wide_case(64, 0);
    nerc_set_threads(1);
    attention_wide_case(20, 1);
    attention_wide_case(64, 0);
    nerc_set_threads(threads);
}

/* ---- dropout ------------------------------------------------------------------ */

static void test_dropout(void) {
    int64_t n = 100000;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        x[i] = y[i] = 1.0f;
    dropout_forward(x, n, 0.1f, 42, 7);
    int64_t zero = 0;
    for (int64_t i = 0; i < n; i++)
        zero += x[i] == 0.0f;
    CHECK_MSG(zero > 9500 && zero < 10500, "dropout p=0.1 dropped %lld of %lld", (long long)zero, (long long)n);
    CHECK_NEAR(x[zero == n ? 0 : (x[0] == 0.0f ? 1 : 0)], 1.0 / 0.9, 1e-6);
    free(x), free(y);
}

/* ---- the whole block backward with dropout on ------------------------------------ */

/* Loss of a training forward of the tiny fixture model; dropout's mask is a
 * hash of (seed, stream, index), so the same seed gives the same mask. */
static double model_loss(nerc_state *s, const nerc_batch *b, uint64_t seed) {
    double loss = 0.0;
    nerc_status st = nerc_forward(s, b, 1, seed);
    if (st == NERC_OK)
        st = nerc_loss(s, b, 0.0, &loss);
    return st == NERC_OK ? loss : NAN;
}

/* One backward pass of batch (ids from lo .. lo+400) into s, after zero_grad when clear. */
static void backward_of(nerc_state *s, int32_t lo, int clear) {
    enum { B = 2, T = 7 };
    int32_t ids[B * T], pos[B * T], labels[B * T], offs[B + 1] = {0, 7, 14};
    for (int i = 0; i < B * T; i++) {
        ids[i] = lo + (int32_t)rng_below(&rng, 400);
        pos[i] = i % T;
        labels[i] = i % 3 == 2 ? NERC_IGNORE_INDEX : (int32_t)rng_below(&rng, 5);
    }
    nerc_batch batch = {B, B * T, ids, pos, labels, offs, NULL, NULL};
    if (clear)
        nerc_state_zero_grad(s);
    CHECK_MSG(!isnan(model_loss(s, &batch, 5)), "forward: %s", nerc_last_error());
    CHECK_OK(nerc_backward(s, &batch));
}

static double grads_apart(const nerc_state *a, const nerc_state *b, int64_t n) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a->grad_mem[i] - b->grad_mem[i]));
    return worst;
}

/* zero_grad clears only what backward adds to (the linear weights' gradients
 * are overwritten by the next pass, the word-embedding rows used are cleared):
 * the gradients after another batch, and after two batches accumulated, are
 * those of a state that never held any. */
static void test_zero_grad(void) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, "../shared/fixtures/model/tiny", NULL, 0, 0));
    if (!m)
        return;
    nerc_state *used = NULL, *fresh = NULL;
    CHECK_OK(nerc_state_init(&used, m, 2, 14, 98, 1));
    CHECK_OK(nerc_state_init(&fresh, m, 2, 14, 98, 1));
    if (used && fresh) {
        backward_of(used, 100, 1); /* rows 100..499 */
        backward_of(used, 100, 0);
        rng_state at = rng; /* the same two batches for both states */
        backward_of(used, 600, 1); /* rows 600..999, then accumulated */
        backward_of(used, 600, 0);
        rng = at;
        backward_of(fresh, 600, 0);
        backward_of(fresh, 600, 0);
        double apart = grads_apart(used, fresh, m->n_params);
        printf("  zero_grad then 2 accumulated batches vs a fresh state: gradients %.3g apart\n", apart);
        CHECK_MSG(apart == 0.0, "gradients after zero_grad differ from a fresh state's by %.3g", apart);
    }
    nerc_state_free(used);
    nerc_state_free(fresh);
    nerc_model_free(m);
}

/* Central differences of the loss against the backward pass (hidden and
 * attention dropout p = 0.2, fixed mask) for a sample of every tensor's
 * entries: every dropout_backward, the attention dropout inside
 * attention_backward and the block's residual paths are exercised. */
static void test_block_backward_dropout(void) {
    enum { B = 3, T = 9 };
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, "../shared/fixtures/model/tiny", NULL, 0, 0));
    if (!m)
        return;
    nerc_model_set_dropout(m, 0.2f, 0.2f);
    int32_t ids[B * T], pos[B * T], labels[B * T], offs[B + 1] = {0, 9, 16, 27}, K = nerc_model_num_labels(m);
    for (int b = 0; b < B; b++)
        for (int i = offs[b]; i < offs[b + 1]; i++) {
            ids[i] = 100 + (int32_t)rng_below(&rng, 900);
            pos[i] = i - offs[b];
            labels[i] = i % 4 == 3 ? NERC_IGNORE_INDEX : (int32_t)rng_below(&rng, (uint64_t)K);
        }
    nerc_batch batch = {B, B * T, ids, pos, labels, offs, NULL, NULL};
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, B, B * T, 2 * B * T * T, 1));
    if (!s) {
        nerc_model_free(m);
        return;
    }
    const uint64_t seed = 99;
    nerc_state_zero_grad(s);
    CHECK_MSG(!isnan(model_loss(s, &batch, seed)), "forward: %s", nerc_last_error());
    CHECK_OK(nerc_backward(s, &batch));
    float *grad = malloc((size_t)m->n_params * sizeof *grad);
    memcpy(grad, s->grad_mem, (size_t)m->n_params * sizeof *grad);
    /* the mask must matter: another mask gives other gradients */
    nerc_state_zero_grad(s);
    model_loss(s, &batch, seed + 1);
    CHECK_OK(nerc_backward(s, &batch));
    double moved = 0.0, gall = 0.0;
    for (int64_t i = 0; i < m->n_params; i++) {
        moved = fmax(moved, fabs(s->grad_mem[i] - grad[i]));
        gall = fmax(gall, fabs(grad[i]));
    }
    CHECK_MSG(moved > 0.05 * gall, "dropout seems off: another mask moves gradients by %.3g (max |grad| %.3g)", moved,
              gall);
    double worst = 0.0;
    int checked = 0;
    const float eps = 1e-2f;
    for (int32_t t = 0; t < m->n_tensors; t++) {
        const param_tensor *pt = &m->tensors[t];
        if (pt->frozen)
            continue;
        double gmax = 0.0;
        for (int64_t i = 0; i < pt->numel; i++)
            gmax = fmax(gmax, fabs(grad[pt->offset + i]));
        for (int k = 0; k < 4; k++) {
            int64_t i = pt->offset + (int64_t)rng_below(&rng, (uint64_t)pt->numel);
            float keep = m->params_mem[i];
            m->params_mem[i] = keep + eps;
            double lp = model_loss(s, &batch, seed);
            m->params_mem[i] = keep - eps;
            double lm = model_loss(s, &batch, seed);
            m->params_mem[i] = keep;
            double fd = (lp - lm) / (2.0 * eps), err = fabs(fd - grad[i]) / (1e-3 + gmax);
            CHECK_MSG(err <= 5e-3, "%s[%lld]: backward %.6g, finite difference %.6g (max |grad| %.3g)", pt->name,
                      (long long)(i - pt->offset), grad[i], fd, gmax);
            worst = fmax(worst, err);
            checked++;
        }
    }
    printf("  %-28s fd max err %.2e of max |grad| (%d entries, p = 0.2)\n", "block backward, dropout on", worst,
           checked);
    free(grad);
    nerc_state_free(s);
    nerc_model_free(m);
}

/* ---- cross-entropy ------------------------------------------------------------- */

typedef struct {
    float *logits, *dl, loss;
    const int32_t *labels;
} ce_ctx;

static void ce_fwd(void *c) {
    ce_ctx *e = c;
    e->loss = (float)crossentropy_forward_backward(e->dl, e->logits, e->labels, 4, 5, 3.0, NERC_IGNORE_INDEX);
}

static void test_crossentropy(void) {
    static const int32_t labels[4] = {1, NERC_IGNORE_INDEX, 4, 0};
    float *dl = zeros(20), *g = zeros(20);
    ce_ctx e = {randn(20, 2), dl, 0, labels};
    ce_fwd(&e);
    memcpy(g, dl, 20 * sizeof *g);
    float one = 1.0f;
    fd_check("cross-entropy d_logits", e.logits, g, 20, ce_fwd, &e, &one, &e.loss, 1);
    for (int k = 0; k < 5; k++)
        CHECK(g[5 + k] == 0.0f); /* ignored row */
    free(e.logits), free(dl), free(g);
}

/* The vectorisable exp / erf against double precision over their whole range. */
static void test_vmath(void) {
    double worst_exp = 0.0, worst_erf = 0.0;
    for (double d = -87.0; d <= 88.0; d += 1.7e-4) {
        float x = (float)d;
        double want = exp((double)x);
        worst_exp = fmax(worst_exp, fabs(vm_expf(x) - want) / want);
    }
    for (double d = -10.0; d <= 10.0; d += 1.3e-5) {
        float x = (float)d;
        worst_erf = fmax(worst_erf, fabs(vm_erff(x) - erf((double)x)));
    }
    CHECK(isnan(vm_expf(NAN)) && isnan(vm_erff(NAN)) && vm_expf(-INFINITY) < 1e-37f && vm_expf(1000.0f) > 1e38f);
    CHECK_MSG(worst_exp <= 2e-7, "vm_expf max relative error %.3g", worst_exp);
    CHECK_MSG(worst_erf <= 5e-7, "vm_erff max absolute error %.3g", worst_erf);
    printf("  %-28s exp rel err %.2e, erf abs err %.2e\n", "vm_expf / vm_erff", worst_exp, worst_erf);
}

/* calloc_touched: zeros over every chunk and the tail (3 chunks + 5 bytes;
 * and a small block that malloc may hand back dirty), NULL when n * size
 * overflows. */
static void test_calloc_touched(void) {
    size_t sizes[3] = {3 * (1u << 21) + 5, 1000, 1000}; /* (the first parallel region allocates) */
    for (int k = 0; k < 3; k++) {
        size_t n = sizes[k];
        volatile unsigned char *dirty = malloc(n); /* volatile: the stores are not optimised away */
        for (size_t i = 0; dirty && i < n; i++)
            dirty[i] = 0xff;
        free((void *)dirty);
        unsigned char *p = calloc_touched(n, 1);
        CHECK(p != NULL);
        size_t nonzero = 0;
        for (size_t i = 0; p && i < n; i++)
            nonzero += p[i] != 0;
        CHECK_MSG(nonzero == 0, "%zu of %zu bytes not zero", nonzero, n);
        free(p);
    }
    CHECK(calloc_touched(SIZE_MAX / 2, 4) == NULL);
}

int main(void) {
    rng_seed(&rng, 1234);
    test_calloc_touched();
    test_vmath();
    test_gemm();
    test_linear();
    test_layernorm();
    test_gelu();
    test_gelu_tanh();
    test_embedding();
    test_attention();
    test_attention_wide();
    test_dropout();
    test_block_backward_dropout();
    test_zero_grad();
    test_crossentropy();
    return test_report("test_kernels");
}
