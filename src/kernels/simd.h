/* nerc's own hot kernels exist once per x86 ISA level. The files in the
 * Makefile's SIMD_SRC (ops.c, convert.c, adamw.c, quant.c, fused.c,
 * simd_table.c) are compiled twice, with -march=x86-64-v3 (AVX2+FMA) and
 * -march=x86-64-v4 (AVX-512), each time with -DNERC_SIMD=<level> so that every kernel is
 * named SIMD_NAME(kernel) = kernel_<level>. dispatch.c defines the plain
 * names (ops.h, convert.h, ...) as calls through the table of the level
 * cpu_isa() chose at start. The list below is the only place a kernel is
 * registered: V(name, params, args) for void kernels, R(type, name, params,
 * args) for the others. */
#ifndef NERC_KERNELS_SIMD_H
#define NERC_KERNELS_SIMD_H

#include <stdint.h>

#include "core/cpu.h"
#include "kernels/adamw.h"
#include "kernels/ops.h"
#include "kernels/rows.h"

#define SIMD_KERNELS(V, R)                                                                                              \
    V(linear_forward,                                                                                                  \
      (float *out, const float *inp, const float *weight, const float *bias, int64_t N, int64_t IC, int64_t OC),       \
      (out, inp, weight, bias, N, IC, OC))                                                                             \
    V(linear_backward,                                                                                                 \
      (float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight, int64_t N, \
       int64_t IC, int64_t OC, float dinp_beta, float dweight_beta),                                                   \
      (dinp, dweight, dbias, dout, inp, weight, N, IC, OC, dinp_beta, dweight_beta))                                   \
    V(layernorm_forward,                                                                                               \
      (float *out, float *mean, float *rstd, const float *inp, const float *weight, const float *bias, int64_t N,      \
       int64_t C, float eps),                                                                                          \
      (out, mean, rstd, inp, weight, bias, N, C, eps))                                                                 \
    V(layernorm_backward,                                                                                              \
      (float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,            \
       const float *mean, const float *rstd, int64_t N, int64_t C),                                                    \
      (dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C))                                                     \
    V(gelu_forward, (float *out, const float *inp, int64_t n), (out, inp, n))                                          \
    V(gelu_backward, (float *dinp, const float *dout, const float *inp, int64_t n), (dinp, dout, inp, n))              \
    V(gelu_tanh_forward, (float *out, const float *inp, int64_t n), (out, inp, n))                                     \
    V(gelu_tanh_backward, (float *dinp, const float *dout, const float *inp, int64_t n), (dinp, dout, inp, n))         \
    V(relu_forward, (float *out, const float *inp, int64_t n), (out, inp, n))                                          \
    V(relu_backward, (float *dinp, const float *dout, const float *inp, int64_t n), (dinp, dout, inp, n))              \
    V(embedding_forward,                                                                                               \
      (float *out, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe, const float *wtt,       \
       int64_t N, int64_t C),                                                                                          \
      (out, ids, pos, wte, wpe, wtt, N, C))                                                                            \
    V(embedding_backward,                                                                                              \
      (float *dwte, float *dwpe, float *dwtt, const float *dout, const int32_t *ids, const int32_t *pos, int64_t N,    \
       int64_t C, int32_t pad_id, int32_t pos_pad_id),                                                                 \
      (dwte, dwpe, dwtt, dout, ids, pos, N, C, pad_id, pos_pad_id))                                                    \
    V(dropout_forward, (float *x, int64_t n, float p, uint64_t seed, uint64_t stream), (x, n, p, seed, stream))        \
    V(dropout_backward, (float *dx, int64_t n, float p, uint64_t seed, uint64_t stream), (dx, n, p, seed, stream))     \
    V(attention_forward,                                                                                               \
      (float *ctx, float *att, float *scratch, const float *qkv, const att_layout *lay, int64_t C, int64_t H,          \
       float drop_p, uint64_t seed, uint64_t stream),                                                                  \
      (ctx, att, scratch, qkv, lay, C, H, drop_p, seed, stream))                                                                \
    V(attention_backward,                                                                                              \
      (float *dqkv, float *datt, const float *dctx, const float *qkv, const float *att, const att_layout *lay,         \
       int64_t C, int64_t H, float drop_p, uint64_t seed, uint64_t stream),                                            \
      (dqkv, datt, dctx, qkv, att, lay, C, H, drop_p, seed, stream))                                                   \
    R(double, crossentropy_forward_backward,                                                                           \
      (float *dlogits, const float *logits, const int32_t *labels, int64_t N, int64_t K, double norm, int32_t ignore), \
      (dlogits, logits, labels, N, K, norm, ignore))                                                                   \
    V(attention_forward_ref,                                                                                           \
      (float *ctx, float *att, const float *qkv, const att_layout *lay, int64_t C, int64_t H),                         \
      (ctx, att, qkv, lay, C, H))                                                                                      \
    V(f32_to_bf16, (uint16_t *dst, const float *src, int64_t n), (dst, src, n))                                        \
    V(bf16_pack_amx_rows, (uint16_t *fwd, uint16_t *bwd, const float *w, int64_t row, int64_t IC, int64_t OC),       \
      (fwd, bwd, w, row, IC, OC))                                                                                     \
    V(bf16_pack_amx, (uint16_t *fwd, uint16_t *bwd, const float *w, int64_t IC, int64_t OC), (fwd, bwd, w, IC, OC))   \
    R(double, sum_squares_f32, (const float *x, int64_t n), (x, n))                                                    \
    V(sum_squares_f32_streams, (const float *x, int64_t stride, int64_t n, int streams, double *out),                  \
      (x, stride, n, streams, out))                                                                                    \
    V(adamw_update, (float *p, float *m, float *v, const float *grad, int64_t n, const adamw_coeffs *k),               \
      (p, m, v, grad, n, k))                                                                                           \
    V(adamw_update_bf16,                                                                                               \
      (float *p, float *m, float *v, const float *grad, uint16_t *p16, int64_t n, const adamw_coeffs *k),             \
      (p, m, v, grad, p16, n, k))                                                                                      \
    V(adamw_update_amx,                                                                                                \
      (float *p, float *m, float *v, const float *grad, const bf16_amx_copy *c, int64_t n, const adamw_coeffs *k),    \
      (p, m, v, grad, c, n, k))                                                                                        \
    V(adamw_update_rows,                                                                                               \
      (float *p, float *m, float *v, const float *grad, const uint8_t *used, const uint8_t *live, int64_t rows,       \
       int64_t width, const adamw_coeffs *k),                                                                          \
      (p, m, v, grad, used, live, rows, width, k))                                                                     \
    V(adamw_replay_rows,                                                                                               \
      (float *p, float *m, float *v, const float *grad, const uint8_t *live, int64_t width, const adamw_replay *rp),  \
      (p, m, v, grad, live, width, rp))                                                                                \
    V(quantize_rows_u8,                                                                                                \
      (uint8_t *q, float *scale, int32_t *zero, const float *x, int64_t N, int64_t C, int32_t qmax),                   \
      (q, scale, zero, x, N, C, qmax))                                                                                 \
    V(dequantize_rows,                                                                                                 \
      (void *io, const float *row_scale, const int32_t *row_zero, const float *col_scale, const int32_t *col_sum,       \
       const float *bias, int64_t N, int64_t OC),                                                                      \
      (io, row_scale, row_zero, col_scale, col_sum, bias, N, OC))                                                      \
    V(dequantize_act_quantize_rows,                                                                                    \
      (uint8_t *q, float *q_scale, int32_t *q_zero, const void *io, const float *row_scale, const int32_t *row_zero,   \
       const float *col_scale, const int32_t *col_sum, const float *bias, int64_t N, int64_t OC, act_kind kind,        \
       int32_t qmax),                                                                                                  \
      (q, q_scale, q_zero, io, row_scale, row_zero, col_scale, col_sum, bias, N, OC, kind, qmax))                     \
    V(act_to_bf16, (uint16_t *dst, const float *y, int64_t N, int64_t F, act_kind kind), (dst, y, N, F, kind))        \
    V(bias_act_forward,                                                                                                \
      (float *slope, float *act, const float *y, const float *bias, int64_t N, int64_t F, act_kind kind),              \
      (slope, act, y, bias, N, F, kind))                                                                               \
    V(bias_dropout_residual_layernorm_forward,                                                                         \
      (float *res, float *out, float *mean, float *rstd, const float *y, const float *bias, const float *resid,        \
       const float *weight, const float *ln_bias, int64_t N, int64_t C, float eps, float p, uint64_t seed,             \
       uint64_t stream),                                                                                               \
      (res, out, mean, rstd, y, bias, resid, weight, ln_bias, N, C, eps, p, seed, stream))                             \
    V(layernorm_dropout_backward,                                                                                      \
      (float *dy, float *dresid, float *dweight, float *dln_bias, const float *dout, const float *res,                 \
       const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C, float p, uint64_t seed,        \
       uint64_t stream),                                                                                               \
      (dy, dresid, dweight, dln_bias, dout, res, weight, mean, rstd, N, C, p, seed, stream))                           \
    V(act_bias_backward,                                                                                               \
      (float *dpre, float *dbias, const float *dact, const float *slope, int64_t N, int64_t F),                        \
      (dpre, dbias, dact, slope, N, F))

/* One table of kernels per level. */
#define SIMD_FIELD_V(name, params, args) void(*name) params;
#define SIMD_FIELD_R(type, name, params, args) type(*name) params;
typedef struct {
    const char *level;
    SIMD_KERNELS(SIMD_FIELD_V, SIMD_FIELD_R)
} simd_kernels;

extern const simd_kernels simd_kernels_avx2, simd_kernels_avx512;

/* The table in use (chosen from cpu_isa() on first use). */
const simd_kernels *simd_get(void);
/* Tests: run nerc's kernels at `level` (<= the detected one) from now on. */
void simd_select(cpu_isa_level level);

#ifdef NERC_SIMD
#define SIMD_CAT_(a, b) a##_##b
#define SIMD_CAT(a, b) SIMD_CAT_(a, b)
#define SIMD_NAME(f) SIMD_CAT(f, NERC_SIMD)
#define SIMD_PROTO_V(name, params, args) void SIMD_NAME(name) params;
#define SIMD_PROTO_R(type, name, params, args) type SIMD_NAME(name) params;
SIMD_KERNELS(SIMD_PROTO_V, SIMD_PROTO_R)
#endif

#endif
