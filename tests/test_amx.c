/* nerc's AMX kernels (kernels/amx.h) against the definition: the panels hold
 * f32_to_bf16 of each value at its place in the tiles' layout, zeros past the
 * tokens; the weight gradients equal the fp64 sums of the bf16 products
 * within fp32 accumulation, written or added, over odd token counts, and the
 * same as oneDNN's product (gemm_bf16) within the same bound, with the sum of
 * their squares (the gradient norm's share); the products
 * over the blocked weight copies (forward with its bias, input gradient written
 * or added) equal the fp64 sums over odd row counts. A CPU (or an
 * NERC_ISA level) without AMX-BF16 reports the cases skipped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/amx.h"
#include "kernels/convert.h"
#include "kernels/gemm.h"
#include "test.h"

static rng_state rng;

static float bf16_value(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Values in [-1, 1), with a tie of the rounding among them when room, and a
 * NaN and infinities when specials. */
static float *random_rows(int64_t n, int specials) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * rng_uniform(&rng) - 1.0);
    if (n > 40) {
        uint32_t tie = 0x3f808000u; /* 1.00390625: halfway between two bf16 values */
        memcpy(&x[7], &tie, sizeof tie);
    }
    if (n > 40 && specials) {
        x[11] = 1e30f * 1e30f;
        x[13] = -x[11];
        x[17] = x[11] + x[13];
    }
    return x;
}

static int64_t a_index(int64_t t, int64_t o, int64_t K) { return (o / 16 * (K / 32) + t / 32) * 512 + o % 16 * 32 + t % 32; }
static int64_t b_index(int64_t t, int64_t i, int64_t K) { return (i / 16 * (K / 2) + t / 2) * 32 + i % 16 * 2 + t % 2; }

static void test_panels(int64_t N, int64_t IC, int64_t OC) {
    int64_t K = amx_panel_rows(N);
    float *dout = random_rows(N * OC, 1), *inp = random_rows(N * IC, 1);
    uint16_t *a = malloc((size_t)(K * OC) * 2), *b = malloc((size_t)(K * IC) * 2);
    memset(a, 0xff, (size_t)(K * OC) * 2); /* NaN bits where the zeros go */
    memset(b, 0xff, (size_t)(K * IC) * 2);
    amx_pack_dout(a, dout, N, OC);
    amx_pack_inp(b, inp, N, IC);
    int64_t bad_a = 0, bad_b = 0;
    for (int64_t t = 0; t < K; t++) {
        for (int64_t o = 0; o < OC; o++)
            bad_a += a[a_index(t, o, K)] != (t < N ? bf16_bits(dout[t * OC + o]) : 0);
        for (int64_t i = 0; i < IC; i++)
            bad_b += b[b_index(t, i, K)] != (t < N ? bf16_bits(inp[t * IC + i]) : 0);
    }
    CHECK_MSG(bad_a == 0 && bad_b == 0, "N %lld IC %lld OC %lld: %lld dout, %lld inp values misplaced",
              (long long)N, (long long)IC, (long long)OC, (long long)bad_a, (long long)bad_b);
    free(dout), free(inp), free(a), free(b);
}

/* How far an fp32 sum of these K terms may be from the exact one. */
static double sum_tolerance(double abs_sum, int64_t K) { return 2.0 * (double)K * 0x1.0p-24 * abs_sum + 1e-30; }

static void test_dweight(int64_t N, int64_t IC, int64_t OC, int accumulate) {
    int64_t K = amx_panel_rows(N);
    float *dout = random_rows(N * OC, 0), *inp = random_rows(N * IC, 0), *start = random_rows(OC * IC, 0);
    uint16_t *a = malloc((size_t)(K * OC) * 2), *b = malloc((size_t)(K * IC) * 2);
    float *dw = malloc((size_t)(OC * IC) * sizeof *dw), *ref = malloc((size_t)(OC * IC) * sizeof *ref);
    memcpy(dw, start, (size_t)(OC * IC) * sizeof *dw);
    amx_pack_dout(a, dout, N, OC);
    amx_pack_inp(b, inp, N, IC);
    double squares = 0.0, want_squares = 0.0;
    amx_dweight(dw, a, b, K, IC, OC, accumulate, &squares);
    for (int64_t i = 0; i < OC * IC; i++)
        want_squares += (double)dw[i] * dw[i];
    /* oneDNN's product of the same bf16 values (rows: the plain layouts, padded to its K) */
    int64_t K1 = (N + gemm_bf16_k_align() - 1) / gemm_bf16_k_align() * gemm_bf16_k_align();
    uint16_t *o16 = calloc((size_t)(K1 * OC), 2), *i16 = calloc((size_t)(K1 * IC), 2);
    f32_to_bf16(o16, dout, N * OC);
    f32_to_bf16(i16, inp, N * IC);
    memcpy(ref, start, (size_t)(OC * IC) * sizeof *ref);
    CHECK_OK(gemm_bf16(1, 0, OC, IC, K1, o16, i16, accumulate ? 1.0f : 0.0f, ref));
    int64_t far = 0, far_onednn = 0;
    for (int64_t o = 0; o < OC; o++)
        for (int64_t i = 0; i < IC; i++) {
            double sum = accumulate ? start[o * IC + i] : 0.0, mag = fabs(sum);
            for (int64_t t = 0; t < N; t++) {
                double p = (double)bf16_value(o16[t * OC + o]) * bf16_value(i16[t * IC + i]);
                sum += p, mag += fabs(p);
            }
            double tol = sum_tolerance(mag, K + 1), got = dw[o * IC + i];
            far += !(fabs(got - sum) <= tol);
            far_onednn += !(fabs(got - ref[o * IC + i]) <= 2 * tol);
        }
    CHECK_MSG(fabs(squares - want_squares) <= 1e-12 * want_squares, "N %lld IC %lld OC %lld: sum of squares %.17g vs %.17g",
              (long long)N, (long long)IC, (long long)OC, squares, want_squares);
    CHECK_MSG(far == 0 && far_onednn == 0,
              "N %lld IC %lld OC %lld %s: %lld sums off the fp64 ones, %lld off oneDNN's", (long long)N,
              (long long)IC, (long long)OC, accumulate ? "added" : "written", (long long)far, (long long)far_onednn);
    free(dout), free(inp), free(start), free(a), free(b), free(dw), free(ref), free(o16), free(i16);
}

/* c = a W^T (+ bias) over the fwd copy and c (+)= a W over the bwd copy of
 * a random W (OC, IC), M rows; a's rows past M hold NaN (dropped) and c's
 * rows past M must stay as they were. */
static void test_blocked(int64_t M, int64_t IC, int64_t OC, int use_bias, int accumulate) {
    int64_t R = amx_panel_rows(M), widest = IC > OC ? IC : OC;
    float *w = random_rows(OC * IC, 0), *bias = random_rows(OC, 0), *x = random_rows(M * widest, 0);
    uint16_t *fwd = aligned_alloc(64, (size_t)(IC * OC) * 2), *bwd = aligned_alloc(64, (size_t)(IC * OC) * 2);
    for (int64_t row = 0; row < OC; row += BF16_AMX_ROWS)
        bf16_pack_amx_rows(fwd, bwd, w + row * IC, row, IC, OC);
    uint16_t *a = malloc((size_t)(R * widest) * 2);
    memset(a, 0xff, (size_t)(R * widest) * 2);
    for (int dir = 0; dir < 2; dir++) { /* 0: forward (K = IC, N = OC), 1: input gradient (K = OC, N = IC) */
        int64_t K = dir ? OC : IC, N = dir ? IC : OC;
        f32_to_bf16(a, x, M * K);
        float *c = random_rows((M + 1) * N, 0), *before = malloc((size_t)((M + 1) * N) * sizeof *before);
        memcpy(before, c, (size_t)((M + 1) * N) * sizeof *before);
        const float *b_add = !dir && use_bias && !accumulate ? bias : NULL;
        amx_matmul_blocked(c, a, dir ? bwd : fwd, b_add, M, K, N, accumulate);
        int64_t far = 0, touched = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double sum = accumulate ? before[m * N + n] : b_add ? b_add[n] : 0.0, mag = fabs(sum);
                for (int64_t k = 0; k < K; k++) {
                    float wv = bf16_value(bf16_bits(dir ? w[k * IC + n] : w[n * IC + k]));
                    double p = (double)bf16_value(a[m * K + k]) * wv;
                    sum += p, mag += fabs(p);
                }
                far += !(fabs(c[m * N + n] - sum) <= sum_tolerance(mag, K + 1));
            }
        for (int64_t n = 0; n < N; n++)
            touched += memcmp(&c[M * N + n], &before[M * N + n], sizeof *c) != 0;
        CHECK_MSG(far == 0 && touched == 0, "M %lld IC %lld OC %lld %s%s%s: %lld sums off, %lld values past M changed",
                  (long long)M, (long long)IC, (long long)OC, dir ? "input gradient" : "forward",
                  b_add ? " + bias" : "", accumulate ? " added" : "", (long long)far, (long long)touched);
        free(c), free(before);
    }
    free(w), free(bias), free(x), free(fwd), free(bwd), free(a);
}

int main(void) {
    rng_seed(&rng, 5);
    if (!amx_bf16_ready()) {
        SKIP("no AMX-BF16 at this ISA level (or the OS refused the tile state): the AMX kernels do not run here");
        return test_report("test_amx");
    }
    CHECK(amx_panel_rows(1) == 32 && amx_panel_rows(32) == 32 && amx_panel_rows(334) == 352);
    CHECK(amx_dweight_fits(768, 3072) && !amx_dweight_fits(768, 9) && !amx_dweight_fits(48, 64));
    test_panels(1, 32, 16);
    test_panels(45, 48, 80);
    test_panels(334, 96, 64);
    const int64_t shapes[][3] = {{1, 32, 32}, {31, 64, 96}, {33, 96, 64}, {70, 160, 32}, {334, 768, 256}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int acc = 0; acc < 2; acc++)
            test_dweight(shapes[s][0], shapes[s][1], shapes[s][2], acc);
    const int64_t sizes[][3] = {{1, 64, 64}, {31, 128, 64}, {33, 64, 192}, {64, 128, 128}, {334, 256, 192}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int mode = 0; mode < 3; mode++)
            test_blocked(sizes[s][0], sizes[s][1], sizes[s][2], mode == 1, mode == 2);
    return test_report("test_amx");
}
