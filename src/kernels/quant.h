/* Dynamic int8 quantization of activations and dequantization of int32
 * GEMM results (per-ISA kernels, kernels/simd.h), for kernels/linear_int8.c. */
#ifndef NERC_KERNELS_QUANT_H
#define NERC_KERNELS_QUANT_H

#include <stdint.h>

#include "kernels/rows.h"

/* Per row n of x (N, C): lo = min(0, min x), hi = max(0, max x) (zero stays
 * exact), scale[n] = (hi - lo) / qmax (1 for an all-zero row),
 * zero[n] = round(-lo / scale) and q = clamp(round(x / scale) + zero, 0, qmax):
 * x ~ scale * (q - zero). qmax = 255, or 127 where u8*s8 pairs could saturate. */
void quantize_rows_u8(uint8_t *q, float *scale, int32_t *zero, const float *x, int64_t N, int64_t C, int32_t qmax);

/* In place over io (N, OC), which holds the int32 sums acc = q_x @ q_w^T:
 * io[n][o] = row_scale[n] * col_scale[o] * (acc - row_zero[n] * col_sum[o]) + bias[o]
 * as float (bias may be NULL); col_sum[o] = sum_k q_w[o][k]. */
void dequantize_rows(void *io, const float *row_scale, const int32_t *row_zero, const float *col_scale,
                     const int32_t *col_sum, const float *bias, int64_t N, int64_t OC);
/* The same values (io is only read) put through the activation
 * (bias_act_forward, no bias, no slope) and quantized (quantize_rows_u8) row
 * by row while the row is in L1, the same bits as those three passes: the
 * next layer's operand without the activations written to memory.
 * OC <= QUANT_ROW_MAX. */
#define QUANT_ROW_MAX 16384
void dequantize_act_quantize_rows(uint8_t *q, float *q_scale, int32_t *q_zero, const void *io, const float *row_scale,
                                  const int32_t *row_zero, const float *col_scale, const int32_t *col_sum,
                                  const float *bias, int64_t N, int64_t OC, act_kind kind, int32_t qmax);

#endif
