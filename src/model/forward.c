/* Encoder forward pass over packed batches, and the loss. One code path for
 * every family; what differs is read from the config: token-type row,
 * RoBERTa positions, LayerNorm eps, the activation, the attention-output
 * dropout of BERT-style blocks. */
#include <string.h>

#include "core/error.h"
#include "kernels/gemm.h"
#include "core/rng.h"
#include "model/encoder.h"

/* ---- batch checks and positions ------------------------------------------------ */

static nerc_status check_rows(const struct nerc_state *s, const nerc_batch *b) {
    const encoder_config *c = &s->m->cfg;
    for (int32_t n = 0; n < b->n_tokens; n++) {
        if (b->input_ids[n] < 0 || b->input_ids[n] >= c->vocab_size)
            return nerc_errorf(NERC_ERR_ARG, "batch row %d: token id %d outside the vocabulary [0, %d)", n,
                               b->input_ids[n], c->vocab_size);
        if (s->pos[n] < 0 || s->pos[n] >= c->max_positions)
            return nerc_errorf(NERC_ERR_ARG, "batch row %d: position %d outside [0, %d) (max_position_embeddings)", n,
                               s->pos[n], c->max_positions);
        if (b->labels && b->labels[n] != NERC_IGNORE_INDEX && (b->labels[n] < 0 || b->labels[n] >= c->n_labels))
            return nerc_errorf(NERC_ERR_ARG, "batch row %d: label %d outside [0, %d)", n, b->labels[n], c->n_labels);
    }
    return NERC_OK;
}

/* Position rows: the batch's for DistilBERT / BERT; for RoBERTa HF's
 * create_position_ids_from_input_ids per sequence:
 * cumsum(ids != pad) * (ids != pad) + pad. */
static void compute_positions(struct nerc_state *s, const nerc_batch *b) {
    const encoder_config *c = &s->m->cfg;
    if (!config_roberta_positions(c)) {
        memcpy(s->pos, b->position_ids, (size_t)b->n_tokens * sizeof *s->pos);
        return;
    }
    int32_t pad = c->pad_token_id;
    for (int32_t q = 0; q < b->n_seqs; q++) {
        int32_t real = 0;
        for (int32_t n = b->seq_offsets[q]; n < b->seq_offsets[q + 1]; n++) {
            int is_real = b->input_ids[n] != pad;
            real += is_real;
            s->pos[n] = is_real ? real + pad : pad;
        }
    }
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
    s->lay = (att_layout){b->n_seqs, b->seq_offsets, s->seq_keys, s->att_offsets, s->seq_seeds};
    s->n_rows = b->n_tokens;
    compute_positions(s, b);
    return check_rows(s, b);
}

/* ---- forward ----------------------------------------------------------------- */

/* out(N, OC) = inp(N, IC) W^T + b for the linear layer r, in the state's precision. */
static nerc_status linear(struct nerc_state *s, linear_ref r, float *out, const float *inp) {
    if (s->packed)
        return linear_packed_forward(s->packed[r.index], out, inp, s->packed_scratch, s->n_rows);
    if (s->w16) {
        autocast_weights w16 = encoder_autocast_weights(s, r.index);
        return linear_autocast_forward(out, inp, &w16, r.b, s->in16, s->n_rows, r.IC, r.OC);
    }
    linear_forward(out, inp, r.w, r.b, s->n_rows, r.IC, r.OC);
    return NERC_OK;
}

/* The same without the bias where the caller's fused pass adds it: *bias is
 * the bias still to add (NULL when the packed layer has added it). */
static nerc_status linear_unbiased(struct nerc_state *s, linear_ref r, float *out, const float *inp,
                                   const float **bias) {
    *bias = s->packed ? NULL : r.b;
    if (!s->packed)
        r.b = NULL;
    return linear(s, r, out, inp);
}

/* res = dropout(y + bias) + resid; out = LayerNorm(res), in one pass
 * (kernels/fused.h). With dropout on, sequence by sequence: each one's mask is
 * keyed by its own seed and its rows from 0, as encoder_dropout does. The
 * sequences share out the threads (one parallel region, the kernel's own loop
 * nested inside it runs on its caller's thread): a region per sequence costs
 * more than a 20-row sequence's work. */
static void residual_layernorm(const struct nerc_state *s, float *res, float *out, float *mean, float *rstd,
                               const float *bias, const float *resid, const float *w, const float *b, float p,
                               uint64_t stream) {
    int64_t C = s->m->cfg.dim;
    float eps = s->m->cfg.layer_norm_eps;
    if (p <= 0.0f) {
        bias_dropout_residual_layernorm_forward(res, out, mean, rstd, res, bias, resid, w, b, s->n_rows, C, eps, 0.0f,
                                                0, stream);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int32_t q = 0; q < s->lay.n_seqs; q++) {
        int64_t r0 = s->lay.seq_offsets[q], rows = s->lay.seq_offsets[q + 1] - r0;
        bias_dropout_residual_layernorm_forward(res + r0 * C, out + r0 * C, mean + r0, rstd + r0, res + r0 * C, bias,
                                                resid + r0 * C, w, b, rows, C, eps, p, s->seq_seeds[q], stream);
    }
}

/* One transformer block (post-LN):
 *   res1 = dropout(out(attention(qkv(x)))) + x;  h1 = LN1(res1)
 *   res2 = dropout(fc2(act(fc1(h1)))) + h1;      h2 = LN2(res2)
 * The bias, dropout, residual and LayerNorm after each GEMM are one pass
 * (kernels/fused.h), as are fc1's bias and the activation. */
static nerc_status block_forward(struct nerc_state *s, int64_t l, const float *x) {
    const encoder_config *c = &s->m->cfg;
    layer_view p = encoder_layer(s->m, &s->m->p, l);
    int64_t N = s->n_rows, R = s->max_rows, C = c->dim, F = c->hidden_dim, H = c->n_heads;
    int64_t sl = encoder_slot(s, l);
    float *qkv = s->qkv + sl * R * 3 * C, *att = s->att + sl * H * s->max_att, *ctx = s->ctx + sl * R * C;
    float *res1 = s->res1 + sl * R * C, *h1 = s->h1 + sl * R * C, *fc1 = s->fc1 + sl * R * F;
    float *act = s->fc1_act + sl * R * F, *res2 = s->res2 + sl * R * C, *h2 = s->h2 + sl * R * C;
#define LINEAR(op) encoder_linear(s->m, &s->m->p, l, op)
    const float *bias;
    NERC_TRY(linear(s, LINEAR(LIN_QKV), qkv, x));
    double t0 = gemm_timing_start();
    attention_forward(ctx, att, s->d_att /* NULL in an inference state */, qkv, &s->lay, C, H, s->att_dropout_p,
                      s->dropout_seed, STREAM_ATT(l));
    gemm_timing_stop_attention(t0);
    NERC_TRY(linear_unbiased(s, LINEAR(LIN_OUT), res1, ctx, &bias));
    residual_layernorm(s, res1, h1, s->ln1_mean + sl * R, s->ln1_rstd + sl * R, bias, x, p.ln1_w, p.ln1_b,
                       encoder_attention_output_dropout(s), STREAM_ATT_OUT(l));
    if (s->packed) { /* inference in bf16 / int8: fc1's activations straight into fc2's operand, never in fp32 */
        NERC_TRY(linear_packed_ffn(s->packed[LINEAR(LIN_FC1).index], s->packed[LINEAR(LIN_FC2).index], res2, fc1, h1,
                                   s->packed_scratch, N, encoder_act_kind(c)));
        bias = NULL; /* added by the packed fc2 */
    } else {
        NERC_TRY(linear_unbiased(s, LINEAR(LIN_FC1), fc1, h1, &bias));
        bias_act_forward(s->training ? fc1 : NULL, act, fc1, bias, N, F, encoder_act_kind(c)); /* fc1 := the slope */
        NERC_TRY(linear_unbiased(s, LINEAR(LIN_FC2), res2, act, &bias));
    }
#undef LINEAR
    residual_layernorm(s, res2, h2, s->ln2_mean + sl * R, s->ln2_rstd + sl * R, bias, h1, p.ln2_w, p.ln2_b,
                       s->dropout_p, STREAM_FFN(l));
    return NERC_OK;
}

/* Each sequence's dropout seed from the step's seed and its id: the same
 * masks whichever batch, slice or rank the sequence is computed in. */
static void seed_sequences(struct nerc_state *s, const nerc_batch *b, uint64_t seed) {
    for (int32_t q = 0; q < b->n_seqs; q++) {
        uint64_t id = (uint64_t)(b->seq_ids ? b->seq_ids[q] : q);
        uint64_t x = seed ^ (id * 0xd6e8feb86659fd93ULL);
        s->seq_seeds[q] = rng_splitmix64(&x);
    }
}

void encoder_dropout(const struct nerc_state *s, float *x, int64_t width, float p, uint64_t stream) {
    if (p <= 0.0f)
        return;
#pragma omp parallel for schedule(dynamic, 1) /* one region for all sequences, as residual_layernorm */
    for (int32_t q = 0; q < s->lay.n_seqs; q++) {
        int64_t r0 = s->lay.seq_offsets[q], rows = s->lay.seq_offsets[q + 1] - r0;
        dropout_forward(x + r0 * width, rows * width, p, s->seq_seeds[q], stream);
    }
}

/* x0 = dropout(LN(word + position (+ token type 0))) */
static void embeddings_forward(struct nerc_state *s, const nerc_batch *b) {
    const encoder_config *c = &s->m->cfg;
    const encoder_params *p = &s->m->p;
    int64_t N = s->n_rows, C = c->dim;
    const float *type0 = c->type_vocab_size > 0 ? p->cat[P_TYPE_EMB] : NULL; /* NER: token_type_ids are all 0 */
    embedding_forward(s->emb_sum, b->input_ids, s->pos, p->cat[P_WORD_EMB], p->cat[P_POS_EMB], type0, N, C);
    layernorm_forward(s->x0, s->emb_mean, s->emb_rstd, s->emb_sum, p->cat[P_EMB_LN_W], p->cat[P_EMB_LN_B], N, C,
                      c->layer_norm_eps);
    encoder_dropout(s, s->x0, C, s->dropout_p, STREAM_EMB);
}

nerc_status encoder_forward(struct nerc_state *s, const nerc_batch *b, int training, uint64_t seed) {
    NERC_TRY(prepare_layout(s, b));
    const encoder_config *c = &s->m->cfg;
    int64_t N = s->n_rows, C = c->dim, L = c->n_layers;
    s->dropout_p = training ? c->dropout : 0.0f;
    s->att_dropout_p = training ? c->attention_dropout : 0.0f;
    s->cls_dropout_p = training ? c->classifier_dropout : 0.0f;
    s->dropout_seed = seed;
    if (s->w16 && !s->w16_current) { /* bf16 training: this step's weights (unless the optimizer step wrote them) */
        encoder_refresh_w16(s);
        s->w16_current = 1;
    }
    seed_sequences(s, b, seed);
    embeddings_forward(s, b);
    for (int64_t l = 0; l < L; l++)
        NERC_TRY(block_forward(s, l, l == 0 ? s->x0 : encoder_hidden(s, (int32_t)l - 1)));
    memcpy(s->cls_in, encoder_hidden(s, (int32_t)L - 1), (size_t)(N * C) * sizeof(float));
    encoder_dropout(s, s->cls_in, C, s->cls_dropout_p, STREAM_CLS);
    return linear(s, encoder_classifier(s->m, &s->m->p), s->logits, s->cls_in);
}

nerc_status encoder_loss(struct nerc_state *s, const nerc_batch *b, double norm, double *loss) {
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
