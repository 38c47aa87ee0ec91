/* bf16 inference GEMM: out(N,OC) = bf16(inp)(N,IC) @ bf16(W)(OC,IC)^T + bias,
 * accumulated and written in fp32. Weights are converted and packed by oneDNN
 * once; N (the packed row count) varies per call without recompiling. */
#ifndef NERC_KERNELS_LINEAR_BF16_H
#define NERC_KERNELS_LINEAR_BF16_H

#include <stdint.h>

#include "kernels/convert.h"
#include "nerc/common.h"

typedef struct linear_bf16 linear_bf16;

/* Packs weight (OC, IC) fp32 (torch Linear layout) and keeps bias (OC) or NULL. */
nerc_status linear_bf16_create(linear_bf16 **out, const float *weight, const float *bias, int64_t IC, int64_t OC);
void linear_bf16_free(linear_bf16 *l);
/* scratch holds N*IC bf16 values (uint16_t); inp is converted into it. */
nerc_status linear_bf16_forward(const linear_bf16 *l, float *out, const float *inp, uint16_t *scratch, int64_t N);
/* The same over an operand already in bf16 (N*IC values). */
nerc_status linear_bf16_forward16(const linear_bf16 *l, float *out, const uint16_t *in16, int64_t N);

#endif
