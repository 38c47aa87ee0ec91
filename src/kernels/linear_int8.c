/* int8 linear layers: per-channel weight quantization at creation, per-row
 * activation quantization per call, oneDNN u8 x s8 -> s32 matmul, fp32
 * dequantization (math in linear_int8.h). */
#include "kernels/linear_int8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/onednn.h"
#include "kernels/quant.h"

struct linear_int8 {
    onednn_matmul mm;   /* u8 x s8 -> s32, no bias (added when dequantizing) */
    int8_t *qw;         /* (OC, IC) */
    float *col_scale;   /* (OC) */
    int32_t *col_sum;   /* (OC) sum_k qw[o][k] */
    float *bias;        /* (OC) or NULL */
    int32_t qmax;       /* activation range: 255 with VNNI, 127 without (no int16 saturation) */
};

/* Symmetric per output channel: scale = max|w| / 127, q = round(w / scale). */
static void quantize_weights(linear_int8 *l, const float *w, int64_t IC, int64_t OC) {
    for (int64_t o = 0; o < OC; o++) {
        const float *r = w + o * IC;
        float amax = 0.0f;
        for (int64_t k = 0; k < IC; k++)
            amax = fabsf(r[k]) > amax ? fabsf(r[k]) : amax;
        float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int64_t k = 0; k < IC; k++) {
            float v = rintf(r[k] / s);
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            l->qw[o * IC + k] = (int8_t)v;
            sum += (int32_t)v;
        }
        l->col_scale[o] = s;
        l->col_sum[o] = sum;
    }
}

nerc_status linear_int8_create(linear_int8 **out, const float *weight, const float *bias, int64_t IC, int64_t OC) {
    *out = NULL;
    linear_int8 *l = calloc(1, sizeof *l);
    if (!l)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    l->qw = malloc((size_t)(IC * OC));
    l->col_scale = malloc((size_t)OC * sizeof *l->col_scale);
    l->col_sum = malloc((size_t)OC * sizeof *l->col_sum);
    if (bias && (l->bias = malloc((size_t)OC * sizeof *l->bias)))
        memcpy(l->bias, bias, (size_t)OC * sizeof *l->bias);
    nerc_status st = l->qw && l->col_scale && l->col_sum && (!bias || l->bias)
                         ? NERC_OK
                         : nerc_errorf(NERC_ERR_NOMEM, "out of memory for int8 weights (%lld x %lld)",
                                       (long long)OC, (long long)IC);
    if (st == NERC_OK) {
        l->qmax = cpu_int8_vnni() ? 255 : 127;
        quantize_weights(l, weight, IC, OC);
        st = onednn_matmul_init(&l->mm, dnnl_u8, dnnl_s8, dnnl_s32, l->qw, NULL, IC, OC);
    }
    if (st != NERC_OK) {
        linear_int8_free(l);
        return st;
    }
    *out = l;
    return NERC_OK;
}

void linear_int8_free(linear_int8 *l) {
    if (!l)
        return;
    onednn_matmul_release(&l->mm);
    free(l->qw);
    free(l->col_scale);
    free(l->col_sum);
    free(l->bias);
    free(l);
}

/* Scratch layout: row scales (N floats) | row zero points (N int32) | q (N, IC) u8, each 64-byte aligned. */
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t linear_int8_scratch_bytes(int64_t N, int64_t IC) {
    return 2 * align64((size_t)N * 4) + align64((size_t)(N * IC));
}

/* q, the row scales and zero points of inp in scratch, then the int32 sums into io. */
static nerc_status int8_product(const linear_int8 *l, float *io, const float *inp, void *scratch, int64_t N,
                                float **row_scale, int32_t **row_zero) {
    *row_scale = scratch;
    *row_zero = (int32_t *)((char *)scratch + align64((size_t)N * 4));
    uint8_t *q = (uint8_t *)scratch + 2 * align64((size_t)N * 4);
    quantize_rows_u8(q, *row_scale, *row_zero, inp, N, l->mm.IC, l->qmax);
    return onednn_matmul_run(&l->mm, io, q, N); /* int32 sums, written over io */
}

nerc_status linear_int8_forward(const linear_int8 *l, float *out, const float *inp, void *scratch, int64_t N) {
    if (N <= 0)
        return NERC_OK;
    float *row_scale;
    int32_t *row_zero;
    NERC_TRY(int8_product(l, out, inp, scratch, N, &row_scale, &row_zero));
    dequantize_rows(out, row_scale, row_zero, l->col_scale, l->col_sum, l->bias, N, l->mm.OC);
    return NERC_OK;
}

/* fc1's scratch (its row scales | zero points | q of N x IC), then fc2's
 * row scales | zero points | q of N x F from just past fc1's zero points: fc2's
 * operand over fc1's, whose product is done by then. */
size_t linear_int8_ffn_scratch_bytes(int64_t N, int64_t F) {
    return 2 * align64((size_t)N * 4) + linear_int8_scratch_bytes(N, F);
}

nerc_status linear_int8_ffn(const linear_int8 *fc1, const linear_int8 *fc2, float *out, float *io, const float *inp,
                            void *scratch, int64_t N, act_kind kind) {
    if (N <= 0)
        return NERC_OK;
    int64_t F = fc1->mm.OC;
    if (fc2->mm.IC != F || F > QUANT_ROW_MAX)
        return nerc_errorf(NERC_ERR_ARG, "int8 feed-forward: fc1 gives %lld columns, fc2 takes %lld (at most %d)",
                           (long long)F, (long long)fc2->mm.IC, QUANT_ROW_MAX);
    float *row_scale;
    int32_t *row_zero;
    NERC_TRY(int8_product(fc1, io, inp, scratch, N, &row_scale, &row_zero));
    float *scale2 = (float *)((char *)scratch + 2 * align64((size_t)N * 4));
    int32_t *zero2 = (int32_t *)((char *)scale2 + align64((size_t)N * 4));
    uint8_t *q2 = (uint8_t *)zero2 + align64((size_t)N * 4);
    dequantize_act_quantize_rows(q2, scale2, zero2, io, row_scale, row_zero, fc1->col_scale, fc1->col_sum, fc1->bias,
                                 N, F, kind, fc2->qmax);
    NERC_TRY(onednn_matmul_run(&fc2->mm, out, q2, N));
    dequantize_rows(out, scale2, zero2, fc2->col_scale, fc2->col_sum, fc2->bias, N, fc2->mm.OC);
    return NERC_OK;
}

void linear_int8_weights(const linear_int8 *l, const int8_t **qw, const float **scale, int32_t *qmax) {
    *qw = l->qw;
    *scale = l->col_scale;
    *qmax = l->qmax;
}
