/* Hugging Face TokenClassificationPipeline aggregation (none/simple/first/average/max) on given score rows. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/ops.h"
#include "infer/predict_internal.h"

static const char *const agg_names[] = {"none", "simple", "first", "average", "max"};

nerc_status nerc_aggregation_parse(const char *name, nerc_aggregation *out) {
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, agg_names[i])) {
            *out = (nerc_aggregation)i;
            return NERC_OK;
        }
    return nerc_errorf(NERC_ERR_ARG, "unknown aggregation '%s' (expected none, simple, first, average or max)",
                       name ? name : "(null)");
}

const char *nerc_aggregation_name(nerc_aggregation a) {
    return (unsigned)a < 5 ? agg_names[a] : "?";
}

nerc_status predict_grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap)
        return NERC_OK;
    size_t want = *cap * 2 > n ? *cap * 2 : n;
    if (want < 16)
        want = 16;
    if (want > SIZE_MAX / elem)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: buffer of %zu elements overflows", want);
    void *q = realloc(*p, want * elem);
    if (!q)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: out of memory (%zu bytes)", want * elem);
    *p = q;
    *cap = want;
    return NERC_OK;
}

void agg_work_free(agg_work *w) {
    free(w->items);
    free(w->groups);
    free(w->avg);
    memset(w, 0, sizeof *w);
}

static const float *row_of(const nerc_agg_input *in, int32_t t) {
    return in->scores + (size_t)t * (size_t)in->n_labels;
}

static agg_item token_item(const nerc_agg_input *in, int32_t t) {
    const float *row = row_of(in, t);
    int32_t best = argmax_row(row, in->n_labels);
    return (agg_item){best, row[best], t, t};
}

static int is_subword(const nerc_agg_input *in, int32_t t) {
    if (t == 0)
        return 0;
    if (in->is_subword)
        return in->is_subword[t] != 0;
    return in->word_ids && in->word_ids[t] == in->word_ids[t - 1];
}

/* Token t shares a character with token t-1 (e.g. the jamo pieces of one Hangul syllable). */
static int shares_char(const nerc_agg_input *in, int32_t t) {
    return t > 0 && in->offsets[2 * t] < in->offsets[2 * t - 1];
}

/* HF aggregate_word, FIRST: the first piece decides. */
static agg_item word_first(const nerc_agg_input *in, int32_t a, int32_t b) {
    agg_item it = token_item(in, a);
    it.last = b;
    return it;
}

/* HF aggregate_word, MAX: the piece with the highest score (the first on ties) decides. */
static agg_item word_max(const nerc_agg_input *in, int32_t a, int32_t b) {
    agg_item best = token_item(in, a);
    for (int32_t t = a + 1; t <= b; t++) {
        agg_item it = token_item(in, t);
        if (it.score > best.score)
            best = it;
    }
    return (agg_item){best.label, best.score, a, b};
}

/* HF aggregate_word, AVERAGE: argmax of the mean score row. */
static agg_item word_average(const nerc_agg_input *in, int32_t a, int32_t b, double *avg) {
    int32_t k = in->n_labels;
    for (int32_t j = 0; j < k; j++)
        avg[j] = 0;
    for (int32_t t = a; t <= b; t++)
        for (int32_t j = 0; j < k; j++)
            avg[j] += row_of(in, t)[j];
    int32_t best = 0;
    for (int32_t j = 1; j < k; j++)
        if (avg[j] > avg[best])
            best = j;
    return (agg_item){best, (float)(avg[best] / (b - a + 1)), a, b};
}

/* Tokens [first, last] as one item; NONE and SIMPLE only join tokens that share a character: the first decides. */
static agg_item word_item(const nerc_agg_input *in, nerc_aggregation a, int32_t first, int32_t last, double *avg) {
    if (a == NERC_AGGREGATION_MAX)
        return word_max(in, first, last);
    if (a == NERC_AGGREGATION_AVERAGE)
        return word_average(in, first, last, avg);
    return word_first(in, first, last);
}

nerc_status agg_items(const nerc_agg_input *in, nerc_aggregation a, agg_work *w) {
    int32_t n = in->n_tokens;
    NERC_TRY(predict_grow((void **)&w->items, &w->cap, (size_t)n + 1, sizeof *w->items));
    NERC_TRY(predict_grow((void **)&w->groups, &w->groups_cap, (size_t)n + 1, sizeof *w->groups));
    NERC_TRY(predict_grow((void **)&w->avg, &w->avg_cap, (size_t)in->n_labels, sizeof *w->avg));
    w->n_items = 0;
    int words = a == NERC_AGGREGATION_FIRST || a == NERC_AGGREGATION_AVERAGE || a == NERC_AGGREGATION_MAX;
    for (int32_t t = 0; t < n;) {
        int32_t last = t;
        while (last + 1 < n && (shares_char(in, last + 1) || (words && is_subword(in, last + 1))))
            last++;
        w->items[w->n_items++] = word_item(in, a, t, last, w->avg);
        t = last + 1;
    }
    return NERC_OK;
}

/* HF get_tag: ("B"|"I", type); a label without B-/I- is a continuation of itself. */
static const char *get_tag(const char *label, char *bi) {
    if ((label[0] == 'B' || label[0] == 'I') && label[1] == '-') {
        *bi = label[0];
        return label + 2;
    }
    *bi = 'I';
    return label;
}

/* HF group_sub_entities' entity_group: the label after its first '-'. */
static const char *group_type(const char *label) {
    const char *dash = strchr(label, '-');
    return dash ? dash + 1 : label;
}

static void close_group(const nerc_agg_input *in, agg_work *w, int32_t a, int32_t b) {
    double sum = 0;
    for (int32_t i = a; i <= b; i++)
        sum += w->items[i].score;
    agg_item g = {w->items[a].label, (float)(sum / (b - a + 1)), w->items[a].first, w->items[b].last};
    if (strcmp(group_type(in->labels[g.label]), "O") != 0)
        w->groups[w->n_groups++] = g;
}

void agg_group(const nerc_agg_input *in, agg_work *w) {
    w->n_groups = 0;
    int32_t start = 0;
    for (int32_t i = 1; i <= w->n_items; i++) {
        int join = 0;
        if (i < w->n_items) {
            char bi, last_bi;
            const char *tag = get_tag(in->labels[w->items[i].label], &bi);
            const char *last_tag = get_tag(in->labels[w->items[i - 1].label], &last_bi);
            join = !strcmp(tag, last_tag) && bi != 'B';
        }
        if (!join) {
            close_group(in, w, start, i - 1);
            start = i;
        }
    }
}

static nerc_status check_span(const nerc_agg_input *in, const agg_item *it) {
    int32_t bs = in->byte_offsets[2 * it->first], be = in->byte_offsets[2 * it->last + 1];
    if (bs < 0 || be < bs || (size_t)be > in->text_len)
        return nerc_errorf(NERC_ERR_ARG, "predict: token span [%d, %d) outside the text (%zu bytes)", (int)bs,
                           (int)be, in->text_len);
    return NERC_OK;
}

/* The NONE word of token t: its vocabulary string, else its text. */
static const char *token_word(const nerc_agg_input *in, int32_t t) {
    return in->tokens ? in->tokens[t] : NULL;
}

static int keep_item(const nerc_agg_input *in, const agg_item *it, agg_emit_mode mode) {
    return mode == EMIT_GROUPS || strcmp(in->labels[it->label], "O") != 0;
}

/* Bytes of arena the entities need. */
static size_t arena_need(const nerc_agg_input *in, const agg_item *items, int32_t n, agg_emit_mode mode) {
    size_t need = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!keep_item(in, &items[i], mode))
            continue;
        need += (size_t)(in->byte_offsets[2 * items[i].last + 1] - in->byte_offsets[2 * items[i].first]) + 1;
        const char *tw = mode == EMIT_TOKENS ? token_word(in, items[i].first) : NULL;
        if (tw)
            need += strlen(tw) + 1;
    }
    return need;
}

static char *arena_put(char **at, const char *s, size_t len) {
    char *p = *at;
    memcpy(p, s, len);
    p[len] = '\0';
    *at += len + 1;
    return p;
}

static nerc_entity make_entity(const nerc_agg_input *in, const agg_item *it, agg_emit_mode mode, char **at) {
    nerc_entity e;
    const char *label = in->labels[it->label];
    e.type = mode == EMIT_GROUPS ? group_type(label) : label;
    e.label = it->label;
    e.start = in->offsets[2 * it->first];
    e.end = in->offsets[2 * it->last + 1];
    e.byte_start = in->byte_offsets[2 * it->first];
    e.byte_end = in->byte_offsets[2 * it->last + 1];
    e.index = mode == EMIT_TOKENS ? (in->index ? in->index[it->first] : it->first + 1) : -1;
    e.score = it->score;
    e.text = arena_put(at, in->text + e.byte_start, (size_t)(e.byte_end - e.byte_start));
    const char *tw = mode == EMIT_TOKENS ? token_word(in, it->first) : NULL;
    e.word = tw ? arena_put(at, tw, strlen(tw)) : e.text;
    return e;
}

nerc_status agg_emit(const nerc_agg_input *in, const agg_item *items, int32_t n, agg_emit_mode mode,
                     nerc_entity_list *out) {
    out->n = 0;
    for (int32_t i = 0; i < n; i++)
        NERC_TRY(check_span(in, &items[i]));
    size_t cap = (size_t)out->cap;
    NERC_TRY(predict_grow((void **)&out->items, &cap, (size_t)n, sizeof *out->items));
    out->cap = cap > INT32_MAX ? INT32_MAX : (int32_t)cap;
    NERC_TRY(predict_grow((void **)&out->arena, &out->arena_cap, arena_need(in, items, n, mode) + 1, 1));
    char *at = out->arena;
    for (int32_t i = 0; i < n; i++)
        if (keep_item(in, &items[i], mode))
            out->items[out->n++] = make_entity(in, &items[i], mode, &at);
    return NERC_OK;
}

static nerc_status check_input(const nerc_agg_input *in) {
    if (in->n_tokens < 0 || in->n_labels <= 0 || !in->labels || (in->n_tokens && (!in->scores || !in->offsets ||
                                                                                     !in->byte_offsets || !in->text)))
        return nerc_errorf(NERC_ERR_ARG, "nerc_aggregate: missing tokens, labels, scores, offsets or text");
    return NERC_OK;
}

nerc_status nerc_aggregate(const nerc_agg_input *in, nerc_aggregation a, nerc_entity_list *out) {
    NERC_TRY(check_input(in));
    if ((unsigned)a > NERC_AGGREGATION_MAX)
        return nerc_errorf(NERC_ERR_ARG, "nerc_aggregate: unknown aggregation %d", (int)a);
    agg_work w = {0};
    nerc_status st = agg_items(in, a, &w);
    if (st == NERC_OK && a == NERC_AGGREGATION_NONE)
        st = agg_emit(in, w.items, w.n_items, EMIT_TOKENS, out);
    else if (st == NERC_OK) {
        agg_group(in, &w);
        st = agg_emit(in, w.groups, w.n_groups, EMIT_GROUPS, out);
    }
    agg_work_free(&w);
    return st;
}

void nerc_entity_list_free(nerc_entity_list *l) {
    free(l->items);
    free(l->arena);
    memset(l, 0, sizeof *l);
}
