/* The one GEMM interface of nerc: row-major C = alpha * op(A) op(B) + beta * C.
 * The CPU backend is oneDNN's sgemm; a naive reference sits beside it as the
 * test oracle. A CUDA backend slots in behind the same call. */
#ifndef NERC_KERNELS_GEMM_H
#define NERC_KERNELS_GEMM_H

#include <stdint.h>

#include "nerc/common.h"

/* transa/transb: 0 = as stored, 1 = transposed. A is (M,K) after op, B is (K,N). */
void gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* The same with bf16 operands (uint16_t bit patterns) and fp32 C, fp32
 * accumulation: torch.autocast's matmul. alpha is 1; beta is 0 or 1
 * (accumulate). Leading dimensions are the dense ones (lda = K, or M when
 * transposed; ldb likewise; ldc = N). oneDNN matmul with every dimension given
 * at run time: one primitive per (transa, transb, beta), built on first use;
 * on AMX, transposed-A products (weight gradients) get a primitive per shape
 * (brgemm on AMX tiles), see gemm_bf16_k_align. Needs native bf16
 * (nerc_precision_check). */
nerc_status gemm_bf16(int transa, int transb, int64_t M, int64_t N, int64_t K, const uint16_t *A, const uint16_t *B,
                      float beta, float *C);
/* What a caller of gemm_bf16(1, ...) rounds K up to with zero rows of A and B
 * (the same product) to keep the number of per-shape primitives small: 64 on
 * AMX, else 1. */
int64_t gemm_bf16_k_align(void);

/* Benchmarks (bench/): wall seconds spent inside the GEMMs (gemm_f32,
 * gemm_bf16 and the packed bf16/int8 matmuls) since the last reset, counted
 * only while enabled (off by default: one clock read pair per GEMM call). */
void gemm_timing_enable(int on);
double gemm_timing_seconds(void);
void gemm_timing_reset(void);
/* Used by the GEMM entry points: t0 = gemm_timing_start(); ...; gemm_timing_stop(t0). */
double gemm_timing_start(void);
void gemm_timing_stop(double t0);
/* The same for attention (model/forward.c, backward.c): its batched small
 * matrix products (q k^T, p v and their gradients; torch runs them as bmm
 * GEMMs) with the softmax and dropout between them, counted apart. */
void gemm_timing_stop_attention(double t0);
double gemm_timing_attention_seconds(void);

/* Reference triple loop with double accumulation (tests only). */
void gemm_f32_ref(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif
