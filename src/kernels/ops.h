/* The ops of a BERT-family encoder as explicit forward/backward pairs on plain
 * arrays (llm.c style): outputs first, then inputs, then sizes. Shapes are in
 * the comments; N is the number of packed (non-padding) token rows, C the
 * model width. Every *_backward ACCUMULATES (+=) into its gradient outputs. */
#ifndef NERC_KERNELS_OPS_H
#define NERC_KERNELS_OPS_H

#include <stdint.h>

/* out(N,OC) = inp(N,IC) @ weight(OC,IC)^T + bias(OC)            (bias may be NULL) */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int64_t N, int64_t IC,
                    int64_t OC);
/* dinp(N,IC) = dout(N,OC) @ weight + dinp_beta * dinp; dweight(OC,IC) = dout^T @ inp +
 * dweight_beta * dweight (betas 1: accumulate; 0: overwrite, the old values never
 * read); dbias(OC) += sum_n dout. Any of dinp / dweight / dbias may be NULL (not needed). */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int64_t N, int64_t IC, int64_t OC, float dinp_beta, float dweight_beta);

/* out = (inp - mean) * rstd * weight + bias, per row of C; mean/rstd (N) saved for backward. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight, const float *bias,
                       int64_t N, int64_t C, float eps);
/* xhat = (inp - mean) * rstd; g = dout * weight:
 * dinp += rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)); dweight += sum_n dout*xhat; dbias += sum_n dout. */
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C);

/* Exact GELU: out = 0.5 x (1 + erf(x / sqrt 2)). */
void gelu_forward(float *out, const float *inp, int64_t n);
/* dinp += dout * (Phi(x) + x phi(x)). */
void gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n);
/* GELU, tanh approximation (HF gelu_new / gelu_pytorch_tanh):
 * out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void gelu_tanh_forward(float *out, const float *inp, int64_t n);
/* dinp += dout * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)). */
void gelu_tanh_backward(float *dinp, const float *dout, const float *inp, int64_t n);
void relu_forward(float *out, const float *inp, int64_t n);
void relu_backward(float *dinp, const float *dout, const float *inp, int64_t n);

/* out(N,C) = wte[ids[n]] + wpe[pos[n]] (+ wtt(C), the token-type row, when not NULL). */
void embedding_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                       const float *wtt, int64_t N, int64_t C);
/* dwte[ids[n]] += dout[n] except for ids[n] == pad_id (nn.Embedding padding_idx);
 * dwpe[pos[n]] += dout[n] except for pos[n] == pos_pad_id (-1: none; skipped
 * entirely when dwpe is NULL: fixed sinusoidal table); dwtt(C) += sum_n dout[n]
 * when not NULL. */
void embedding_backward(float *dwte, float *dwpe, float *dwtt, const float *dout, const int32_t *ids,
                        const int32_t *pos, int64_t N, int64_t C, int32_t pad_id, int32_t pos_pad_id);

/* Inverted dropout in place: x *= keep / (1 - p), keep = u >= p with u a
 * stateless hash of (seed, stream, index). p == 0 is a no-op. */
void dropout_forward(float *x, int64_t n, float p, uint64_t seed, uint64_t stream);
/* dx *= keep / (1 - p) with the same mask. */
void dropout_backward(float *dx, int64_t n, float p, uint64_t seed, uint64_t stream);

/* Packed multi-head attention layout: sequence b owns rows [seq_offsets[b],
 * seq_offsets[b+1]) (Tq rows) and attends to its first seq_keys[b] rows (Tk);
 * its probabilities live at att + att_offsets[b], laid out (H, Tq, Tk). */
typedef struct {
    int32_t n_seqs;
    const int32_t *seq_offsets; /* [B+1] */
    const int32_t *seq_keys;    /* [B] */
    const int64_t *att_offsets; /* [B+1], in floats, includes the H factor */
    const uint64_t *drop_seeds; /* [B] dropout seed of each sequence, its masks indexed from 0 (NULL: the
                                 * call's seed, indexed by position in att) */
} att_layout;

/* qkv(N,3C) holds q | k | v per row; head h uses columns h*D..h*D+D-1 of each.
 * att = softmax_j(q_i . k_j / sqrt(D)) over j < Tk (masked keys get exactly 0,
 * as HF's finfo.min fill does); ctx(N,C)_i = sum_j dropout(att)_ij v_j. scratch is
 * shaped like att and used with drop_p > 0 only; NULL there leaves dropout(att)
 * in att (fine without a backward pass: an inference state in training mode). The head
 * width C/H is at most HEAD_DIM_MAX (config.c checks). */
#define HEAD_DIM_MAX 256
void attention_forward(float *ctx, float *att, float *scratch, const float *qkv, const att_layout *lay, int64_t C,
                       int64_t H, float drop_p, uint64_t seed, uint64_t stream);
/* Given dctx(N,C): dqkv(N,3C) = d/d(q|k|v) (written whole, not added to). datt is
 * scratch shaped like att. */
void attention_backward(float *dqkv, float *datt, const float *dctx, const float *qkv, const float *att,
                        const att_layout *lay, int64_t C, int64_t H, float drop_p, uint64_t seed, uint64_t stream);

/* Mean cross-entropy over rows with labels[n] != ignore (labels in [0,K)):
 * returns sum_n (logsumexp(logits_n) - logits_n[y]) / norm and writes
 * dlogits(N,K) = (softmax - onehot) / norm (0 on ignored rows). */
double crossentropy_forward_backward(float *dlogits, const float *logits, const int32_t *labels, int64_t N, int64_t K,
                                     double norm, int32_t ignore);

/* Reference (naive, serial) versions used as test oracles. */
void attention_forward_ref(float *ctx, float *att, const float *qkv, const att_layout *lay, int64_t C, int64_t H);

/* argmax_j row[j], the first maximum on ties (numpy's and torch's argmax). */
static inline int32_t argmax_row(const float *row, int64_t k) {
    int32_t best = 0;
    for (int64_t j = 1; j < k; j++)
        if (row[j] > row[best])
            best = (int32_t)j;
    return best;
}

#endif
