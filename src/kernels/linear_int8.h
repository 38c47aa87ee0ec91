/* int8 inference linear layers with dynamic quantization, as
 * torch.quantization.quantize_dynamic and ONNX Runtime do it: weights int8
 * with one symmetric scale per output channel, quantized once at creation;
 * activations u8 with a scale and zero point per row, quantized at run time;
 * a u8 x s8 matmul through oneDNN accumulating in int32 (weights packed once);
 * dequantization and bias in fp32:
 *   out(N,OC) = sa[n] sw[o] (sum_k qa[n,k] qw[o,k] - za[n] sum_k qw[o,k]) + bias[o]. */
#ifndef NERC_KERNELS_LINEAR_INT8_H
#define NERC_KERNELS_LINEAR_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/rows.h"
#include "nerc/common.h"

typedef struct linear_int8 linear_int8;

/* weight (OC, IC) fp32 in torch Linear layout; bias (OC) or NULL. */
nerc_status linear_int8_create(linear_int8 **out, const float *weight, const float *bias, int64_t IC, int64_t OC);
void linear_int8_free(linear_int8 *l);
/* Bytes of scratch linear_int8_forward needs for N rows of IC inputs. */
size_t linear_int8_scratch_bytes(int64_t N, int64_t IC);
/* out (N, OC) fp32 from inp (N, IC) fp32; scratch: linear_int8_scratch_bytes(N, IC), 64-byte aligned. */
nerc_status linear_int8_forward(const linear_int8 *l, float *out, const float *inp, void *scratch, int64_t N);
/* out (N, C) = fc2(f(fc1(inp))) (fc1: C -> F, fc2: F -> C) with fc1's sums
 * dequantized, put through f and quantized for fc2 row by row
 * (dequantize_act_quantize_rows): the same bits as linear_int8_forward,
 * bias_act_forward (no bias) and linear_int8_forward, without the
 * activations in memory (tests/test_fused.c). io (N, F):
 * fc1's sums; scratch: linear_int8_ffn_scratch_bytes(N, F), 64-byte aligned. */
size_t linear_int8_ffn_scratch_bytes(int64_t N, int64_t F);
nerc_status linear_int8_ffn(const linear_int8 *fc1, const linear_int8 *fc2, float *out, float *io, const float *inp,
                            void *scratch, int64_t N, act_kind kind);

/* The quantized weights (tests): qw (OC, IC), scale (OC); the activation range (255 or 127). */
void linear_int8_weights(const linear_int8 *l, const int8_t **qw, const float **scale, int32_t *qmax);

#endif
