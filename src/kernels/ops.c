/* Forward/backward kernels of the encoder (see ops.h for the math). OpenMP
 * splits rows or (sequence, head) pairs; every output element is written by one
 * thread in a fixed order, so results do not depend on scheduling. Compiled
 * once per ISA level (kernels/simd.h): each kernel is SIMD_NAME(name). */
#include "kernels/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/gemm.h"
#include "kernels/rows.h"
#include "kernels/vmath.h"

void SIMD_NAME(linear_forward)(float *out, const float *inp, const float *weight, const float *bias, int64_t N,
                               int64_t IC, int64_t OC) {
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++)
            memcpy(out + n * OC, bias, (size_t)OC * sizeof *out);
    }
    gemm_f32(0, 1, N, OC, IC, 1.0f, inp, IC, weight, IC, bias ? 1.0f : 0.0f, out, OC);
}

void SIMD_NAME(linear_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                const float *weight, int64_t N, int64_t IC, int64_t OC, float dinp_beta,
                                float dweight_beta) {
    if (dinp)
        gemm_f32(0, 0, N, IC, OC, 1.0f, dout, OC, weight, IC, dinp_beta, dinp, IC);
    if (dweight)
        gemm_f32(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, dweight_beta, dweight, IC);
    if (dbias) { /* column sums (rows.h): rows walked in order over a block of columns */
        int64_t width = col_block(OC), blocks = (OC + width - 1) / width;
#pragma omp parallel for schedule(static)
        for (int64_t bl = 0; bl < blocks; bl++) {
            int64_t o0 = bl * width, w = OC - o0 < width ? OC - o0 : width;
            double acc[COL_BLOCK_MAX] = {0};
            for (int64_t n = 0; n < N; n++) {
                const float *d = dout + n * OC + o0;
                for (int64_t o = 0; o < w; o++)
                    acc[o] += d[o];
            }
            for (int64_t o = 0; o < w; o++)
                dbias[o0 + o] += (float)acc[o];
        }
    }
}

void SIMD_NAME(layernorm_forward)(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                  const float *bias, int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        layernorm_row(out + n * C, &mean[n], &rstd[n], inp + n * C, weight, bias, C, eps);
}

void SIMD_NAME(layernorm_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                   const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        layernorm_row_backward(dinp + n * C, dout + n * C, inp + n * C, weight, mean[n], rstd[n], C, 1);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double sw = 0.0, sb = 0.0;
        for (int64_t n = 0; n < N; n++) {
            float xhat = (inp[n * C + c] - mean[n]) * rstd[n];
            sw += (double)dout[n * C + c] * xhat;
            sb += dout[n * C + c];
        }
        dweight[c] += (float)sw;
        dbias[c] += (float)sb;
    }
}

void SIMD_NAME(gelu_forward)(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = gelu_value(inp[i]);
}

void SIMD_NAME(gelu_backward)(float *dinp, const float *dout, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dinp[i] += dout[i] * gelu_slope(inp[i]);
}

void SIMD_NAME(gelu_tanh_forward)(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = gelu_tanh_value(inp[i]);
}

void SIMD_NAME(gelu_tanh_backward)(float *dinp, const float *dout, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dinp[i] += dout[i] * gelu_tanh_slope(inp[i]);
}

void SIMD_NAME(relu_forward)(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void SIMD_NAME(relu_backward)(float *dinp, const float *dout, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void SIMD_NAME(embedding_forward)(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                                  const float *wpe, const float *wtt, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *w = wte + (int64_t)ids[n] * C, *p = wpe + (int64_t)pos[n] * C;
        float *y = out + n * C;
        for (int64_t c = 0; c < C; c++)
            y[c] = w[c] + p[c];
        if (wtt)
            for (int64_t c = 0; c < C; c++)
                y[c] += wtt[c];
    }
}

static void add_row(float *dst, const float *src, int64_t C) {
    for (int64_t c = 0; c < C; c++)
        dst[c] += src[c];
}

void SIMD_NAME(embedding_backward)(float *dwte, float *dwpe, float *dwtt, const float *dout, const int32_t *ids,
                                   const int32_t *pos, int64_t N, int64_t C, int32_t pad_id, int32_t pos_pad_id) {
    /* serial over rows: two rows may share an id; N*C is small */
    for (int64_t n = 0; n < N; n++) {
        const float *dy = dout + n * C;
        if (ids[n] != pad_id)
            add_row(dwte + (int64_t)ids[n] * C, dy, C);
        if (dwpe && pos[n] != pos_pad_id)
            add_row(dwpe + (int64_t)pos[n] * C, dy, C);
        if (dwtt)
            add_row(dwtt, dy, C);
    }
}

void SIMD_NAME(dropout_forward)(float *x, int64_t n, float p, uint64_t seed, uint64_t stream) {
    if (p <= 0.0f)
        return;
    const dropout_mask dm = dropout_mask_of(p, seed, stream);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] *= dropout_mask_scale(&dm, (uint64_t)i);
}

void SIMD_NAME(dropout_backward)(float *dx, int64_t n, float p, uint64_t seed, uint64_t stream) {
    SIMD_NAME(dropout_forward)(dx, n, p, seed, stream); /* the same mask and scale */
}

double SIMD_NAME(crossentropy_forward_backward)(float *dlogits, const float *logits, const int32_t *labels, int64_t N,
                                                int64_t K, double norm, int32_t ignore) {
    double total = 0.0;
    for (int64_t n = 0; n < N; n++) {
        float *dl = dlogits + n * K;
        const float *l = logits + n * K;
        if (labels[n] == ignore) {
            memset(dl, 0, (size_t)K * sizeof *dl);
            continue;
        }
        double mx = l[0], sum = 0.0;
        for (int64_t k = 1; k < K; k++)
            mx = l[k] > mx ? l[k] : mx;
        for (int64_t k = 0; k < K; k++)
            sum += exp((double)l[k] - mx);
        double lse = mx + log(sum);
        total += lse - l[labels[n]];
        for (int64_t k = 0; k < K; k++)
            dl[k] = (float)((exp((double)l[k] - lse) - (k == labels[n] ? 1.0 : 0.0)) / norm);
    }
    return total / norm;
}
