/* Pre-tokenizers: cut normalized pieces into splits (HF PreTokenizedString::split). BertPreTokenizer,
 * ByteLevel (GPT-2 pattern + byte-to-unicode map), Metaspace, Split (a pattern with one of HF's
 * five delimiter behaviours) and WhitespaceSplit. Added-token splits pass through untouched. */
#include <string.h>

#include "core/error.h"
#include "text/pipeline.h"

/* The output of one stage: splits into `pool`. */
typedef struct {
    nbuf *pool;
    split_list *splits;
} stage_out;

/* Appends chars c[0, n) to the output pool as one split (empty splits are dropped, as HF). */
static nerc_status emit_chars(stage_out *o, const nchar *c, size_t n) {
    if (n == 0)
        return NERC_OK;
    NERC_TRY(nbuf_reserve(o->pool, o->pool->n + n));
    memcpy(o->pool->c + o->pool->n, c, n * sizeof *c);
    NERC_TRY(splits_push(o->splits, o->pool->n, n, -1));
    o->pool->n += n;
    return NERC_OK;
}

/* ---- BertPreTokenizer: whitespace removed, each punctuation char isolated ---- */

static nerc_status pre_bert(stage_out *o, const nchar *c, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        bool space = pretok_is_space(c[i].cp), punct = !space && pretok_is_punct(c[i].cp);
        if (!space && !punct)
            continue;
        NERC_TRY(emit_chars(o, c + start, i - start));
        if (punct)
            NERC_TRY(emit_chars(o, c + i, 1));
        start = i + 1;
    }
    return emit_chars(o, c + start, n - start);
}

static nerc_status pre_whitespace_split(stage_out *o, const nchar *c, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pretok_is_space(c[i].cp))
            continue;
        NERC_TRY(emit_chars(o, c + start, i - start));
        start = i + 1;
    }
    return emit_chars(o, c + start, n - start);
}

/* ---- ByteLevel ---- */

/* GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest for 256 + k. */
static uint32_t byte_char(unsigned b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
        return b;
    unsigned k = b <= 0x20 ? b : b <= 0xA0 ? b - 0x7F + 0x21 : 0x21 + 0x22; /* rank among unmapped bytes */
    return 256 + k;
}

static bool gpt2_other(uint32_t cp) {
    return !uni_is_regex_space(cp) && !uni_is_letter(cp) && !uni_is_number(cp);
}

/* Length of the match of 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * at c[p] (leftmost-first alternation, as Oniguruma runs it); always >= 1. */
static size_t gpt2_match(const nchar *c, size_t n, size_t p) {
    uint32_t x = c[p].cp;
    if (x == '\'' && p + 1 < n) {
        uint32_t y = c[p + 1].cp, z = p + 2 < n ? c[p + 2].cp : 0;
        if (y == 's' || y == 't' || y == 'm' || y == 'd')
            return 2;
        if ((y == 'r' && z == 'e') || (y == 'v' && z == 'e') || (y == 'l' && z == 'l'))
            return 3;
    }
    size_t q = p + (x == ' ' && p + 1 < n);
    bool (*const classes[3])(uint32_t) = {uni_is_letter, uni_is_number, gpt2_other};
    for (int k = 0; k < 3; k++) {
        if (!classes[k](c[q].cp))
            continue;
        size_t e = q + 1;
        while (e < n && classes[k](c[e].cp))
            e++;
        return e - p;
    }
    /* x is whitespace here: \s+(?!\S) keeps the run but its last char when a non-space follows */
    size_t e = p + 1;
    while (e < n && uni_is_regex_space(c[e].cp))
        e++;
    return e < n && e - p >= 2 ? e - p - 1 : e - p;
}

/* Maps chars c[0, n) to byte-level chars (each byte of a char aligned to that char) as one split. */
static nerc_status emit_bytes(stage_out *o, const nchar *c, size_t n) {
    NERC_TRY(nbuf_reserve(o->pool, o->pool->n + 4 * n));
    size_t start = o->pool->n;
    for (size_t i = 0; i < n; i++) {
        char b[4];
        size_t k = utf8_encode(c[i].cp, b);
        for (size_t j = 0; j < k; j++)
            o->pool->c[o->pool->n++] = (nchar){byte_char((unsigned char)b[j]), c[i].o0, c[i].o1};
    }
    return splits_push(o->splits, start, o->pool->n - start, -1);
}

static nerc_status pre_byte_level(const tok_pretok *pt, bool force_prefix, tok_scratch *sc, stage_out *o,
                                  const nchar *c, size_t n) {
    if ((pt->add_prefix_space || force_prefix) && c[0].cp != ' ') { /* HF prepend(" "): aligned to c[0] */
        NERC_TRY(nbuf_reserve(&sc->tmp, n + 1));
        sc->tmp.c[0] = (nchar){' ', c[0].o0, c[0].o1};
        memcpy(sc->tmp.c + 1, c, n * sizeof *c);
        c = sc->tmp.c;
        n++;
    }
    if (!pt->use_regex)
        return emit_bytes(o, c, n);
    for (size_t p = 0; p < n;) {
        size_t len = gpt2_match(c, n, p);
        NERC_TRY(emit_bytes(o, c + p, len));
        p += len;
    }
    return NERC_OK;
}

/* ---- Split with HF's delimiter behaviours ---- */

typedef struct {
    size_t start, end;
    bool match;
} segment;

/* Applies `behavior` to segments seg[0, n) (consecutive, covering the split) in place; returns how
 * many remain. Removed drops matches; the merges follow HF's folds. */
static size_t apply_behavior(segment *seg, size_t n, split_behavior behavior) {
    size_t m = 0;
    bool prev = false;
    switch (behavior) {
    case SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!seg[i].match)
                seg[m++] = seg[i];
        return m;
    case SPLIT_ISOLATED:
        return n;
    case SPLIT_CONTIGUOUS:
    case SPLIT_MERGED_PREV:
        for (size_t i = 0; i < n; i++) {
            bool merge = behavior == SPLIT_CONTIGUOUS ? seg[i].match == prev : seg[i].match && !prev;
            if (merge && m > 0)
                seg[m - 1].end = seg[i].end;
            else
                seg[m++] = seg[i];
            prev = seg[i].match;
        }
        return m;
    case SPLIT_MERGED_NEXT: { /* HF folds from the right: a match joins the piece after it */
        size_t w = n;
        for (size_t i = n; i-- > 0;) {
            if (seg[i].match && !prev && w < n)
                seg[w].start = seg[i].start;
            else
                seg[--w] = seg[i];
            prev = seg[i].match;
        }
        memmove(seg, seg + w, (n - w) * sizeof *seg);
        return n - w;
    }
    }
    return n;
}

/* Segments (match / non-match) of a split from a list of match ranges. */
static nerc_status segments_from(tok_scratch *sc, const split_list *matches, size_t n, bool invert, segment **out,
                                 size_t *n_out) {
    size_t need = 2 * matches->n + 1;
    NERC_TRY(scratch_grow(&sc->model_buf, &sc->model_cap, need * sizeof(segment), 1));
    segment *seg = sc->model_buf;
    size_t m = 0, prev = 0;
    for (size_t k = 0; k < matches->n; k++) {
        size_t s = matches->s[k].start, e = s + matches->s[k].len;
        if (s != prev)
            seg[m++] = (segment){prev, s, invert};
        seg[m++] = (segment){s, e, !invert};
        prev = e;
    }
    if (prev != n)
        seg[m++] = (segment){prev, n, invert};
    *out = seg;
    *n_out = m;
    return NERC_OK;
}

static nerc_status pre_split(const tok_pretok *pt, tok_scratch *sc, stage_out *o, const nchar *c, size_t n) {
    NERC_TRY(pattern_find(&pt->pat, sc, c, n));
    segment *seg;
    size_t m;
    NERC_TRY(segments_from(sc, &sc->matches, n, pt->invert, &seg, &m));
    m = apply_behavior(seg, m, pt->behavior);
    for (size_t i = 0; i < m; i++)
        NERC_TRY(emit_chars(o, c + seg[i].start, seg[i].end - seg[i].start));
    return NERC_OK;
}

/* ---- Metaspace: ' ' -> replacement, a prepended replacement, split before each replacement ---- */

static nerc_status pre_metaspace(const tok_pretok *pt, tok_scratch *sc, stage_out *o, const nchar *c, size_t n) {
    NERC_TRY(nbuf_reserve(&sc->tmp, n + 1));
    nchar *w = sc->tmp.c;
    size_t m = 0;
    bool prepend = c[0].cp != ' ' && c[0].cp != pt->replacement &&
                   (pt->prepend == PREPEND_ALWAYS || (pt->prepend == PREPEND_FIRST && c[0].o0 == 0));
    if (prepend)
        w[m++] = (nchar){pt->replacement, c[0].o0, c[0].o1};
    for (size_t i = 0; i < n; i++)
        w[m++] = (nchar){c[i].cp == ' ' ? pt->replacement : c[i].cp, c[i].o0, c[i].o1};
    if (!pt->split)
        return emit_chars(o, w, m);
    size_t start = 0;
    for (size_t i = 1; i < m; i++) {
        if (w[i].cp != pt->replacement)
            continue;
        NERC_TRY(emit_chars(o, w + start, i - start));
        start = i;
    }
    return emit_chars(o, w + start, m - start);
}

/* ---- running the stages ---- */

static nerc_status pre_one(const tok_pretok *pt, bool force_prefix, tok_scratch *sc, stage_out *o, const nchar *c,
                           size_t n) {
    switch (pt->kind) {
    case PRE_BERT: return pre_bert(o, c, n);
    case PRE_WHITESPACE_SPLIT: return pre_whitespace_split(o, c, n);
    case PRE_BYTE_LEVEL: return pre_byte_level(pt, force_prefix, sc, o, c, n);
    case PRE_METASPACE: return pre_metaspace(pt, sc, o, c, n);
    case PRE_SPLIT: return pre_split(pt, sc, o, c, n);
    }
    return NERC_OK;
}

nerc_status pretokenize_run(const nerc_tokenizer *tok, tok_scratch *sc, bool force_prefix_space,
                            split_list **out, nbuf **out_pool) {
    int cur = 0;
    for (int32_t k = 0; k < tok->n_pres; k++) {
        nbuf *in_pool = &sc->pool[cur];
        split_list *in = &sc->splits[cur];
        stage_out o = {&sc->pool[1 - cur], &sc->splits[1 - cur]};
        o.pool->n = 0;
        o.splits->n = 0;
        for (size_t i = 0; i < in->n; i++) {
            tok_split s = in->s[i];
            if (s.token >= 0) { /* an added token: kept as it is */
                NERC_TRY(emit_chars(&o, in_pool->c + s.start, s.len));
                o.splits->s[o.splits->n - 1].token = s.token;
                continue;
            }
            NERC_TRY(pre_one(&tok->pres[k], force_prefix_space, sc, &o, in_pool->c + s.start, s.len));
        }
        cur = 1 - cur;
    }
    *out = &sc->splits[cur];
    *out_pool = &sc->pool[cur];
    return NERC_OK;
}
