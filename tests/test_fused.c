/* The fused elementwise kernels (kernels/fused.h) against the compositions of
 * plain ops they replace, over odd shapes, every activation and dropout on
 * and off: the same bits for every element written, parameter-gradient sums
 * within fp32 rounding. Runs at the CPU's ISA level (and at AVX2 with
 * NERC_ISA=avx2, tests/run.sh). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/fused.h"
#include "kernels/linear_packed.h"
#include "kernels/ops.h"
#include "nerc.h"
#include "test.h"

static rng_state rng;

static float *randn(int64_t n, float scale) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(&rng) * scale;
    return x;
}

static float *copy(const float *x, int64_t n) {
    float *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    memcpy(y, x, (size_t)n * sizeof *y);
    return y;
}

/* Equal values (== : +0 and -0 count as equal; a 0 slope times a negative gradient gives -0). */
static int same(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(a[i] == b[i]))
            return 0;
    return 1;
}

static double max_rel(const float *a, const float *b, int64_t n) {
    double w = 0.0;
    for (int64_t i = 0; i < n; i++)
        w = fmax(w, fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i])));
    return w;
}

static void act_ref_forward(act_kind k, float *out, const float *x, int64_t n) {
    if (k == ACT_KIND_RELU)
        relu_forward(out, x, n);
    else if (k == ACT_KIND_GELU_TANH)
        gelu_tanh_forward(out, x, n);
    else
        gelu_forward(out, x, n);
}

static void act_ref_backward(act_kind k, float *dx, const float *dy, const float *x, int64_t n) {
    if (k == ACT_KIND_RELU)
        relu_backward(dx, dy, x, n);
    else if (k == ACT_KIND_GELU_TANH)
        gelu_tanh_backward(dx, dy, x, n);
    else
        gelu_backward(dx, dy, x, n);
}

/* pre = y + b; act = f(pre), slope = f'(pre)  vs  bias_act_forward (the
 * reference slope: the reference backward of a gradient of ones). */
static void test_bias_act(int64_t N, int64_t F, act_kind k) {
    int64_t n = N * F;
    float *y = randn(n, 2.0f), *b = randn(F, 1.0f);
    float *slope = malloc((size_t)n * 4 + 4), *act = malloc((size_t)n * 4 + 4);
    float *rpre = copy(y, n), *ract = malloc((size_t)n * 4 + 4), *ones = malloc((size_t)n * 4 + 4);
    float *rslope = calloc((size_t)n + 1, 4);
    for (int64_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    for (int64_t r = 0; r < N; r++)
        for (int64_t f = 0; f < F; f++)
            rpre[r * F + f] += b[f];
    act_ref_forward(k, ract, rpre, n);
    act_ref_backward(k, rslope, ones, rpre, n);
    bias_act_forward(slope, act, y, b, N, F, k);
    CHECK_MSG(same(slope, rslope, n) && same(act, ract, n), "bias_act_forward %lldx%lld kind %d", (long long)N,
              (long long)F, (int)k);
    /* in place, the slope over the input (as training keeps it) / no slope kept */
    float *io = copy(y, n);
    bias_act_forward(io, act, io, b, N, F, k);
    CHECK_MSG(same(io, rslope, n) && same(act, ract, n), "bias_act_forward, slope in place %lldx%lld kind %d",
              (long long)N, (long long)F, (int)k);
    memcpy(io, y, (size_t)n * 4);
    bias_act_forward(NULL, io, io, b, N, F, k);
    CHECK_MSG(same(io, ract, n), "bias_act_forward in place %lldx%lld kind %d", (long long)N, (long long)F, (int)k);
    /* backward: dpre = f'(pre) dact; dbias += sum_n dpre */
    float *dact = randn(n, 1.0f), *dpre = malloc((size_t)n * 4 + 4), *rdpre = calloc((size_t)n + 1, 4);
    float *db = randn(F, 1.0f), *rdb = copy(db, F);
    act_ref_backward(k, rdpre, dact, rpre, n);
    linear_backward(NULL, NULL, rdb, rdpre, NULL, NULL, N, 1, F, 1.0f, 1.0f);
    act_bias_backward(dpre, db, dact, rslope, N, F);
    CHECK_MSG(same(dpre, rdpre, n), "act_bias_backward dpre %lldx%lld kind %d", (long long)N, (long long)F, (int)k);
    CHECK_MSG(max_rel(db, rdb, F) <= 1e-6, "act_bias_backward dbias %lldx%lld: %.3g", (long long)N, (long long)F,
              max_rel(db, rdb, F));
    free(y), free(b), free(slope), free(act), free(rpre), free(ract), free(ones), free(rslope), free(io), free(dact);
    free(dpre), free(rdpre), free(db), free(rdb);
}

/* res = dropout(y + b) + x; out = LN(res)  and its backward  vs  the fused pair. */
static void test_residual_layernorm(int64_t N, int64_t C, float p) {
    int64_t n = N * C;
    const uint64_t seed = 5, stream = 17;
    float *y = randn(n, 1.0f), *b = randn(C, 0.5f), *x = randn(n, 1.0f), *w = randn(C, 1.0f), *lb = randn(C, 0.3f);
    float *rres = copy(y, n), *rout = malloc((size_t)n * 4 + 4), *rm = malloc((size_t)N * 4 + 4),
          *rr = malloc((size_t)N * 4 + 4);
    for (int64_t r = 0; r < N; r++)
        for (int64_t c = 0; c < C; c++)
            rres[r * C + c] += b[c];
    dropout_forward(rres, n, p, seed, stream);
    for (int64_t i = 0; i < n; i++)
        rres[i] += x[i];
    layernorm_forward(rout, rm, rr, rres, w, lb, N, C, 1e-12f);
    float *res = copy(y, n), *out = malloc((size_t)n * 4 + 4), *m = malloc((size_t)N * 4 + 4),
          *rs = malloc((size_t)N * 4 + 4);
    bias_dropout_residual_layernorm_forward(res, out, m, rs, res, b, x, w, lb, N, C, 1e-12f, p, seed, stream);
    CHECK_MSG(same(res, rres, n) && same(out, rout, n) && same(m, rm, N) && same(rs, rr, N),
              "bias_dropout_residual_layernorm_forward %lldx%lld p %.1f", (long long)N, (long long)C, p);
    /* backward */
    float *dout = randn(n, 1.0f), *rdres = calloc((size_t)n + 1, 4), *rdw = randn(C, 1.0f), *rdb = randn(C, 1.0f);
    float *dw = copy(rdw, C), *db = copy(rdb, C), *dy = malloc((size_t)n * 4 + 4), *dres = malloc((size_t)n * 4 + 4);
    layernorm_backward(rdres, rdw, rdb, dout, rres, w, rm, rr, N, C);
    float *rdy = copy(rdres, n);
    dropout_backward(rdy, n, p, seed, stream);
    layernorm_dropout_backward(dy, dres, dw, db, dout, res, w, m, rs, N, C, p, seed, stream);
    CHECK_MSG(same(dres, rdres, n) && same(dy, rdy, n), "layernorm_dropout_backward %lldx%lld p %.1f", (long long)N,
              (long long)C, p);
    CHECK_MSG(same(dw, rdw, C) && same(db, rdb, C), "layernorm_dropout_backward dweight/dbias %lldx%lld",
              (long long)N, (long long)C);
    free(y), free(b), free(x), free(w), free(lb), free(rres), free(rout), free(rm), free(rr), free(res), free(out);
    free(m), free(rs), free(dout), free(rdres), free(rdw), free(rdb), free(dw), free(db), free(dy), free(dres), free(rdy);
}

/* bf16 / int8 inference's feed-forward pair with fc1's activations written
 * straight as fc2's operand (linear_packed_ffn) against the layers and the
 * activation one after the other (fc1, bias_act_forward, fc2): the same bits. */
static void test_ffn(nerc_precision prec, int64_t N, int64_t C, int64_t F) {
    float *w1 = randn(F * C, 0.2f), *b1 = randn(F, 0.1f), *w2 = randn(C * F, 0.2f), *b2 = randn(C, 0.1f);
    float *x = randn(N * C, 1.0f), *io = malloc((size_t)(N * F) * 4), *act = malloc((size_t)(N * F) * 4);
    float *ref = malloc((size_t)(N * C) * 4), *out = malloc((size_t)(N * C) * 4);
    size_t bytes = linear_packed_ffn_scratch_bytes(prec, N, C, F);
    void *scratch = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    linear_packed *l1 = NULL, *l2 = NULL;
    CHECK_OK(linear_packed_create(&l1, prec, w1, b1, C, F));
    CHECK_OK(linear_packed_create(&l2, prec, w2, b2, F, C));
    for (int k = 0; l1 && l2 && k < 3; k++) {
        CHECK_OK(linear_packed_forward(l1, io, x, scratch, N));
        bias_act_forward(NULL, act, io, NULL, N, F, (act_kind)k);
        CHECK_OK(linear_packed_forward(l2, ref, act, scratch, N));
        memset(out, 0xff, (size_t)(N * C) * 4);
        CHECK_OK(linear_packed_ffn(l1, l2, out, io, x, scratch, N, (act_kind)k));
        CHECK_MSG(!memcmp(out, ref, (size_t)(N * C) * 4), "%s feed-forward N=%lld C=%lld F=%lld activation %d: "
                  "fused differs from the two layers", nerc_precision_name(prec), (long long)N, (long long)C,
                  (long long)F, k);
    }
    linear_packed_free(l1), linear_packed_free(l2);
    free(w1), free(b1), free(w2), free(b2), free(x), free(io), free(act), free(ref), free(out), free(scratch);
}

static void test_ffns(void) {
    const int64_t shapes[][3] = {{1, 16, 40}, {7, 48, 100}, {1, 64, 128}, {33, 128, 192}, {61, 64, 3072}};
    const nerc_precision precs[2] = {NERC_PRECISION_INT8, NERC_PRECISION_BF16};
    for (int p = 0; p < 2; p++) {
        if (nerc_precision_check(precs[p]) != NERC_OK) {
            SKIP("%s feed-forward pair: %s", nerc_precision_name(precs[p]), nerc_last_error());
            continue;
        }
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            test_ffn(precs[p], shapes[i][0], shapes[i][1], shapes[i][2]);
        printf("  %s feed-forward pair, 5 shapes x 3 activations: fused == the two layers\n",
               nerc_precision_name(precs[p]));
    }
}

int main(void) {
    rng_seed(&rng, 77);
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {7, 37}, {13, 130}, {65, 64}, {2, 769}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int k = 0; k < 3; k++)
            test_bias_act(shapes[i][0], shapes[i][1], (act_kind)k);
        test_residual_layernorm(shapes[i][0], shapes[i][1], 0.0f);
        test_residual_layernorm(shapes[i][0], shapes[i][1], 0.3f);
    }
    printf("  %zu shapes x (3 activations, dropout off/on): fused == unfused\n", sizeof shapes / sizeof shapes[0]);
    test_ffns();
    return test_report("test_fused");
}
