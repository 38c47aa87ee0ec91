/* GEMM backends: oneDNN sgemm (CPU), oneDNN bf16 matmul, and a naive reference. */
#include "kernels/gemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <time.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/onednn.h"

static int timing_on;
static double timing_total, timing_attention;

void gemm_timing_enable(int on) { timing_on = on; }
double gemm_timing_seconds(void) { return timing_total; }
double gemm_timing_attention_seconds(void) { return timing_attention; }
void gemm_timing_reset(void) { timing_total = timing_attention = 0.0; }

double gemm_timing_start(void) {
    if (!timing_on)
        return 0.0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gemm_timing_stop(double t0) {
    if (timing_on) /* GEMMs are called from one thread (they parallelise inside) */
        timing_total += gemm_timing_start() - t0;
}

void gemm_timing_stop_attention(double t0) {
    if (timing_on)
        timing_attention += gemm_timing_start() - t0;
}

void gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* oneDNN rejects K = 0; the result is beta * C */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    (void)cpu_isa(); /* NERC_ISA caps oneDNN's ISA before its first use (once) */
    double t0 = gemm_timing_start();
    dnnl_sgemm(transa ? 'T' : 'N', transb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    gemm_timing_stop(t0);
}

void gemm_f32_ref(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = transa ? A[k * lda + i] : A[i * lda + k];
                double b = transb ? B[j * ldb + k] : B[k * ldb + j];
                acc += a * b;
            }
            double prev = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * acc + prev);
        }
}

/* ---- bf16 -------------------------------------------------------------------- */

/* One matmul primitive per (transa, transb, accumulate), all dims at run time. */
static dnnl_primitive_t bf16_prims[2][2][2];
static pthread_mutex_t bf16_lock = PTHREAD_MUTEX_INITIALIZER;

/* On AMX, oneDNN 2.x runs a matmul whose dimensions come at run time on its
 * gemm:jit kernels; given fixed dimensions it builds brgemm on AMX tiles, which
 * computes the weight gradients (dweight = dout^T inp: M, N the layer's sizes,
 * K the batch's tokens, a few hundred) ~1.5x faster (forward and input-gradient
 * products: no gain). Those are built per shape on first use (~1 ms) and kept
 * (onednn_kept_primitive); callers round K up to gemm_bf16_k_align() with zero
 * rows, so that a training run sees a few dozen shapes. (bf16 training on
 * AMX computes its weight gradients on nerc's own kernel, kernels/amx.h,
 * where the layer's sizes are multiples of 32: ~3x faster again.) */
enum { BF16_K_ALIGN_AMX = 64 };

int64_t gemm_bf16_k_align(void) { return cpu_amx_bf16() ? BF16_K_ALIGN_AMX : 1; }

static nerc_status bf16_desc(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int trans, dnnl_data_type_t dt) {
    dnnl_dims_t d = {rows, cols};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(md, 2, d, dt, trans ? dnnl_ba : dnnl_ab), "gemm_bf16 desc");
    return NERC_OK;
}

/* The matmul primitive for op(A)(M,K) op(B)(K,N) (+ C when acc); any of M, N, K
 * may be DNNL_RUNTIME_DIM_VAL. */
static nerc_status bf16_make(int ta, int tb, int acc, int64_t M, int64_t N, int64_t K, dnnl_primitive_t *out) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    NERC_TRY(onednn_engine(&engine, &stream));
    dnnl_memory_desc_t a, b, c;
    NERC_TRY(bf16_desc(&a, M, K, ta, dnnl_bf16));
    NERC_TRY(bf16_desc(&b, K, N, tb, dnnl_bf16));
    NERC_TRY(bf16_desc(&c, M, N, 0, dnnl_f32));
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c), "gemm_bf16 matmul desc");
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = onednn_matmul_pd(&pd, &md, acc); /* C += A B when acc */
    if (s == dnnl_success)
        s = dnnl_primitive_create(out, pd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return s == dnnl_success ? NERC_OK
                             : nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: bf16 matmul (ta %d, tb %d) unavailable (%d)",
                                           ta, tb, (int)s);
}

typedef struct {
    int tb, acc;
    int64_t M, N, K;
} bf16_shape;

static nerc_status build_bf16_fixed(const void *ctx, dnnl_primitive_t *prim) {
    const bf16_shape *f = ctx;
    return bf16_make(1, f->tb, f->acc, f->M, f->N, f->K, prim);
}

/* The primitive for this product: per shape for weight gradients on AMX
 * (*owned: destroy it after use), else (or once the kept table is full: a
 * run of many batch lengths) the runtime-dims one of (ta, tb, acc). */
static nerc_status bf16_primitive(int ta, int tb, int acc, int64_t M, int64_t N, int64_t K, dnnl_primitive_t *prim,
                                  int *owned) {
    *owned = 0;
    if (ta && cpu_amx_bf16() && !onednn_kept_full()) {
        onednn_key key = {.kind = 2, .a = tb, .b = acc, .M = M, .N = N, .K = K};
        bf16_shape shape = {tb, acc, M, N, K};
        return onednn_kept_primitive(&key, build_bf16_fixed, &shape, prim, owned);
    }
    const int64_t R = DNNL_RUNTIME_DIM_VAL;
    pthread_mutex_lock(&bf16_lock);
    nerc_status st = NERC_OK;
    if (!bf16_prims[ta][tb][acc])
        st = bf16_make(ta, tb, acc, R, R, R, &bf16_prims[ta][tb][acc]);
    *prim = bf16_prims[ta][tb][acc];
    pthread_mutex_unlock(&bf16_lock);
    return st;
}

nerc_status gemm_bf16(int transa, int transb, int64_t M, int64_t N, int64_t K, const uint16_t *A, const uint16_t *B,
                      float beta, float *C) {
    if (M <= 0 || N <= 0)
        return NERC_OK;
    int acc = beta != 0.0f;
    if (K <= 0) {
        if (!acc)
            for (int64_t i = 0; i < M * N; i++)
                C[i] = 0.0f;
        return NERC_OK;
    }
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    NERC_TRY(onednn_engine(&engine, &stream));
    dnnl_memory_desc_t a_md, b_md, c_md;
    NERC_TRY(bf16_desc(&a_md, M, K, transa, dnnl_bf16));
    NERC_TRY(bf16_desc(&b_md, K, N, transb, dnnl_bf16));
    NERC_TRY(bf16_desc(&c_md, M, N, 0, dnnl_f32));
    dnnl_primitive_t prim = NULL;
    int owned = 0;
    NERC_TRY(bf16_primitive(transa, transb, acc, M, N, K, &prim, &owned));
    dnnl_memory_t a = NULL, b = NULL, c = NULL;
    dnnl_status_t s = dnnl_memory_create(&a, &a_md, engine, (void *)A);
    if (s == dnnl_success)
        s = dnnl_memory_create(&b, &b_md, engine, (void *)B);
    if (s == dnnl_success)
        s = dnnl_memory_create(&c, &c_md, engine, C);
    double t0 = gemm_timing_start();
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
        s = dnnl_primitive_execute(prim, stream, 3, args);
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(stream);
    gemm_timing_stop(t0);
    if (a)
        dnnl_memory_destroy(a);
    if (b)
        dnnl_memory_destroy(b);
    if (c)
        dnnl_memory_destroy(c);
    if (owned)
        dnnl_primitive_destroy(prim);
    return s == dnnl_success ? NERC_OK : nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: bf16 matmul failed (%d)", (int)s);
}
