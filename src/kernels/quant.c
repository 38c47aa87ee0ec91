/* Activation quantization and GEMM dequantization for int8 inference
 * (compiled once per ISA level, kernels/simd.h; math in quant.h). */
#include <string.h>

#include "kernels/quant.h"
#include "kernels/simd.h"

/* The running min / max in one vector register per bound: 16 lanes with
 * AVX-512, 8 with AVX2 (GCC turns a vector wider than the ISA's registers
 * into scalar code through the stack). The bounds do not depend on the lanes. */
#ifdef __AVX512F__
#define MINMAX_LANES 16
#else
#define MINMAX_LANES 8
#endif
typedef float vlf __attribute__((vector_size(MINMAX_LANES * sizeof(float))));
typedef int32_t vli __attribute__((vector_size(MINMAX_LANES * sizeof(int32_t))));

/* One row r of C values: its scale, zero point and q (quantize_rows_u8). */
static inline void quantize_row_u8(uint8_t *o, float *scale, int32_t *zero, const float *r, int64_t C, int32_t qmax) {
    /* lanes of running min / max as one vector (per lane the plain
       `x < lo ? x : lo`; GCC left the array form to scalar minss / maxss) */
    vlf vlo = {0}, vhi = {0};
    int64_t c = 0;
    for (; c + MINMAX_LANES <= C; c += MINMAX_LANES) {
        vlf v;
        memcpy(&v, r + c, sizeof v);
        vli lt = v < vlo, gt = v > vhi;
        vlo = (vlf)((lt & (vli)v) | (~lt & (vli)vlo));
        vhi = (vlf)((gt & (vli)v) | (~gt & (vli)vhi));
    }
    float lo = 0.0f, hi = 0.0f;
    for (; c < C; c++) {
        lo = r[c] < lo ? r[c] : lo;
        hi = r[c] > hi ? r[c] : hi;
    }
    for (int k = 0; k < MINMAX_LANES; k++) {
        lo = vlo[k] < lo ? vlo[k] : lo;
        hi = vhi[k] > hi ? vhi[k] : hi;
    }
    float s = (hi - lo) / (float)qmax;
    s = s > 0.0f ? s : 1.0f;
    float inv = 1.0f / s, zp = __builtin_rintf(-lo * inv), top = (float)qmax;
    zp = zp < 0.0f ? 0.0f : zp > top ? top : zp;
    for (int64_t j = 0; j < C; j++) {
        float v = __builtin_rintf(r[j] * inv) + zp;
        v = v < 0.0f ? 0.0f : v > top ? top : v;
        o[j] = (uint8_t)(int32_t)v;
    }
    *scale = s;
    *zero = (int32_t)zp;
}

void SIMD_NAME(quantize_rows_u8)(uint8_t *q, float *scale, int32_t *zero, const float *x, int64_t N, int64_t C,
                                 int32_t qmax) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        quantize_row_u8(q + n * C, &scale[n], &zero[n], x + n * C, C, qmax);
}

/* One dequantized value (quant.h). */
static inline float dequant_value(int32_t acc, float rs, int32_t rz, float cs, int32_t csum, float b) {
    return rs * cs * (float)(acc - rz * csum) + b;
}

void SIMD_NAME(dequantize_rows)(void *io, const float *row_scale, const int32_t *row_zero, const float *col_scale,
                                const int32_t *col_sum, const float *bias, int64_t N, int64_t OC) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        char *row = (char *)io + (size_t)(n * OC) * 4;
        float rs = row_scale[n];
        int32_t rz = row_zero[n];
        for (int64_t o = 0; o < OC; o++) {
            int32_t acc;
            memcpy(&acc, row + 4 * o, 4);
            float v = dequant_value(acc, rs, rz, col_scale[o], col_sum[o], bias ? bias[o] : 0.0f);
            memcpy(row + 4 * o, &v, 4);
        }
    }
}

/* One row of dequantize_rows put through the activation: out = f(the row's dequantized sums). */
static inline void dequantize_act_row(float *out, const int32_t *row, float rs, int32_t rz, const float *col_scale,
                                      const int32_t *col_sum, const float *bias, int64_t OC, act_kind kind) {
    /* bias tested outside the loops (fused.c: a masked load from NULL is slow on AMD) */
#define DEQUANT_ACT(K)                                                                                                 \
    if (bias)                                                                                                          \
        for (int64_t o = 0; o < OC; o++)                                                                               \
            out[o] = act_value(K, dequant_value(row[o], rs, rz, col_scale[o], col_sum[o], bias[o]));                   \
    else                                                                                                               \
        for (int64_t o = 0; o < OC; o++)                                                                               \
            out[o] = act_value(K, dequant_value(row[o], rs, rz, col_scale[o], col_sum[o], 0.0f));
    FOR_EACH_KIND(kind, DEQUANT_ACT)
#undef DEQUANT_ACT
}

void SIMD_NAME(dequantize_act_quantize_rows)(uint8_t *q, float *q_scale, int32_t *q_zero, const void *io,
                                             const float *row_scale, const int32_t *row_zero, const float *col_scale,
                                             const int32_t *col_sum, const float *bias, int64_t N, int64_t OC,
                                             act_kind kind, int32_t qmax) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float act[QUANT_ROW_MAX]; /* the row's activations, in L1 between the two passes */
        dequantize_act_row(act, (const int32_t *)io + n * OC, row_scale[n], row_zero[n], col_scale, col_sum, bias, OC,
                           kind);
        quantize_row_u8(q + n * OC, &q_scale[n], &q_zero[n], act, OC, qmax);
    }
}
