/* Report computation: chunk counts per type -> seqeval's classification_report numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "metrics/chunks.h"
#include "metrics/scorer.h"

/* Per-type counters, indexed by type id. */
typedef struct {
    int64_t *gold;    /* gold entities (support) */
    int64_t *pred;    /* predicted entities */
    int64_t *correct; /* exact matches */
    int64_t n_tokens, n_correct_tokens;
} type_counts;

/* Sentence s as eval_tok arrays (seqeval types). */
static void sentence_toks(const nerc_scorer *sc, int64_t s, eval_tok *gold, eval_tok *pred, int *n) {
    int64_t begin = s ? sc->sent_end[s - 1] : 0;
    *n = (int)(sc->sent_end[s] - begin);
    for (int i = 0; i < *n; i++) {
        int32_t g = sc->gold[begin + i], p = sc->pred[begin + i];
        gold[i] = (eval_tok){sc->tag_prefix[g], sc->tag_type[g]};
        pred[i] = (eval_tok){sc->tag_prefix[p], sc->tag_type[p]};
    }
}

/* Counts exact (start, end, type) matches; both lists are sorted by strictly increasing end. */
static void count_matches(const eval_chunk *gold, int ng, const eval_chunk *pred, int np,
                          type_counts *c) {
    for (int i = 0; i < ng; i++)
        c->gold[gold[i].type]++;
    for (int i = 0; i < np; i++)
        c->pred[pred[i].type]++;
    int a = 0, b = 0;
    while (a < ng && b < np) {
        if (gold[a].end < pred[b].end) {
            a++;
        } else if (gold[a].end > pred[b].end) {
            b++;
        } else {
            if (gold[a].start == pred[b].start && gold[a].type == pred[b].type)
                c->correct[gold[a].type]++;
            a++;
            b++;
        }
    }
}

/* seqeval modes: extract chunks sentence by sentence and match them. */
static nerc_status count_seqeval(const nerc_scorer *sc, nerc_eval_mode mode, nerc_scheme scheme,
                                 type_counts *c) {
    size_t len = (size_t)sc->max_sent_len + 1;
    char *scratch = malloc(len * 2 * (sizeof(eval_tok) + sizeof(eval_chunk)));
    if (!scratch)
        return nerc_errorf(NERC_ERR_NOMEM, "report: out of memory");
    eval_tok *gold = (eval_tok *)scratch, *pred = gold + len;
    eval_chunk *gold_chunks = (eval_chunk *)(pred + len), *pred_chunks = gold_chunks + len;
    for (int64_t s = 0; s < sc->n_sents; s++) {
        int n, ng, np;
        sentence_toks(sc, s, gold, pred, &n);
        if (mode == NERC_EVAL_MODE_STRICT) {
            ng = chunks_strict(gold, n, scheme, sc->o_type, gold_chunks);
            np = chunks_strict(pred, n, scheme, sc->o_type, pred_chunks);
        } else {
            ng = chunks_default(gold, n, sc->o_type, gold_chunks);
            np = chunks_default(pred, n, sc->o_type, pred_chunks);
        }
        count_matches(gold_chunks, ng, pred_chunks, np, c);
    }
    free(scratch);
    for (int64_t i = 0; i < sc->n_tokens; i++)
        c->n_correct_tokens += sc->gold[i] == sc->pred[i];
    c->n_tokens = sc->n_tokens;
    return NERC_OK;
}

/* conlleval mode: replay conlleval.pl over the sentences, a blank line after each. */
static void count_conlleval(const nerc_scorer *sc, type_counts *c) {
    conll_counts cc = {.found_gold = c->gold, .found_pred = c->pred, .correct = c->correct};
    conll_state st;
    conll_begin(&st, sc->empty_type);
    eval_tok outside = {PFX_O, sc->empty_type};
    int64_t t = 0;
    for (int64_t s = 0; s < sc->n_sents; s++) {
        for (; t < sc->sent_end[s]; t++) {
            int32_t g = sc->gold[t], p = sc->pred[t];
            eval_tok gold = {sc->tag_prefix[g], sc->tag_conll_type[g]};
            eval_tok pred = {sc->tag_prefix[p], sc->tag_conll_type[p]};
            conll_step(&st, &cc, gold, pred, 0);
        }
        if (s + 1 < sc->n_sents || !sc->open_end)
            conll_step(&st, &cc, outside, outside, 1);
    }
    conll_finish(&st, &cc);
    c->n_tokens = cc.n_tokens;
    c->n_correct_tokens = cc.n_correct_tags;
}

/* Strict mode refuses a tag whose prefix the scheme does not allow (seqeval: ValueError). */
static nerc_status check_scheme(const nerc_scorer *sc, nerc_scheme scheme) {
    uint8_t allowed = scheme_allowed(scheme);
    for (int32_t id = 0; id < sc->tags.n; id++) {
        if (sc->tag_prefix[id] & allowed)
            continue;
        for (int64_t i = 0; i < sc->n_tokens; i++)
            if (sc->gold[i] == id || sc->pred[i] == id)
                return nerc_errorf(NERC_ERR_ARG, "tag '%s' is not valid in scheme %s (strict mode)",
                                   sc->tags.strs[id], nerc_scheme_name(scheme));
    }
    return NERC_OK;
}

/* precision / recall / F1 from counts; 0.0 on a zero division (seqeval's "warn"). */
static nerc_type_score score_of(const char *name, int64_t gold, int64_t pred, int64_t correct) {
    nerc_type_score t = {.name = name, .support = gold, .predicted = pred, .correct = correct};
    t.precision = pred > 0 ? (double)correct / (double)pred : 0.0;
    t.recall = gold > 0 ? (double)correct / (double)gold : 0.0;
    double denom = t.precision + t.recall;
    t.f1 = denom != 0.0 ? 2.0 * t.precision * t.recall / denom : 0.0;
    return t;
}

/* micro, macro and weighted averages over rep->types (seqeval 1.2 / v1). */
static void fill_averages(nerc_report *rep) {
    int64_t gold = 0, pred = 0, correct = 0;
    double sp = 0, sr = 0, sf = 0, wp = 0, wr = 0, wf = 0;
    for (int i = 0; i < rep->n_types; i++) {
        const nerc_type_score *t = &rep->types[i];
        gold += t->support;
        pred += t->predicted;
        correct += t->correct;
        sp += t->precision;
        sr += t->recall;
        sf += t->f1;
        wp += t->precision * (double)t->support;
        wr += t->recall * (double)t->support;
        wf += t->f1 * (double)t->support;
    }
    rep->micro = score_of("micro avg", gold, pred, correct);
    double n = (double)rep->n_types;
    rep->macro = (nerc_type_score){"macro avg", n ? sp / n : NAN, n ? sr / n : NAN,
                                   n ? sf / n : NAN, gold, 0, 0};
    /* np.average(x, weights=support); all-zero weights give zero_division (0.0) */
    double w = (double)gold;
    rep->weighted = (nerc_type_score){"weighted avg", gold ? wp / w : 0.0, gold ? wr / w : 0.0,
                                      gold ? wf / w : 0.0, gold, 0, 0};
}

typedef struct {
    const char *name;
    size_t len;
    int32_t id;
} named_type;

static int compare_names(const void *a, const void *b) {
    const named_type *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Types with at least one gold or predicted entity, sorted by name, with their scores. */
static nerc_status fill_types(const nerc_scorer *sc, const type_counts *c, nerc_report *rep) {
    int32_t nt = sc->types.n;
    named_type *order = malloc((size_t)nt * sizeof *order);
    if (!order)
        return nerc_errorf(NERC_ERR_NOMEM, "report: out of memory");
    int n = 0;
    size_t name_bytes = 0;
    for (int32_t id = 0; id < nt; id++) {
        if (c->gold[id] == 0 && c->pred[id] == 0)
            continue;
        order[n++] = (named_type){sc->types.strs[id], sc->types.lens[id], id};
        name_bytes += sc->types.lens[id] + 1;
    }
    qsort(order, (size_t)n, sizeof *order, compare_names);
    rep->types = malloc(((size_t)n + 1) * sizeof *rep->types);
    rep->names_ = malloc(name_bytes + 1);
    if (!rep->types || !rep->names_) {
        free(order);
        return nerc_errorf(NERC_ERR_NOMEM, "report: out of memory");
    }
    char *dst = rep->names_;
    for (int i = 0; i < n; i++) {
        memcpy(dst, order[i].name, order[i].len + 1);
        int32_t id = order[i].id;
        rep->types[i] = score_of(dst, c->gold[id], c->pred[id], c->correct[id]);
        dst += order[i].len + 1;
    }
    rep->n_types = n;
    free(order);
    return NERC_OK;
}

nerc_status nerc_scorer_report(const nerc_scorer *sc, nerc_eval_mode mode, nerc_scheme scheme,
                               nerc_report *rep) {
    memset(rep, 0, sizeof *rep);
    if (mode != NERC_EVAL_MODE_DEFAULT && mode != NERC_EVAL_MODE_STRICT && mode != NERC_EVAL_MODE_CONLLEVAL)
        return nerc_errorf(NERC_ERR_ARG, "report: unknown mode %d", (int)mode);
    if (mode == NERC_EVAL_MODE_STRICT) {
        if ((unsigned)scheme > NERC_SCHEME_BILOU)
            return nerc_errorf(NERC_ERR_ARG, "report: unknown scheme %d", (int)scheme);
        NERC_TRY(check_scheme(sc, scheme));
    }
    rep->mode = mode;
    rep->scheme = mode == NERC_EVAL_MODE_STRICT ? scheme : NERC_SCHEME_IOB2;
    size_t nt = (size_t)sc->types.n;
    int64_t *counts = calloc(3 * nt, sizeof *counts);
    if (!counts)
        return nerc_errorf(NERC_ERR_NOMEM, "report: out of memory");
    type_counts c = {.gold = counts, .pred = counts + nt, .correct = counts + 2 * nt};
    nerc_status st = NERC_OK;
    if (mode == NERC_EVAL_MODE_CONLLEVAL)
        count_conlleval(sc, &c);
    else
        st = count_seqeval(sc, mode, scheme, &c);
    if (st == NERC_OK)
        st = fill_types(sc, &c, rep);
    free(counts);
    if (st != NERC_OK) {
        nerc_report_free(rep);
        return st;
    }
    fill_averages(rep);
    rep->n_tokens = c.n_tokens;
    rep->n_correct_tokens = c.n_correct_tokens;
    rep->n_sentences = sc->n_sents;
    rep->accuracy = c.n_tokens ? (double)c.n_correct_tokens / (double)c.n_tokens : NAN;
    return NERC_OK;
}

void nerc_report_free(nerc_report *rep) {
    if (!rep)
        return;
    free(rep->types);
    free(rep->names_);
    memset(rep, 0, sizeof *rep);
}
