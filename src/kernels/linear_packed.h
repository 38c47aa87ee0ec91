/* The one entry point of the reduced-precision inference linear layers:
 * out(N,OC) = inp(N,IC) @ W(OC,IC)^T + bias with W converted and packed once,
 * in bf16 (kernels/linear_bf16.h) or int8 (kernels/linear_int8.h). The model
 * only names the precision. */
#ifndef NERC_KERNELS_LINEAR_PACKED_H
#define NERC_KERNELS_LINEAR_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/rows.h"
#include "nerc/common.h"

typedef struct linear_packed linear_packed;

/* p: NERC_PRECISION_BF16 or NERC_PRECISION_INT8 (NERC_ERR_UNSUPPORTED where
 * the CPU cannot run it natively). */
nerc_status linear_packed_create(linear_packed **out, nerc_precision p, const float *weight, const float *bias,
                                 int64_t IC, int64_t OC);
void linear_packed_free(linear_packed *l);
/* Scratch bytes for N rows of up to IC inputs. */
size_t linear_packed_scratch_bytes(nerc_precision p, int64_t N, int64_t IC);
/* scratch: linear_packed_scratch_bytes(p, N, IC) bytes, 64-byte aligned. */
nerc_status linear_packed_forward(const linear_packed *l, float *out, const float *inp, void *scratch, int64_t N);
/* out(N, C) = fc2(f(fc1(inp))), fc1: C -> F, fc2: F -> C, both biased, with
 * fc1's activations written straight as fc2's operand (bf16 rows, or int8
 * rows with their scales) and never in fp32: the same bits as
 * linear_packed_forward (fc1), bias_act_forward (no bias) and
 * linear_packed_forward (fc2) one after the other (tests/test_fused.c). io
 * (N, F): scratch for fc1's product; scratch: linear_packed_ffn_scratch_bytes(p, N, C, F). */
size_t linear_packed_ffn_scratch_bytes(nerc_precision p, int64_t N, int64_t C, int64_t F);
nerc_status linear_packed_ffn(const linear_packed *fc1, const linear_packed *fc2, float *out, float *io,
                              const float *inp, void *scratch, int64_t N, act_kind kind);

#endif
