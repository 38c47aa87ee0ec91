/* Fused elementwise passes of the encoder block: what the plain ops do in 3-4
 * passes over memory done in one, row by row while the row is in cache. Each
 * has a reference composition of plain ops (ops.h) that it equals; tests
 * check them against it over odd shapes (tests/test_fused.c). */
#ifndef NERC_KERNELS_FUSED_H
#define NERC_KERNELS_FUSED_H

#include <stdint.h>

#include "kernels/rows.h"

/* act(N,F) = f(y + bias); slope = f'(y + bias) when slope != NULL (what the
 * backward needs, computed while the value's erf / tanh is at hand; slope may
 * be y). bias may be NULL. Replaces: bias add in the GEMM,
 * activation_forward, and the slope's own evaluation in the backward. */
void bias_act_forward(float *slope, float *act, const float *y, const float *bias, int64_t N, int64_t F,
                      act_kind kind);

/* dst(N,F) = bf16(f(y)) (f32_to_bf16's rounding): bias_act_forward then
 * f32_to_bf16 in one pass, the same bits (bf16 inference: fc1's product
 * straight into fc2's operand, the activations never written in fp32). */
void act_to_bf16(uint16_t *dst, const float *y, int64_t N, int64_t F, act_kind kind);

/* res(N,C) = dropout(y + bias) + resid (res may be y); out = LayerNorm(res)
 * with mean/rstd saved. bias may be NULL; p = 0: no dropout. Replaces: bias
 * add, dropout_forward, the residual add, layernorm_forward. */
void bias_dropout_residual_layernorm_forward(float *res, float *out, float *mean, float *rstd, const float *y,
                                             const float *bias, const float *resid, const float *weight,
                                             const float *ln_bias, int64_t N, int64_t C, float eps, float p,
                                             uint64_t seed, uint64_t stream);

/* The backward of the above for one LayerNorm: g = d LN(res) / d res given
 * dout; dresid = g (the residual branch's gradient, =); dy = dropout(g) (=);
 * dweight, dln_bias += the LayerNorm parameter gradients. dy may be NULL
 * (then only dresid), dresid may be dy's buffer only if p = 0. */
void layernorm_dropout_backward(float *dy, float *dresid, float *dweight, float *dln_bias, const float *dout,
                                const float *res, const float *weight, const float *mean, const float *rstd, int64_t N,
                                int64_t C, float p, uint64_t seed, uint64_t stream);

/* dpre(N,F) = slope * dact (=), slope from bias_act_forward (the same bits
 * as activation_backward from the pre-activation); then dbias(F) += sum_n
 * dpre, summed as linear_backward sums a bias gradient (double, rows in
 * order over column blocks: the same bits at any thread count). */
void act_bias_backward(float *dpre, float *dbias, const float *dact, const float *slope, int64_t N, int64_t F);

#endif
