/* Per-element and per-row math shared by the plain ops (ops.c) and their
 * fused forms (fused.c), so that both compute the same bits: the activations
 * and their slopes, a dropout element's scale, one LayerNorm row. */
#ifndef NERC_KERNELS_ROWS_H
#define NERC_KERNELS_ROWS_H

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/convert.h"
#include "kernels/vmath.h"

/* Column sums over the rows: each task takes a block of columns and walks
 * every row over it, summing in double in row order, so the bits do not
 * depend on the block width or the threads. Blocks as wide as the threads
 * allow (up to COL_BLOCK_MAX, and as many per thread: FFN width 3072 on 2
 * threads is 4 blocks of 768, not 3 of 1024 of which one thread gets two):
 * each row is read as one contiguous run, not one cache line per column. */
#define COL_BLOCK_MAX 1024

static inline int64_t col_block(int64_t C) {
    int64_t t = omp_get_max_threads(), per_thread = (C + t - 1) / t;
    int64_t k = (per_thread + COL_BLOCK_MAX - 1) / COL_BLOCK_MAX; /* blocks per thread: a multiple of t in all */
    int64_t w = (per_thread + k - 1) / k;
    w = (w + 15) / 16 * 16;
    return w < 16 ? 16 : w > COL_BLOCK_MAX ? COL_BLOCK_MAX : w;
}

/* The activations of the FFN (kernels/fused.h names them for the model). */
typedef enum { ACT_KIND_GELU = 0, ACT_KIND_GELU_TANH, ACT_KIND_RELU } act_kind;

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_TANH_A 0.044715f

/* tanh(u) = 1 - 2 / (exp(2u) + 1): exact limits at +-inf through vm_expf. */
static inline float tanh_v(float u) { return 1.0f - 2.0f / (vm_expf(2.0f * u) + 1.0f); }

/* Exact GELU 0.5 x (1 + erf(x / sqrt 2)). */
static inline float gelu_value(float x) { return 0.5f * x * (1.0f + vm_erff(x * INV_SQRT2)); }
/* d/dx: Phi(x) + x phi(x). */
static inline float gelu_slope(float x) {
    float cdf = 0.5f * (1.0f + vm_erff(x * INV_SQRT2));
    float pdf = INV_SQRT_2PI * vm_expf(-0.5f * x * x);
    return cdf + x * pdf;
}
/* GELU with the tanh approximation (gelu_new). */
static inline float gelu_tanh_value(float x) {
    return 0.5f * x * (1.0f + tanh_v(SQRT_2_OVER_PI * (x + GELU_TANH_A * x * x * x)));
}
static inline float gelu_tanh_slope(float x) {
    if (x > 10.0f || x < -10.0f) /* tanh is +-1 in float: slope 1 or 0 (and no inf * 0) */
        return x > 0.0f ? 1.0f : 0.0f;
    float t = tanh_v(SQRT_2_OVER_PI * (x + GELU_TANH_A * x * x * x));
    float dt = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_A * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dt;
}

/* An inner loop once per activation kind, chosen outside it: a per-element
 * switch would keep the compiler from vectorising. */
#define FOR_EACH_KIND(kind, LOOP)                                                                                      \
    switch (kind) {                                                                                                    \
    case ACT_KIND_GELU: LOOP(ACT_KIND_GELU); break;                                                                    \
    case ACT_KIND_GELU_TANH: LOOP(ACT_KIND_GELU_TANH); break;                                                          \
    case ACT_KIND_RELU: LOOP(ACT_KIND_RELU); break;                                                                    \
    }

static inline float act_value(act_kind k, float x) {
    return k == ACT_KIND_RELU ? (x > 0.0f ? x : 0.0f) : k == ACT_KIND_GELU_TANH ? gelu_tanh_value(x) : gelu_value(x);
}
static inline float act_slope(act_kind k, float x) {
    return k == ACT_KIND_RELU ? (x > 0.0f ? 1.0f : 0.0f) : k == ACT_KIND_GELU_TANH ? gelu_tanh_slope(x) : gelu_slope(x);
}

/* d[0, n) = bf16(f(x[0, n))) (f32_to_bf16's rounding): a row of bf16
 * inference's activations, written as the next product's operand. */
static inline void act_row_bf16(uint16_t *d, const float *x, int64_t n, act_kind kind) {
#define ACT_ROW_BF16(K)                                                                                                \
    for (int64_t i = 0; i < n; i++)                                                                                    \
        d[i] = bf16_bits(act_value(K, x[i]));
    FOR_EACH_KIND(kind, ACT_ROW_BF16)
#undef ACT_ROW_BF16
}

/* A dropout stream's mask: element i is kept when rng_hash_uniform(seed,
 * stream, i) >= p, with the scale 1 / (1 - p). Built once per loop
 * (dropout_mask_of): the comparison is on integers (u = d 2^-24 exactly, so
 * u >= p <=> the 24-bit draw d >= ceil(p 2^24)) and the scale is selected
 * with a bit mask, not a branch on a random bit (the AVX2 loops, scalar for
 * the 64-bit hash, ran 2.2x slower mispredicting it). The same scales as the
 * comparison in float (tests/test_dispatch.c). */
typedef struct {
    uint64_t key, threshold;
    uint32_t keep_bits; /* the bits of 1 / (1 - p) */
} dropout_mask;

static inline dropout_mask dropout_mask_of(float p, uint64_t seed, uint64_t stream) {
    float t = ceilf(p * 0x1p24f);
    float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    dropout_mask dm = {rng_hash_key(seed, stream),
                       t > 0.0f ? (t < 0x1p25f ? (uint64_t)t : (uint64_t)1 << 25) : 0, 0}; /* NaN p: keep 0 */
    memcpy(&dm.keep_bits, &keep, sizeof keep);
    return dm;
}

/* keep / (1 - p) or +0 for element i (rng_hash_u24's draw). */
static inline float dropout_mask_scale(const dropout_mask *dm, uint64_t i) {
    uint64_t d = rng_hash_u24_keyed(dm->key, i);
    uint32_t bits = dm->keep_bits & (uint32_t)-(int32_t)(d >= dm->threshold);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return scale;
}

/* sum_c f(c) in double over 32 interleaved partial sums: 4 AVX-512 or 8 AVX2
 * registers, independent add chains (one chain of 8 was bound by the add's
 * latency); the order is fixed, so are the bits, at either ISA level. */
#define ROW_SUM(out, C, expr)                                                                                          \
    do {                                                                                                               \
        double acc_[32] = {0};                                                                                         \
        int64_t c = 0;                                                                                                 \
        for (; c + 32 <= (C); c += 32)                                                                                 \
            for (int k_ = 0; k_ < 32; k_++) {                                                                          \
                int64_t i_ = c + k_;                                                                                   \
                acc_[k_] += (expr);                                                                                    \
            }                                                                                                          \
        double s_ = 0.0;                                                                                               \
        for (int k_ = 0; k_ < 32; k_++)                                                                                \
            s_ += acc_[k_];                                                                                            \
        for (int64_t i_ = c; i_ < (C); i_++)                                                                           \
            s_ += (expr);                                                                                              \
        (out) = s_;                                                                                                    \
    } while (0)

/* y = (x - mean) * rstd * w + b over one row of C, mean and variance in double. */
static inline void layernorm_row(float *restrict y, float *mean, float *rstd, const float *restrict x,
                                 const float *restrict w, const float *restrict b, int64_t C, float eps) {
    double m, v;
    ROW_SUM(m, C, (double)x[i_]);
    m /= (double)C;
    ROW_SUM(v, C, ((double)x[i_] - m) * ((double)x[i_] - m));
    v /= (double)C;
    float mf = (float)m, rs = (float)(1.0 / sqrt(v + (double)eps));
    for (int64_t c = 0; c < C; c++)
        y[c] = (x[c] - mf) * rs * w[c] + b[c];
    *mean = mf;
    *rstd = rs;
}

/* dx (=, or += when accumulate) of one LayerNorm row given dy:
 * xhat = (x - mean) rstd; g = dy w; dx = rstd (g - mean(g) - xhat mean(g xhat)). */
static inline void layernorm_row_backward(float *restrict dx, const float *restrict dy, const float *restrict x,
                                          const float *restrict w, float m, float rs, int64_t C, int accumulate) {
    double sum_g, sum_gx;
    ROW_SUM(sum_g, C, (double)dy[i_] * w[i_]);
    ROW_SUM(sum_gx, C, (double)dy[i_] * w[i_] * ((x[i_] - m) * rs));
    float mg = (float)(sum_g / (double)C), mgx = (float)(sum_gx / (double)C);
    for (int64_t c = 0; c < C; c++) {
        float xhat = (x[c] - m) * rs;
        float d = rs * (dy[c] * w[c] - mg - xhat * mgx);
        dx[c] = accumulate ? dx[c] + d : d;
    }
}

#endif
