/* Encoded datasets: sentences -> [CLS] pieces [SEP] sequences, long sentences cut into overlapping windows. */
#include "data/align.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

nerc_encode_params nerc_encode_default_params(void) {
    nerc_encode_params p = {512, 128, NERC_LABEL_MODE_FIRST_PIECE};
    return p;
}

/* Words [first, last) (dataset-global indices) of sentence `sent`. */
typedef struct {
    int32_t sent, first, last;
} enc_window;

typedef struct {
    const nerc_dataset *ds;
    const int32_t *pieces, *piece_offsets;
    int32_t budget; /* pieces per window: max_len - 2 */
    int32_t stride;
    enc_window *wins;
    int32_t n_wins, wins_cap;
    int64_t n_tokens;
} enc_plan;

/* Pieces of word w, clipped to one window. */
static int32_t n_pieces(const enc_plan *p, int32_t w) {
    int32_t n = p->piece_offsets[w + 1] - p->piece_offsets[w];
    return n > p->budget ? p->budget : n;
}

static nerc_status push_window(enc_plan *p, int32_t sent, int32_t first, int32_t last, int64_t used) {
    if (p->n_wins == p->wins_cap) {
        int64_t ncap = p->wins_cap ? 2 * (int64_t)p->wins_cap : 1024;
        if (ncap > INT32_MAX - 1)
            return nerc_errorf(NERC_ERR_NOMEM, "encode: too many sequences");
        enc_window *nw = realloc(p->wins, (size_t)ncap * sizeof *nw);
        if (!nw)
            return nerc_errorf(NERC_ERR_NOMEM, "encode: out of memory");
        p->wins = nw;
        p->wins_cap = (int32_t)ncap;
    }
    p->wins[p->n_wins++] = (enc_window){sent, first, last};
    p->n_tokens += used + 2;
    if (p->n_tokens > INT32_MAX)
        return nerc_errorf(NERC_ERR_NOMEM, "encode: more than 2^31 tokens");
    return NERC_OK;
}

/* Windows of one sentence: each as many whole words as fit; the next one
 * starts at the earliest word such that the overlap is at most `stride`
 * pieces (and at least one word later, so the loop always advances). */
static nerc_status plan_sentence(enc_plan *p, int32_t s) {
    int32_t w0 = p->ds->sent_offsets[s], w1 = p->ds->sent_offsets[s + 1];
    int32_t start = w0;
    for (;;) {
        int32_t end = start;
        int64_t used = 0;
        while (end < w1 && used + n_pieces(p, end) <= p->budget)
            used += n_pieces(p, end++);
        NERC_TRY(push_window(p, s, start, end, used));
        if (end >= w1)
            return NERC_OK;
        int32_t next = end;
        int64_t overlap = 0;
        while (next - 1 > start && overlap + n_pieces(p, next - 1) <= p->stride)
            overlap += n_pieces(p, --next);
        start = next;
    }
}

/* For each word of the sentence whose windows are wins[k0..k1): the window
 * where min(pieces left of it, pieces right of it) is largest, first on ties. */
static void pick_scoring(const enc_plan *p, int32_t k0, int32_t k1, int32_t w0, int32_t *best_win,
                         int32_t *best_ctx) {
    for (int32_t k = k0; k < k1; k++) {
        const enc_window *win = &p->wins[k];
        int32_t total = 0, left = 0;
        for (int32_t w = win->first; w < win->last; w++)
            total += n_pieces(p, w);
        for (int32_t w = win->first; w < win->last; w++) {
            int32_t np = n_pieces(p, w), right = total - left - np;
            int32_t ctx = left < right ? left : right;
            if (best_win[w - w0] < 0 || ctx > best_ctx[w - w0]) {
                best_win[w - w0] = k;
                best_ctx[w - w0] = ctx;
            }
            left += np;
        }
    }
}

/* Writes sequence k: [CLS] words (labels only where k is the scoring window) [SEP]. */
static int32_t emit_window(nerc_sequences *e, const enc_plan *p, int32_t k, int32_t row, const int32_t *best_win,
                           int32_t w0, int32_t cls_id, int32_t sep_id, nerc_label_mode mode, const int32_t *b_to_i) {
    const enc_window *win = &p->wins[k];
    int32_t start = row;
    e->input_ids[row] = cls_id;
    e->labels[row] = NERC_IGNORE_INDEX;
    e->row_word[row] = -1;
    e->row_scoring[row++] = 0;
    for (int32_t w = win->first; w < win->last; w++) {
        int scoring = best_win[w - w0] == k;
        int32_t label = scoring ? p->ds->tags[w] : NERC_IGNORE_INDEX;
        int32_t np = align_word(e->input_ids + row, e->labels + row, p->pieces + p->piece_offsets[w],
                                n_pieces(p, w), label, mode, b_to_i);
        for (int32_t j = 0; j < np; j++) {
            e->row_word[row + j] = w - w0;
            e->row_scoring[row + j] = (uint8_t)(scoring && j == 0);
        }
        row += np;
    }
    e->input_ids[row] = sep_id;
    e->labels[row] = NERC_IGNORE_INDEX;
    e->row_word[row] = -1;
    e->row_scoring[row++] = 0;
    e->seq_sent[k] = win->sent;
    e->seq_offsets[k + 1] = row;
    if (row - start > e->max_seq_len)
        e->max_seq_len = row - start;
    return row;
}

static nerc_status check_params(const nerc_dataset *ds, const int32_t *piece_offsets,
                                const nerc_encode_params *params) {
    if (params->max_len < 3)
        return nerc_errorf(NERC_ERR_ARG, "encode: max_len %d < 3", (int)params->max_len);
    if (params->stride < 0 || params->stride >= params->max_len - 2)
        return nerc_errorf(NERC_ERR_ARG, "encode: stride %d not in [0, max_len-2 = %d)", (int)params->stride,
                           (int)params->max_len - 2);
    if (piece_offsets[0] < 0)
        return nerc_errorf(NERC_ERR_ARG, "encode: negative piece offset");
    for (int32_t w = 0; w < ds->n_words; w++)
        if (piece_offsets[w + 1] < piece_offsets[w])
            return nerc_errorf(NERC_ERR_ARG, "encode: piece offsets decrease at word %d", (int)w);
    static const int32_t any_map[1] = {0}; /* encode builds the real B->I map itself */
    NERC_TRY(align_check_mode(params->label_mode, any_map));
    return align_check_labels(ds->tags, ds->n_words, ds->labels.n);
}

static nerc_status alloc_encoded(nerc_sequences **out, const enc_plan *p) {
    nerc_sequences *e = calloc(1, sizeof *e);
    if (!e)
        return nerc_errorf(NERC_ERR_NOMEM, "encode: out of memory");
    size_t nt = (size_t)p->n_tokens, ns = (size_t)p->n_wins;
    e->seq_offsets = calloc(ns + 1, sizeof *e->seq_offsets);
    e->seq_sent = malloc((ns ? ns : 1) * sizeof *e->seq_sent);
    e->input_ids = malloc((nt ? nt : 1) * sizeof *e->input_ids);
    e->labels = malloc((nt ? nt : 1) * sizeof *e->labels);
    e->row_word = malloc((nt ? nt : 1) * sizeof *e->row_word);
    e->row_scoring = malloc(nt ? nt : 1);
    *out = e;
    if (!e->seq_offsets || !e->seq_sent || !e->input_ids || !e->labels || !e->row_word || !e->row_scoring)
        return nerc_errorf(NERC_ERR_NOMEM, "encode: out of memory");
    e->n_seqs = p->n_wins;
    e->n_tokens = (int32_t)p->n_tokens;
    return NERC_OK;
}

/* Counts words without pieces and words clipped to one window. */
static void count_word_stats(nerc_sequences *e, const enc_plan *p) {
    for (int32_t w = 0; w < p->ds->n_words; w++) {
        int32_t n = p->piece_offsets[w + 1] - p->piece_offsets[w];
        e->n_empty_words += n == 0;
        e->n_clipped_words += n > p->budget;
    }
}

nerc_status nerc_encode_pieces(nerc_sequences **out, const nerc_dataset *ds, const int32_t *pieces,
                               const int32_t *piece_offsets, int32_t cls_id, int32_t sep_id,
                               const nerc_encode_params *params) {
    *out = NULL;
    nerc_encode_params defaults = nerc_encode_default_params();
    if (!params)
        params = &defaults;
    NERC_TRY(check_params(ds, piece_offsets, params));
    enc_plan p = {ds, pieces, piece_offsets, params->max_len - 2, params->stride, NULL, 0, 0, 0};
    nerc_sequences *e = NULL;
    int32_t *b_to_i = NULL, *best_win = NULL, *best_ctx = NULL;
    nerc_status st = NERC_OK;
    int32_t max_words = 0;
    for (int32_t s = 0; s < ds->n_sents; s++) {
        if ((st = plan_sentence(&p, s)))
            goto fail;
        int32_t nw = ds->sent_offsets[s + 1] - ds->sent_offsets[s];
        max_words = nw > max_words ? nw : max_words;
    }
    if ((st = alloc_encoded(&e, &p)))
        goto fail;
    b_to_i = malloc((size_t)(ds->labels.n ? ds->labels.n : 1) * sizeof *b_to_i);
    best_win = malloc((size_t)(max_words ? max_words : 1) * sizeof *best_win);
    best_ctx = malloc((size_t)(max_words ? max_words : 1) * sizeof *best_ctx);
    if (!b_to_i || !best_win || !best_ctx) {
        st = nerc_errorf(NERC_ERR_NOMEM, "encode: out of memory");
        goto fail;
    }
    nerc_labels_b_to_i(&ds->labels, b_to_i);
    int32_t row = 0;
    for (int32_t k0 = 0, k1; k0 < p.n_wins; k0 = k1) {
        int32_t s = p.wins[k0].sent, w0 = ds->sent_offsets[s];
        for (k1 = k0 + 1; k1 < p.n_wins && p.wins[k1].sent == s; k1++) {
        }
        for (int32_t w = 0; w < ds->sent_offsets[s + 1] - w0; w++)
            best_win[w] = -1;
        pick_scoring(&p, k0, k1, w0, best_win, best_ctx);
        for (int32_t k = k0; k < k1; k++)
            row = emit_window(e, &p, k, row, best_win, w0, cls_id, sep_id, params->label_mode, b_to_i);
        e->n_windowed += k1 - k0 > 1;
    }
    e->n_sents = ds->n_sents;
    count_word_stats(e, &p);
    if (e->n_windowed)
        nerc_logf("%d of %d sentences longer than %d tokens were split into windows", (int)e->n_windowed,
                  (int)ds->n_sents, (int)params->max_len);
    *out = e;
    e = NULL;
fail:
    nerc_sequences_free(e);
    free(p.wins);
    free(b_to_i);
    free(best_win);
    free(best_ctx);
    return st;
}

void nerc_sequences_free(nerc_sequences *enc) {
    if (!enc)
        return;
    free(enc->seq_offsets);
    free(enc->seq_sent);
    free(enc->input_ids);
    free(enc->labels);
    free(enc->row_word);
    free(enc->row_scoring);
    free(enc);
}
