/* Runtime ISA dispatch: the level in use follows the CPU and NERC_ISA; every
 * available level of nerc's kernels gives the same logits, loss and gradients
 * (forward + backward with dropout on) within fp32 tolerance, and the same
 * bits where the kernel is elementwise (bf16 conversion, AdamW). A level this
 * CPU lacks is reported as skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/rng.h"
#include "kernels/adamw.h"
#include "kernels/amx.h"
#include "kernels/convert.h"
#include "kernels/simd.h"
#include "model/encoder.h"
#include "nerc.h"
#include "test.h"

#define SEQS 4
#define LEN 24

typedef struct {
    float *logits, *grads;
    double loss;
} run_out;

/* One training forward (dropout on, fixed seed) + backward on a fixed batch. */
static void run_model(nerc_model *m, run_out *o) {
    rng_state r;
    rng_seed(&r, 11);
    int32_t ids[SEQS * LEN], pos[SEQS * LEN], labels[SEQS * LEN], offs[SEQS + 1];
    int32_t K = nerc_model_num_labels(m);
    for (int b = 0; b <= SEQS; b++)
        offs[b] = b * LEN - (b > 0 ? b : 0); /* lengths 23, 23, 23, 27: uneven */
    offs[SEQS] = SEQS * LEN;
    for (int i = 0; i < SEQS * LEN; i++) {
        ids[i] = 1000 + (int32_t)rng_below(&r, 20000);
        labels[i] = i % 5 == 0 ? NERC_IGNORE_INDEX : (int32_t)rng_below(&r, (uint64_t)K);
    }
    for (int b = 0; b < SEQS; b++)
        for (int i = offs[b]; i < offs[b + 1]; i++)
            pos[i] = i - offs[b];
    nerc_batch batch = {SEQS, SEQS * LEN, ids, pos, labels, offs, NULL, NULL};
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, SEQS, SEQS * LEN, 2 * SEQS * LEN * LEN, 1));
    if (!s)
        return;
    nerc_state_zero_grad(s);
    CHECK_OK(nerc_forward(s, &batch, 1, 77));
    CHECK_OK(nerc_loss(s, &batch, 0.0, &o->loss));
    CHECK_OK(nerc_backward(s, &batch));
    size_t nl = (size_t)(SEQS * LEN * K), np = (size_t)nerc_model_num_params(m);
    o->logits = malloc(nl * sizeof(float));
    o->grads = malloc(np * sizeof(float));
    memcpy(o->logits, nerc_state_logits(s), nl * sizeof(float));
    memcpy(o->grads, s->grad_mem, np * sizeof(float));
    nerc_state_free(s);
}

static double max_diff(const float *a, const float *b, int64_t n, double *range) {
    double d = 0.0;
    *range = 0.0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        *range = fmax(*range, fabs((double)a[i]));
    }
    return d;
}

static void compare_levels(const char *dir) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    if (!m)
        return;
    nerc_model_set_dropout(m, 0.1f, 0.1f);
    run_out ref = {0}, got = {0};
    simd_select(CPU_ISA_AVX2);
    CHECK(!strcmp(simd_get()->level, "avx2") && simd_get()->gelu_forward == simd_kernels_avx2.gelu_forward);
    run_model(m, &ref);
    simd_select(CPU_ISA_AVX512);
    CHECK(!strcmp(simd_get()->level, "avx512") && simd_get()->gelu_forward != simd_kernels_avx2.gelu_forward);
    run_model(m, &got);
    simd_select(cpu_isa());
    if (ref.logits && got.logits) {
        int32_t K = nerc_model_num_labels(m);
        double rl, rg;
        double dl = max_diff(ref.logits, got.logits, SEQS * LEN * K, &rl);
        double dg = max_diff(ref.grads, got.grads, nerc_model_num_params(m), &rg);
        /* the levels differ only in summation order (vector width): fp32 rounding */
        CHECK_MSG(dl <= 1e-5 * (1.0 + rl), "%s: logits avx2 vs avx512 differ by %.3g (range %.3g)", dir, dl, rl);
        CHECK_MSG(dg <= 1e-5 * (1.0 + rg), "%s: gradients avx2 vs avx512 differ by %.3g (range %.3g)", dir, dg, rg);
        CHECK_NEAR(ref.loss, got.loss, 1e-6 * (1.0 + fabs(ref.loss)));
        printf("  %s: avx2 vs avx512 kernels: logits %.2e, gradients %.2e, loss %.2e apart\n", dir, dl, dg,
               fabs(ref.loss - got.loss));
    }
    free(ref.logits), free(ref.grads), free(got.logits), free(got.grads);
    nerc_model_free(m);
}

/* Elementwise kernels give the same bits at every level. */
static void compare_elementwise(void) {
    enum { N = 1037 };
    static float x[N], p[2][N], mo[2][N], v[2][N], g[N];
    static uint16_t h[2][N];
    double sq[2][3], streams[2][SUM_SQUARES_STREAMS];
    int streams_apart = 0;
    rng_state r;
    rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        x[i] = (float)rng_normal(&r) * 3.0f;
        g[i] = (float)rng_normal(&r) * 0.01f;
        p[0][i] = p[1][i] = (float)rng_normal(&r);
        mo[0][i] = mo[1][i] = v[0][i] = v[1][i] = 0.0f;
    }
    x[0] = NAN, x[1] = INFINITY, x[2] = -0.0f, x[3] = 1e-40f;
    for (int l = 0; l < 2; l++) {
        simd_select(l == 0 ? CPU_ISA_AVX2 : CPU_ISA_AVX512);
        f32_to_bf16(h[l], x, N);
        sq[l][0] = sum_squares_f32(g, N), sq[l][1] = sum_squares_f32(g + 3, 31), sq[l][2] = sum_squares_f32(g, 64);
        for (int n = 1; n <= SUM_SQUARES_STREAMS; n++) { /* side by side = one by one (97: 3 x 32 + a tail) */
            sum_squares_f32_streams(g + n, 101, 97, n, streams[l]);
            for (int j = 0; j < n; j++) {
                double one = sum_squares_f32(g + n + j * 101, 97);
                streams_apart += memcmp(&one, &streams[l][j], sizeof one) != 0;
            }
        }
        adamw_coeffs k = {0.5f, 0.999f, 0.9f, 0.999f, 1e-3f, 0.03f, 1e-8f};
        for (int step = 0; step < 3; step++)
            adamw_update(p[l], mo[l], v[l], g, N, &k);
    }
    simd_select(cpu_isa());
    CHECK(!memcmp(h[0], h[1], sizeof h[0]));
    CHECK(!memcmp(p[0], p[1], sizeof p[0]) && !memcmp(v[0], v[1], sizeof v[0]));
    CHECK(!memcmp(sq[0], sq[1], sizeof sq[0])); /* the gradient norm's sums */
    CHECK_MSG(streams_apart == 0, "%d sums of streams read side by side differ from one by one", streams_apart);
    CHECK(!memcmp(streams[0], streams[1], sizeof streams[0]));
    double want = 0.0;
    for (int i = 0; i < N; i++)
        want += (double)g[i] * g[i];
    CHECK_NEAR(sq[0][0], want, 1e-12 * want);
}

/* dropout_forward's mask and scale are rng_hash_uniform >= p ? 1 / (1 - p) : 0
 * (as written before the comparison moved to integers), for probabilities on
 * and off the 2^-24 grid, 0 and just below 1, at this level. */
static void check_dropout_mask(void) {
    enum { N = 4099 };
    static float x[N];
    /* and p just above and exactly at an element's own draw d (d < 2^22: d + 1/2 fits a float) */
    uint64_t d = 1u << 22;
    for (int i = 0; i < N && d >= 1u << 22; i++)
        d = rng_hash_u24(77, 12, (uint64_t)i);
    float above = ((float)d + 0.5f) * 0x1p-24f, at = (float)d * 0x1p-24f;
    const float ps[] = {0.0f, 0x1p-24f, 0.1f, 0.25f, 0.5f, 0.3333333f, 0.9999999f, above, at};
    int64_t wrong = 0, dropped = 0;
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        for (int i = 0; i < N; i++)
            x[i] = 1.0f;
        dropout_forward(x, N, ps[k], 77, k < 7 ? 5 + k : 12);
        for (int i = 0; i < N; i++) {
            float want = rng_hash_uniform(77, k < 7 ? 5 + k : 12, (uint64_t)i) >= ps[k] ? 1.0f / (1.0f - ps[k]) : 0.0f;
            wrong += memcmp(&want, &x[i], sizeof want) != 0;
            dropped += x[i] == 0.0f;
        }
    }
    CHECK_MSG(wrong == 0, "%lld dropout scales differ from the float comparison", (long long)wrong);
    CHECK(dropped > 0);
}

/* adamw_update_rows, which does not read the rows marked unused, gives the
 * bits of adamw_update over the table with those rows' gradients 0; rows whose
 * moments are +0 (not live) are updated through p alone, with weight decay
 * (factor < 1) and without (factor 1). */
static void compare_adamw_rows(float decay_factor) {
    enum { ROWS = 17, W = 61, N = ROWS * W };
    static float p[2][N], mo[2][N], v[2][N], g[N], g_rows[N];
    uint8_t used[ROWS], live[ROWS];
    rng_state r;
    rng_seed(&r, 6);
    for (int row = 0; row < ROWS; row++) {
        live[row] = rng_below(&r, 2) == 0;
        for (int c = 0; c < W; c++) {
            int i = row * W + c;
            p[0][i] = p[1][i] = (float)rng_normal(&r);
            mo[0][i] = mo[1][i] = live[row] ? (float)rng_normal(&r) * 0.01f : 0.0f;
            v[0][i] = v[1][i] = live[row] ? (float)rng_uniform(&r) * 1e-4f : 0.0f;
        }
    }
    adamw_coeffs k = {0.5f, decay_factor, 0.9f, 0.999f, 1e-3f, 0.03f, 1e-8f};
    int n_dead = 0;
    for (int step = 0; step < 3; step++) {
        for (int row = 0; row < ROWS; row++) {
            used[row] = rng_below(&r, 3) == 0;
            for (int c = 0; c < W; c++) {
                g[row * W + c] = used[row] ? (float)rng_normal(&r) * 0.01f : 0.0f;
                g_rows[row * W + c] = used[row] ? g[row * W + c] : NAN; /* never read */
            }
        }
        adamw_update(p[0], mo[0], v[0], g, N, &k);
        adamw_update_rows(p[1], mo[1], v[1], g_rows, used, live, ROWS, W, &k);
        for (int row = 0; row < ROWS; row++) {
            n_dead += !live[row] && !used[row];
            live[row] |= used[row];
        }
    }
    CHECK_MSG(n_dead > 0, "no row was updated through p alone");
    CHECK(!memcmp(p[0], p[1], sizeof p[0]) && !memcmp(mo[0], mo[1], sizeof mo[0]) && !memcmp(v[0], v[1], sizeof v[0]));
}

/* Two equal copies of AdamW's p, m, v (each 2 x n values, the copies back to
 * back) and a gradient, NaN and infinities among them; the coefficients
 * (clip factor and decay on). */
static adamw_coeffs adamw_inputs(float *p0, float *m0, float *v0, float *g, int n, uint64_t seed) {
    float *p1 = p0 + n, *m1 = m0 + n, *v1 = v0 + n;
    rng_state r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        p0[i] = p1[i] = (float)rng_normal(&r);
        m0[i] = m1[i] = (float)rng_normal(&r) * 0.01f;
        v0[i] = v1[i] = (float)rng_uniform(&r) * 1e-4f;
        g[i] = (float)rng_normal(&r) * 0.01f;
    }
    p0[5] = p1[5] = NAN, p0[6] = p1[6] = INFINITY, g[7] = NAN;
    return (adamw_coeffs){0.5f, 0.999f, 0.9f, 0.999f, 1e-3f, 0.03f, 1e-8f};
}

/* adamw_update_bf16 = adamw_update, then f32_to_bf16 of the new p: the same
 * bits in p, m, v and the bf16 copy (NaN and infinities among the values). */
static void compare_adamw_bf16(void) {
    enum { N = 9001 };
    static float p[2][N], mo[2][N], v[2][N], g[N];
    static uint16_t p16[2][N];
    adamw_coeffs k = adamw_inputs(p[0], mo[0], v[0], g, N, 9);
    adamw_update(p[0], mo[0], v[0], g, N, &k);
    f32_to_bf16(p16[0], p[0], N);
    adamw_update_bf16(p[1], mo[1], v[1], g, p16[1], N, &k);
    CHECK(!memcmp(p[0], p[1], sizeof p[0]) && !memcmp(mo[0], mo[1], sizeof mo[0]) && !memcmp(v[0], v[1], sizeof v[0]));
    CHECK_MSG(!memcmp(p16[0], p16[1], sizeof p16[0]), "adamw_update_bf16's copy differs from f32_to_bf16");
}

/* adamw_update_amx = adamw_update, then the new p in both AMX layouts at
 * the tensor's rows (bf16_amx_*_index, f32_to_bf16's rounding); the
 * linear's other rows untouched. IC = 320: a partial block of columns. */
static void compare_adamw_amx(void) {
    enum { OC = 192, IC = 320, ROW0 = 64, ROWS = 112, N = ROWS * IC };
    static float p[2][N], mo[2][N], v[2][N], g[N];
    uint16_t *fwd = aligned_alloc(64, OC * IC * sizeof *fwd), *bwd = aligned_alloc(64, OC * IC * sizeof *bwd);
    memset(fwd, 0xee, OC * IC * sizeof *fwd);
    memset(bwd, 0xee, OC * IC * sizeof *bwd);
    adamw_coeffs k = adamw_inputs(p[0], mo[0], v[0], g, N, 10);
    adamw_update(p[0], mo[0], v[0], g, N, &k);
    bf16_amx_copy c = {fwd, bwd, ROW0, IC, OC};
    adamw_update_amx(p[1], mo[1], v[1], g, &c, N, &k);
    CHECK(!memcmp(p[0], p[1], sizeof p[0]) && !memcmp(mo[0], mo[1], sizeof mo[0]) && !memcmp(v[0], v[1], sizeof v[0]));
    int64_t wrong = 0, touched = 0;
    for (int64_t o = 0; o < OC; o++)
        for (int64_t i = 0; i < IC; i++) {
            int mine = o >= ROW0 && o < ROW0 + ROWS;
            uint16_t want = mine ? bf16_bits(p[0][(o - ROW0) * IC + i]) : 0xeeee;
            wrong += fwd[bf16_amx_fwd_index(o, i, IC)] != want || bwd[bf16_amx_bwd_index(o, i, OC)] != want;
            touched += !mine && fwd[bf16_amx_fwd_index(o, i, IC)] != 0xeeee;
        }
    CHECK_MSG(wrong == 0 && touched == 0, "adamw_update_amx at %s: %lld values misplaced, %lld outside its rows",
              simd_get()->level, (long long)wrong, (long long)touched);
    free(fwd);
    free(bwd);
}

int main(void) {
    const char *env = getenv("NERC_ISA");
    printf("%s\n", nerc_cpu_info());
    CHECK(cpu_isa() >= CPU_ISA_AVX2 && cpu_isa() <= cpu_isa_detected());
    CHECK(!strcmp(simd_get()->level, cpu_isa_name(cpu_isa())));
    if (env && !strcmp(env, "avx2"))
        CHECK_MSG(cpu_isa() == CPU_ISA_AVX2 && !cpu_bf16_native(), "NERC_ISA=avx2 not honoured: %s",
                  cpu_isa_name(cpu_isa()));
    /* AdamW's variants against the plain update, at the level in use */
    compare_adamw_rows(0.999f);
    compare_adamw_rows(1.0f);
    compare_adamw_bf16();
    compare_adamw_amx();
    /* bf16's blocked weight copies: where AMX runs them, for sizes in multiples of 64 only */
    CHECK_MSG(amx_blocked_layer(128, 192) == amx_bf16_ready(), "blocked layout at %s, AMX %d", simd_get()->level,
              amx_bf16_ready());
    CHECK(!amx_blocked_layer(96, 192) && !amx_blocked_layer(128, 200));
    if (cpu_isa_detected() < CPU_ISA_AVX512) {
        SKIP("avx512 kernels against avx2: this CPU (%s) lacks AVX-512", cpu_features_get()->brand);
        return test_report("test_dispatch");
    }
    compare_elementwise();
    check_dropout_mask();
    compare_levels(SHARED_DIR "/fixtures/model/tiny");
    compare_levels(SHARED_DIR "/fixtures/model/small");
    return test_report("test_dispatch");
}
