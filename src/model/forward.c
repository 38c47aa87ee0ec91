/* DistilBERT forward and backward over packed batches, and the per-run state
 * that holds every activation (preallocated; nothing is allocated per batch). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/distilbert.h"

/* Dropout stream ids: one per op so that masks never repeat. */
#define STREAM_EMB 1u
#define STREAM_CLS 2u
#define STREAM_ATT(l) (100u + 10u * (uint64_t)(l) + 1u)
#define STREAM_FFN(l) (100u + 10u * (uint64_t)(l) + 2u)

/* ---- state ---------------------------------------------------------------- */

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
    const distilbert_config *c = &s->m->cfg;
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
    if (!s->act_mem)
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
    nerc_status st = s->att_offsets && s->seq_keys ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK)
        st = state_alloc_acts(s);
    if (st == NERC_OK && s->training) {
        s->grad_mem = calloc((size_t)m->n_params, sizeof(float));
        if (!s->grad_mem)
            st = nerc_errorf(NERC_ERR_NOMEM, "cannot allocate gradients for %lld parameters", (long long)m->n_params);
        else
            distilbert_views(m, s->grad_mem, &s->g);
    }
    if (st != NERC_OK) {
        nerc_state_free(s);
        return st;
    }
    *out = s;
    return NERC_OK;
}

static void free_bf16(struct nerc_state *s) {
    int32_t n = 4 * s->m->cfg.n_layers + 1;
    for (int32_t i = 0; s->bf16 && i < n; i++)
        linear_bf16_free(s->bf16[i]);
    free(s->bf16);
    free(s->bf16_scratch);
    s->bf16 = NULL;
    s->bf16_scratch = NULL;
}

void nerc_state_free(nerc_state *s) {
    if (!s)
        return;
    free_bf16(s);
    free(s->act_mem);
    free(s->grad_mem);
    free(s->att_offsets);
    free(s->seq_keys);
    free(s);
}

nerc_status nerc_precision_parse(const char *name, nerc_precision *p) {
    if (!strcmp(name, "fp32"))
        *p = NERC_PRECISION_FP32;
    else if (!strcmp(name, "bf16"))
        *p = NERC_PRECISION_BF16;
    else
        return nerc_errorf(NERC_ERR_ARG, "unknown precision '%s' (fp32, bf16)", name);
    return NERC_OK;
}

/* Linear layer i: 4 per block (qkv, out_lin, lin1, lin2), then the classifier. */
static nerc_status make_bf16_linears(struct nerc_state *s) {
    const distilbert_config *c = &s->m->cfg;
    const distilbert_params *p = &s->m->p;
    int64_t C = c->dim, F = c->hidden_dim;
    int32_t n = 4 * c->n_layers + 1;
    s->bf16 = calloc((size_t)n, sizeof *s->bf16);
    s->bf16_scratch = malloc((size_t)(s->max_rows * (F > C ? F : C)) * sizeof *s->bf16_scratch);
    if (!s->bf16 || !s->bf16_scratch)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory for bf16 weights");
    for (int64_t l = 0; l < c->n_layers; l++) {
        linear_bf16 **b = s->bf16 + 4 * l;
        NERC_TRY(linear_bf16_create(&b[0], p->qkv_w + l * 3 * C * C, p->qkv_b + l * 3 * C, C, 3 * C));
        NERC_TRY(linear_bf16_create(&b[1], p->out_w + l * C * C, p->out_b + l * C, C, C));
        NERC_TRY(linear_bf16_create(&b[2], p->fc1_w + l * F * C, p->fc1_b + l * F, C, F));
        NERC_TRY(linear_bf16_create(&b[3], p->fc2_w + l * C * F, p->fc2_b + l * C, F, C));
    }
    return linear_bf16_create(&s->bf16[n - 1], p->cls_w, p->cls_b, C, c->n_labels);
}

nerc_status nerc_state_set_precision(nerc_state *s, nerc_precision p) {
    if (p == s->precision)
        return NERC_OK;
    free_bf16(s);
    s->precision = NERC_PRECISION_FP32;
    if (p == NERC_PRECISION_FP32)
        return NERC_OK;
    if (s->training)
        return nerc_errorf(NERC_ERR_ARG, "bf16 precision is for inference; this state is made for training");
    nerc_status st = make_bf16_linears(s);
    if (st != NERC_OK) {
        free_bf16(s);
        return st;
    }
    s->precision = p;
    return NERC_OK;
}

void nerc_state_zero_grad(nerc_state *s) {
    if (s->grad_mem)
        memset(s->grad_mem, 0, (size_t)s->m->n_params * sizeof(float));
}

const float *nerc_state_logits(const nerc_state *s) { return s->logits; }
const nerc_model *nerc_state_model(const nerc_state *s) { return s->m; }

/* Activation slot of block l: its own in training, a shared one in inference. */
static int64_t slot(const struct nerc_state *s, int64_t l) { return s->training ? l : 0; }

const float *distilbert_hidden(const struct nerc_state *s, int32_t layer) {
    return layer < 0 ? s->x0 : s->h2 + slot(s, layer) * s->max_rows * s->m->cfg.dim;
}

/* ---- batch checks ------------------------------------------------------------ */

static nerc_status check_rows(const struct nerc_state *s, const nerc_batch *b) {
    const distilbert_config *c = &s->m->cfg;
    for (int32_t n = 0; n < b->n_tokens; n++) {
        if (b->input_ids[n] < 0 || b->input_ids[n] >= c->vocab_size)
            return nerc_errorf(NERC_ERR_ARG, "batch row %d: token id %d outside the vocabulary [0, %d)", n,
                               b->input_ids[n], c->vocab_size);
        if (b->position_ids[n] < 0 || b->position_ids[n] >= c->max_positions)
            return nerc_errorf(NERC_ERR_ARG, "batch row %d: position %d outside [0, %d) (max_position_embeddings)", n,
                               b->position_ids[n], c->max_positions);
        if (b->labels && b->labels[n] != NERC_IGNORE_INDEX && (b->labels[n] < 0 || b->labels[n] >= c->n_labels))
            return nerc_errorf(NERC_ERR_ARG, "batch row %d: label %d outside [0, %d)", n, b->labels[n], c->n_labels);
    }
    return NERC_OK;
}

/* Validates the batch against the state's capacity and lays out attention. */
static nerc_status prepare_layout(struct nerc_state *s, const nerc_batch *b) {
    if (b->n_seqs < 1 || b->n_seqs > s->max_seqs)
        return nerc_errorf(NERC_ERR_ARG, "batch has %d sequences; this state holds 1..%d", b->n_seqs, s->max_seqs);
    if (b->seq_offsets[0] != 0 || b->seq_offsets[b->n_seqs] != b->n_tokens || b->n_tokens > s->max_rows)
        return nerc_errorf(NERC_ERR_ARG, "batch has %d rows (offsets %d..%d); this state holds up to %lld",
                           b->n_tokens, b->seq_offsets[0], b->seq_offsets[b->n_seqs], (long long)s->max_rows);
    int64_t H = s->m->cfg.n_heads, total = 0;
    for (int32_t i = 0; i < b->n_seqs; i++) {
        int32_t tq = b->seq_offsets[i + 1] - b->seq_offsets[i];
        int32_t tk = b->seq_keys ? b->seq_keys[i] : tq;
        if (tq < 1 || tk < 1 || tk > tq)
            return nerc_errorf(NERC_ERR_ARG, "batch sequence %d: %d rows and %d keys (need 1 <= keys <= rows)", i, tq, tk);
        s->seq_keys[i] = tk;
        s->att_offsets[i] = total * H;
        total += (int64_t)tq * tk;
    }
    if (total > s->max_att)
        return nerc_errorf(NERC_ERR_ARG, "batch needs %lld attention pairs; this state holds %lld", (long long)total,
                           (long long)s->max_att);
    s->att_offsets[b->n_seqs] = total * H;
    s->lay = (att_layout){b->n_seqs, b->seq_offsets, s->seq_keys, s->att_offsets};
    s->n_rows = b->n_tokens;
    return check_rows(s, b);
}

/* ---- forward ----------------------------------------------------------------- */

static void activation_forward(const distilbert_config *c, float *out, const float *inp, int64_t n) {
    if (c->activation == ACT_RELU)
        relu_forward(out, inp, n);
    else
        gelu_forward(out, inp, n);
}

static void activation_backward(const distilbert_config *c, float *dinp, const float *dout, const float *inp,
                                int64_t n) {
    if (c->activation == ACT_RELU)
        relu_backward(dinp, dout, inp, n);
    else
        gelu_backward(dinp, dout, inp, n);
}

static void add_inplace(float *y, const float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

/* Linear layer `idx` (see make_bf16_linears) in the state's precision. */
static nerc_status linear(struct nerc_state *s, int32_t idx, float *out, const float *inp, const float *w,
                          const float *b, int64_t IC, int64_t OC) {
    if (s->precision == NERC_PRECISION_BF16)
        return linear_bf16_forward(s->bf16[idx], out, inp, s->bf16_scratch, s->n_rows);
    linear_forward(out, inp, w, b, s->n_rows, IC, OC);
    return NERC_OK;
}

/* One transformer block (post-LN):
 *   res1 = out_lin(attention(qkv(x))) + x;  h1 = sa_layer_norm(res1)
 *   res2 = dropout(lin2(act(lin1(h1)))) + h1;  h2 = output_layer_norm(res2) */
static nerc_status block_forward(struct nerc_state *s, int64_t l, const float *x) {
    const distilbert_config *c = &s->m->cfg;
    const distilbert_params *p = &s->m->p;
    int64_t N = s->n_rows, R = s->max_rows, C = c->dim, F = c->hidden_dim, H = c->n_heads;
    int64_t sl = slot(s, l);
    float *qkv = s->qkv + sl * R * 3 * C, *att = s->att + sl * H * s->max_att, *ctx = s->ctx + sl * R * C;
    float *res1 = s->res1 + sl * R * C, *h1 = s->h1 + sl * R * C, *fc1 = s->fc1 + sl * R * F;
    float *act = s->fc1_act + sl * R * F, *res2 = s->res2 + sl * R * C, *h2 = s->h2 + sl * R * C;
    int32_t li = 4 * (int32_t)l;
    NERC_TRY(linear(s, li, qkv, x, p->qkv_w + l * 3 * C * C, p->qkv_b + l * 3 * C, C, 3 * C));
    attention_forward(ctx, att, qkv, &s->lay, C, H, s->att_dropout_p, s->dropout_seed, STREAM_ATT(l));
    NERC_TRY(linear(s, li + 1, res1, ctx, p->out_w + l * C * C, p->out_b + l * C, C, C));
    add_inplace(res1, x, N * C);
    layernorm_forward(h1, s->ln1_mean + sl * R, s->ln1_rstd + sl * R, res1, p->ln1_w + l * C, p->ln1_b + l * C, N, C,
                      LAYERNORM_EPS);
    NERC_TRY(linear(s, li + 2, fc1, h1, p->fc1_w + l * F * C, p->fc1_b + l * F, C, F));
    activation_forward(c, act, fc1, N * F);
    NERC_TRY(linear(s, li + 3, res2, act, p->fc2_w + l * C * F, p->fc2_b + l * C, F, C));
    dropout_forward(res2, N * C, s->dropout_p, s->dropout_seed, STREAM_FFN(l));
    add_inplace(res2, h1, N * C);
    layernorm_forward(h2, s->ln2_mean + sl * R, s->ln2_rstd + sl * R, res2, p->ln2_w + l * C, p->ln2_b + l * C, N, C,
                      LAYERNORM_EPS);
    return NERC_OK;
}

nerc_status distilbert_forward(struct nerc_state *s, const nerc_batch *b, int training, uint64_t seed) {
    NERC_TRY(prepare_layout(s, b));
    const distilbert_config *c = &s->m->cfg;
    const distilbert_params *p = &s->m->p;
    int64_t N = s->n_rows, C = c->dim, L = c->n_layers, K = c->n_labels;
    s->dropout_p = training ? c->dropout : 0.0f;
    s->att_dropout_p = training ? c->attention_dropout : 0.0f;
    s->dropout_seed = seed;
    embedding_forward(s->emb_sum, b->input_ids, b->position_ids, p->word_emb, p->pos_emb, N, C);
    layernorm_forward(s->x0, s->emb_mean, s->emb_rstd, s->emb_sum, p->emb_ln_w, p->emb_ln_b, N, C, LAYERNORM_EPS);
    dropout_forward(s->x0, N * C, s->dropout_p, seed, STREAM_EMB);
    for (int64_t l = 0; l < L; l++)
        NERC_TRY(block_forward(s, l, l == 0 ? s->x0 : distilbert_hidden(s, (int32_t)l - 1)));
    memcpy(s->cls_in, distilbert_hidden(s, (int32_t)L - 1), (size_t)(N * C) * sizeof(float));
    dropout_forward(s->cls_in, N * C, s->dropout_p, seed, STREAM_CLS);
    return linear(s, 4 * (int32_t)L, s->logits, s->cls_in, p->cls_w, p->cls_b, C, K);
}

nerc_status distilbert_loss(struct nerc_state *s, const nerc_batch *b, double norm, double *loss) {
    if (!b->labels)
        return nerc_errorf(NERC_ERR_ARG, "loss needs labels");
    if (norm <= 0.0) {
        int64_t counted = 0;
        for (int32_t n = 0; n < b->n_tokens; n++)
            counted += b->labels[n] != NERC_IGNORE_INDEX;
        norm = (double)counted;
    }
    if (norm <= 0.0) { /* HF: mean over zero tokens is NaN; we report 0 and no gradient */
        memset(s->d_logits, 0, (size_t)(s->n_rows * s->m->cfg.n_labels) * sizeof(float));
        *loss = 0.0;
        return NERC_OK;
    }
    *loss = crossentropy_forward_backward(s->d_logits, s->logits, b->labels, s->n_rows, s->m->cfg.n_labels, norm,
                                          NERC_IGNORE_INDEX);
    return NERC_OK;
}

/* ---- backward ---------------------------------------------------------------- */

/* Mirrors block_forward in reverse. d_out = d h2 on entry; on return d_in = d x. */
static void block_backward(struct nerc_state *s, int64_t l, const float *x) {
    const distilbert_config *c = &s->m->cfg;
    const distilbert_params *p = &s->m->p;
    const distilbert_params *g = &s->g;
    int64_t N = s->n_rows, R = s->max_rows, C = c->dim, F = c->hidden_dim, H = c->n_heads;
    const float *qkv = s->qkv + l * R * 3 * C, *att = s->att + l * H * s->max_att, *ctx = s->ctx + l * R * C;
    const float *res1 = s->res1 + l * R * C, *h1 = s->h1 + l * R * C, *fc1 = s->fc1 + l * R * F;
    const float *act = s->fc1_act + l * R * F, *res2 = s->res2 + l * R * C;
    size_t NC = (size_t)(N * C) * sizeof(float), NF = (size_t)(N * F) * sizeof(float);
    /* h2 = LN2(res2) */
    memset(s->d_res, 0, NC);
    layernorm_backward(s->d_res, g->ln2_w + l * C, g->ln2_b + l * C, s->d_out, res2, p->ln2_w + l * C,
                       s->ln2_mean + l * R, s->ln2_rstd + l * R, N, C);
    /* res2 = dropout(lin2(act)) + h1 */
    memcpy(s->d_h1, s->d_res, NC);
    dropout_backward(s->d_res, N * C, s->dropout_p, s->dropout_seed, STREAM_FFN(l));
    memset(s->d_act, 0, NF);
    linear_backward(s->d_act, g->fc2_w + l * C * F, g->fc2_b + l * C, s->d_res, act, p->fc2_w + l * C * F, N, F, C);
    /* act = gelu(fc1); fc1 = lin1(h1) */
    memset(s->d_fc1, 0, NF);
    activation_backward(c, s->d_fc1, s->d_act, fc1, N * F);
    linear_backward(s->d_h1, g->fc1_w + l * F * C, g->fc1_b + l * F, s->d_fc1, h1, p->fc1_w + l * F * C, N, C, F);
    /* h1 = LN1(res1) */
    memset(s->d_res, 0, NC);
    layernorm_backward(s->d_res, g->ln1_w + l * C, g->ln1_b + l * C, s->d_h1, res1, p->ln1_w + l * C,
                       s->ln1_mean + l * R, s->ln1_rstd + l * R, N, C);
    /* res1 = out_lin(ctx) + x */
    memcpy(s->d_in, s->d_res, NC);
    memset(s->d_ctx, 0, NC);
    linear_backward(s->d_ctx, g->out_w + l * C * C, g->out_b + l * C, s->d_res, ctx, p->out_w + l * C * C, N, C, C);
    /* ctx = attention(qkv); qkv = lin(x) */
    memset(s->d_qkv, 0, 3 * NC);
    attention_backward(s->d_qkv, s->d_att, s->d_ctx, qkv, att, &s->lay, C, H, s->att_dropout_p, s->dropout_seed,
                       STREAM_ATT(l));
    linear_backward(s->d_in, g->qkv_w + l * 3 * C * C, g->qkv_b + l * 3 * C, s->d_qkv, x, p->qkv_w + l * 3 * C * C, N,
                    C, 3 * C);
}

nerc_status distilbert_backward(struct nerc_state *s, const nerc_batch *b) {
    if (!s->training)
        return nerc_errorf(NERC_ERR_ARG, "backward needs a state made for training");
    const distilbert_config *c = &s->m->cfg;
    const distilbert_params *p = &s->m->p;
    int64_t N = s->n_rows, C = c->dim, L = c->n_layers, K = c->n_labels;
    size_t NC = (size_t)(N * C) * sizeof(float);
    /* logits = classifier(dropout(h2[L-1])) */
    memset(s->d_out, 0, NC);
    linear_backward(s->d_out, s->g.cls_w, s->g.cls_b, s->d_logits, s->cls_in, p->cls_w, N, C, K);
    dropout_backward(s->d_out, N * C, s->dropout_p, s->dropout_seed, STREAM_CLS);
    for (int64_t l = L - 1; l >= 0; l--) {
        block_backward(s, l, l == 0 ? s->x0 : distilbert_hidden(s, (int32_t)l - 1));
        float *t = s->d_out; /* the block's input gradient feeds the block below */
        s->d_out = s->d_in;
        s->d_in = t;
    }
    /* x0 = dropout(LN(word + pos)) */
    dropout_backward(s->d_out, N * C, s->dropout_p, s->dropout_seed, STREAM_EMB);
    memset(s->d_res, 0, NC);
    layernorm_backward(s->d_res, s->g.emb_ln_w, s->g.emb_ln_b, s->d_out, s->emb_sum, p->emb_ln_w, s->emb_mean,
                       s->emb_rstd, N, C);
    embedding_backward(s->g.word_emb, c->sinusoidal_pos ? NULL : s->g.pos_emb, s->d_res, b->input_ids,
                       b->position_ids, N, C, c->pad_token_id);
    return NERC_OK;
}

/* ---- public wrappers ---------------------------------------------------------- */

nerc_status nerc_forward(nerc_state *s, const nerc_batch *b, int training, uint64_t seed) {
    return distilbert_forward(s, b, training, seed);
}

nerc_status nerc_loss(nerc_state *s, const nerc_batch *b, double norm, double *loss) {
    return distilbert_loss(s, b, norm, loss);
}

nerc_status nerc_backward(nerc_state *s, const nerc_batch *b) { return distilbert_backward(s, b); }
