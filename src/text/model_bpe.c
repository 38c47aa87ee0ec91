/* The BPE model as HF runs it: one symbol per character (unknown characters become <unk>, fused
 * or not, or byte-fallback <0xXX> pieces), then merges applied lowest rank first, leftmost first,
 * through a min-heap with stale entries skipped. Also the merge table. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/pipeline.h"

/* ---- the merge table: (left, right) -> (rank, merged id) ---- */

static uint64_t merge_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static size_t merge_slot(uint64_t key, size_t mask) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & mask;
}

nerc_status bpe_init_merges(nerc_tokenizer *tok, size_t n_merges) {
    size_t cap = 16;
    while (cap < 2 * n_merges + 16) {
        if (cap > SIZE_MAX / 4 / sizeof(bpe_merge))
            return nerc_errorf(NERC_ERR_NOMEM, "too many merges (%zu)", n_merges);
        cap *= 2;
    }
    free(tok->merges);
    tok->merges = malloc(cap * sizeof *tok->merges);
    if (!tok->merges)
        return nerc_errorf(NERC_ERR_NOMEM, "merges: out of memory");
    for (size_t i = 0; i < cap; i++)
        tok->merges[i] = (bpe_merge){UINT64_MAX, 0, -1};
    tok->merges_cap = cap;
    return NERC_OK;
}

nerc_status bpe_add_merge(nerc_tokenizer *tok, int32_t a, int32_t b, uint32_t rank, int32_t new_id) {
    uint64_t key = merge_key(a, b);
    size_t mask = tok->merges_cap - 1;
    for (size_t i = merge_slot(key, mask), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
        bpe_merge *m = &tok->merges[i];
        if (m->key == UINT64_MAX || m->key == key) { /* a repeated pair keeps its last rank, as HF's map */
            *m = (bpe_merge){key, rank, new_id};
            return NERC_OK;
        }
    }
    return nerc_errorf(NERC_ERR_NOMEM, "merge table full");
}

static const bpe_merge *bpe_find(const nerc_tokenizer *tok, int32_t a, int32_t b) {
    if (!tok->merges)
        return NULL;
    uint64_t key = merge_key(a, b);
    size_t mask = tok->merges_cap - 1;
    for (size_t i = merge_slot(key, mask);; i = (i + 1) & mask) {
        const bpe_merge *m = &tok->merges[i];
        if (m->key == key)
            return m;
        if (m->key == UINT64_MAX)
            return NULL;
    }
}

/* ---- symbols and the merge heap ---- */

typedef struct {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
    int32_t first, last; /* chars of the split */
    bool removed;
} bpe_sym;

typedef struct {
    uint32_t rank;
    int32_t pos, new_id;
} bpe_entry;

typedef struct {
    bpe_sym *sym;
    int32_t n_sym;
    bpe_entry *heap;
    size_t n_heap;
} bpe_work;

static bool entry_less(const bpe_entry *x, const bpe_entry *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(bpe_work *w, bpe_entry e) {
    size_t i = w->n_heap++;
    while (i > 0 && entry_less(&e, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = e;
}

static bpe_entry heap_pop(bpe_work *w) {
    bpe_entry top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const bpe_entry *best = &last;
        if (l < n && entry_less(&w->heap[l], best))
            m = l, best = &w->heap[l];
        if (r < n && entry_less(&w->heap[r], best))
            m = r;
        if (m == i)
            break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

static void push_pair(const nerc_tokenizer *tok, bpe_work *w, int32_t pos) {
    int32_t next = w->sym[pos].next;
    if (next < 0)
        return;
    const bpe_merge *m = bpe_find(tok, w->sym[pos].id, w->sym[next].id);
    if (m)
        heap_push(w, (bpe_entry){m->rank, pos, m->new_id});
}

static void add_symbol(bpe_work *w, int32_t id, int32_t first, int32_t last) {
    int32_t k = w->n_sym++;
    w->sym[k] = (bpe_sym){id, k - 1, -1, first, last, false};
    if (k > 0)
        w->sym[k - 1].next = k;
}

/* HF merge_all: pops (rank, pos); skips entries whose pair no longer maps to the same merged id. */
static void merge_all(const nerc_tokenizer *tok, bpe_work *w) {
    for (int32_t i = 0; i + 1 < w->n_sym; i++)
        push_pair(tok, w, i);
    while (w->n_heap > 0) {
        bpe_entry top = heap_pop(w);
        bpe_sym *s = &w->sym[top.pos];
        if (s->removed || s->next < 0)
            continue;
        bpe_sym *right = &w->sym[s->next];
        const bpe_merge *m = bpe_find(tok, s->id, right->id);
        if (!m || m->new_id != top.new_id)
            continue;
        s->id = top.new_id;
        s->last = right->last;
        s->next = right->next;
        right->removed = true;
        if (s->next >= 0)
            w->sym[s->next].prev = top.pos;
        if (s->prev >= 0)
            push_pair(tok, w, s->prev);
        push_pair(tok, w, top.pos);
    }
}

/* byte_fallback: the <0xXX> ids of every byte of s, or false when one is missing. */
static bool byte_pieces(const nerc_tokenizer *tok, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (tok->byte_ids[(unsigned char)s[i]] < 0)
            return false;
    return true;
}

/* HF merge_word's initial symbols: the char (with the prefix when not first, the suffix when
 * last) if in the vocabulary; else byte pieces; else <unk> (pending, fused when fuse_unk). */
static void initial_symbols(const nerc_tokenizer *tok, tok_scratch *sc, bpe_work *w, size_t n, char *piece) {
    int32_t unk_first = -1, unk_last = -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if (i > 0) {
            memcpy(piece, tok->prefix, tok->prefix_len);
            len = tok->prefix_len;
        }
        size_t cl = (size_t)(sc->boff[i + 1] - sc->boff[i]);
        memcpy(piece + len, sc->utf8 + sc->boff[i], cl);
        len += cl;
        if (i + 1 == n) {
            memcpy(piece + len, tok->suffix, tok->suffix_len);
            len += tok->suffix_len;
        }
        int32_t id = vocab_find(&tok->vocab, piece, len);
        if (id >= 0) {
            if (unk_first >= 0)
                add_symbol(w, tok->unk_id, unk_first, unk_last);
            unk_first = -1;
            add_symbol(w, id, (int32_t)i, (int32_t)i);
            continue;
        }
        if (tok->byte_fallback && byte_pieces(tok, piece, len)) {
            for (size_t b = 0; b < len; b++)
                add_symbol(w, tok->byte_ids[(unsigned char)piece[b]], (int32_t)i, (int32_t)i);
            continue;
        }
        if (tok->unk_id < 0)
            continue; /* no unk token: the char yields nothing */
        if (unk_first >= 0 && tok->fuse_unk) {
            unk_last = (int32_t)i;
            continue;
        }
        if (unk_first >= 0)
            add_symbol(w, tok->unk_id, unk_first, unk_last);
        unk_first = unk_last = (int32_t)i;
    }
    if (unk_first >= 0)
        add_symbol(w, tok->unk_id, unk_first, unk_last);
}

nerc_status model_bpe(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n) {
    size_t bytes;
    NERC_TRY(utf8_of_chars(sc, c, n, &bytes));
    if (tok->ignore_merges) {
        int32_t id = vocab_find(&tok->vocab, sc->utf8, bytes);
        if (id >= 0)
            return tokens_push(&sc->toks, id, 0, n - 1);
    }
    size_t per_char = 4 + tok->prefix_len + tok->suffix_len, max_sym = n * per_char;
    size_t need = max_sym * sizeof(bpe_sym) + 3 * max_sym * sizeof(bpe_entry) + per_char + 8;
    NERC_TRY(scratch_grow(&sc->model_buf, &sc->model_cap, need, 1));
    bpe_work w = {sc->model_buf, 0, (bpe_entry *)((bpe_sym *)sc->model_buf + max_sym), 0};
    char *piece = (char *)(w.heap + 3 * max_sym);
    initial_symbols(tok, sc, &w, n, piece);
    merge_all(tok, &w);
    for (int32_t i = 0; i < w.n_sym; i++)
        if (!w.sym[i].removed)
            NERC_TRY(tokens_push(&sc->toks, w.sym[i].id, (size_t)w.sym[i].first, (size_t)w.sym[i].last));
    return NERC_OK;
}
