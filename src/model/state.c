/* The per-run state of an encoder: every activation preallocated for the
 * worst batch (nothing is allocated per batch), gradients for training, and
 * the precision of the linear layers in inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/amx.h"
#include "kernels/convert.h"
#include "model/encoder.h"

typedef struct {
    float **ptr;
    int64_t n;
} carve;

static int64_t carve_total(const carve *c, int n) {
    int64_t t = 0;
    for (int i = 0; i < n; i++)
        t += c[i].n;
    return t;
}

static void carve_apply(const carve *c, int n, float *base) {
    for (int i = 0; i < n; i++) {
        *c[i].ptr = base;
        base += c[i].n;
    }
}

static nerc_status state_alloc_acts(struct nerc_state *s) {
    const encoder_config *c = &s->m->cfg;
    /* Training keeps every block's activations for the backward pass; inference
     * reuses one slot for all blocks (a block's input is dead once its output is written). */
    int64_t N = s->max_rows, C = c->dim, F = c->hidden_dim, L = s->training ? c->n_layers : 1, K = c->n_labels,
            HA = (int64_t)c->n_heads * s->max_att;
    carve acts[] = {
        {&s->emb_sum, N * C},  {&s->emb_mean, N},     {&s->emb_rstd, N},     {&s->x0, N * C},
        {&s->qkv, L * N * 3 * C}, {&s->att, L * HA},  {&s->ctx, L * N * C},  {&s->res1, L * N * C},
        {&s->ln1_mean, L * N}, {&s->ln1_rstd, L * N}, {&s->h1, L * N * C},   {&s->fc1, L * N * F},
        {&s->fc1_act, L * N * F}, {&s->res2, L * N * C}, {&s->ln2_mean, L * N}, {&s->ln2_rstd, L * N},
        {&s->h2, L * N * C},   {&s->cls_in, N * C},   {&s->logits, N * K},   {&s->d_logits, N * K},
    };
    carve grads[] = {
        {&s->d_out, N * C}, {&s->d_in, N * C}, {&s->d_res, N * C}, {&s->d_h1, N * C}, {&s->d_ctx, N * C},
        {&s->d_qkv, N * 3 * C}, {&s->d_act, N * F}, {&s->d_fc1, N * F}, {&s->d_att, HA},
    };
    int na = (int)(sizeof acts / sizeof acts[0]), ng = s->training ? (int)(sizeof grads / sizeof grads[0]) : 0;
    int64_t total = carve_total(acts, na) + carve_total(grads, ng);
    s->act_mem = malloc((size_t)total * sizeof(float));
    s->pos = malloc((size_t)N * sizeof *s->pos);
    if (!s->act_mem || !s->pos)
        return nerc_errorf(NERC_ERR_NOMEM, "cannot allocate %.1f MiB of activations for %lld rows",
                           (double)total * 4.0 / 1048576.0, (long long)N);
    carve_apply(acts, na, s->act_mem);
    carve_apply(grads, ng, s->act_mem + carve_total(acts, na));
    return NERC_OK;
}

nerc_status nerc_state_init(nerc_state **out, const nerc_model *m, int32_t max_seqs, int64_t max_rows,
                            int64_t max_att, int training) {
    *out = NULL;
    if (max_seqs < 1 || max_rows < 1 || max_att < 1 || max_rows > (1LL << 31) || max_att > (1LL << 40))
        return nerc_errorf(NERC_ERR_ARG, "state capacity out of range (seqs %d, rows %lld, attention pairs %lld)",
                           max_seqs, (long long)max_rows, (long long)max_att);
    struct nerc_state *s = calloc(1, sizeof *s);
    if (!s)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    s->m = m;
    s->max_seqs = max_seqs;
    s->max_rows = max_rows;
    s->max_att = max_att;
    s->training = training != 0;
    s->att_offsets = calloc((size_t)max_seqs + 1, sizeof *s->att_offsets);
    s->seq_keys = calloc((size_t)max_seqs, sizeof *s->seq_keys);
    s->seq_seeds = calloc((size_t)max_seqs, sizeof *s->seq_seeds);
    nerc_status st = s->att_offsets && s->seq_keys && s->seq_seeds ? NERC_OK
                                                                   : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK)
        st = state_alloc_acts(s);
    if (st == NERC_OK && s->training) {
        s->grad_mem = calloc_touched((size_t)m->n_params, sizeof(float));
        s->word_row_used = calloc((size_t)m->cfg.vocab_size, 1);
        s->word_rows = calloc((size_t)m->cfg.vocab_size, sizeof *s->word_rows);
        if (!s->grad_mem || !s->word_row_used || !s->word_rows)
            st = nerc_errorf(NERC_ERR_NOMEM, "cannot allocate gradients for %lld parameters", (long long)m->n_params);
        else
            encoder_views(m, s->grad_mem, &s->g);
    }
    if (st != NERC_OK) {
        nerc_state_free(s);
        return st;
    }
    *out = s;
    return NERC_OK;
}

static void free_packed(struct nerc_state *s) {
    int32_t n = encoder_n_linears(s->m);
    for (int32_t i = 0; s->packed && i < n; i++)
        linear_packed_free(s->packed[i]);
    free(s->packed);
    free(s->packed_scratch);
    s->packed = NULL;
    s->packed_scratch = NULL;
}

static void free_autocast(struct nerc_state *s) {
    free(s->w16_blocked);
    s->w16_blocked = NULL;
    free(s->w16);
    free(s->w16_off);
    free(s->in16);
    free(s->out16);
    free(s->w_squares);
    s->w16 = s->in16 = s->out16 = NULL;
    s->w_squares = NULL;
    s->w16_off = NULL;
    s->w16_current = 0; /* new copies are converted at the next forward pass */
}

void nerc_state_free(nerc_state *s) {
    if (!s)
        return;
    free_packed(s);
    free_autocast(s);
    free(s->act_mem);
    free(s->pos);
    free(s->grad_mem);
    free(s->word_row_used);
    free(s->word_rows);
    free(s->att_offsets);
    free(s->seq_keys);
    free(s->seq_seeds);
    free(s);
}

/* Converts and packs every linear layer (encoder_linear's index order) once. */
static nerc_status make_packed_linears(struct nerc_state *s, nerc_precision p) {
    const nerc_model *m = s->m;
    int64_t C = m->cfg.dim, F = m->cfg.hidden_dim;
    int32_t n = encoder_n_linears(m);
    size_t one = linear_packed_scratch_bytes(p, s->max_rows, F > C ? F : C);
    size_t ffn = linear_packed_ffn_scratch_bytes(p, s->max_rows, C, F);
    size_t scratch = ((one > ffn ? one : ffn) + 63) & ~(size_t)63;
    s->packed = calloc((size_t)n, sizeof *s->packed);
    s->packed_scratch = aligned_alloc(64, scratch);
    if (!s->packed || !s->packed_scratch)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory for %s weights", nerc_precision_name(p));
    for (int64_t l = 0; l < m->cfg.n_layers; l++)
        for (int op = 0; op < LIN_PER_LAYER; op++) {
            linear_ref r = encoder_linear(m, &m->p, l, (layer_linear)op);
            NERC_TRY(linear_packed_create(&s->packed[r.index], p, r.w, r.b, r.IC, r.OC));
        }
    linear_ref r = encoder_classifier(m, &m->p);
    return linear_packed_create(&s->packed[r.index], p, r.w, r.b, r.IC, r.OC);
}

/* Whether linear layer r's bf16 copy is kept in AMX's blocked layouts
 * (NERC_BF16_WEIGHTS=plain keeps every copy plain: A/B runs and tests). */
static int autocast_blocked(linear_ref r) {
    const char *env = getenv("NERC_BF16_WEIGHTS");
    return !(env && !strcmp(env, "plain")) && amx_blocked_layer(r.IC, r.OC);
}

/* bf16 training: room for the bf16 weight copies and the matmul operands. */
static nerc_status make_autocast(struct nerc_state *s) {
    NERC_TRY(nerc_precision_check(NERC_PRECISION_BF16));
    const nerc_model *m = s->m;
    int32_t n = encoder_n_linears(m);
    int64_t total = 0, widest = 1;
    s->w16_off = malloc((size_t)n * sizeof *s->w16_off);
    s->w16_blocked = calloc((size_t)n, 1);
    s->w_squares = malloc((size_t)n * sizeof *s->w_squares);
    if (!s->w16_off || !s->w16_blocked || !s->w_squares)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++) {
        linear_ref r = encoder_linear_at(m, &m->p, i);
        s->w_squares[i] = NAN; /* no backward yet */
        s->w16_blocked[i] = (uint8_t)autocast_blocked(r);
        s->w16_off[i] = total;
        total += ((s->w16_blocked[i] ? 2 : 1) * r.IC * r.OC + 31) / 32 * 32; /* 64-byte aligned copies */
        widest = r.IC > widest ? r.IC : widest;
        widest = r.OC > widest ? r.OC : widest;
    }
    int64_t rows = linear_autocast_rows(s->max_rows);
    s->w16 = aligned_alloc(64, (size_t)total * sizeof *s->w16);
    size_t scratch = ((size_t)(rows * widest) * sizeof *s->in16 + 63) / 64 * 64; /* tiles load whole lines */
    s->in16 = aligned_alloc(64, scratch);
    s->out16 = aligned_alloc(64, scratch);
    if (!s->w16 || !s->in16 || !s->out16)
        return nerc_errorf(NERC_ERR_NOMEM, "cannot allocate bf16 weights and scratch (%.1f MiB)",
                           (double)(total + 2 * rows * widest) * 2.0 / 1048576.0);
    return NERC_OK;
}

static int is_blocked(const struct nerc_state *s, int32_t i) { return s->w16_blocked[i]; }

autocast_weights encoder_autocast_weights(const struct nerc_state *s, int32_t index) {
    uint16_t *copy = s->w16 + s->w16_off[index];
    if (!is_blocked(s, index))
        return (autocast_weights){copy, NULL, NULL};
    linear_ref r = encoder_linear_at(s->m, &s->m->p, index);
    return (autocast_weights){NULL, copy, copy + r.IC * r.OC};
}

void encoder_refresh_w16(struct nerc_state *s) {
    int32_t n = encoder_n_linears(s->m);
    for (int32_t i = 0; i < n; i++) {
        linear_ref r = encoder_linear_at(s->m, &s->m->p, i);
        uint16_t *copy = s->w16 + s->w16_off[i];
        if (is_blocked(s, i)) /* its fwd copy, then its bwd copy */
            bf16_pack_amx(copy, copy + r.IC * r.OC, r.w, r.IC, r.OC);
        else
            f32_to_bf16(copy, r.w, r.IC * r.OC);
    }
}

/* Tensor pt's copy, when it lies within linear i's weight (from lo). */
static bf16_copy tensor_copy(const struct nerc_state *s, int32_t i, linear_ref r, int64_t lo, const param_tensor *pt) {
    uint16_t *base = s->w16 + s->w16_off[i];
    if (!is_blocked(s, i))
        return (bf16_copy){.plain = base + (pt->offset - lo)};
    return (bf16_copy){.amx = {base, base + r.IC * r.OC, (pt->offset - lo) / r.IC, r.IC, r.OC}};
}

/* Whether a tensor of a blocked linear starts and ends on bands of rows (AdamW packs band by band). */
static int on_bands(int64_t offset, int64_t numel, int64_t IC) {
    int64_t band = BF16_AMX_ROWS * IC;
    return offset % band == 0 && numel % band == 0;
}

int encoder_w16_copies(const struct nerc_state *s, bf16_copy *per_tensor) {
    const nerc_model *m = s->m;
    memset(per_tensor, 0, (size_t)m->n_tensors * sizeof *per_tensor);
    if (!s->w16)
        return 0;
    int32_t n = encoder_n_linears(m);
    int64_t covered = 0, total = 0;
    for (int32_t i = 0; i < n; i++) { /* a linear's weight is one tensor, or several back to back (q, k, v) */
        linear_ref r = encoder_linear_at(m, &m->p, i);
        int64_t lo = r.w - m->params_mem, hi = lo + r.IC * r.OC;
        total += hi - lo;
        for (int32_t t = 0; t < m->n_tensors; t++) {
            const param_tensor *pt = &m->tensors[t];
            if (pt->offset >= lo && pt->offset + pt->numel <= hi &&
                (!is_blocked(s, i) || on_bands(pt->offset - lo, pt->numel, r.IC))) {
                per_tensor[t] = tensor_copy(s, i, r, lo, pt);
                covered += pt->numel;
            }
        }
    }
    if (covered == total)
        return 1;
    /* a weight no tensor covers: the forward pass refreshes them all */
    memset(per_tensor, 0, (size_t)m->n_tensors * sizeof *per_tensor);
    return 0;
}

void encoder_w16_written(struct nerc_state *s) { s->w16_current = s->w16 != NULL; }
void encoder_w16_stale(struct nerc_state *s) {
    if (s)
        s->w16_current = 0;
}

nerc_status nerc_state_set_precision(nerc_state *s, nerc_precision p) {
    if (p == s->precision)
        return NERC_OK;
    free_packed(s);
    free_autocast(s);
    s->precision = NERC_PRECISION_FP32;
    if (p == NERC_PRECISION_FP32)
        return NERC_OK;
    if (s->training && p != NERC_PRECISION_BF16)
        return nerc_errorf(NERC_ERR_ARG, "%s precision is for inference; training takes fp32 or bf16",
                           nerc_precision_name(p));
    nerc_status st = s->training ? make_autocast(s) : make_packed_linears(s, p);
    if (st != NERC_OK) {
        free_packed(s);
        free_autocast(s);
        return st;
    }
    s->precision = p;
    return NERC_OK;
}

static int is_linear_weight(param_category c) {
    return c == P_QKV_W || c == P_OUT_W || c == P_FC1_W || c == P_FC2_W || c == P_CLS_W;
}

/* memset of the tensors whose category passes keep(). */
static void zero_tensors(struct nerc_state *s, int (*keep)(param_category)) {
    const nerc_model *m = s->m;
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        if (keep(t->cat))
            memset(s->grad_mem + t->offset, 0, (size_t)t->numel * sizeof(float));
    }
}

static int is_small_tensor(param_category c) { return c != P_WORD_EMB && !is_linear_weight(c); }

/* Clears 0.3% of a DistilBERT gradient buffer instead of all of it (see weight_grads_stale). */
void nerc_state_zero_grad(nerc_state *s) {
    if (!s->grad_mem)
        return;
    int64_t C = s->m->cfg.dim, V = s->m->cfg.vocab_size;
    zero_tensors(s, is_small_tensor);
    float *word = s->g.cat[P_WORD_EMB];
    if (s->n_word_rows < 0) { /* rows of other ranks summed in: the whole table */
        memset(word, 0, (size_t)(V * C) * sizeof(float));
        memset(s->word_row_used, 0, (size_t)V);
    }
    for (int32_t r = 0; r < s->n_word_rows; r++) {
        memset(word + (int64_t)s->word_rows[r] * C, 0, (size_t)C * sizeof(float));
        s->word_row_used[s->word_rows[r]] = 0;
    }
    s->n_word_rows = 0;
    s->weight_grads_stale = 1;
}

void encoder_grads_settle(struct nerc_state *s, int rows_from_elsewhere) {
    if (!s->grad_mem)
        return;
    if (s->weight_grads_stale) /* no backward pass since zero_grad */
        zero_tensors(s, is_linear_weight);
    s->weight_grads_stale = 0;
    if (rows_from_elsewhere)
        s->n_word_rows = -1;
}

const float *nerc_state_logits(const nerc_state *s) { return s->logits; }
const nerc_model *nerc_state_model(const nerc_state *s) { return s->m; }

const float *encoder_hidden(const struct nerc_state *s, int32_t layer) {
    return layer < 0 ? s->x0 : s->h2 + encoder_slot(s, layer) * s->max_rows * s->m->cfg.dim;
}

/* ---- public wrappers ---------------------------------------------------------- */

nerc_status nerc_forward(nerc_state *s, const nerc_batch *b, int training, uint64_t seed) {
    return encoder_forward(s, b, training, seed);
}

nerc_status nerc_loss(nerc_state *s, const nerc_batch *b, double norm, double *loss) {
    return encoder_loss(s, b, norm, loss);
}

nerc_status nerc_backward(nerc_state *s, const nerc_batch *b) { return encoder_backward(s, b); }
