/* AdamW update kernels (compiled once per ISA level, kernels/simd.h). */
#include <math.h>

#include "kernels/adamw.h"
#include "kernels/convert.h"
#include "kernels/simd.h"

/* One run of n elements; grad NULL: every gradient is 0 (not read). */
static inline void adamw_run(float *restrict p, float *restrict m, float *restrict v, const float *restrict grad,
                             const adamw_coeffs *k, int64_t n) {
    float one_minus_b1 = 1.0f - k->beta1, one_minus_b2 = 1.0f - k->beta2;
    for (int64_t i = 0; i < n; i++) {
        float g = grad ? grad[i] * k->grad_scale : 0.0f;
        p[i] *= k->decay_factor;
        m[i] = m[i] * k->beta1 + g * one_minus_b1;
        v[i] = v[i] * k->beta2 + g * g * one_minus_b2;
        float denom = sqrtf(v[i]) / k->bc2_sqrt + k->eps;
        p[i] += -k->step_size * (m[i] / denom);
    }
}

void SIMD_NAME(adamw_update)(float *p, float *m, float *v, const float *grad, int64_t n, const adamw_coeffs *k) {
    enum { BLOCK = 4096 };
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < (n + BLOCK - 1) / BLOCK; b++) {
        int64_t lo = b * BLOCK, len = n - lo < BLOCK ? n - lo : BLOCK;
        adamw_run(p + lo, m + lo, v + lo, grad + lo, k, len);
    }
}

void SIMD_NAME(adamw_update_bf16)(float *p, float *m, float *v, const float *grad, uint16_t *p16, int64_t n,
                                  const adamw_coeffs *k) {
    enum { BLOCK = 4096 };
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < (n + BLOCK - 1) / BLOCK; b++) {
        int64_t lo = b * BLOCK, len = n - lo < BLOCK ? n - lo : BLOCK;
        adamw_run(p + lo, m + lo, v + lo, grad + lo, k, len);
        for (int64_t i = lo; i < lo + len; i++) /* the block is still in L1 */
            p16[i] = bf16_bits(p[i]);
    }
}

void SIMD_NAME(adamw_update_amx)(float *p, float *m, float *v, const float *grad, const bf16_amx_copy *c, int64_t n,
                                 const adamw_coeffs *k) {
    int64_t band = BF16_AMX_ROWS * c->IC;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n / band; b++) {
        int64_t lo = b * band;
        adamw_run(p + lo, m + lo, v + lo, grad + lo, k, band);
        SIMD_NAME(bf16_pack_amx_rows)(c->fwd, c->bwd, p + lo, c->row0 + b * BF16_AMX_ROWS, c->IC, c->OC);
    }
}

static inline void decay_row(float *restrict p, float decay, int64_t n) {
    if (decay != 1.0f)
        for (int64_t i = 0; i < n; i++)
            p[i] *= decay;
}

void SIMD_NAME(adamw_replay_rows)(float *p, float *m, float *v, const float *grad, const uint8_t *live, int64_t width,
                                  const adamw_replay *rp) {
    int64_t last_zero = grad ? rp->to_step - 1 : rp->to_step; /* the last step with zero gradients */
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < rp->n; i++) {
        int64_t r = rp->rows[i], at = r * width;
        int is_live = !live || live[r];
        for (int64_t step = rp->row_step[r] + 1; step <= last_zero; step++) {
            const adamw_coeffs *k = &rp->log[step - rp->log_first - 1];
            if (is_live)
                adamw_run(p + at, m + at, v + at, NULL, k, width);
            else
                decay_row(p + at, k->decay_factor, width);
        }
        if (grad)
            adamw_run(p + at, m + at, v + at, grad + at, &rp->log[rp->to_step - rp->log_first - 1], width);
        rp->row_step[r] = rp->to_step;
    }
}

void SIMD_NAME(adamw_update_rows)(float *p, float *m, float *v, const float *grad, const uint8_t *used,
                                  const uint8_t *live, int64_t rows, int64_t width, const adamw_coeffs *k) {
    float decay = k->decay_factor;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t at = r * width;
        if (used[r])
            adamw_run(p + at, m + at, v + at, grad + at, k, width);
        else if (!live || live[r])
            adamw_run(p + at, m + at, v + at, NULL, k, width);
        else
            decay_row(p + at, decay, width);
    }
}

enum { SQ_LANES = 32 };

/* The 32 partial sums, then the tail, in order (both kernels below). */
static inline double sum_squares_finish(const double *acc, const float *x, int64_t i, int64_t n) {
    double s = 0.0;
    for (int k = 0; k < SQ_LANES; k++)
        s += acc[k];
    for (; i < n; i++)
        s = __builtin_fma((double)x[i], (double)x[i], s);
    return s;
}

double SIMD_NAME(sum_squares_f32)(const float *x, int64_t n) {
    double acc[SQ_LANES] = {0};
    int64_t i = 0;
    for (; i + SQ_LANES <= n; i += SQ_LANES)
        for (int k = 0; k < SQ_LANES; k++)
            acc[k] = __builtin_fma((double)x[i + k], (double)x[i + k], acc[k]);
    return sum_squares_finish(acc, x, i, n);
}

void SIMD_NAME(sum_squares_f32_streams)(const float *x, int64_t stride, int64_t n, int streams, double *out) {
    double acc[SUM_SQUARES_STREAMS][SQ_LANES] = {{0}};
    if (streams > SUM_SQUARES_STREAMS)
        streams = SUM_SQUARES_STREAMS;
    int64_t i = 0;
    for (; i + SQ_LANES <= n; i += SQ_LANES)
        for (int j = 0; j < streams; j++) {
            const float *xj = x + j * stride + i;
            for (int k = 0; k < SQ_LANES; k++)
                acc[j][k] = __builtin_fma((double)xj[k], (double)xj[k], acc[j][k]);
        }
    for (int j = 0; j < streams; j++)
        out[j] = sum_squares_finish(acc[j], x + j * stride, i, n);
}
