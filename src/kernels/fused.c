/* Fused elementwise passes (fused.h), compiled once per ISA level
 * (kernels/simd.h). Each row is read once and written once, but for the
 * column sums of the parameter gradients, a second pass over the rows. */
#include "kernels/fused.h"

#include <omp.h>

#include "kernels/simd.h"

void SIMD_NAME(bias_act_forward)(float *slope, float *act, const float *y, const float *bias, int64_t N, int64_t F,
                                 act_kind kind) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *yr = y + n * F;
        float *ar = act + n * F, *sr = slope ? slope + n * F : NULL;
        /* Which pointers are NULL is decided outside the loops: a `bias ? ... : ...`
         * inside became a masked load from address 0 (+ f), which AMD cores
         * serve through a slow assist even with every lane masked off
         * (int8 / bf16 inference, whose packed layers add the bias: 483 -> 299
         * sentences/s when the compiler chose it). The value and the slope
         * share their erf / tanh (one inlined evaluation). */
#define BIAS_ACT_LOOP(K, X, KEEP)                                                                                      \
    for (int64_t f = 0; f < F; f++) {                                                                                  \
        float x = (X);                                                                                                 \
        ar[f] = act_value(K, x);                                                                                       \
        KEEP;                                                                                                          \
    }
#define BIAS_ACT(K)                                                                                                    \
    if (bias && sr)                                                                                                    \
        BIAS_ACT_LOOP(K, yr[f] + bias[f], sr[f] = act_slope(K, x))                                                     \
    else if (bias)                                                                                                     \
        BIAS_ACT_LOOP(K, yr[f] + bias[f], (void)0)                                                                     \
    else if (sr)                                                                                                       \
        BIAS_ACT_LOOP(K, yr[f], sr[f] = act_slope(K, x))                                                               \
    else                                                                                                               \
        BIAS_ACT_LOOP(K, yr[f], (void)0)
        FOR_EACH_KIND(kind, BIAS_ACT)
#undef BIAS_ACT
#undef BIAS_ACT_LOOP
    }
}

void SIMD_NAME(act_to_bf16)(uint16_t *dst, const float *y, int64_t N, int64_t F, act_kind kind) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        act_row_bf16(dst + n * F, y + n * F, F, kind);
}

void SIMD_NAME(bias_dropout_residual_layernorm_forward)(float *res, float *out, float *mean, float *rstd,
                                                        const float *y, const float *bias, const float *resid,
                                                        const float *weight, const float *ln_bias, int64_t N,
                                                        int64_t C, float eps, float p, uint64_t seed,
                                                        uint64_t stream) {
    const dropout_mask dm = dropout_mask_of(p, seed, stream);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *yr = y + n * C, *xr = resid + n * C;
        float *r = res + n * C;
        for (int64_t c = 0; c < C; c++) {
            float v = bias ? yr[c] + bias[c] : yr[c];
            if (p > 0.0f)
                v *= dropout_mask_scale(&dm, (uint64_t)(n * C + c));
            r[c] = v + xr[c];
        }
        layernorm_row(out + n * C, &mean[n], &rstd[n], r, weight, ln_bias, C, eps);
    }
}

/* dweight, dbias of a LayerNorm: column sums over the rows. */
static void layernorm_param_grads(float *dweight, float *dbias, const float *dout, const float *res, const float *mean,
                                  const float *rstd, int64_t N, int64_t C) {
    int64_t width = col_block(C), blocks = (C + width - 1) / width;
#pragma omp parallel for schedule(static)
    for (int64_t bl = 0; bl < blocks; bl++) {
        int64_t c0 = bl * width, w = C - c0 < width ? C - c0 : width;
        double sw[COL_BLOCK_MAX] = {0}, sb[COL_BLOCK_MAX] = {0};
        for (int64_t n = 0; n < N; n++) {
            const float *d = dout + n * C + c0, *x = res + n * C + c0;
            float m = mean[n], rs = rstd[n];
            for (int64_t c = 0; c < w; c++) {
                sw[c] += (double)d[c] * ((x[c] - m) * rs);
                sb[c] += d[c];
            }
        }
        for (int64_t c = 0; c < w; c++) {
            dweight[c0 + c] += (float)sw[c];
            dbias[c0 + c] += (float)sb[c];
        }
    }
}

void SIMD_NAME(layernorm_dropout_backward)(float *dy, float *dresid, float *dweight, float *dln_bias,
                                           const float *dout, const float *res, const float *weight, const float *mean,
                                           const float *rstd, int64_t N, int64_t C, float p, uint64_t seed,
                                           uint64_t stream) {
    const dropout_mask dm = dropout_mask_of(p, seed, stream);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *g = dresid + n * C;
        layernorm_row_backward(g, dout + n * C, res + n * C, weight, mean[n], rstd[n], C, 0);
        if (!dy)
            continue;
        float *d = dy + n * C;
        for (int64_t c = 0; c < C; c++)
            d[c] = p > 0.0f ? g[c] * dropout_mask_scale(&dm, (uint64_t)(n * C + c)) : g[c];
    }
    layernorm_param_grads(dweight, dln_bias, dout, res, mean, rstd, N, C);
}

void SIMD_NAME(act_bias_backward)(float *dpre, float *dbias, const float *dact, const float *slope, int64_t N,
                                  int64_t F) {
    /* the product row by row (streaming), then the bias gradient as column sums of dpre */
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *da = dact + n * F, *sl = slope + n * F;
        float *d = dpre + n * F;
        for (int64_t f = 0; f < F; f++)
            d[f] = da[f] * sl[f];
    }
    if (dbias)
        SIMD_NAME(linear_backward)(NULL, NULL, dbias, dpre, NULL, NULL, N, 1, F, 1.0f, 1.0f);
}
