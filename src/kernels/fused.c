/* Fused elementwise passes (fused.h), compiled once per ISA level
 * (kernels/simd.h). Each row is read once and written once. */
#include "kernels/fused.h"

#include "kernels/simd.h"

void SIMD_NAME(bias_act_forward)(float *pre, float *act, const float *y, const float *bias, int64_t N, int64_t F,
                                 act_kind kind) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *yr = y + n * F;
        float *ar = act + n * F, *pr = pre ? pre + n * F : NULL;
        for (int64_t f = 0; f < F; f++) {
            float x = bias ? yr[f] + bias[f] : yr[f];
            if (pr)
                pr[f] = x;
            ar[f] = act_value(kind, x);
        }
    }
}

void SIMD_NAME(bias_dropout_residual_layernorm_forward)(float *res, float *out, float *mean, float *rstd,
                                                        const float *y, const float *bias, const float *resid,
                                                        const float *weight, const float *ln_bias, int64_t N,
                                                        int64_t C, float eps, float p, uint64_t seed,
                                                        uint64_t stream) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *yr = y + n * C, *xr = resid + n * C;
        float *r = res + n * C;
        for (int64_t c = 0; c < C; c++) {
            float v = bias ? yr[c] + bias[c] : yr[c];
            if (p > 0.0f)
                v *= dropout_scale(p, seed, stream, (uint64_t)(n * C + c));
            r[c] = v + xr[c];
        }
        layernorm_row(out + n * C, &mean[n], &rstd[n], r, weight, ln_bias, C, eps);
    }
}

/* dweight, dbias of a LayerNorm: column sums over the rows (double). */
static void layernorm_param_grads(float *dweight, float *dbias, const float *dout, const float *res, const float *mean,
                                  const float *rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double sw = 0.0, sb = 0.0;
        for (int64_t n = 0; n < N; n++) {
            float xhat = (res[n * C + c] - mean[n]) * rstd[n];
            sw += (double)dout[n * C + c] * xhat;
            sb += dout[n * C + c];
        }
        dweight[c] += (float)sw;
        dbias[c] += (float)sb;
    }
}

void SIMD_NAME(layernorm_dropout_backward)(float *dy, float *dresid, float *dweight, float *dln_bias,
                                           const float *dout, const float *res, const float *weight, const float *mean,
                                           const float *rstd, int64_t N, int64_t C, float p, uint64_t seed,
                                           uint64_t stream) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *g = dresid + n * C;
        layernorm_row_backward(g, dout + n * C, res + n * C, weight, mean[n], rstd[n], C, 0);
        if (!dy)
            continue;
        float *d = dy + n * C;
        for (int64_t c = 0; c < C; c++)
            d[c] = p > 0.0f ? g[c] * dropout_scale(p, seed, stream, (uint64_t)(n * C + c)) : g[c];
    }
    layernorm_param_grads(dweight, dln_bias, dout, res, mean, rstd, N, C);
}

/* Columns per task: each task walks every row over its 64 columns (256
 * contiguous bytes a row), so dpre and the bias sums come out of one pass, the
 * sums in a fixed order (the same bits at any thread count) and in double. */
#define COL_BLOCK 64

void SIMD_NAME(act_bias_backward)(float *dpre, float *dbias, const float *dact, const float *pre, int64_t N, int64_t F,
                                  act_kind kind) {
    int64_t blocks = (F + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t bl = 0; bl < blocks; bl++) {
        int64_t f0 = bl * COL_BLOCK, w = F - f0 < COL_BLOCK ? F - f0 : COL_BLOCK;
        double acc[COL_BLOCK] = {0};
        for (int64_t n = 0; n < N; n++) {
            const float *da = dact + n * F + f0, *x = pre + n * F + f0;
            float *d = dpre + n * F + f0;
            for (int64_t f = 0; f < w; f++) {
                d[f] = da[f] * act_slope(kind, x[f]);
                acc[f] += d[f];
            }
        }
        if (dbias)
            for (int64_t f = 0; f < w; f++)
                dbias[f0 + f] += (float)acc[f];
    }
}
