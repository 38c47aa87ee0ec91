/* Linear layers of bf16 mixed-precision training, torch.autocast(bfloat16)
 * semantics: the matmuls of forward AND backward take bf16 operands and
 * accumulate in fp32; weights, gradients, bias and everything outside the
 * matmuls stay fp32 (the master weights live in fp32; w16 is their bf16 copy,
 * refreshed after every optimizer step). */
#ifndef NERC_KERNELS_LINEAR_AUTOCAST_H
#define NERC_KERNELS_LINEAR_AUTOCAST_H

#include <stdint.h>

#include "nerc/common.h"

/* A linear layer's bf16 weight copy: plain (OC, IC) row-major (products by
 * gemm_bf16), or where amx_blocked_layer the two blocked copies
 * (kernels/convert.h) that nerc's AMX kernels read: fwd16 for inp @ W^T,
 * bwd16 for dout @ W (both NULL when the copy is plain). */
typedef struct {
    const uint16_t *plain;
    const uint16_t *fwd16, *bwd16;
} autocast_weights;

/* The rows of the backward pass's scratch for N rows: N rounded up to what
 * the weight-gradient product takes (gemm_bf16_k_align). */
int64_t linear_autocast_rows(int64_t N);

/* out(N,OC) = bf16(inp)(N,IC) @ w16(OC,IC)^T + bias(OC) (bias may be NULL).
 * in16: scratch of N*IC bf16 values. */
nerc_status linear_autocast_forward(float *out, const float *inp, const autocast_weights *w16, const float *bias,
                                    uint16_t *in16, int64_t N, int64_t IC, int64_t OC);
/* dinp(N,IC) = bf16(dout) @ w16 + dinp_beta * dinp;  dweight(OC,IC) =
 * bf16(dout)^T @ bf16(inp) + dweight_beta * dweight (betas 1 or 0, as
 * linear_backward); dbias(OC) += sum_n dout (fp32). Any output may be NULL.
 * Scratch: in16 of linear_autocast_rows(N)*IC and out16 of
 * linear_autocast_rows(N)*OC bf16 values (the rows past N are zeroed).
 * dweight_squares (may be NULL): the sum of the squares of dweight as
 * written when the AMX kernel computed it (amx_dweight), else NaN. */
nerc_status linear_autocast_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                     const autocast_weights *w16, uint16_t *in16, uint16_t *out16, int64_t N,
                                     int64_t IC, int64_t OC, float dinp_beta, float dweight_beta,
                                     double *dweight_squares);

#endif
