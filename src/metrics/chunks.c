/* Chunk (entity) extraction rules: seqeval default mode, seqeval strict schemes, conlleval.pl. */
#include "metrics/chunks.h"

uint8_t prefix_bit(char c) {
    switch (c) {
    case 'O': return PFX_O;
    case 'B': return PFX_B;
    case 'I': return PFX_I;
    case 'E': return PFX_E;
    case 'S': return PFX_S;
    case 'L': return PFX_L;
    case 'U': return PFX_U;
    default: return 0;
    }
}

/* ---- seqeval default mode (get_entities, suffix=False) ---- */

/* end_of_chunk(prev_tag, tag, prev_type, type_): a chunk ended before this token. */
static int default_end(uint8_t pp, uint8_t p, int32_t pt, int32_t t) {
    if (pp & (PFX_E | PFX_S))
        return 1;
    if ((pp & (PFX_B | PFX_I)) && (p & (PFX_B | PFX_S | PFX_O)))
        return 1;
    return pp != PFX_O && pt != t;
}

/* start_of_chunk(prev_tag, tag, prev_type, type_): a chunk starts at this token. */
static int default_start(uint8_t pp, uint8_t p, int32_t pt, int32_t t) {
    if (p & (PFX_B | PFX_S))
        return 1;
    if ((pp & (PFX_E | PFX_S | PFX_O)) && (p & (PFX_E | PFX_I)))
        return 1;
    return p != PFX_O && pt != t;
}

/* Walks the sentence plus a sentinel "O". seqeval flattens sentences with an
 * "O" between them and starts with prev_type ''; we restart every sentence
 * that way (-1 stands for ''), so a chunk never crosses a sentence. */
int chunks_default(const eval_tok *toks, int n, int32_t o_type, eval_chunk *out) {
    uint8_t prev_p = PFX_O;
    int32_t prev_t = -1;
    int32_t begin = 0;
    int count = 0;
    for (int i = 0; i <= n; i++) {
        uint8_t p = i < n ? toks[i].prefix : PFX_O;
        int32_t t = i < n ? toks[i].type : o_type;
        if (default_end(prev_p, p, prev_t, t))
            out[count++] = (eval_chunk){begin, i, prev_t};
        if (default_start(prev_p, p, prev_t, t))
            begin = i;
        prev_p = p;
        prev_t = t;
    }
    return count;
}

/* ---- seqeval strict mode (scheme.py: Tokens.entities) ---- */

enum { TAG_ANY, TAG_SAME, TAG_DIFF };

/* One (previous prefix, current prefix, type condition) pattern. */
typedef struct {
    uint8_t prev, cur, cond;
} pattern;

typedef struct {
    uint8_t allowed;
    const pattern *start, *inside, *end;
    int n_start, n_inside, n_end;
} scheme_rules;

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const pattern iob1_start[] = {{PFX_O, PFX_I, TAG_ANY}, {PFX_I, PFX_I, TAG_DIFF},
                                     {PFX_B, PFX_I, TAG_ANY}, {PFX_I, PFX_B, TAG_SAME},
                                     {PFX_B, PFX_B, TAG_SAME}};
static const pattern iob1_inside[] = {{PFX_B, PFX_I, TAG_SAME}, {PFX_I, PFX_I, TAG_SAME}};
static const pattern iob1_end[] = {{PFX_I, PFX_I, TAG_DIFF}, {PFX_I, PFX_O, TAG_ANY},
                                   {PFX_I, PFX_B, TAG_ANY},  {PFX_B, PFX_O, TAG_ANY},
                                   {PFX_B, PFX_I, TAG_DIFF}, {PFX_B, PFX_B, TAG_SAME}};

static const pattern ioe1_start[] = {{PFX_O, PFX_I, TAG_ANY}, {PFX_I, PFX_I, TAG_DIFF},
                                     {PFX_E, PFX_I, TAG_ANY}, {PFX_E, PFX_E, TAG_SAME}};
static const pattern ioe1_inside[] = {{PFX_I, PFX_I, TAG_SAME}, {PFX_I, PFX_E, TAG_SAME}};
static const pattern ioe1_end[] = {{PFX_I, PFX_I, TAG_DIFF}, {PFX_I, PFX_O, TAG_ANY},
                                   {PFX_I, PFX_E, TAG_DIFF}, {PFX_E, PFX_I, TAG_SAME},
                                   {PFX_E, PFX_E, TAG_SAME}};

static const pattern iob2_start[] = {{PFX_ANY, PFX_B, TAG_ANY}};
static const pattern iob2_inside[] = {{PFX_B, PFX_I, TAG_SAME}, {PFX_I, PFX_I, TAG_SAME}};
static const pattern iob2_end[] = {{PFX_I, PFX_O, TAG_ANY},  {PFX_I, PFX_I, TAG_DIFF},
                                   {PFX_I, PFX_B, TAG_ANY},  {PFX_B, PFX_O, TAG_ANY},
                                   {PFX_B, PFX_I, TAG_DIFF}, {PFX_B, PFX_B, TAG_ANY}};

static const pattern ioe2_start[] = {{PFX_O, PFX_I, TAG_ANY}, {PFX_O, PFX_E, TAG_ANY},
                                     {PFX_E, PFX_I, TAG_ANY}, {PFX_E, PFX_E, TAG_ANY},
                                     {PFX_I, PFX_I, TAG_DIFF}, {PFX_I, PFX_E, TAG_DIFF}};
static const pattern ioe2_inside[] = {{PFX_I, PFX_E, TAG_SAME}, {PFX_I, PFX_I, TAG_SAME}};
static const pattern ioe2_end[] = {{PFX_E, PFX_ANY, TAG_ANY}};

static const pattern iobes_start[] = {{PFX_ANY, PFX_B, TAG_ANY}, {PFX_ANY, PFX_S, TAG_ANY}};
static const pattern iobes_inside[] = {{PFX_B, PFX_I, TAG_SAME}, {PFX_B, PFX_E, TAG_SAME},
                                       {PFX_I, PFX_I, TAG_SAME}, {PFX_I, PFX_E, TAG_SAME}};
static const pattern iobes_end[] = {{PFX_S, PFX_ANY, TAG_ANY}, {PFX_E, PFX_ANY, TAG_ANY}};

static const pattern bilou_start[] = {{PFX_ANY, PFX_B, TAG_ANY}, {PFX_ANY, PFX_U, TAG_ANY}};
static const pattern bilou_inside[] = {{PFX_B, PFX_I, TAG_SAME}, {PFX_B, PFX_L, TAG_SAME},
                                       {PFX_I, PFX_I, TAG_SAME}, {PFX_I, PFX_L, TAG_SAME}};
static const pattern bilou_end[] = {{PFX_U, PFX_ANY, TAG_ANY}, {PFX_L, PFX_ANY, TAG_ANY}};

#define RULES(allowed, name)                                                              \
    {allowed, name##_start, name##_inside, name##_end, N_OF(name##_start), N_OF(name##_inside), \
     N_OF(name##_end)}

static scheme_rules rules_of(nerc_scheme scheme) {
    static const scheme_rules table[] = {
        [NERC_SCHEME_IOB2] = RULES(PFX_I | PFX_O | PFX_B, iob2),
        [NERC_SCHEME_IOB1] = RULES(PFX_I | PFX_O | PFX_B, iob1),
        [NERC_SCHEME_IOE1] = RULES(PFX_I | PFX_O | PFX_E, ioe1),
        [NERC_SCHEME_IOE2] = RULES(PFX_I | PFX_O | PFX_E, ioe2),
        [NERC_SCHEME_IOBES] = RULES(PFX_I | PFX_O | PFX_B | PFX_E | PFX_S, iobes),
        [NERC_SCHEME_BILOU] = RULES(PFX_B | PFX_I | PFX_L | PFX_O | PFX_U, bilou),
    };
    if ((unsigned)scheme >= sizeof table / sizeof table[0])
        scheme = NERC_SCHEME_IOB2;
    return table[scheme];
}

uint8_t scheme_allowed(nerc_scheme scheme) { return rules_of(scheme).allowed; }

/* Token.check_patterns(prev, patterns). */
static int matches(const pattern *pats, int n_pats, eval_tok prev, eval_tok cur) {
    for (int k = 0; k < n_pats; k++) {
        const pattern *pt = &pats[k];
        if (!(prev.prefix & pt->prev) || !(cur.prefix & pt->cur))
            continue;
        if (pt->cond == TAG_ANY || (pt->cond == TAG_SAME) == (prev.type == cur.type))
            return 1;
    }
    return 0;
}

/* Token i of the sentence extended with the sentinel "O" at index n. */
static eval_tok ext_tok(const eval_tok *toks, int n, int i, int32_t o_type) {
    return i < n ? toks[i] : (eval_tok){PFX_O, o_type};
}

/* Tokens._forward: first index from `start` that is not inside the chunk. */
static int forward(const scheme_rules *r, const eval_tok *toks, int n, int start, eval_tok prev,
                   int32_t o_type) {
    for (int i = start; i <= n; i++) {
        eval_tok tok = ext_tok(toks, n, i, o_type);
        if (!matches(r->inside, r->n_inside, prev, tok))
            return i;
        prev = tok;
    }
    return n - 1; /* unreachable: the sentinel "O" is never inside */
}

int chunks_strict(const eval_tok *toks, int n, nerc_scheme scheme, int32_t o_type,
                  eval_chunk *out) {
    scheme_rules r = rules_of(scheme);
    eval_tok prev = {PFX_O, o_type};
    int count = 0;
    int i = 0;
    while (i < n) { /* the sentinel at n never starts a chunk */
        eval_tok tok = toks[i];
        if (matches(r.start, r.n_start, prev, tok)) {
            int end = forward(&r, toks, n, i + 1, tok, o_type);
            eval_tok last = ext_tok(toks, n, end - 1, o_type);
            if (matches(r.end, r.n_end, last, ext_tok(toks, n, end, o_type)))
                out[count++] = (eval_chunk){i, end, tok.type};
            i = end;
        } else {
            i++;
        }
        prev = ext_tok(toks, n, i - 1, o_type);
    }
    return count;
}

/* ---- conlleval.pl ---- */

/* endOfChunk(prevTag, tag, prevType, type). */
static int conll_end(uint8_t pp, uint8_t p, int32_t pt, int32_t t) {
    if ((pp & (PFX_B | PFX_I)) && (p & (PFX_B | PFX_O)))
        return 1;
    if (pp == PFX_E && (p & (PFX_E | PFX_I | PFX_O)))
        return 1;
    return pp != PFX_O && pt != t;
}

/* startOfChunk(prevTag, tag, prevType, type). */
static int conll_start(uint8_t pp, uint8_t p, int32_t pt, int32_t t) {
    if ((pp & (PFX_B | PFX_I | PFX_O)) && p == PFX_B)
        return 1;
    if (pp == PFX_O && (p & (PFX_I | PFX_E)))
        return 1;
    if (pp == PFX_E && (p & (PFX_E | PFX_I)))
        return 1;
    return p != PFX_O && pt != t;
}

void conll_begin(conll_state *st, int32_t empty_type) {
    st->last_gold = st->last_pred = PFX_O;
    st->last_gold_type = st->last_pred_type = empty_type;
    st->in_correct = 0;
}

static void count_correct(conll_state *st, conll_counts *c) {
    c->n_correct++;
    c->correct[st->last_gold_type]++;
}

void conll_step(conll_state *st, conll_counts *c, eval_tok gold, eval_tok pred, int boundary) {
    int gold_end = conll_end(st->last_gold, gold.prefix, st->last_gold_type, gold.type);
    int pred_end = conll_end(st->last_pred, pred.prefix, st->last_pred_type, pred.type);
    if (st->in_correct) {
        if (gold_end && pred_end && st->last_pred_type == st->last_gold_type) {
            st->in_correct = 0;
            count_correct(st, c);
        } else if (gold_end != pred_end || pred.type != gold.type) {
            st->in_correct = 0;
        }
    }
    int gold_start = conll_start(st->last_gold, gold.prefix, st->last_gold_type, gold.type);
    int pred_start = conll_start(st->last_pred, pred.prefix, st->last_pred_type, pred.type);
    if (gold_start && pred_start && pred.type == gold.type)
        st->in_correct = 1;
    if (gold_start) {
        c->n_found_gold++;
        c->found_gold[gold.type]++;
    }
    if (pred_start) {
        c->n_found_pred++;
        c->found_pred[pred.type]++;
    }
    if (!boundary) {
        if (gold.prefix == pred.prefix && gold.type == pred.type)
            c->n_correct_tags++;
        c->n_tokens++;
    }
    st->last_gold = gold.prefix;
    st->last_pred = pred.prefix;
    st->last_gold_type = gold.type;
    st->last_pred_type = pred.type;
}

void conll_finish(conll_state *st, conll_counts *c) {
    if (st->in_correct)
        count_correct(st, c);
    st->in_correct = 0;
}
