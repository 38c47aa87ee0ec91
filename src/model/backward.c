/* Encoder backward pass: mirrors forward.c in reverse and accumulates every
 * parameter gradient into the state's gradient buffer. */
#include <string.h>

#include "core/error.h"
#include "kernels/gemm.h"
#include "model/encoder.h"

/* dinp (+)= dout @ W; dW += dout^T @ inp; db += sum dout, for the linear layer
 * r of the gradients g; bf16 matmuls in bf16 training. dinp is added to where
 * it holds a residual path's gradient (ADD_TO_DINP), else written. After a
 * zero_grad the weight gradients are stale and dW is written instead (the
 * GEMM's beta 0). */
enum { WRITE_DINP = 0, ADD_TO_DINP = 1 };
static nerc_status linear_grad(struct nerc_state *s, float *dinp, int add_to_dinp, linear_ref w, linear_ref g,
                               const float *dout, const float *inp) {
    float dw_beta = s->weight_grads_stale ? 0.0f : 1.0f, di_beta = add_to_dinp ? 1.0f : 0.0f;
    if (s->w16) {
        autocast_weights w16 = encoder_autocast_weights(s, w.index);
        return linear_autocast_backward(dinp, g.w, g.b, dout, inp, &w16, s->in16, s->out16,
                                        s->n_rows, w.IC, w.OC, di_beta, dw_beta, &s->w_squares[w.index]);
    }
    linear_backward(dinp, g.w, g.b, dout, inp, w.w, s->n_rows, w.IC, w.OC, di_beta, dw_beta);
    return NERC_OK;
}

/* Mirrors block_forward in reverse. d_out = d h2 on entry; on return d_in = d x. */
static nerc_status block_backward(struct nerc_state *s, int64_t l, const float *x) {
    const encoder_config *c = &s->m->cfg;
    const nerc_model *m = s->m;
    layer_view p = encoder_layer(m, &m->p, l), g = encoder_layer(m, &s->g, l);
    int64_t N = s->n_rows, R = s->max_rows, C = c->dim, F = c->hidden_dim, H = c->n_heads;
    const float *qkv = s->qkv + l * R * 3 * C, *att = s->att + l * H * s->max_att, *ctx = s->ctx + l * R * C;
    const float *res1 = s->res1 + l * R * C, *h1 = s->h1 + l * R * C, *fc1_slope = s->fc1 + l * R * F;
    const float *act = s->fc1_act + l * R * F, *res2 = s->res2 + l * R * C;
#define W(op) encoder_linear(m, &m->p, l, op)
#define G(op) encoder_linear(m, &s->g, l, op)
    /* h2 = LN2(res2); res2 = dropout(fc2(act)) + h1: d_h1 = dres2 (residual), d_res = dropout(dres2)
     * (the masks sequence by sequence, as the forward pass drew them) */
    layernorm_dropout_backward(s->d_res, s->d_h1, g.ln2_w, g.ln2_b, s->d_out, res2, p.ln2_w, s->ln2_mean + l * R,
                               s->ln2_rstd + l * R, N, C, 0.0f, 0, 0);
    encoder_dropout(s, s->d_res, C, s->dropout_p, STREAM_FFN(l));
    NERC_TRY(linear_grad(s, s->d_act, WRITE_DINP, W(LIN_FC2), G(LIN_FC2), s->d_res, act));
    /* act = activation(fc1 + b1), with fc1's bias gradient in the same call; fc1 = h1 W1^T */
    linear_ref g1 = G(LIN_FC1);
    act_bias_backward(s->d_fc1, g1.b, s->d_act, fc1_slope, N, F);
    g1.b = NULL;
    NERC_TRY(linear_grad(s, s->d_h1, ADD_TO_DINP, W(LIN_FC1), g1, s->d_fc1, h1));
    /* h1 = LN1(res1); res1 = dropout(out(ctx)) + x: d_in = dres1, d_res = dropout(dres1) */
    layernorm_dropout_backward(s->d_res, s->d_in, g.ln1_w, g.ln1_b, s->d_h1, res1, p.ln1_w, s->ln1_mean + l * R,
                               s->ln1_rstd + l * R, N, C, 0.0f, 0, 0);
    encoder_dropout(s, s->d_res, C, encoder_attention_output_dropout(s), STREAM_ATT_OUT(l));
    NERC_TRY(linear_grad(s, s->d_ctx, WRITE_DINP, W(LIN_OUT), G(LIN_OUT), s->d_res, ctx));
    /* ctx = attention(qkv); qkv = qkv(x) */
    double t0 = gemm_timing_start();
    attention_backward(s->d_qkv, s->d_att, s->d_ctx, qkv, att, &s->lay, C, H, s->att_dropout_p, s->dropout_seed,
                       STREAM_ATT(l));
    gemm_timing_stop_attention(t0);
    NERC_TRY(linear_grad(s, s->d_in, ADD_TO_DINP, W(LIN_QKV), G(LIN_QKV), s->d_qkv, x));
#undef W
#undef G
    return NERC_OK;
}

/* x0 = dropout(LN(word + position (+ token type 0))) */
static void embeddings_backward(struct nerc_state *s, const nerc_batch *b) {
    const encoder_config *c = &s->m->cfg;
    const encoder_params *p = &s->m->p, *g = &s->g;
    int64_t N = s->n_rows, C = c->dim;
    size_t NC = (size_t)(N * C) * sizeof(float);
    encoder_dropout(s, s->d_out, C, s->dropout_p, STREAM_EMB);
    memset(s->d_res, 0, NC);
    layernorm_backward(s->d_res, g->cat[P_EMB_LN_W], g->cat[P_EMB_LN_B], s->d_out, s->emb_sum, p->cat[P_EMB_LN_W],
                       s->emb_mean, s->emb_rstd, N, C);
    float *d_pos = c->sinusoidal_pos ? NULL : g->cat[P_POS_EMB];
    float *d_type0 = c->type_vocab_size > 0 ? g->cat[P_TYPE_EMB] : NULL;
    int32_t pos_pad = config_roberta_positions(c) ? c->pad_token_id : -1;
    embedding_backward(g->cat[P_WORD_EMB], d_pos, d_type0, s->d_res, b->input_ids, s->pos, N, C, c->pad_token_id,
                       pos_pad);
    for (int64_t n = 0; n < N && s->n_word_rows >= 0; n++) { /* the rows zero_grad will clear (-1: all) */
        int32_t id = b->input_ids[n];
        if (id != c->pad_token_id && !s->word_row_used[id]) {
            s->word_row_used[id] = 1;
            s->word_rows[s->n_word_rows++] = id;
        }
    }
}

static void grads_ready(const struct nerc_state *s, int32_t part) {
    if (s->on_grads_ready)
        s->on_grads_ready(s->grads_user, part);
}

nerc_status encoder_backward(struct nerc_state *s, const nerc_batch *b) {
    if (!s->training)
        return nerc_errorf(NERC_ERR_ARG, "backward needs a state made for training");
    const nerc_model *m = s->m;
    int64_t C = m->cfg.dim, L = m->cfg.n_layers;
    /* logits = classifier(dropout(h2[L-1])) */
    NERC_TRY(linear_grad(s, s->d_out, WRITE_DINP, encoder_classifier(m, &m->p), encoder_classifier(m, &s->g),
                         s->d_logits, s->cls_in));
    grads_ready(s, (int32_t)L);
    encoder_dropout(s, s->d_out, C, s->cls_dropout_p, STREAM_CLS);
    for (int64_t l = L - 1; l >= 0; l--) {
        NERC_TRY(block_backward(s, l, l == 0 ? s->x0 : encoder_hidden(s, (int32_t)l - 1)));
        grads_ready(s, (int32_t)l);
        float *t = s->d_out; /* the block's input gradient feeds the block below */
        s->d_out = s->d_in;
        s->d_in = t;
    }
    embeddings_backward(s, b);
    grads_ready(s, -1);
    s->weight_grads_stale = 0;
    return NERC_OK;
}
