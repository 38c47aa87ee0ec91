/* bf16 inference against fp32 on the same model and batch: logits within a
 * bf16-sized tolerance and the same predicted label on (almost) every token;
 * a training state takes bf16 but refuses int8. On a CPU without native bf16 (or with
 * NERC_ISA=avx2) the comparison is skipped and the refusal is checked instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/convert.h"
#include "kernels/gemm.h"
#include "kernels/linear_bf16.h"
#include "nerc.h"
#include "test.h"

#define SEQS 8
#define LEN 40

static void check_model(const char *dir) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    if (!m)
        return;
    rng_state r;
    rng_seed(&r, 3);
    int32_t ids[SEQS * LEN], pos[SEQS * LEN], offs[SEQS + 1];
    for (int b = 0; b <= SEQS; b++)
        offs[b] = b * LEN;
    for (int i = 0; i < SEQS * LEN; i++) {
        ids[i] = 1000 + (int32_t)rng_below(&r, 20000);
        pos[i] = i % LEN;
    }
    nerc_batch batch = {SEQS, SEQS * LEN, ids, pos, NULL, offs, NULL, NULL};
    int32_t K = nerc_model_num_labels(m);
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, SEQS, SEQS * LEN, SEQS * LEN * LEN, 0));
    float *ref = malloc(sizeof(float) * SEQS * LEN * (size_t)K);
    CHECK_OK(nerc_forward(s, &batch, 0, 0));
    memcpy(ref, nerc_state_logits(s), sizeof(float) * SEQS * LEN * (size_t)K);
    CHECK_OK(nerc_state_set_precision(s, NERC_PRECISION_BF16));
    CHECK_OK(nerc_forward(s, &batch, 0, 0));
    const float *got = nerc_state_logits(s);
    double worst = 0, range = 0;
    int agree = 0;
    for (int i = 0; i < SEQS * LEN; i++) {
        int a = 0, b = 0;
        for (int k = 0; k < K; k++) {
            worst = fmax(worst, fabs(got[i * K + k] - ref[i * K + k]));
            range = fmax(range, fabs(ref[i * K + k]));
            a = ref[i * K + k] > ref[i * K + a] ? k : a;
            b = got[i * K + k] > got[i * K + b] ? k : b;
        }
        agree += a == b;
    }
    /* bf16 keeps 8 bits of mantissa (0.4% per rounding); observed ~0.3% of the logit range */
    CHECK_MSG(worst <= 0.01 * range, "%s: bf16 vs fp32 max |logit diff| %.3g (logit range %.3g)", dir, worst, range);
    CHECK_MSG(agree >= SEQS * LEN * 95 / 100, "%s: argmax agrees on %d of %d tokens", dir, agree, SEQS * LEN);
    printf("  %s: bf16 vs fp32: max |logit diff| %.3g of range %.3g, argmax agrees on %d/%d tokens\n", dir, worst,
           range, agree, SEQS * LEN);
    CHECK_OK(nerc_state_set_precision(s, NERC_PRECISION_FP32));
    CHECK_OK(nerc_forward(s, &batch, 0, 0));
    CHECK(!memcmp(ref, nerc_state_logits(s), sizeof(float) * SEQS * LEN * (size_t)K));
    free(ref);
    nerc_state_free(s);
    nerc_state *t = NULL;
    CHECK_OK(nerc_state_init(&t, m, 1, 8, 64, 1));
    /* a training state takes bf16 (mixed-precision training, tests/test_train_bf16.c), not int8 */
    CHECK(t && nerc_state_set_precision(t, NERC_PRECISION_BF16) == NERC_OK);
    CHECK(t && nerc_state_set_precision(t, NERC_PRECISION_INT8) == NERC_ERR_ARG);
    nerc_state_free(t);
    nerc_model_free(m);
}

/* x[i] rounded to bf16 as nerc rounds it (one f32_to_bf16 call: it is a
 * parallel kernel, not for single values in a loop). */
static void round_to_bf16(float *x, int64_t n) {
    uint16_t *h = malloc((size_t)n * sizeof *h);
    f32_to_bf16(h, x, n);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)h[i] << 16;
        memcpy(&x[i], &u, sizeof u);
    }
    free(h);
}

/* One bf16 linear layer of N rows against a double sum over the same bf16
 * operands: only the fp32 accumulation rounds (bound IC * 2^-23 of the sum of
 * |terms|). N around and past 64: on AMX the rows run in blocks of 64 x 2^k
 * and a tail, each through its own primitive. */
static double linear_error(int64_t N, int64_t IC, int64_t OC) {
    rng_state r;
    rng_seed(&r, (uint64_t)(N * 1000 + IC));
    float *x = malloc((size_t)(N * IC) * sizeof *x), *w = malloc((size_t)(OC * IC) * sizeof *w);
    float *b = malloc((size_t)OC * sizeof *b), *out = malloc((size_t)(N * OC) * sizeof *out);
    uint16_t *scratch = malloc((size_t)(linear_bf16_rows(N) * IC) * sizeof *scratch); /* AMX: whole row blocks */
    for (int64_t i = 0; i < N * IC; i++)
        x[i] = (float)rng_normal(&r);
    for (int64_t i = 0; i < OC * IC; i++)
        w[i] = 0.05f * (float)rng_normal(&r);
    for (int64_t o = 0; o < OC; o++)
        b[o] = 0.1f * (float)rng_normal(&r);
    linear_bf16 *l = NULL;
    CHECK_OK(linear_bf16_create(&l, w, b, IC, OC));
    CHECK_OK(l ? linear_bf16_forward(l, out, x, scratch, N) : NERC_OK);
    round_to_bf16(x, N * IC);
    round_to_bf16(w, OC * IC);
    double worst = 0.0;
    for (int64_t n = 0; l && n < N; n++)
        for (int64_t o = 0; o < OC; o++) {
            double exact = b[o], mag = fabs(b[o]);
            for (int64_t k = 0; k < IC; k++) {
                double t = (double)x[n * IC + k] * w[o * IC + k];
                exact += t, mag += fabs(t);
            }
            worst = fmax(worst, fabs(out[n * OC + o] - exact) / (mag * (double)IC * 0x1p-23 + 1e-30));
        }
    int made = l != NULL;
    linear_bf16_free(l);
    free(x), free(w), free(b), free(out), free(scratch);
    return made ? worst : INFINITY;
}

static void test_linear(int64_t N, int64_t IC, int64_t OC) {
    double worst = linear_error(N, IC, OC);
    CHECK_MSG(worst <= 1.0, "bf16 linear %lld x %lld -> %lld: %.3g of the fp32 accumulation bound", (long long)N,
              (long long)IC, (long long)OC, worst);
    printf("  bf16 linear %4lld x %4lld -> %4lld: %.2f of the fp32 accumulation bound\n", (long long)N, (long long)IC,
           (long long)OC, worst);
}

/* A weight-gradient product C(M,N) = A^T B over K rows (gemm_bf16(1, 0, ...):
 * on AMX a kept per-shape primitive, or the runtime-dims one once the table is
 * full) against a double sum of the same bf16 values. */
static void test_weight_grad_product(const char *when) {
    enum { M = 48, N = 40, K = 100 };
    rng_state r;
    rng_seed(&r, 77);
    float a[K * M], b[K * N], c[M * N];
    uint16_t a16[K * M], b16[K * N];
    for (int i = 0; i < K * M; i++)
        a[i] = (float)rng_normal(&r);
    for (int i = 0; i < K * N; i++)
        b[i] = (float)rng_normal(&r);
    round_to_bf16(a, K * M);
    round_to_bf16(b, K * N);
    f32_to_bf16(a16, a, K * M);
    f32_to_bf16(b16, b, K * N);
    for (int i = 0; i < M * N; i++)
        c[i] = 1.0f; /* accumulated into */
    CHECK_OK(gemm_bf16(1, 0, M, N, K, a16, b16, 1.0f, c));
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double exact = 1.0, mag = 1.0;
            for (int k = 0; k < K; k++)
                exact += (double)a[k * M + i] * b[k * N + j], mag += fabs((double)a[k * M + i] * b[k * N + j]);
            worst = fmax(worst, fabs(c[i * N + j] - exact) / (mag * K * 0x1p-23));
        }
    CHECK_MSG(worst <= 1.0, "weight-gradient product (%s): %.3g of the fp32 accumulation bound", when, worst);
    printf("  bf16 weight-gradient product %s: %.2f of the fp32 accumulation bound\n", when, worst);
}

/* More row counts and layer sizes than the kept AMX primitives (512: 10 sizes x
 * 1..64 rows; past that each is built, run and dropped). */
static void test_many_shapes(void) {
    double worst = 0.0;
    for (int64_t IC = 16; IC < 26; IC++)
        for (int64_t N = 1; N <= 64; N++)
            worst = fmax(worst, linear_error(N, IC, 8));
    CHECK_MSG(worst <= 1.0, "640 bf16 linear shapes: %.3g of the fp32 accumulation bound", worst);
    printf("  640 bf16 linear shapes (16..25 -> 8, 1..64 rows): %.2f of the fp32 accumulation bound\n", worst);
}

/* No AVX512_BF16 / AMX-BF16 at the level in use: a one-line refusal, no crash. */
static void check_refusal(void) {
    nerc_model *m = NULL;
    nerc_state *s = NULL;
    CHECK_OK(nerc_model_load(&m, SHARED_DIR "/fixtures/model/tiny", NULL, 0, 0));
    CHECK_OK(nerc_state_init(&s, m, 2, 16, 64, 0));
    nerc_status st = s ? nerc_state_set_precision(s, NERC_PRECISION_BF16) : NERC_ERR_ARG;
    CHECK_MSG(st == NERC_ERR_UNSUPPORTED && strstr(nerc_last_error(), "AVX512_BF16") &&
                  !strchr(nerc_last_error(), '\n'),
              "status %d: %s", (int)st, nerc_last_error());
    CHECK_OK(s ? nerc_state_set_precision(s, NERC_PRECISION_FP32) : NERC_OK); /* the state stays usable */
    nerc_state_free(s);
    nerc_model_free(m);
}

int main(void) {
    if (nerc_precision_check(NERC_PRECISION_BF16) != NERC_OK) {
        SKIP("bf16 vs fp32 logits: %s", nerc_last_error());
        check_refusal();
        return test_report("test_bf16");
    }
    test_linear(1, 5, 3);
    test_linear(63, 96, 32);
    test_linear(64, 32, 96);
    test_linear(130, 257, 769);
    test_linear(333, 768, 64);
    test_weight_grad_product("first");
    test_many_shapes();
    test_weight_grad_product("after them");
    check_model(SHARED_DIR "/fixtures/model/tiny");
    check_model(SHARED_DIR "/fixtures/model/small");
    return test_report("test_bf16");
}
