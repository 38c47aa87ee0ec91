/* nerc predict: HF aggregation on hand-made scores, offsets of every entity on 643 raw-text lines,
 * overlapping windows against single-window runs, pre-tokenized input, streams and bad input. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "nerc/predict.h"
#include "test.h"

#define MODEL_DIR SHARED_DIR "/fixtures/model/small"
#define RAW_TEXT SHARED_DIR "/fixtures/tokenizer/raw_text.jsonl"

enum { N_RAW = 643, N_AGG = 5 };

/* ---- aggregation on hand-made scores ------------------------------------------ */

static const char *const agg_labels[] = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG"};

/* "Xyzabc lives": xy ##za ##bc | lives; the first word's pieces say B-PER, I-ORG, I-PER. */
static const float split_scores[4 * 5] = {
    0.10f, 0.50f, 0.20f, 0.10f, 0.10f, /* xy   -> B-PER 0.5 */
    0.10f, 0.10f, 0.10f, 0.10f, 0.60f, /* ##za -> I-ORG 0.6 */
    0.10f, 0.05f, 0.70f, 0.05f, 0.10f, /* ##bc -> I-PER 0.7 */
    0.90f, 0.025f, 0.025f, 0.025f, 0.025f, /* lives -> O */
};
static const int32_t split_offsets[8] = {0, 2, 2, 4, 4, 6, 7, 12};
static const uint8_t split_subword[4] = {0, 1, 1, 0};
static const char *const split_tokens[4] = {"xy", "##za", "##bc", "lives"};

static nerc_agg_input split_input(void) {
    return (nerc_agg_input){.n_tokens = 4, .n_labels = 5, .labels = agg_labels, .scores = split_scores,
                            .text = "Xyzabc lives", .text_len = 12, .offsets = split_offsets,
                            .byte_offsets = split_offsets, .is_subword = split_subword, .tokens = split_tokens};
}

static void check_entity(const nerc_entity *e, const char *type, int32_t start, int32_t end, const char *text,
                         double score) {
    CHECK_MSG(!strcmp(e->type, type), "type %s, expected %s", e->type, type);
    CHECK_MSG(e->start == start && e->end == end, "[%d, %d), expected [%d, %d)", e->start, e->end, start, end);
    CHECK_MSG(!strcmp(e->text, text), "text '%s', expected '%s'", e->text, text);
    CHECK_NEAR(e->score, score, 1e-6);
}

static void test_agg_split_word(void) {
    nerc_agg_input in = split_input();
    nerc_entity_list l = {0};
    /* none: one entry per non-O sub-token, HF "entity" = the full label, word = the token */
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_NONE, &l));
    CHECK(l.n == 3);
    if (l.n == 3) {
        check_entity(&l.items[0], "B-PER", 0, 2, "Xy", 0.5);
        check_entity(&l.items[1], "I-ORG", 2, 4, "za", 0.6);
        check_entity(&l.items[2], "I-PER", 4, 6, "bc", 0.7);
        CHECK(!strcmp(l.items[1].word, "##za") && l.items[1].index == 2 && l.items[0].index == 1);
    }
    /* simple: a type change starts a group: PER | ORG | PER, O dropped */
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_SIMPLE, &l));
    CHECK(l.n == 3);
    if (l.n == 3) {
        check_entity(&l.items[0], "PER", 0, 2, "Xy", 0.5);
        check_entity(&l.items[1], "ORG", 2, 4, "za", 0.6);
        check_entity(&l.items[2], "PER", 4, 6, "bc", 0.7);
        CHECK(l.items[0].index == -1);
    }
    /* first: the first piece's B-PER 0.5 for the whole word */
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_FIRST, &l));
    CHECK(l.n == 1);
    if (l.n == 1)
        check_entity(&l.items[0], "PER", 0, 6, "Xyzabc", 0.5);
    /* max: the most confident piece (##bc, I-PER 0.7) */
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_MAX, &l));
    CHECK(l.n == 1);
    if (l.n == 1) {
        check_entity(&l.items[0], "PER", 0, 6, "Xyzabc", 0.7);
        CHECK(l.items[0].label == 2);
    }
    /* average: mean row (0.1, 0.2167, 0.3333, 0.0833, 0.2667) -> I-PER 1/3 */
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_AVERAGE, &l));
    CHECK(l.n == 1);
    if (l.n == 1)
        check_entity(&l.items[0], "PER", 0, 6, "Xyzabc", (0.2 + 0.1 + 0.7) / 3);
    nerc_entity_list_free(&l);
}

/* Words of one piece each: "John Smith Acme Corp met Ann Bo Cy" (word_ids, no is_subword). */
static void test_agg_grouping(void) {
    static const float s[8 * 5] = {
        0.02f, 0.90f, 0.04f, 0.02f, 0.02f, /* John  B-PER 0.9 */
        0.05f, 0.05f, 0.80f, 0.05f, 0.05f, /* Smith I-PER 0.8 */
        0.10f, 0.05f, 0.05f, 0.70f, 0.10f, /* Acme  B-ORG 0.7 */
        0.10f, 0.10f, 0.10f, 0.10f, 0.60f, /* Corp  I-ORG 0.6 */
        0.80f, 0.05f, 0.05f, 0.05f, 0.05f, /* met   O */
        0.10f, 0.10f, 0.50f, 0.20f, 0.10f, /* Ann   I-PER 0.5 after O: starts a PER */
        0.10f, 0.40f, 0.30f, 0.10f, 0.10f, /* Bo    B-PER 0.4: B starts another */
        0.10f, 0.10f, 0.60f, 0.10f, 0.10f, /* Cy    I-PER 0.6 joins Bo */
    };
    static const int32_t off[16] = {0, 4, 5, 10, 11, 15, 16, 20, 21, 24, 25, 28, 29, 31, 32, 34};
    static const int32_t wid[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const char *text = "John Smith Acme Corp met Ann Bo Cy";
    nerc_agg_input in = {.n_tokens = 8, .n_labels = 5, .labels = agg_labels, .scores = s, .text = text,
                         .text_len = strlen(text), .offsets = off, .byte_offsets = off, .word_ids = wid};
    nerc_entity_list l = {0};
    for (int a = NERC_AGGREGATION_SIMPLE; a <= NERC_AGGREGATION_MAX; a++) {
        CHECK_OK(nerc_aggregate(&in, (nerc_aggregation)a, &l));
        CHECK_MSG(l.n == 4, "%s: %d entities", nerc_aggregation_name((nerc_aggregation)a), l.n);
        if (l.n != 4)
            continue;
        check_entity(&l.items[0], "PER", 0, 10, "John Smith", 0.85);
        check_entity(&l.items[1], "ORG", 11, 20, "Acme Corp", 0.65);
        check_entity(&l.items[2], "PER", 25, 28, "Ann", 0.5);
        check_entity(&l.items[3], "PER", 29, 34, "Bo Cy", 0.5);
    }
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_NONE, &l));
    CHECK(l.n == 7);
    nerc_entity_list_free(&l);
}

/* MAX keeps the first of equally confident pieces; labels without B-/I- group as HF's get_tag says. */
static void test_agg_ties_and_plain_labels(void) {
    static const char *const labels[] = {"O", "PER", "LOC"};
    static const float s[3 * 3] = {
        0.2f, 0.4f, 0.4f, /* ab   : PER (the first of two maxima) */
        0.3f, 0.1f, 0.4f, /* ##cd : LOC 0.4, as confident as ab */
        0.1f, 0.3f, 0.6f, /* ef   : LOC 0.6 */
    };
    static const int32_t off[6] = {0, 2, 2, 4, 5, 7};
    static const uint8_t sub[3] = {0, 1, 0};
    nerc_agg_input in = {.n_tokens = 3, .n_labels = 3, .labels = labels, .scores = s, .text = "abcd ef",
                         .text_len = 7, .offsets = off, .byte_offsets = off, .is_subword = sub};
    nerc_entity_list l = {0};
    for (int a = NERC_AGGREGATION_FIRST; a <= NERC_AGGREGATION_MAX; a += NERC_AGGREGATION_MAX - NERC_AGGREGATION_FIRST) {
        CHECK_OK(nerc_aggregate(&in, (nerc_aggregation)a, &l)); /* FIRST and MAX: ab decides -> PER */
        CHECK(l.n == 2);
        if (l.n == 2) {
            check_entity(&l.items[0], "PER", 0, 4, "abcd", 0.4);
            check_entity(&l.items[1], "LOC", 5, 7, "ef", 0.6);
        }
    }
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_AVERAGE, &l)); /* abcd: mean (.25, .25, .4) -> LOC; LOC LOC join */
    CHECK(l.n == 1);
    if (l.n == 1)
        check_entity(&l.items[0], "LOC", 0, 7, "abcd ef", 0.5);
    nerc_aggregation a;
    CHECK(nerc_aggregation_parse("average", &a) == NERC_OK && a == NERC_AGGREGATION_AVERAGE);
    CHECK(nerc_aggregation_parse("mean", &a) == NERC_ERR_ARG);
    nerc_entity_list_free(&l);
}

/* Pieces that share one character ("한" -> 3 jamo pieces) act as one token: entities never overlap. */
static void test_agg_shared_char(void) {
    static const float s[3 * 5] = {
        0.10f, 0.50f, 0.20f, 0.10f, 0.10f, /* ᄒ   [0,1) B-PER 0.5 */
        0.10f, 0.10f, 0.10f, 0.10f, 0.60f, /* ##ᅡ [0,1) I-ORG 0.6: same character */
        0.10f, 0.05f, 0.70f, 0.05f, 0.10f, /* ##ᄀ [1,2) I-PER 0.7 */
    };
    static const int32_t off[6] = {0, 1, 0, 1, 1, 2}, boff[6] = {0, 3, 0, 3, 3, 6};
    static const uint8_t sub[3] = {0, 1, 1};
    const char *text = "\xed\x95\x9c\xea\xb5\xad"; /* 한국 */
    nerc_agg_input in = {.n_tokens = 3, .n_labels = 5, .labels = agg_labels, .scores = s, .text = text,
                         .text_len = 6, .offsets = off, .byte_offsets = boff, .is_subword = sub};
    nerc_entity_list l = {0};
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_NONE, &l));
    CHECK(l.n == 2);
    if (l.n == 2) {
        check_entity(&l.items[0], "B-PER", 0, 1, "\xed\x95\x9c", 0.5);
        check_entity(&l.items[1], "I-PER", 1, 2, "\xea\xb5\xad", 0.7);
        CHECK(l.items[1].index == 3 && l.items[1].byte_start == 3 && l.items[1].byte_end == 6);
    }
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_SIMPLE, &l));
    CHECK(l.n == 1);
    if (l.n == 1)
        check_entity(&l.items[0], "PER", 0, 2, text, 0.6);
    /* AVERAGE counts every piece of the word, the shared-character one too (as HF, whose
     * length rule makes ##ᅡ a sub-word): I-PER (0.2 + 0.1 + 0.7) / 3, not ᄒ's B-PER 0.5 */
    CHECK_OK(nerc_aggregate(&in, NERC_AGGREGATION_AVERAGE, &l));
    CHECK(l.n == 1);
    if (l.n == 1)
        check_entity(&l.items[0], "PER", 0, 2, text, 1.0 / 3);
    nerc_entity_list_free(&l);
}

/* ---- raw text: offsets of every entity ------------------------------------------- */

static int32_t code_points(const char *s, size_t n) {
    int32_t cp = 0;
    for (size_t i = 0; i < n; i++)
        cp += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cp;
}

typedef struct {
    nerc_predictor *pr[N_AGG];
    int lines, entities[N_AGG], bad_offsets, bad_order, bad_tokens;
} raw_check;

static void check_entities(raw_check *rc, const nerc_prediction *p, const char *text, size_t len) {
    int32_t prev_end = 0;
    for (int32_t i = 0; i < p->n_entities; i++) {
        const nerc_entity *e = &p->entities[i];
        size_t bs = (size_t)e->byte_start, be = (size_t)e->byte_end;
        int ok = e->start < e->end && bs < be && be <= len && e->start == code_points(text, bs) &&
                 e->end - e->start == code_points(text + bs, be - bs) && strlen(e->text) <= be - bs &&
                 !memcmp(e->text, text + bs, be - bs) && e->score > 0 && e->score <= 1;
        rc->bad_offsets += !ok;
        rc->bad_order += e->start < prev_end;
        prev_end = e->end;
    }
}

static void raw_line(raw_check *rc, const json_t *obj) {
    const char *hex = json_string_value(json_object_get(obj, "utf8_hex"));
    const json_t *ids = json_object_get(obj, "input_ids");
    char *text = malloc(hex ? strlen(hex) / 2 + 1 : 1);
    size_t len = hex ? test_hex_decode(hex, text) : 0;
    for (int a = 0; a < N_AGG; a++) {
        nerc_prediction p;
        nerc_status st = nerc_predict_text(rc->pr[a], text, len, &p);
        CHECK_MSG(st == NERC_OK, "line %d: %s", rc->lines + 1, nerc_last_error());
        if (st != NERC_OK)
            continue;
        rc->bad_tokens += (size_t)p.n_tokens + 2 != json_array_size(ids);
        for (int32_t t = 0; t < p.n_tokens && (size_t)t + 1 < json_array_size(ids); t++)
            rc->bad_tokens += p.token_ids[t] != json_integer_value(json_array_get(ids, (size_t)t + 1));
        check_entities(rc, &p, text, len);
        rc->entities[a] += p.n_entities;
    }
    rc->lines++;
    free(text);
}

static void test_raw_text_offsets(void) {
    raw_check rc = {0};
    for (int a = 0; a < N_AGG; a++) {
        nerc_predict_params pp = nerc_predict_default_params();
        pp.aggregation = (nerc_aggregation)a;
        CHECK_OK(nerc_predictor_load(&rc.pr[a], MODEL_DIR, &pp));
        if (!rc.pr[a])
            return;
    }
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(RAW_TEXT, 0, &data, &len));
    for (char *line = data ? strtok(data, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_error_t err;
        json_t *obj = json_loads(line, JSON_ALLOW_NUL, &err);
        CHECK_MSG(obj != NULL, "%s", err.text);
        if (obj)
            raw_line(&rc, obj);
        json_decref(obj);
    }
    CHECK_MSG(rc.lines == N_RAW, "%d lines", rc.lines);
    CHECK_MSG(rc.bad_offsets == 0, "%d entities whose text/offsets disagree", rc.bad_offsets);
    CHECK_MSG(rc.bad_order == 0, "%d entities out of order or overlapping", rc.bad_order);
    CHECK_MSG(rc.bad_tokens == 0, "%d token id mismatches with the fixture", rc.bad_tokens);
    for (int a = 0; a < N_AGG; a++) {
        CHECK_MSG(rc.entities[a] > 0, "%s: no entity", nerc_aggregation_name((nerc_aggregation)a));
        printf("  %-7s %d entities on %d lines\n", nerc_aggregation_name((nerc_aggregation)a), rc.entities[a],
               rc.lines);
        nerc_predictor_free(rc.pr[a]);
    }
    free(data);
}

/* ---- windows ----------------------------------------------------------------------- */

static const char *const one_piece_words[] = {"the", "city", "of", "new", "york", "john", "went",
                                              "to", "paris", "and", "bought", "a", "car", "."};

/* ~n words of one sub-token each, deterministic. */
static char *synthetic_text(int n, size_t *len) {
    char *s = malloc((size_t)n * 8 + 1);
    size_t at = 0;
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        const char *w = one_piece_words[(x >> 16) % 14];
        at += (size_t)sprintf(s + at, "%s%s", i ? " " : "", w);
    }
    *len = at;
    return s;
}

static double max_row_diff(const float *a, const float *b, int32_t k) {
    double d = 0;
    for (int32_t j = 0; j < k; j++)
        d = fabs((double)a[j] - b[j]) > d ? fabs((double)a[j] - b[j]) : d;
    return d;
}

/* The scoring window of token i, restated: most context (distance to the nearer edge), earliest on ties. */
static int32_t rule_window(int32_t i, int32_t n, int32_t content, int32_t step, int32_t n_win) {
    int32_t best = -1, best_ctx = -1;
    for (int32_t w = 0; w < n_win; w++) {
        int32_t s = w * step, e = s + content < n ? s + content : n;
        int32_t ctx = i - s < e - 1 - i ? i - s : e - 1 - i;
        if (i >= s && i < e && ctx > best_ctx)
            best = w, best_ctx = ctx;
    }
    return best;
}

/* Byte start of each word of a text of words separated by single spaces; starts[n] = len + 1. */
static size_t *word_starts(const char *text, size_t len, int32_t n) {
    size_t *starts = malloc(((size_t)n + 1) * sizeof *starts);
    int32_t w = 0;
    starts[w++] = 0;
    for (size_t i = 0; i < len && w < n; i++)
        if (text[i] == ' ')
            starts[w++] = i + 1;
    starts[n] = len + 1;
    return starts;
}

/* Tokens of window w scored there must equal the window's words run alone (one window). */
static void check_window_alone(nerc_predictor *pr, const char *text, const size_t *starts, int32_t s, int32_t e,
                               const int32_t *win, const float *scores, int32_t w, int *scored, int *bad) {
    nerc_prediction q;
    CHECK_OK(nerc_predict_text(pr, text + starts[s], starts[e] - 1 - starts[s], &q));
    CHECK_MSG(q.n_tokens == e - s && q.n_windows == 1, "window %d: %d tokens, %d windows", w, q.n_tokens,
              q.n_windows);
    if (q.n_tokens != e - s)
        return;
    for (int32_t i = s; i < e; i++)
        if (win[i] == w) {
            (*scored)++;
            *bad += max_row_diff(scores + (size_t)i * q.n_labels, q.token_scores + (size_t)(i - s) * q.n_labels,
                                 q.n_labels) > 1e-5;
        }
}

/* Every token's scores come from the window the rule picks, equal to running that window alone. */
static void check_windows(nerc_predictor *pr, const char *text, size_t len, int32_t n_words) {
    const nerc_predict_params *pp = nerc_predictor_params(pr);
    int32_t content = pp->max_length - 2, step = content - pp->stride;
    nerc_prediction p;
    CHECK_OK(nerc_predict_text(pr, text, len, &p));
    CHECK_MSG(p.n_tokens == n_words, "%d sub-tokens for %d one-piece words", p.n_tokens, n_words);
    int32_t n_win = 1 + (n_words - content + step - 1) / step, k = p.n_labels, n = p.n_tokens;
    CHECK_MSG(p.n_windows == n_win && n_win > 1, "%d windows, expected %d", p.n_windows, n_win);
    if (n != n_words)
        return;
    int32_t *win = malloc((size_t)n * sizeof *win);
    float *scores = malloc((size_t)n * (size_t)k * sizeof *scores);
    memcpy(win, p.token_window, (size_t)n * sizeof *win);
    memcpy(scores, p.token_scores, (size_t)n * (size_t)k * sizeof *scores);
    int bad_window = 0, bad_scores = 0, scored = 0;
    for (int32_t i = 0; i < n; i++)
        bad_window += win[i] != rule_window(i, n, content, step, n_win);
    size_t *starts = word_starts(text, len, n);
    for (int32_t w = 0; w < n_win; w++) {
        int32_t s = w * step, e = s + content < n ? s + content : n;
        check_window_alone(pr, text, starts, s, e, win, scores, w, &scored, &bad_scores);
    }
    CHECK_MSG(bad_window == 0, "%d tokens scored in another window than the rule's", bad_window);
    CHECK_MSG(bad_scores == 0, "%d tokens differ from their window run alone", bad_scores);
    CHECK_MSG(scored == n, "%d of %d tokens scored", scored, n);
    printf("  windows: max_length %d stride %d batch %d: %d windows, %d tokens\n", pp->max_length, pp->stride,
           pp->batch_size, n_win, n);
    free(starts);
    free(win);
    free(scores);
}

static void test_windows(void) {
    nerc_model *m = NULL;
    nerc_tokenizer *tok = NULL;
    CHECK_OK(nerc_model_load(&m, MODEL_DIR, NULL, 0, 0));
    CHECK_OK(nerc_tokenizer_load(&tok, MODEL_DIR));
    if (!m || !tok)
        return;
    size_t len;
    char *text = synthetic_text(2000, &len);
    struct { int32_t max_length, stride, batch; } cases[] = {{0, -1, 8}, {40, 10, 3}, {40, 0, 1}, {17, 14, 64}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        nerc_predict_params pp = nerc_predict_default_params();
        pp.max_length = cases[c].max_length, pp.stride = cases[c].stride, pp.batch_size = cases[c].batch;
        nerc_predictor *pr = NULL;
        CHECK_OK(nerc_predictor_init(&pr, m, tok, &pp));
        if (pr)
            check_windows(pr, text, len, 2000);
        nerc_predictor_free(pr);
    }
    /* default: 128 positions -> windows of 126 sub-tokens sharing 63 */
    nerc_predictor *pr = NULL;
    CHECK_OK(nerc_predictor_init(&pr, m, tok, NULL));
    CHECK(pr && nerc_predictor_params(pr)->max_length == 128 && nerc_predictor_params(pr)->stride == 63);
    nerc_predictor_free(pr);
    free(text);
    nerc_tokenizer_free(tok);
    nerc_model_free(m);
}

/* ---- pre-tokenized input -------------------------------------------------------- */

/* Words that are one pre-token each score exactly like the same words as raw text. */
static void test_words_match_text(nerc_predictor *pr) {
    const char *words[] = {"EU", "rejects", "German", "call", "to", "boycott", "Britishness", "lamb"};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(words[i]);
    const char *text = "EU rejects German call to boycott Britishness lamb";
    nerc_prediction p;
    CHECK_OK(nerc_predict_text(pr, text, strlen(text), &p));
    int32_t n = p.n_tokens, k = p.n_labels;
    float *scores = malloc((size_t)n * (size_t)k * sizeof *scores);
    memcpy(scores, p.token_scores, (size_t)n * (size_t)k * sizeof *scores);
    CHECK_OK(nerc_predict_words(pr, words, lens, 8, &p));
    CHECK(p.n_tokens == n && n > 8 && p.n_words == 8);
    int bad = 0;
    for (int32_t i = 0; i < n && p.n_tokens == n; i++)
        bad += max_row_diff(scores + (size_t)i * k, p.token_scores + (size_t)i * k, k) > 1e-6;
    CHECK_MSG(bad == 0, "%d sub-tokens differ between raw text and words", bad);
    int32_t prev_end = 0;
    for (int32_t i = 0; i < p.n_entities; i++) {
        const nerc_entity *e = &p.entities[i];
        CHECK(e->start >= prev_end && e->start < e->end && e->end <= 8);
        CHECK(!memcmp(e->text, text + e->byte_start, (size_t)(e->byte_end - e->byte_start)));
        CHECK_MSG(!strncmp(e->text, words[e->start], lens[e->start]), "entity %d starts with '%s'", i, e->text);
        prev_end = e->end;
    }
    free(scores);
}

/* The word label HF's aggregate_word picks from the pieces [a, b) of a word. */
static int32_t expected_word_tag(const nerc_prediction *p, nerc_aggregation agg, int32_t a, int32_t b) {
    int32_t k = p->n_labels, best = a;
    if (agg == NERC_AGGREGATION_MAX) {
        for (int32_t t = a + 1; t < b; t++)
            if (p->token_scores[(size_t)t * k + p->token_label[t]] >
                p->token_scores[(size_t)best * k + p->token_label[best]])
                best = t;
        return p->token_label[best];
    }
    if (agg != NERC_AGGREGATION_AVERAGE)
        return p->token_label[a];
    int32_t arg = 0;
    double best_sum = -1;
    for (int32_t j = 0; j < k; j++) {
        double sum = 0;
        for (int32_t t = a; t < b; t++)
            sum += p->token_scores[(size_t)t * k + j];
        if (sum > best_sum)
            best_sum = sum, arg = j;
    }
    return arg;
}

/* Word tags follow the aggregation; a word without pieces gets -1 and no entity. */
static void test_word_tags(const nerc_model *m, const nerc_tokenizer *tok) {
    const char *words[] = {"Xylophonists", "\xe2\x80\x8b", "unbelievably", "Washington"};
    size_t lens[4] = {12, 3, 12, 10};
    int32_t pieces[5] = {0}, ids[64];
    for (int w = 0; w < 4; w++) {
        int32_t n = 0;
        CHECK_OK(nerc_tokenizer_encode_word(tok, words[w], lens[w], ids, 64, &n));
        pieces[w + 1] = pieces[w] + n;
    }
    CHECK(pieces[1] > 2 && pieces[2] == pieces[1]); /* a multi-piece word, then a zero-width one */
    for (int a = NERC_AGGREGATION_NONE; a <= NERC_AGGREGATION_MAX; a++) {
        nerc_predict_params pp = nerc_predict_default_params();
        pp.aggregation = (nerc_aggregation)a;
        nerc_predictor *pr = NULL;
        CHECK_OK(nerc_predictor_init(&pr, m, tok, &pp));
        nerc_prediction p;
        CHECK_OK(nerc_predict_words(pr, words, lens, 4, &p));
        CHECK(p.n_words == 4 && p.word_tags[1] == -1 && p.n_tokens == pieces[4]);
        for (int32_t w = 0; w < 4 && p.n_tokens == pieces[4]; w++)
            if (pieces[w + 1] > pieces[w])
                CHECK_MSG(p.word_tags[w] == expected_word_tag(&p, (nerc_aggregation)a, pieces[w], pieces[w + 1]),
                          "%s word %d", nerc_aggregation_name((nerc_aggregation)a), w);
        for (int32_t i = 0; i < p.n_entities; i++)
            CHECK(!(p.entities[i].start == 1 && p.entities[i].end == 2));
        nerc_predictor_free(pr);
    }
}

/* ---- streams ------------------------------------------------------------------------ */

static FILE *file_with(const char *content) {
    FILE *f = tmpfile();
    if (f) {
        fputs(content, f);
        rewind(f);
    }
    return f;
}

typedef struct {
    int calls, words, entities;
} stream_count;

static nerc_status count_text(const char *text, size_t len, const nerc_prediction *p, void *user) {
    stream_count *c = user;
    c->calls++;
    c->entities += p->n_entities;
    return NERC_OK;
}

static nerc_status count_words(const char *const *words, const size_t *lens, int32_t n, const nerc_prediction *p,
                               void *user) {
    stream_count *c = user;
    c->calls++;
    c->words += n;
    c->entities += p->n_entities;
    return p->n_words == n ? NERC_OK : NERC_ERR_INTERNAL;
}

static void test_streams(nerc_predictor *pr) {
    stream_count c = {0};
    FILE *f = file_with("EU rejects German call\r\n\nPeter Blackburn\n");
    CHECK_OK(nerc_predict_lines(pr, f, "lines.txt", count_text, &c));
    CHECK(c.calls == 3);
    fclose(f);
    memset(&c, 0, sizeof c);
    f = file_with("-DOCSTART- -X- O O\n\nEU NNP B-ORG\nrejects VBZ O\n\n\nGerman JJ B-MISC\ncall\n");
    CHECK_OK(nerc_predict_conll(pr, f, "x.conll", count_words, &c));
    CHECK(c.calls == 2 && c.words == 4);
    fclose(f);
    memset(&c, 0, sizeof c);
    f = file_with("{\"tokens\": [\"EU\", \"rejects\"], \"ner_tags\": [3, 0]}\n\n{\"tokens\": []}\n"
                  "{\"tokens\": [\"Peter\"]}\n");
    CHECK_OK(nerc_predict_jsonl(pr, f, "x.jsonl", NULL, count_words, &c));
    CHECK(c.calls == 3 && c.words == 3);
    fclose(f);
}

/* Documents batched together by the streams predict as they do one at a time. */
typedef struct {
    nerc_predictor *single; /* batch_size 1, one document per call */
    int calls, bad;
} batch_compare;

static int same_prediction(const nerc_prediction *a, const nerc_prediction *b) {
    if (a->n_tokens != b->n_tokens || a->n_entities != b->n_entities || a->n_windows != b->n_windows)
        return 0;
    for (int32_t i = 0; i < a->n_tokens; i++)
        if (max_row_diff(a->token_scores + (size_t)i * a->n_labels, b->token_scores + (size_t)i * a->n_labels,
                         a->n_labels) > 1e-5)
            return 0;
    for (int32_t i = 0; i < a->n_entities; i++) {
        const nerc_entity *x = &a->entities[i], *y = &b->entities[i];
        if (x->start != y->start || x->end != y->end || strcmp(x->type, y->type) || strcmp(x->text, y->text) ||
            fabs(x->score - y->score) > 1e-5)
            return 0;
    }
    return 1;
}

static nerc_status compare_text(const char *text, size_t len, const nerc_prediction *p, void *user) {
    batch_compare *c = user;
    nerc_prediction q;
    c->calls++;
    c->bad += nerc_predict_text(c->single, text, len, &q) != NERC_OK || !same_prediction(p, &q);
    return NERC_OK;
}

static nerc_status compare_words(const char *const *words, const size_t *lens, int32_t n, const nerc_prediction *p,
                                 void *user) {
    batch_compare *c = user;
    nerc_prediction q;
    c->calls++;
    c->bad += nerc_predict_words(c->single, words, lens, n, &q) != NERC_OK || !same_prediction(p, &q) ||
              memcmp(p->word_tags, q.word_tags, (size_t)n * sizeof *q.word_tags);
    return NERC_OK;
}

/* Text lines as CoNLL: one word per line, a blank line after each sentence. */
static char *lines_to_conll(const char *lines) {
    char *out = malloc(2 * strlen(lines) + 1), *o = out;
    for (const char *c = lines; *c; c++) {
        *o++ = *c == ' ' ? '\n' : *c;
        if (*c == '\n')
            *o++ = '\n';
    }
    *o = '\0';
    return out;
}

static void test_stream_batches(const nerc_model *m, const nerc_tokenizer *tok) {
    nerc_predict_params pp = nerc_predict_default_params();
    pp.max_length = 24, pp.stride = 6, pp.batch_size = 1;
    batch_compare c = {0};
    nerc_predictor *batched = NULL;
    CHECK_OK(nerc_predictor_init(&c.single, m, tok, &pp));
    pp.batch_size = 4;
    CHECK_OK(nerc_predictor_init(&batched, m, tok, &pp));
    size_t len;
    char *longer = synthetic_text(70, &len), *text = malloc(2 * len + 512);
    snprintf(text, 2 * len + 512, "EU rejects German call\n\nPeter Blackburn\n%s\nBRUSSELS 1996-08-22\n"
             "\xed\x95\x9c\xea\xb5\xad a\n%s\nThe European Commission said on Thursday it disagreed\nx\n",
             longer, longer);
    FILE *f = file_with(text);
    CHECK_OK(nerc_predict_lines(batched, f, "batch.txt", compare_text, &c));
    CHECK_MSG(c.calls == 9 && c.bad == 0, "%d lines, %d differ", c.calls, c.bad);
    fclose(f);
    char *conll = lines_to_conll(text);
    c.calls = c.bad = 0;
    f = file_with(conll);
    CHECK_OK(nerc_predict_conll(batched, f, "batch.conll", compare_words, &c));
    CHECK_MSG(c.calls == 8 && c.bad == 0, "%d sentences, %d differ", c.calls, c.bad);
    fclose(f);
    free(conll);
    free(longer);
    free(text);
    nerc_predictor_free(batched);
    nerc_predictor_free(c.single);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void check_error(nerc_status st, nerc_status want, const char *part1, const char *part2) {
    CHECK_MSG(st == want, "status %d, expected %d (%s)", (int)st, (int)want, nerc_last_error());
    CHECK_MSG(strstr(nerc_last_error(), part1) && strstr(nerc_last_error(), part2), "message '%s' lacks '%s' / '%s'",
              nerc_last_error(), part1, part2);
}

/* Texts packed into shared forward passes (nerc_predict_texts, the server's path) predict as they do
 * one at a time, whatever the pass size; each text may take its own aggregation; the rows
 * nerc_predict_count_rows gives are what the passes hold. */
typedef struct {
    nerc_predictor *single[NERC_AGGREGATION_MAX + 1]; /* one text at a time, one predictor per aggregation */
    const nerc_aggregation *aggs;
    int index, calls, bad;
} texts_compare;

static nerc_status compare_text_as(const char *text, size_t len, const nerc_prediction *p, void *user) {
    texts_compare *c = user;
    batch_compare one = {.single = c->single[c->aggs[c->index++]]};
    compare_text(text, len, p, &one);
    c->calls++, c->bad += one.bad;
    return NERC_OK;
}

static void test_predict_texts(const nerc_model *m, const nerc_tokenizer *tok) {
    size_t long_len;
    char *longer = synthetic_text(70, &long_len);
    const char *texts[] = {"EU rejects German call", "", "Peter Blackburn", longer, "BRUSSELS 1996-08-22",
                           "\xed\x95\x9c\xea\xb5\xad a", "The European Commission said on Thursday it disagreed"};
    enum { N = 7 };
    size_t lens[N];
    nerc_aggregation aggs[N];
    for (int i = 0; i < N; i++)
        lens[i] = strlen(texts[i]), aggs[i] = (nerc_aggregation)(i % (NERC_AGGREGATION_MAX + 1));
    nerc_predict_params pp = nerc_predict_default_params();
    pp.max_length = 24, pp.stride = 6, pp.batch_size = 1;
    texts_compare c = {.aggs = aggs};
    for (int a = 0; a <= NERC_AGGREGATION_MAX; a++) {
        pp.aggregation = (nerc_aggregation)a;
        CHECK_OK(nerc_predictor_init(&c.single[a], m, tok, &pp));
        if (!c.single[a])
            return;
    }
    int64_t rows[N], total = 0;
    for (int i = 0; i < N; i++) {
        CHECK_OK(nerc_predict_count_rows(c.single[0], texts[i], lens[i], &rows[i]));
        total += rows[i];
    }
    CHECK_MSG(rows[1] == 0 && rows[0] == 6 && rows[3] > 3 * 24, "rows %lld %lld %lld", (long long)rows[1],
              (long long)rows[0], (long long)rows[3]);
    int32_t max_tokens[] = {1, 30, 100, 4096};
    for (int k = 0; k < 4; k++) {
        pp.batch_size = 4096 / 3, pp.max_tokens = max_tokens[k];
        nerc_predictor *packed = NULL;
        CHECK_OK(nerc_predictor_init(&packed, m, tok, &pp));
        c.calls = c.bad = c.index = 0;
        if (packed)
            CHECK_OK(nerc_predict_texts(packed, texts, lens, aggs, N, compare_text_as, &c));
        CHECK_MSG(c.calls == N && c.bad == 0, "max_tokens %d: %d texts, %d differ", max_tokens[k], c.calls, c.bad);
        nerc_predictor_free(packed);
    }
    printf("  %d texts (%lld rows) in passes of 1..4096 rows, 5 aggregations: as one at a time\n", N,
           (long long)total);
    int64_t r;
    check_error(nerc_predict_count_rows(c.single[0], "a\xc0\xafz", 4, &r), NERC_ERR_ARG, "UTF-8", "byte 1");
    const char *bad[] = {"fine", "a\xff"};
    size_t bad_lens[] = {4, 2};
    batch_compare unused = {.single = c.single[0]};
    check_error(nerc_predict_texts(c.single[0], bad, bad_lens, NULL, 2, compare_text, &unused), NERC_ERR_ARG,
                "text 1", "UTF-8");
    for (int a = 0; a <= NERC_AGGREGATION_MAX; a++)
        nerc_predictor_free(c.single[a]);
    free(longer);
}

/* Invalid UTF-8 and malformed lines: the file and line are named; earlier documents were predicted. */
static void test_bad_lines(nerc_predictor *pr) {
    stream_count c = {0};
    FILE *f = file_with("fine line\nstill fine\nbad \xff\xfe byte\nnever read\n");
    check_error(nerc_predict_lines(pr, f, "in.txt", count_text, &c), NERC_ERR_FORMAT, "in.txt:3:", "UTF-8");
    CHECK(c.calls == 2);
    fclose(f);
    f = file_with("EU B-ORG\n\nbad\xc3 O\n");
    check_error(nerc_predict_conll(pr, f, "in.conll", count_words, &c), NERC_ERR_FORMAT, "in.conll:3:", "UTF-8");
    fclose(f);
    f = file_with("{\"tokens\": [\"a\"]}\n{\"words\": [\"b\"]}\n");
    check_error(nerc_predict_jsonl(pr, f, "in.jsonl", NULL, count_words, &c), NERC_ERR_FORMAT, "in.jsonl:2:",
                "tokens");
    fclose(f);
    nerc_prediction p;
    check_error(nerc_predict_text(pr, "a\xc0\xafz", 4, &p), NERC_ERR_ARG, "UTF-8", "byte 1");
}

/* A model directory without tokenizer files; parameters the model cannot take. */
static void test_bad_model(const nerc_model *m, const nerc_tokenizer *tok) {
    char dir[] = "/tmp/nerc_predict_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char *link = fs_join(dir, files[i]), *target = realpath(MODEL_DIR, NULL), *full = fs_join(target, files[i]);
        CHECK(link && full && symlink(full, link) == 0);
        free(link), free(target), free(full);
    }
    nerc_predictor *none = NULL;
    check_error(nerc_predictor_load(&none, dir, NULL), NERC_ERR_ARG, dir, "vocab.txt");
    CHECK(none == NULL);
    for (int i = 0; i < 2; i++) {
        char *link = fs_join(dir, files[i]);
        unlink(link);
        free(link);
    }
    rmdir(dir);
    nerc_predict_params pp = nerc_predict_default_params();
    pp.max_length = 129;
    check_error(nerc_predictor_init(&none, m, tok, &pp), NERC_ERR_ARG, "max_length", "128");
    pp = nerc_predict_default_params();
    pp.max_length = 40, pp.stride = 38;
    check_error(nerc_predictor_init(&none, m, tok, &pp), NERC_ERR_ARG, "stride", "38");
}

int main(void) {
    test_agg_split_word();
    test_agg_grouping();
    test_agg_ties_and_plain_labels();
    test_agg_shared_char();
    test_raw_text_offsets();
    test_windows();
    nerc_model *m = NULL;
    nerc_tokenizer *tok = NULL;
    nerc_predictor *pr = NULL;
    CHECK_OK(nerc_model_load(&m, MODEL_DIR, NULL, 0, 0));
    CHECK_OK(nerc_tokenizer_load(&tok, MODEL_DIR));
    if (m && tok)
        CHECK_OK(nerc_predictor_init(&pr, m, tok, NULL));
    if (pr) {
        test_words_match_text(pr);
        test_word_tags(m, tok);
        test_streams(pr);
        test_stream_batches(m, tok);
        test_predict_texts(m, tok);
        test_bad_lines(pr);
        test_bad_model(m, tok);
    }
    nerc_predictor_free(pr);
    nerc_tokenizer_free(tok);
    nerc_model_free(m);
    return test_report("test_predict");
}
