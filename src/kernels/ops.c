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
                                const float *weight, int64_t N, int64_t IC, int64_t OC) {
    if (dinp)
        gemm_f32(0, 0, N, IC, OC, 1.0f, dout, OC, weight, IC, 1.0f, dinp, IC);
    if (dweight)
        gemm_f32(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
    if (dbias) {
#pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < OC; o++) {
            double s = 0.0;
            for (int64_t n = 0; n < N; n++)
                s += dout[n * OC + o];
            dbias[o] += (float)s;
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
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] *= dropout_scale(p, seed, stream, (uint64_t)i);
}

void SIMD_NAME(dropout_backward)(float *dx, int64_t n, float p, uint64_t seed, uint64_t stream) {
    SIMD_NAME(dropout_forward)(dx, n, p, seed, stream); /* the same mask and scale */
}

/* 16 independent partial sums: a vector register's worth, so the compiler
 * vectorises the reduction (a single running sum forbids reordering). */
static inline float dot(const float *a, const float *b, int64_t n) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            acc[k] += a[i + k] * b[i + k];
    float s = 0.0f;
    for (int k = 0; k < 16; k++)
        s += acc[k];
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline void axpy(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* Two axpys over distinct rows in one loop. */
static inline void axpy2(float *restrict y1, float a1, const float *restrict x1, float *restrict y2, float a2,
                         const float *restrict x2, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        y1[i] += a1 * x1[i];
        y2[i] += a2 * x2[i];
    }
}

/* The dropout key of sequence b's probabilities: its own seed and indices
 * from 0 when the layout has per-sequence seeds, else the call's seed and b's
 * offset in the batch. */
static inline uint64_t att_drop_seed(const att_layout *lay, int64_t b, uint64_t seed) {
    return lay->drop_seeds ? lay->drop_seeds[b] : seed;
}
static inline int64_t att_drop_base(const att_layout *lay, int64_t b) {
    return lay->drop_seeds ? 0 : lay->att_offsets[b];
}

/* One (sequence, head) of the forward pass. */
static void attention_head_forward(float *ctx, float *att, const float *qkv, int64_t r0, int64_t Tq, int64_t Tk,
                                   int64_t C, int64_t D, int64_t h, float drop_p, uint64_t seed, uint64_t stream,
                                   int64_t att_base) {
    float scale = 1.0f / sqrtf((float)D);
    for (int64_t i = 0; i < Tq; i++) {
        const float *q = qkv + (r0 + i) * 3 * C + h * D;
        float *p = att + (h * Tq + i) * Tk;
        float mx = -INFINITY;
        for (int64_t j = 0; j < Tk; j++) {
            p[j] = dot(q, qkv + (r0 + j) * 3 * C + C + h * D, D) * scale;
            mx = p[j] > mx ? p[j] : mx;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < Tk; j++) {
            p[j] = vm_expf(p[j] - mx);
            sum += p[j];
        }
        float inv = 1.0f / sum;
        float *o = ctx + (r0 + i) * C + h * D;
        memset(o, 0, (size_t)D * sizeof *o);
        for (int64_t j = 0; j < Tk; j++) {
            p[j] *= inv;
            float pd = p[j];
            if (drop_p > 0.0f)
                pd *= dropout_scale(drop_p, seed, stream, (uint64_t)(att_base + (h * Tq + i) * Tk + j));
            axpy(o, pd, qkv + (r0 + j) * 3 * C + 2 * C + h * D, D);
        }
    }
}

void SIMD_NAME(attention_forward)(float *ctx, float *att, const float *qkv, const att_layout *lay, int64_t C, int64_t H,
                                  float drop_p, uint64_t seed, uint64_t stream) {
    int64_t D = C / H, pairs = (int64_t)lay->n_seqs * H;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < pairs; bh++) {
        int64_t b = bh / H, h = bh % H;
        int64_t r0 = lay->seq_offsets[b], Tq = lay->seq_offsets[b + 1] - r0, Tk = lay->seq_keys[b];
        attention_head_forward(ctx, att + lay->att_offsets[b], qkv, r0, Tq, Tk, C, D, h, drop_p,
                               att_drop_seed(lay, b, seed), stream, att_drop_base(lay, b));
    }
}

/* One (sequence, head) of the backward pass; dp is scratch (H,Tq,Tk) of this sequence.
 * Two sweeps so that every axpy of an inner loop lands on one row (it stays in
 * L1): by query row i for dq_i, then by key row j for dk_j and dv_j. Each sum
 * still runs over its index in ascending order, as one sweep would. */
static void attention_head_backward(float *dqkv, float *dp, const float *dctx, const float *qkv, const float *att,
                                    int64_t r0, int64_t Tq, int64_t Tk, int64_t C, int64_t D, int64_t h, float drop_p,
                                    uint64_t seed, uint64_t stream, int64_t att_base) {
    float scale = 1.0f / sqrtf((float)D);
#define KEEP(i, j)                                                                                                     \
    (drop_p > 0.0f ? dropout_scale(drop_p, seed, stream, (uint64_t)(att_base + (h * Tq + (i)) * Tk + (j))) : 1.0f)
    for (int64_t i = 0; i < Tq; i++) {
        const float *p = att + (h * Tq + i) * Tk, *dc = dctx + (r0 + i) * C + h * D;
        float *d = dp + (h * Tq + i) * Tk;
        /* ctx_i = sum_j pd_ij v_j  =>  dpd_ij = dctx_i . v_j */
        float s = 0.0f;
        for (int64_t j = 0; j < Tk; j++) {
            d[j] = dot(dc, qkv + (r0 + j) * 3 * C + 2 * C + h * D, D) * KEEP(i, j);
            s += p[j] * d[j];
        }
        /* p = softmax(s_i)  =>  ds_ij = p_ij (dp_ij - sum_k p_ik dp_ik); s_ij = scale q_i . k_j */
        float *dq = dqkv + (r0 + i) * 3 * C + h * D;
        for (int64_t j = 0; j < Tk; j++) {
            d[j] = p[j] * (d[j] - s) * scale;
            axpy(dq, d[j], qkv + (r0 + j) * 3 * C + C + h * D, D);
        }
    }
    /* dv_j += sum_i pd_ij dctx_i;  dk_j += sum_i ds_ij q_i */
    for (int64_t j = 0; j < Tk; j++) {
        float *dk = dqkv + (r0 + j) * 3 * C + C + h * D, *dv = dk + C;
        for (int64_t i = 0; i < Tq; i++) {
            float pd = att[(h * Tq + i) * Tk + j] * KEEP(i, j);
            axpy2(dv, pd, dctx + (r0 + i) * C + h * D, dk, dp[(h * Tq + i) * Tk + j], qkv + (r0 + i) * 3 * C + h * D,
                  D);
        }
    }
#undef KEEP
}

void SIMD_NAME(attention_backward)(float *dqkv, float *datt, const float *dctx, const float *qkv, const float *att,
                                   const att_layout *lay, int64_t C, int64_t H, float drop_p, uint64_t seed,
                                   uint64_t stream) {
    int64_t D = C / H;
    /* Different heads write disjoint columns of dqkv; a sequence's rows belong to it alone. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < (int64_t)lay->n_seqs * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        int64_t r0 = lay->seq_offsets[b], Tq = lay->seq_offsets[b + 1] - r0, Tk = lay->seq_keys[b];
        attention_head_backward(dqkv, datt + lay->att_offsets[b], dctx, qkv, att + lay->att_offsets[b], r0, Tq, Tk, C,
                                D, h, drop_p, att_drop_seed(lay, b, seed), stream, att_drop_base(lay, b));
    }
}

void SIMD_NAME(attention_forward_ref)(float *ctx, float *att, const float *qkv, const att_layout *lay, int64_t C,
                                      int64_t H) {
    int64_t D = C / H;
    for (int32_t b = 0; b < lay->n_seqs; b++) {
        int64_t r0 = lay->seq_offsets[b], Tq = lay->seq_offsets[b + 1] - r0, Tk = lay->seq_keys[b];
        double *sc = malloc((size_t)Tk * sizeof *sc);
        if (!sc)
            return;
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tq; i++) {
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < Tk; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < D; d++)
                        s += (double)qkv[(r0 + i) * 3 * C + h * D + d] * qkv[(r0 + j) * 3 * C + C + h * D + d];
                    sc[j] = s / sqrt((double)D);
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int64_t j = 0; j < Tk; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int64_t d = 0; d < D; d++) {
                    double o = 0.0;
                    for (int64_t j = 0; j < Tk; j++)
                        o += sc[j] / sum * qkv[(r0 + j) * 3 * C + 2 * C + h * D + d];
                    ctx[(r0 + i) * C + h * D + d] = (float)o;
                }
                for (int64_t j = 0; j < Tk; j++)
                    att[lay->att_offsets[b] + (h * Tq + i) * Tk + j] = (float)(sc[j] / sum);
            }
        free(sc);
    }
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
