/* Padding invariance: a sentence's logits are the same (<= 1e-6) alone, packed
 * with longer sentences, and right-padded in HF's layout inside a batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nerc/model.h"
#include "test.h"

#define LEN_A 9
#define LEN_B 23
#define K 9

static void make_ids(int32_t *ids, int n, rng_state *r) {
    ids[0] = 101;
    for (int i = 1; i < n - 1; i++)
        ids[i] = 1000 + (int32_t)rng_below(r, 20000);
    ids[n - 1] = 102;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

int main(void) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, SHARED_DIR "/fixtures/model/small", NULL, 0, 0));
    if (!m)
        return test_report("test_padding");
    rng_state r;
    rng_seed(&r, 7);
    int32_t a[LEN_A], b[LEN_B], pos[2 * LEN_B];
    make_ids(a, LEN_A, &r);
    make_ids(b, LEN_B, &r);
    for (int i = 0; i < 2 * LEN_B; i++)
        pos[i] = i % LEN_B;
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, 3, 3 * LEN_B, 3 * LEN_B * LEN_B, 0));
    float alone[LEN_A * K];

    /* 1. alone */
    int32_t off1[2] = {0, LEN_A};
    nerc_batch b1 = {1, LEN_A, a, pos, NULL, off1, NULL};
    CHECK_OK(nerc_forward(s, &b1, 0, 0));
    memcpy(alone, nerc_state_logits(s), sizeof alone);

    /* 2. packed between two longer sentences: B, A, B */
    int32_t ids2[2 * LEN_B + LEN_A], pos2[2 * LEN_B + LEN_A], off2[4] = {0, LEN_B, LEN_B + LEN_A, 2 * LEN_B + LEN_A};
    memcpy(ids2, b, sizeof b);
    memcpy(ids2 + LEN_B, a, sizeof a);
    memcpy(ids2 + LEN_B + LEN_A, b, sizeof b);
    for (int i = 0; i < 2 * LEN_B + LEN_A; i++)
        pos2[i] = i < LEN_B ? i : i < LEN_B + LEN_A ? i - LEN_B : i - LEN_B - LEN_A;
    nerc_batch b2 = {3, 2 * LEN_B + LEN_A, ids2, pos2, NULL, off2, NULL};
    CHECK_OK(nerc_forward(s, &b2, 0, 0));
    double d_packed = max_diff(alone, nerc_state_logits(s) + LEN_B * K, LEN_A * K);
    CHECK_MSG(d_packed <= 1e-6, "packed: %.3g", d_packed);

    /* 3. HF padded layout: [B; A + pad], each LEN_B rows, A has LEN_A keys */
    int32_t ids3[2 * LEN_B] = {0}, off3[3] = {0, LEN_B, 2 * LEN_B}, keys3[2] = {LEN_B, LEN_A};
    memcpy(ids3, b, sizeof b);
    memcpy(ids3 + LEN_B, a, sizeof a);
    nerc_batch b3 = {2, 2 * LEN_B, ids3, pos, NULL, off3, keys3};
    CHECK_OK(nerc_forward(s, &b3, 0, 0));
    double d_padded = max_diff(alone, nerc_state_logits(s) + LEN_B * K, LEN_A * K);
    CHECK_MSG(d_padded <= 1e-6, "padded: %.3g", d_padded);
    printf("  max |logit diff| vs alone: packed %.3g, HF-padded %.3g (tolerance 1e-6)\n", d_packed, d_padded);

    nerc_state_free(s);
    nerc_model_free(m);
    return test_report("test_padding");
}
