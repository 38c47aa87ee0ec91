/* The AdamW update of one tensor as one pass over memory (per-ISA kernels,
 * kernels/simd.h); train/optim.c drives it over the parameter table. */
#ifndef NERC_KERNELS_ADAMW_H
#define NERC_KERNELS_ADAMW_H

#include <stdint.h>

/* The step's coefficients: g = grad * grad_scale (clip_grad_norm_'s factor
 * folded in), p *= decay_factor, then the moments and the update below. */
typedef struct {
    float grad_scale, decay_factor, beta1, beta2, step_size, bc2_sqrt, eps;
} adamw_coeffs;

/* torch 1.13 single-tensor AdamW in float32:
 *   p *= decay_factor;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps) */
void adamw_update(float *p, float *m, float *v, const float *grad, int64_t n, const adamw_coeffs *k);
/* The same, writing p16 = bf16(p) of the updated values on the way (bf16
 * training's weight copy, f32_to_bf16's rounding): p is not read again. */
void adamw_update_bf16(float *p, float *m, float *v, const float *grad, uint16_t *p16, int64_t n,
                       const adamw_coeffs *k);
/* The same writing the updated values into the two AMX layouts of bf16
 * training's weight copy (kernels/convert.h): the tensor is rows [row0,
 * row0 + n / IC) of a linear layer's (OC, IC) weight, row0 and n / IC
 * multiples of BF16_AMX_ROWS. Each band of rows is packed while it is in
 * cache, f32_to_bf16's rounding. */
typedef struct {
    uint16_t *fwd, *bwd;
    int64_t row0, IC, OC;
} bf16_amx_copy;
/* Where a tensor's bf16 copy lives: plain (its values in order) or AMX
 * blocked (amx.fwd not NULL); all NULL: none. */
typedef struct {
    uint16_t *plain;
    bf16_amx_copy amx;
} bf16_copy;
void adamw_update_amx(float *p, float *m, float *v, const float *grad, const bf16_amx_copy *c, int64_t n,
                      const adamw_coeffs *k);
/* The same over a (rows, width) table whose rows with used[r] == 0 have zero
 * gradients: those are not read (g = 0 gives the same bits). A row with
 * live[r] == 0 (live NULL: every row is live) must have m = v = +0 throughout;
 * if it is also unused, its moments stay +0 and its update is p *= decay_factor
 * (the step adds -0), so only p is touched, and nothing when the factor is 1. */
void adamw_update_rows(float *p, float *m, float *v, const float *grad, const uint8_t *used, const uint8_t *live,
                       int64_t rows, int64_t width, const adamw_coeffs *k);

/* Rows of a table brought up to date lazily (train/optim.c, lazy_rows): row
 * r holds the result of every step through row_step[r]; log[i] holds the
 * coefficients of step log_first + 1 + i. */
typedef struct {
    const int32_t *rows; /* the rows to bring to to_step (distinct) */
    int64_t n;
    int64_t *row_step; /* [table rows], set to to_step */
    const adamw_coeffs *log;
    int64_t log_first, to_step;
} adamw_replay;

/* For each listed row, the steps row_step[r] + 1 .. to_step as
 * adamw_update_rows would have run them one by one: with zero gradients
 * (moments and update if live[r] or live NULL, else p *= decay_factor), the
 * last one with the row's gradient when grad is not NULL (grad + r * width).
 * The same arithmetic in the same order: the same bits as running every step
 * on every row, with each row's three vectors read and written once. */
void adamw_replay_rows(float *p, float *m, float *v, const float *grad, const uint8_t *live, int64_t width,
                       const adamw_replay *rp);

/* sum x^2 in double over 32 interleaved partial sums (4 AVX-512 or 8 AVX2
 * registers: FMA chains that keep up with memory), then the partials and the
 * tail in order: the same bits at either ISA level. One thread. */
double sum_squares_f32(const float *x, int64_t n);
/* out[j] = sum_squares_f32(x + j * stride, n) for j < streams (at most
 * SUM_SQUARES_STREAMS), bit for bit, reading the streams side by side: one
 * thread keeps more misses in flight (a read-only pass over 172 MB of
 * gradients: 20 -> 32 GB/s on 2 threads of the Intel Xeon VM). */
#define SUM_SQUARES_STREAMS 8
void sum_squares_f32_streams(const float *x, int64_t stride, int64_t n, int streams, double *out);

#endif
