/* Padding invariance, for every family: a sentence's logits are the same
 * (<= 1e-6) alone, packed with longer sentences, and right-padded in HF's
 * layout (pad ids, attention mask) inside a batch; with dropout on, its masks
 * follow its sequence id, not its place in the batch (data parallelism splits
 * batches over ranks and must draw the same masks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/encoder.h"
#include "test.h"

#define LEN_A 9
#define LEN_B 23
#define K 9

/* Random ids that are never the padding id. */
static void make_ids(int32_t *ids, int n, const nerc_model *m, rng_state *r) {
    for (int i = 0; i < n; i++)
        do
            ids[i] = 3 + (int32_t)rng_below(r, (uint64_t)m->cfg.vocab_size - 3);
        while (ids[i] == m->cfg.pad_token_id);
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void check_model(const char *dir) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    if (!m)
        return;
    rng_state r;
    rng_seed(&r, 7);
    int32_t a[LEN_A], b[LEN_B], pos[2 * LEN_B];
    make_ids(a, LEN_A, m, &r);
    make_ids(b, LEN_B, m, &r);
    for (int i = 0; i < 2 * LEN_B; i++)
        pos[i] = i % LEN_B;
    nerc_state *s = NULL;
    CHECK_OK(nerc_state_init(&s, m, 3, 3 * LEN_B, 3 * LEN_B * LEN_B, 0));
    float alone[LEN_A * K];

    /* 1. alone */
    int32_t off1[2] = {0, LEN_A};
    nerc_batch b1 = {1, LEN_A, a, pos, NULL, off1, NULL, NULL};
    CHECK_OK(nerc_forward(s, &b1, 0, 0));
    memcpy(alone, nerc_state_logits(s), sizeof alone);

    /* 2. packed between two longer sentences: B, A, B */
    int32_t ids2[2 * LEN_B + LEN_A], pos2[2 * LEN_B + LEN_A], off2[4] = {0, LEN_B, LEN_B + LEN_A, 2 * LEN_B + LEN_A};
    memcpy(ids2, b, sizeof b);
    memcpy(ids2 + LEN_B, a, sizeof a);
    memcpy(ids2 + LEN_B + LEN_A, b, sizeof b);
    for (int i = 0; i < 2 * LEN_B + LEN_A; i++)
        pos2[i] = i < LEN_B ? i : i < LEN_B + LEN_A ? i - LEN_B : i - LEN_B - LEN_A;
    nerc_batch b2 = {3, 2 * LEN_B + LEN_A, ids2, pos2, NULL, off2, NULL, NULL};
    CHECK_OK(nerc_forward(s, &b2, 0, 0));
    double d_packed = max_diff(alone, nerc_state_logits(s) + LEN_B * K, LEN_A * K);
    CHECK_MSG(d_packed <= 1e-6, "packed: %.3g", d_packed);

    /* 3. HF padded layout: [B; A + pad], each LEN_B rows, A has LEN_A keys */
    int32_t ids3[2 * LEN_B], off3[3] = {0, LEN_B, 2 * LEN_B}, keys3[2] = {LEN_B, LEN_A};
    for (int i = 0; i < 2 * LEN_B; i++)
        ids3[i] = m->cfg.pad_token_id;
    memcpy(ids3, b, sizeof b);
    memcpy(ids3 + LEN_B, a, sizeof a);
    nerc_batch b3 = {2, 2 * LEN_B, ids3, pos, NULL, off3, keys3, NULL};
    CHECK_OK(nerc_forward(s, &b3, 0, 0));
    double d_padded = max_diff(alone, nerc_state_logits(s) + LEN_B * K, LEN_A * K);
    CHECK_MSG(d_padded <= 1e-6, "padded: %.3g", d_padded);
    printf("  %-12s max |logit diff| vs alone: packed %.3g, HF-padded %.3g (tolerance 1e-6)\n", nerc_model_type(m),
           d_packed, d_padded);

    /* 4. dropout on: sequence id 7 alone and packed in the middle draws the same masks; id 8 others */
    float dropped[LEN_A * K];
    int32_t id1[1] = {7}, id2[3] = {3, 7, 5}, id2b[3] = {3, 8, 5};
    nerc_model_set_dropout(m, 0.1f, 0.1f);
    b1.seq_ids = id1;
    CHECK_OK(nerc_forward(s, &b1, 1, 99));
    memcpy(dropped, nerc_state_logits(s), sizeof dropped);
    b2.seq_ids = id2;
    CHECK_OK(nerc_forward(s, &b2, 1, 99));
    double d_drop = max_diff(dropped, nerc_state_logits(s) + LEN_B * K, LEN_A * K);
    b2.seq_ids = id2b;
    CHECK_OK(nerc_forward(s, &b2, 1, 99));
    double d_other = max_diff(dropped, nerc_state_logits(s) + LEN_B * K, LEN_A * K);
    double d_off = max_diff(dropped, alone, LEN_A * K);
    CHECK_MSG(d_drop <= 1e-6, "dropout, same id packed: %.3g", d_drop);
    CHECK_MSG(d_other > 1e-4 && d_off > 1e-4, "dropout changed nothing: other id %.3g, vs no dropout %.3g", d_other,
              d_off);
    printf("  %-12s dropout on: same sequence id packed %.3g (tolerance 1e-6); another id %.3g, no dropout %.3g\n",
           nerc_model_type(m), d_drop, d_other, d_off);

    nerc_state_free(s);
    nerc_model_free(m);
}

int main(void) {
    check_model(SHARED_DIR "/fixtures/model/small");
    check_model(SHARED_DIR "/fixtures/family/bert_tiny");
    check_model(SHARED_DIR "/fixtures/family/roberta_tiny");
    check_model(SHARED_DIR "/fixtures/family/xlmr_tiny");
    return test_report("test_padding");
}
