/* The Unigram model as HF runs it (encode_optimized, after SentencePiece): Viterbi over the bytes
 * of a split, every vocabulary piece that starts at a character boundary a candidate, an unknown
 * character scored min_score - 10 as <unk>; consecutive unknowns fused; byte fallback. */
#include <string.h>

#include "core/error.h"
#include "text/pipeline.h"

static const double unk_penalty = 10.0;

/* Best path ending at a byte position. */
typedef struct {
    double score;
    int32_t start; /* -1: none yet */
    int32_t id;
} best_node;

/* Relaxes every piece starting at byte `pos` (char i), plus <unk> for the char when no single-char
 * piece exists. Returns NERC_ERR_ARG when <unk> is needed and the model has none. */
static nerc_status relax_from(const nerc_tokenizer *tok, const tok_scratch *sc, best_node *best, size_t bytes,
                              size_t pos, size_t mblen) {
    double base = best[pos].score;
    bool single = false;
    uint32_t h = VOCAB_HASH_SEED;
    size_t max_len = bytes - pos < tok->max_piece_len ? bytes - pos : tok->max_piece_len;
    for (size_t len = 1; len <= max_len; len++) {
        h = vocab_hash_byte(h, (unsigned char)sc->utf8[pos + len - 1]);
        int32_t id = vocab_find_hashed(&tok->vocab, h, sc->utf8 + pos, len);
        if (id < 0)
            continue;
        best_node *t = &best[pos + len];
        double cand = tok->scores[id] + base;
        if (t->start < 0 || cand > t->score)
            *t = (best_node){cand, (int32_t)pos, id};
        single = single || len == mblen;
    }
    if (single)
        return NERC_OK;
    best_node *t = &best[pos + mblen];
    double cand = tok->min_score - unk_penalty + base;
    if (t->start < 0 || cand > t->score) {
        if (tok->unk_id < 0)
            return nerc_errorf(NERC_ERR_ARG, "tokenizer: a character is not in the Unigram vocabulary and "
                               "the model has no unk_id");
        *t = (best_node){cand, (int32_t)pos, tok->unk_id};
    }
    return NERC_OK;
}

/* Appends the token(s) of bytes [a, b) of the split: a vocabulary piece, or the byte pieces /
 * <unk> (with its text) of a run of unknowns. */
static nerc_status emit_piece(const nerc_tokenizer *tok, tok_scratch *sc, size_t n, size_t a, size_t b) {
    size_t first = char_at_byte(sc->boff, n, a), last = char_at_byte(sc->boff, n, b - 1);
    int32_t id = vocab_find(&tok->vocab, sc->utf8 + a, b - a);
    if (id >= 0)
        return tokens_push(&sc->toks, id, first, last);
    if (tok->byte_fallback) {
        bool all = true;
        for (size_t k = a; k < b && all; k++)
            all = tok->byte_ids[(unsigned char)sc->utf8[k]] >= 0;
        if (all) {
            for (size_t k = a; k < b; k++)
                NERC_TRY(tokens_push(&sc->toks, tok->byte_ids[(unsigned char)sc->utf8[k]], first, last));
            return NERC_OK;
        }
    }
    if (tok->unk_id < 0)
        return nerc_errorf(NERC_ERR_ARG, "tokenizer: unknown piece and the Unigram model has no unk_id");
    NERC_TRY(scratch_grow((void **)&sc->arena, &sc->arena_cap, sc->arena_len + (b - a) + 1, 1));
    memcpy(sc->arena + sc->arena_len, sc->utf8 + a, b - a);
    NERC_TRY(tokens_push(&sc->toks, tok->unk_id, first, last));
    sc->toks.t[sc->toks.n - 1].text_off = (int64_t)sc->arena_len;
    sc->toks.t[sc->toks.n - 1].text_len = (int32_t)(b - a);
    sc->arena_len += b - a;
    sc->arena[sc->arena_len++] = '\0';
    return NERC_OK;
}

nerc_status model_unigram(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n) {
    size_t bytes;
    NERC_TRY(utf8_of_chars(sc, c, n, &bytes));
    size_t path_cap = bytes + 1;
    NERC_TRY(scratch_grow(&sc->model_buf, &sc->model_cap, (bytes + 1) * sizeof(best_node) +
                          path_cap * 2 * sizeof(int32_t), 1));
    best_node *best = sc->model_buf;
    int32_t *path = (int32_t *)(best + bytes + 1); /* [2 * k]: start, end of the k-th node from the end */
    for (size_t i = 0; i <= bytes; i++)
        best[i] = (best_node){0.0, -1, 0};
    for (size_t i = 0; i < n; i++)
        NERC_TRY(relax_from(tok, sc, best, bytes, (size_t)sc->boff[i], (size_t)(sc->boff[i + 1] - sc->boff[i])));
    /* backtrack, fusing runs of <unk> into one piece */
    size_t k = 0;
    for (size_t end = bytes; end > 0;) {
        const best_node *nd = &best[end];
        size_t start = (size_t)nd->start;
        bool unk = nd->id == tok->unk_id;
        if (unk && k > 0 && path[2 * (k - 1)] <= -2) { /* extend the fused run leftwards */
            path[2 * (k - 1)] = -2 - (int32_t)start;
        } else {
            path[2 * k] = unk ? -2 - (int32_t)start : (int32_t)start;
            path[2 * k + 1] = (int32_t)end;
            k++;
        }
        end = start;
    }
    while (k-- > 0) {
        int32_t s = path[2 * k];
        NERC_TRY(emit_piece(tok, sc, n, s <= -2 ? (size_t)(-2 - s) : (size_t)s, (size_t)path[2 * k + 1]));
    }
    return NERC_OK;
}
