/* Normalizers over aligned characters, with HF's alignment rules (NormalizedString::transform):
 * BertNormalizer, Precompiled (SentencePiece charsmap over grapheme clusters), Replace,
 * Lowercase, Strip, Prepend. Every output character carries the original span it maps to. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/grapheme.h"
#include "text/pipeline.h"

/* One entry of an HF transformation list: the new char and its change (0 replaces the next old
 * char, 1 is inserted, -N replaces the next old char and removes N more). */
typedef struct {
    uint32_t cp;
    int32_t change;
} tchange;

/* Applies a transformation list to the whole of in[0, n) (HF transform_range, initial_offset 0).
 * An inserted char takes the alignment of the old char before it ((base, base) at the start). */
static void apply_changes(const nchar *in, size_t n, const tchange *t, size_t nt, int32_t base, nchar *out) {
    size_t cur = 0;
    for (size_t i = 0; i < nt; i++) {
        nchar c = {t[i].cp, base, base};
        if (t[i].change > 0) {
            if (cur > 0)
                c.o0 = in[cur - 1].o0, c.o1 = in[cur - 1].o1;
        } else {
            if (cur < n)
                c.o0 = in[cur].o0, c.o1 = in[cur].o1;
            cur += 1 + (size_t)(-(int64_t)t[i].change);
            if (cur > n)
                cur = n;
        }
        out[i] = c;
    }
}

static nerc_status swap_in(nbuf *b, tok_scratch *sc) {
    nbuf t = *b;
    *b = sc->tmp;
    sc->tmp = t;
    return NERC_OK;
}

/* ---- BertNormalizer: per character, every output aligned to its source ---- */

static nerc_status norm_bert(const tok_norm *nm, nbuf *b, tok_scratch *sc) {
    NERC_TRY(nbuf_reserve(&sc->tmp, NORM_MAX_EXPANSION * b->n));
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t out[NORM_MAX_EXPANSION];
        size_t k = normalize_char(&nm->bert, b->c[i].cp, out);
        for (size_t j = 0; j < k; j++)
            sc->tmp.c[m++] = (nchar){out[j], b->c[i].o0, b->c[i].o1};
    }
    sc->tmp.n = m;
    return swap_in(b, sc);
}

/* ---- Lowercase (Rust char::to_lowercase) ---- */

static nerc_status norm_lowercase(nbuf *b, tok_scratch *sc) {
    static const norm_config lower = {false, false, &uni_fold_lower};
    tok_norm nm = {.kind = NORM_BERT, .bert = lower};
    return norm_bert(&nm, b, sc);
}

/* ---- Strip: whitespace (char::is_whitespace) off the left and/or right ---- */

static nerc_status norm_strip(const tok_norm *nm, nbuf *b) {
    size_t a = 0, e = b->n;
    while (nm->left && a < e && pretok_is_space(b->c[a].cp))
        a++;
    while (nm->right && e > a && pretok_is_space(b->c[e - 1].cp))
        e--;
    memmove(b->c, b->c + a, (e - a) * sizeof *b->c);
    b->n = e - a;
    return NERC_OK;
}

/* ---- Prepend: the text before a non-empty string, aligned to its first char ---- */

static nerc_status norm_prepend(const tok_norm *nm, nbuf *b, tok_scratch *sc) {
    if (b->n == 0)
        return NERC_OK;
    NERC_TRY(nbuf_reserve(&sc->tmp, b->n + nm->text_len));
    for (size_t i = 0; i < nm->text_len; i++)
        sc->tmp.c[i] = (nchar){nm->text[i], b->c[0].o0, b->c[0].o1};
    memcpy(sc->tmp.c + nm->text_len, b->c, b->n * sizeof *b->c);
    sc->tmp.n = b->n + nm->text_len;
    return swap_in(b, sc);
}

/* ---- Replace: each match becomes the content, aligned to the match's last char ---- */

static nerc_status norm_replace(const tok_norm *nm, nbuf *b, int32_t base, tok_scratch *sc) {
    NERC_TRY(pattern_find(&nm->pat, sc, b->c, b->n));
    if (sc->matches.n == 0)
        return NERC_OK;
    NERC_TRY(nbuf_reserve(&sc->tmp, b->n + sc->matches.n * nm->text_len));
    size_t m = 0, prev = 0;
    for (size_t k = 0; k < sc->matches.n; k++) {
        size_t s = sc->matches.s[k].start, e = s + sc->matches.s[k].len;
        memcpy(sc->tmp.c + m, b->c + prev, (s - prev) * sizeof *b->c);
        m += s - prev;
        nchar al = e > 0 ? b->c[e - 1] : (nchar){0, base, base};
        for (size_t j = 0; j < nm->text_len; j++)
            sc->tmp.c[m++] = (nchar){nm->text[j], al.o0, al.o1};
        prev = e;
    }
    memcpy(sc->tmp.c + m, b->c + prev, (b->n - prev) * sizeof *b->c);
    sc->tmp.n = m + b->n - prev;
    return swap_in(b, sc);
}

/* ---- Precompiled: the charsmap over grapheme clusters, as HF's normalizer walks them ---- */

typedef struct {
    tchange *t;
    size_t n, cap;
} change_list;

/* HF's `replace` helper: new chars replace, extra ones are inserted, fewer remove old ones. */
static nerc_status changes_replace(change_list *l, size_t old_count, const char *r, size_t r_len) {
    size_t pos = 0, added = 0;
    NERC_TRY(scratch_grow((void **)&l->t, &l->cap, l->n + r_len, sizeof *l->t));
    while (pos < r_len) {
        uint32_t cp;
        utf8_decode((const unsigned char *)r, r_len, &pos, &cp);
        l->t[l->n++] = (tchange){cp, 0};
        added++;
    }
    if (added > old_count) {
        for (size_t k = 0; k < added - old_count; k++)
            l->t[l->n - 1 - k].change = 1;
    } else if (added < old_count && l->n > 0) {
        l->t[l->n - 1].change -= (int32_t)(old_count - added);
    }
    return NERC_OK;
}

/* UTF-8 of cps[0, n) into buf (room for 4n bytes); returns the length. */
static size_t cps_utf8(const uint32_t *cps, size_t n, char *buf) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += utf8_encode(cps[i], buf + len);
    return len;
}

static nerc_status precompiled_grapheme(const precompiled *pc, change_list *l, const uint32_t *g, size_t n,
                                        bool *modified) {
    char buf[24];
    size_t rl;
    const char *r;
    if (n < 6) { /* a whole grapheme of fewer than 6 bytes first */
        size_t len = cps_utf8(g, n, buf);
        if (len < 6 && (r = precompiled_transform(pc, buf, len, &rl))) {
            *modified = true;
            return changes_replace(l, n, r, rl);
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = utf8_encode(g[i], buf);
        if ((r = precompiled_transform(pc, buf, len, &rl))) {
            *modified = true;
            NERC_TRY(changes_replace(l, 1, r, rl));
        } else {
            NERC_TRY(scratch_grow((void **)&l->t, &l->cap, l->n + 1, sizeof *l->t));
            l->t[l->n++] = (tchange){g[i], 0};
        }
    }
    return NERC_OK;
}

static nerc_status norm_precompiled(const tok_norm *nm, nbuf *b, int32_t base, tok_scratch *sc) {
    NERC_TRY(scratch_grow((void **)&sc->cps, &sc->cps_cap, b->n + 1, sizeof *sc->cps));
    for (size_t i = 0; i < b->n; i++)
        sc->cps[i] = b->c[i].cp;
    change_list l = {sc->changes, 0, sc->changes_cap};
    bool modified = false;
    nerc_status st = NERC_OK;
    for (size_t i = 0; i < b->n && st == NERC_OK;) {
        size_t g = grapheme_next(sc->cps + i, b->n - i);
        st = precompiled_grapheme(nm->pc, &l, sc->cps + i, g, &modified);
        i += g;
    }
    sc->changes = l.t;
    sc->changes_cap = l.cap;
    NERC_TRY(st);
    if (!modified)
        return NERC_OK;
    NERC_TRY(nbuf_reserve(&sc->tmp, l.n));
    apply_changes(b->c, b->n, l.t, l.n, base, sc->tmp.c);
    sc->tmp.n = l.n;
    return swap_in(b, sc);
}

nerc_status normalize_run(const nerc_tokenizer *tok, nbuf *b, int32_t base, tok_scratch *sc) {
    for (int32_t k = 0; k < tok->n_norms; k++) {
        const tok_norm *nm = &tok->norms[k];
        switch (nm->kind) {
        case NORM_BERT: NERC_TRY(norm_bert(nm, b, sc)); break;
        case NORM_PRECOMPILED: NERC_TRY(norm_precompiled(nm, b, base, sc)); break;
        case NORM_REPLACE: NERC_TRY(norm_replace(nm, b, base, sc)); break;
        case NORM_LOWERCASE: NERC_TRY(norm_lowercase(b, sc)); break;
        case NORM_STRIP: NERC_TRY(norm_strip(nm, b)); break;
        case NORM_PREPEND: NERC_TRY(norm_prepend(nm, b, sc)); break;
        }
    }
    return NERC_OK;
}

nerc_status normalize_cps(const nerc_tokenizer *tok, const uint32_t *in, size_t n, uint32_t **out, size_t *out_n) {
    *out = NULL;
    *out_n = 0;
    tok_scratch sc = {0};
    nbuf b = {0};
    nerc_status st = nbuf_reserve(&b, n + 1);
    for (size_t i = 0; st == NERC_OK && i < n; i++)
        b.c[b.n++] = (nchar){in[i], (int32_t)i, (int32_t)i + 1};
    if (st == NERC_OK)
        st = normalize_run(tok, &b, 0, &sc);
    if (st == NERC_OK && !(*out = malloc((b.n + 1) * sizeof **out)))
        st = nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; st == NERC_OK && i < b.n; i++)
        (*out)[i] = b.c[i].cp;
    if (st == NERC_OK)
        *out_n = b.n;
    free(b.c);
    scratch_free(&sc);
    return st;
}
