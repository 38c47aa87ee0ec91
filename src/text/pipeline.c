/* Scratch buffers of an encode call and the pattern search shared by Split and Replace. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/pipeline.h"

nerc_status scratch_grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap)
        return NERC_OK;
    size_t want = *cap * 2 > n ? *cap * 2 : n;
    if (want < 64)
        want = 64;
    if (want > SIZE_MAX / elem / 2)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: buffer of %zu elements overflows", want);
    void *q = realloc(*p, want * elem);
    if (!q)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", want * elem);
    *p = q;
    *cap = want;
    return NERC_OK;
}

nerc_status nbuf_reserve(nbuf *b, size_t n) {
    return scratch_grow((void **)&b->c, &b->cap, n, sizeof *b->c);
}

nerc_status splits_push(split_list *l, size_t start, size_t len, int32_t token) {
    NERC_TRY(scratch_grow((void **)&l->s, &l->cap, l->n + 1, sizeof *l->s));
    l->s[l->n++] = (tok_split){start, len, token};
    return NERC_OK;
}

nerc_status tokens_push(token_list *l, int32_t id, size_t first, size_t last) {
    NERC_TRY(scratch_grow((void **)&l->t, &l->cap, l->n + 1, sizeof *l->t));
    l->t[l->n++] = (model_token){id, first, last, -1, 0};
    return NERC_OK;
}

void scratch_free(tok_scratch *sc) {
    free(sc->tmp.c);
    free(sc->pool[0].c);
    free(sc->pool[1].c);
    free(sc->splits[0].s);
    free(sc->splits[1].s);
    free(sc->utf8);
    free(sc->boff);
    free(sc->cps);
    free(sc->changes);
    free(sc->model_buf);
    free(sc->arena);
    free(sc->toks.t);
    free(sc->matches.s);
    tok_regex_scratch_free(&sc->rx);
    memset(sc, 0, sizeof *sc);
}

nerc_status utf8_of_chars(tok_scratch *sc, const nchar *c, size_t n, size_t *bytes) {
    NERC_TRY(scratch_grow((void **)&sc->utf8, &sc->utf8_cap, 4 * n + 1, 1));
    NERC_TRY(scratch_grow((void **)&sc->boff, &sc->boff_cap, n + 1, sizeof *sc->boff));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        sc->boff[i] = (int32_t)at;
        at += utf8_encode(c[i].cp, sc->utf8 + at);
    }
    sc->boff[n] = (int32_t)at;
    sc->utf8[at] = '\0';
    *bytes = at;
    return NERC_OK;
}

size_t char_at_byte(const int32_t *boff, size_t n_chars, size_t b) {
    size_t lo = 0, hi = n_chars;
    while (lo < hi) { /* the last char whose start is <= b */
        size_t mid = lo + (hi - lo + 1) / 2;
        if ((size_t)boff[mid] <= b)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

nerc_status pattern_find(const tok_pattern *p, tok_scratch *sc, const nchar *c, size_t n) {
    sc->matches.n = 0;
    size_t bytes;
    NERC_TRY(utf8_of_chars(sc, c, n, &bytes));
    size_t from = 0, last_match_end = SIZE_MAX, ms, me;
    while (from <= bytes && tok_regex_search(p->re, &sc->rx, sc->utf8, bytes, from, &ms, &me)) {
        if (ms == me && last_match_end == me) { /* no empty match right after the previous one */
            if (from >= bytes)
                break;
            from = (size_t)sc->boff[char_at_byte(sc->boff, n, from) + 1];
            continue;
        }
        from = me;
        last_match_end = me;
        size_t a = char_at_byte(sc->boff, n, ms), b = me >= bytes ? n : char_at_byte(sc->boff, n, me);
        NERC_TRY(splits_push(&sc->matches, a, b - a, -1));
        if (me == bytes && ms == me)
            break;
    }
    return NERC_OK;
}
