/* bf16 inference GEMM: out(N,OC) = bf16(inp)(N,IC) @ bf16(W)(OC,IC)^T + bias,
 * accumulated and written in fp32. Weights are converted and laid out once:
 * on AMX (sizes multiples of 64) in the tiles' blocked layout for nerc's own
 * kernels (kernels/amx.h), elsewhere packed by oneDNN; N (the packed row
 * count) varies per call without recompiling. */
#ifndef NERC_KERNELS_LINEAR_BF16_H
#define NERC_KERNELS_LINEAR_BF16_H

#include <stdint.h>

#include "kernels/convert.h"
#include "kernels/rows.h"
#include "nerc/common.h"

typedef struct linear_bf16 linear_bf16;

/* Packs weight (OC, IC) fp32 (torch Linear layout) and keeps bias (OC) or NULL. */
nerc_status linear_bf16_create(linear_bf16 **out, const float *weight, const float *bias, int64_t IC, int64_t OC);
void linear_bf16_free(linear_bf16 *l);
/* The rows a bf16 operand of N rows needs room for (the AMX kernels read
 * whole blocks of 32 rows; what the rows past N hold does not matter). */
int64_t linear_bf16_rows(int64_t N);
/* scratch holds linear_bf16_rows(N)*IC bf16 values (uint16_t); inp is converted into it. */
nerc_status linear_bf16_forward(const linear_bf16 *l, float *out, const float *inp, uint16_t *scratch, int64_t N);
/* The same over an operand already in bf16 (room for linear_bf16_rows(N) rows of IC). */
nerc_status linear_bf16_forward16(const linear_bf16 *l, float *out, const uint16_t *in16, int64_t N);
/* act16(N, OC) = bf16(f(in16 @ W^T + bias)) (f32_to_bf16's rounding): on AMX
 * while each block of sums is in L1, elsewhere through io (N, OC) fp32 and
 * act_to_bf16; the same bits as linear_bf16_forward16, bias_act_forward and
 * f32_to_bf16 one after the other. */
nerc_status linear_bf16_forward_act16(const linear_bf16 *l, uint16_t *act16, float *io, const uint16_t *in16,
                                      int64_t N, act_kind kind);

#endif
