/* int8 dynamic quantization: the activation quantizer's error bound and range,
 * the int8 linear layer against an exact integer reference computed from the
 * same quantized values (odd shapes), against fp32 within the bound that
 * quantization allows, and the model's int8 logits against fp32 (error bound
 * and argmax agreement, reported). Runs on every CPU (7-bit activations
 * without VNNI). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/rng.h"
#include "kernels/linear_int8.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "nerc.h"
#include "test.h"

static rng_state rng;

static float *randn(int64_t n, float scale) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(&rng) * scale;
    return x;
}

/* |x - s (q - z)| <= s/2 per element (plus float slack), q in [0, qmax]. */
static void test_quantize_rows(int32_t qmax) {
    enum { N = 7, C = 37 };
    float *x = randn(N * C, 2.0f), scale[N];
    int32_t zero[N];
    uint8_t q[N * C];
    for (int c = 0; c < C; c++) {
        x[0 * C + c] = 0.0f;               /* all zero */
        x[1 * C + c] = fabsf(x[1 * C + c]); /* all positive: zero point 0 */
        x[2 * C + c] = -fabsf(x[2 * C + c]) - 1.0f; /* all negative: zero point qmax */
    }
    quantize_rows_u8(q, scale, zero, x, N, C, qmax);
    double worst = 0.0;
    int in_range = 1;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            in_range &= q[n * C + c] <= qmax;
            double back = (double)scale[n] * (q[n * C + c] - zero[n]);
            worst = fmax(worst, fabs(back - x[n * C + c]) / scale[n]);
        }
    CHECK_MSG(worst <= 0.5 + 1e-4, "qmax %d: |x - s (q - z)| reaches %.4f s", qmax, worst);
    CHECK(in_range);
    for (int n = 1; n < N; n++) { /* the scale is the row's range (0 included) over qmax, exactly */
        float lo = 0.0f, hi = 0.0f;
        for (int c = 0; c < C; c++)
            lo = fminf(lo, x[n * C + c]), hi = fmaxf(hi, x[n * C + c]);
        CHECK_MSG(scale[n] == (hi - lo) / (float)qmax, "row %d: scale %.9g, range %.9g .. %.9g", n, scale[n], lo, hi);
    }
    CHECK(zero[0] == 0 && zero[1] == 0 && zero[2] == qmax);
    for (int c = 0; c < C; c++)
        CHECK(q[c] == 0); /* zero stays exact */
    free(x);
}

/* linear_int8 vs the integer reference of the same quantized operands, and vs fp32. */
static void test_linear(int64_t N, int64_t IC, int64_t OC) {
    float *x = randn(N * IC, 1.0f), *w = randn(OC * IC, 0.05f), *b = randn(OC, 0.1f);
    float *out = malloc((size_t)(N * OC) * sizeof *out), *ref32 = malloc((size_t)(N * OC) * sizeof *ref32);
    void *scratch = aligned_alloc(64, (linear_int8_scratch_bytes(N, IC) + 63) & ~(size_t)63);
    linear_int8 *l = NULL;
    CHECK_OK(linear_int8_create(&l, w, b, IC, OC));
    if (!l)
        return;
    CHECK_OK(linear_int8_forward(l, out, x, scratch, N));
    const int8_t *qw;
    const float *sw;
    int32_t qmax;
    linear_int8_weights(l, &qw, &sw, &qmax);
    uint8_t *qx = malloc((size_t)(N * IC));
    float *sx = malloc((size_t)N * sizeof *sx);
    int32_t *zx = malloc((size_t)N * sizeof *zx);
    quantize_rows_u8(qx, sx, zx, x, N, IC, qmax);
    linear_forward(ref32, x, w, b, N, IC, OC);
    double worst_exact = 0.0, worst_bound = 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < OC; o++) {
            int64_t acc = 0, mag = 0;
            double bound = 0.0;
            for (int64_t k = 0; k < IC; k++) {
                acc += (int64_t)(qx[n * IC + k] - zx[n]) * qw[o * IC + k];
                mag += llabs((int64_t)(qx[n * IC + k] - zx[n]) * qw[o * IC + k]);
                /* |x w - x' w'| <= |x| e_w + |w'| e_x, e = half a step */
                bound += fabs(x[n * IC + k]) * sw[o] / 2 + fabs(qw[o * IC + k] * (double)sw[o]) * sx[n] / 2;
            }
            double exact = (double)sx[n] * sw[o] * (double)acc + b[o], got = out[n * OC + o];
            /* relative to the size of the terms: a sum that cancels to ~0 keeps its rounding */
            worst_exact = fmax(worst_exact, fabs(got - exact) / ((double)sx[n] * sw[o] * (double)mag + fabs(b[o])));
            worst_bound = fmax(worst_bound, fabs(got - ref32[n * OC + o]) / (bound + 1e-6));
        }
    /* int32 sums are exact; only the fp32 dequantization rounds */
    CHECK_MSG(worst_exact <= 1e-6, "N=%lld IC=%lld OC=%lld: int8 vs integer reference: rel err %.3g", (long long)N,
              (long long)IC, (long long)OC, worst_exact);
    CHECK_MSG(worst_bound <= 1.0, "N=%lld IC=%lld OC=%lld: int8 vs fp32 exceeds the quantization bound (%.3g of it)",
              (long long)N, (long long)IC, (long long)OC, worst_bound);
    printf("  int8 linear %4lld x %4lld -> %4lld: vs integer reference %.1e, vs fp32 %.2f of the bound\n",
           (long long)N, (long long)IC, (long long)OC, worst_exact, worst_bound);
    linear_int8_free(l);
    free(x), free(w), free(b), free(out), free(ref32), free(scratch), free(qx), free(sx), free(zx);
}

/* The model's int8 logits against fp32 on a random batch. */
static void test_model(const char *dir) {
    enum { SEQS = 8, LEN = 40 };
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    if (!m)
        return;
    int32_t ids[SEQS * LEN], pos[SEQS * LEN], offs[SEQS + 1], K = nerc_model_num_labels(m);
    for (int b = 0; b <= SEQS; b++)
        offs[b] = b * LEN;
    for (int i = 0; i < SEQS * LEN; i++) {
        ids[i] = 1000 + (int32_t)rng_below(&rng, 20000);
        pos[i] = i % LEN;
    }
    nerc_batch batch = {.n_seqs = SEQS, .n_tokens = SEQS * LEN, .input_ids = ids, .position_ids = pos,
                        .seq_offsets = offs};
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, SEQS, SEQS * LEN, SEQS * LEN * LEN, 0));
    size_t nl = (size_t)(SEQS * LEN * K);
    float *ref = malloc(nl * sizeof *ref);
    CHECK_OK(nerc_forward(s, &batch, 0, 0));
    memcpy(ref, nerc_state_logits(s), nl * sizeof *ref);
    CHECK_OK(nerc_state_set_precision(s, NERC_PRECISION_INT8));
    CHECK_OK(nerc_forward(s, &batch, 0, 0));
    const float *got = nerc_state_logits(s);
    double worst = 0, range = 0;
    int agree = 0;
    for (int i = 0; i < SEQS * LEN; i++) {
        for (int k = 0; k < K; k++) {
            worst = fmax(worst, fabs(got[i * K + k] - ref[i * K + k]));
            range = fmax(range, fabs(ref[i * K + k]));
        }
        agree += argmax_row(got + i * K, K) == argmax_row(ref + i * K, K);
    }
    /* 8-bit (7-bit without VNNI) operands: a few % of the logit range at most */
    CHECK_MSG(worst <= 0.05 * range, "%s: int8 vs fp32 max |logit diff| %.3g (range %.3g)", dir, worst, range);
    CHECK_MSG(agree >= SEQS * LEN * 90 / 100, "%s: argmax agrees on %d of %d tokens", dir, agree, SEQS * LEN);
    printf("  %s: int8 vs fp32: max |logit diff| %.3g of range %.3g, argmax agrees on %d/%d tokens\n", dir, worst,
           range, agree, SEQS * LEN);
    CHECK_OK(nerc_state_set_precision(s, NERC_PRECISION_FP32));
    CHECK_OK(nerc_forward(s, &batch, 0, 0));
    CHECK(!memcmp(ref, nerc_state_logits(s), nl * sizeof *ref));
    free(ref);
    nerc_state_free(s);
    nerc_model_free(m);
}

int main(void) {
    rng_seed(&rng, 8);
    printf("  activations: %s\n", cpu_int8_vnni() ? "u8 (VNNI)" : "7-bit (no VNNI: no int16 saturation)");
    test_quantize_rows(255);
    test_quantize_rows(127);
    nerc_precision p;
    CHECK(nerc_precision_parse("int8", &p) == NERC_OK && p == NERC_PRECISION_INT8);
    CHECK_OK(nerc_precision_check(NERC_PRECISION_INT8));
    test_linear(1, 5, 3);
    test_linear(7, 33, 17);
    test_linear(61, 768, 64);
    test_linear(64, 96, 32);
    test_linear(130, 257, 769);
    test_linear(333, 768, 64);
    test_model(SHARED_DIR "/fixtures/model/tiny");
    test_model(SHARED_DIR "/fixtures/model/small");
    return test_report("test_int8");
}
