/* Benchmark (not a test): the memory-bound kernels against the machine's
 * bandwidth. STREAM-style copy and triad set the reference; each of nerc's
 * elementwise kernels (fused and not) is timed over buffers far larger than
 * the caches and reported as achieved GB/s (bytes it must read + write) and
 * as a share of triad; the fused passes are also timed against the chain of
 * plain ops they replace. Prints the CPU and the ISA level in use.
 *   usage: bench_kernels [ROWS=8192] [REPEATS=5] [THREADS=0] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/adamw.h"
#include "kernels/convert.h"
#include "kernels/fused.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/simd.h"
#include "nerc.h"

#define C 768
#define F 3072

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *buf(int64_t n) {
    float *x = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
    if (!x) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    return x;
}

/* The whole state of one run, so that each measured body is a small function. */
typedef struct {
    int64_t N;
    float *a, *b, *c, *d, *e, *w, *lb, *mean, *rstd, *bias;
    uint16_t *h;
    uint8_t *q;
    int32_t *zero, *csum;
} work;

typedef void (*body_fn)(work *w);

static double best_of(body_fn f, work *w, int repeats) {
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_s();
        f(w);
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

static void stream_copy(work *w) {
    int64_t n = w->N * F;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        w->a[i] = w->b[i];
}

static void stream_triad(work *w) {
    int64_t n = w->N * F;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        w->a[i] = w->b[i] + 0.5f * w->c[i];
}

static void k_bias_gelu(work *w) { bias_act_forward(w->a, w->b, w->c, w->bias, w->N, F, ACT_KIND_GELU); }

static void k_bias_gelu_unfused(work *w) { /* bias in a copy pass, then the activation */
    int64_t N = w->N;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++)
            w->a[n * F + f] = w->c[n * F + f] + w->bias[f];
    gelu_forward(w->b, w->a, N * F);
}

static void k_res_ln(work *w) {
    bias_dropout_residual_layernorm_forward(w->a, w->b, w->mean, w->rstd, w->c, w->bias, w->d, w->w, w->lb, w->N, C,
                                            1e-12f, 0.1f, 1, 2);
}

static void k_res_ln_unfused(work *w) { /* bias, dropout, residual, LayerNorm: four passes */
    int64_t N = w->N;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            w->a[n * C + c] = w->c[n * C + c] + w->bias[c];
    dropout_forward(w->a, N * C, 0.1f, 1, 2);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * C; i++)
        w->a[i] += w->d[i];
    layernorm_forward(w->b, w->mean, w->rstd, w->a, w->w, w->lb, N, C, 1e-12f);
}

static void k_ln_backward(work *w) {
    layernorm_dropout_backward(w->a, w->b, w->e, w->lb, w->c, w->d, w->w, w->mean, w->rstd, w->N, C, 0.1f, 1, 2);
}

static void k_ln_backward_unfused(work *w) {
    int64_t N = w->N;
    memset(w->a, 0, (size_t)(N * C) * 4);
    layernorm_backward(w->a, w->e, w->lb, w->c, w->d, w->w, w->mean, w->rstd, N, C);
    memcpy(w->b, w->a, (size_t)(N * C) * 4);
    dropout_backward(w->a, N * C, 0.1f, 1, 2);
}

static void k_gelu_bias_backward(work *w) { act_bias_backward(w->a, w->e, w->b, w->c, w->N, F); }

/* the slope evaluated again from the pre-activation, as before the forward kept it */
static void k_gelu_bias_backward_unfused(work *w) {
    int64_t N = w->N;
    memset(w->a, 0, (size_t)(N * F) * 4);
    gelu_backward(w->a, w->b, w->c, N * F);
    linear_backward(NULL, NULL, w->e, w->a, NULL, NULL, N, 1, F, 1.0f, 1.0f);
}

static void k_adamw(work *w) {
    adamw_coeffs k = {0.9f, 0.999f, 0.9f, 0.999f, 1e-4f, 0.5f, 1e-8f};
    adamw_update(w->a, w->b, w->c, w->d, w->N * F / 2, &k);
}

static void k_bf16(work *w) { f32_to_bf16(w->h, w->a, w->N * F); }

static void k_quantize(work *w) { quantize_rows_u8(w->q, w->rstd, w->zero, w->a, w->N, F, 255); }

static void k_dequantize(work *w) { dequantize_rows(w->a, w->mean, w->zero, w->e, w->csum, w->bias, w->N, F); }

typedef struct {
    const char *name;
    body_fn fused, unfused;
    double bytes_per_row; /* that the kernel must move, per row */
} kernel_case;

int main(int argc, char **argv) {
    int64_t N = argc > 1 ? atoll(argv[1]) : 8192;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    nerc_set_threads(argc > 3 ? atoi(argv[3]) : 0);
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("%s\nnerc bench_kernels: %lld rows (C %d, F %d: %.0f MB per (N, F) buffer), best of %d, %d threads, "
           "kernels at %s; load average %.2f\n",
           nerc_cpu_info(), (long long)N, C, F, (double)(N * F) * 4 / 1e6, repeats, nerc_get_threads(),
           simd_get()->level, load[0]);
    work w = {.N = N, .a = buf(N * F), .b = buf(N * F), .c = buf(N * F), .d = buf(N * F), .e = buf(F),
              .w = buf(C), .lb = buf(C), .mean = buf(N), .rstd = buf(N), .bias = buf(F)};
    w.h = aligned_alloc(64, (size_t)(N * F * 2 + 64) / 64 * 64);
    w.q = aligned_alloc(64, (size_t)(N * F + 64) / 64 * 64);
    w.zero = calloc((size_t)N, 4);
    w.csum = calloc(F, 4);
    double nF = (double)F * 4, nC = (double)C * 4;
    double copy_bw = 2 * nF * N / best_of(stream_copy, &w, repeats) / 1e9;
    double triad_bw = 3 * nF * N / best_of(stream_triad, &w, repeats) / 1e9;
    printf("  STREAM copy %.1f GB/s, triad %.1f GB/s\n", copy_bw, triad_bw);
    const kernel_case cases[] = {
        {"bias + GELU + slope (fc1)", k_bias_gelu, k_bias_gelu_unfused, 3 * nF},
        {"bias+dropout+residual+LayerNorm", k_res_ln, k_res_ln_unfused, 4 * nC},
        {"LayerNorm+dropout backward", k_ln_backward, k_ln_backward_unfused, 6 * nC},
        {"GELU backward (kept slope) + bias grad", k_gelu_bias_backward, k_gelu_bias_backward_unfused, 3 * nF},
        {"AdamW (clip folded in)", k_adamw, NULL, 7 * nF / 2},
        {"fp32 -> bf16", k_bf16, NULL, nF + nF / 2},
        {"int8: quantize rows", k_quantize, NULL, nF + nF / 4},
        {"int8: dequantize + bias", k_dequantize, NULL, 2 * nF},
    };
    printf("  %-34s %9s %8s %9s %14s\n", "kernel", "ms", "GB/s", "of triad", "unfused ms");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double t = best_of(cases[i].fused, &w, repeats), gbs = cases[i].bytes_per_row * (double)N / t / 1e9;
        char unf[32] = "";
        if (cases[i].unfused) {
            double tu = best_of(cases[i].unfused, &w, repeats);
            snprintf(unf, sizeof unf, "%.2f (%.2fx)", 1e3 * tu, tu / t);
        }
        printf("  %-34s %9.2f %8.1f %8.0f%% %14s\n", cases[i].name, 1e3 * t, gbs, 100 * gbs / triad_bw, unf);
    }
    return 0;
}
