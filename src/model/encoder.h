/* A BERT-family encoder for token classification (DistilBERT, BERT, RoBERTa,
 * XLM-RoBERTa: one code path, small per-family differences): parameters,
 * per-run state, forward and backward over packed batches. Internal header
 * (public API: nerc/model.h). */
#ifndef NERC_MODEL_ENCODER_H
#define NERC_MODEL_ENCODER_H

#include <stdint.h>

#include "kernels/adamw.h"
#include "kernels/fused.h"
#include "kernels/linear_autocast.h"
#include "kernels/linear_packed.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "nerc/model.h"

/* Parameter categories, in buffer order. Per-layer categories are stacked
 * over the L layers (llm.c style). */
typedef enum {
    P_WORD_EMB, /* (V, C) */
    P_POS_EMB,  /* (P, C) */
    P_TYPE_EMB, /* (T, C) token types; T = 0 for DistilBERT */
    P_EMB_LN_W, /* (C) */
    P_EMB_LN_B, /* (C) */
    P_QKV_W,    /* (L, 3C, C)  rows: query | key | value */
    P_QKV_B,    /* (L, 3C) */
    P_OUT_W,    /* (L, C, C)   attention output */
    P_OUT_B,    /* (L, C) */
    P_LN1_W,    /* (L, C)      LayerNorm after attention */
    P_LN1_B,    /* (L, C) */
    P_FC1_W,    /* (L, F, C)   FFN in */
    P_FC1_B,    /* (L, F) */
    P_FC2_W,    /* (L, C, F)   FFN out */
    P_FC2_B,    /* (L, C) */
    P_LN2_W,    /* (L, C)      LayerNorm after the FFN */
    P_LN2_B,    /* (L, C) */
    P_CLS_W,    /* (K, C)      classifier */
    P_CLS_B,    /* (K) */
    P_COUNT
} param_category;

/* Pointers into one float buffer, one per category. Gradients and Adam
 * moments use the same layout. */
typedef struct {
    float *cat[P_COUNT];
} encoder_params;

/* The tensors of one layer, as views into a buffer with the parameter layout. */
typedef struct {
    float *qkv_w, *qkv_b; /* (3C, C), (3C) */
    float *out_w, *out_b; /* (C, C), (C) */
    float *ln1_w, *ln1_b; /* (C) */
    float *fc1_w, *fc1_b; /* (F, C), (F) */
    float *fc2_w, *fc2_b; /* (C, F), (C) */
    float *ln2_w, *ln2_b; /* (C) */
} layer_view;

/* The linear layers: 4 per layer, then the classifier. */
typedef enum { LIN_QKV, LIN_OUT, LIN_FC1, LIN_FC2, LIN_PER_LAYER } layer_linear;

/* One linear layer: y(N, OC) = x(N, IC) W^T + b. */
typedef struct {
    float *w, *b;
    int64_t IC, OC;
    int32_t index; /* 0 .. 4L: 4 * layer + layer_linear, 4L = the classifier */
} linear_ref;

/* One HF-named tensor of the checkpoint and where it lives in the buffer. */
typedef struct {
    char name[112];   /* e.g. bert.encoder.layer.0.attention.self.query.weight */
    int64_t offset;   /* in floats from the start of the parameter buffer */
    int32_t ndim;
    int64_t shape[2];
    int64_t numel;
    param_category cat;
    int32_t no_decay; /* biases and LayerNorm weights: no weight decay */
    int32_t frozen;   /* sinusoidal position table: never updated */
} param_tensor;

struct nerc_model {
    encoder_config cfg;
    int64_t n_params;
    float *params_mem;       /* one allocation, n_params floats */
    encoder_params p;
    int32_t n_tensors;
    param_tensor *tensors;   /* in HF state-dict order */
    char *tokenizer_dir;     /* where vocab.txt / tokenizer files come from (may be NULL) */
};

/* Per-run buffers (whisper.cpp's "state"): activations for up to max_rows
 * packed rows, max_seqs sequences and max_att attention pairs (sum of Tq*Tk
 * over the sequences of a batch); gradients when made for training. */
struct nerc_state {
    const struct nerc_model *m;
    int64_t max_rows, max_att;
    int32_t max_seqs;
    int32_t training;
    float *act_mem;
    float *grad_mem;          /* n_params floats, NULL for inference */
    /* nerc_state_zero_grad clears what the backward pass adds to, not what it
     * writes whole: the linear layers' weight gradients are marked stale and
     * the next backward overwrites them (beta 0); of the word-embedding table
     * only the rows used since the last clear are nonzero, listed here. */
    int32_t weight_grads_stale;
    uint8_t *word_row_used;   /* [vocab] */
    int32_t *word_rows;       /* [vocab] the ids used, n_word_rows of them (-1: unknown, all) */
    int32_t n_word_rows;
    encoder_params g;         /* gradient views */
    /* activations (N = rows of the current batch; A = its attention pairs) */
    int32_t *pos;             /* (N) position row of each token */
    float *emb_sum;           /* (N, C) word + position (+ token type) embeddings */
    float *emb_mean, *emb_rstd; /* (N) */
    float *x0;                /* (N, C) embeddings output */
    /* per-block activations: L slots in training, 1 shared slot in inference */
    float *qkv;               /* (L, N, 3C) */
    float *att;               /* (L, H*A) softmax probabilities (before dropout) */
    float *ctx;               /* (L, N, C) */
    float *res1;              /* (L, N, C) attention output + x */
    float *ln1_mean, *ln1_rstd; /* (L, N) */
    float *h1;                /* (L, N, C) first LayerNorm output */
    float *fc1;               /* (L, N, F) the activation's slope at fc1's output (training) */
    float *fc1_act;           /* (L, N, F) after it */
    float *res2;              /* (L, N, C) dropout(FFN out) + h1 */
    float *ln2_mean, *ln2_rstd; /* (L, N) */
    float *h2;                /* (L, N, C) block output */
    float *cls_in;            /* (N, C) dropout(last block output) */
    float *logits;            /* (N, K) */
    /* backward scratch */
    float *d_out, *d_in, *d_res, *d_h1, *d_ctx; /* (N, C) */
    float *d_qkv;             /* (N, 3C) */
    float *d_act, *d_fc1;     /* (N, F) */
    float *d_att;             /* (H*A) */
    float *d_logits;          /* (N, K) */
    /* layout of the current batch */
    int64_t n_rows;
    int64_t *att_offsets;     /* [max_seqs + 1] */
    int32_t *seq_keys;        /* [max_seqs] */
    att_layout lay;
    float dropout_p, att_dropout_p, cls_dropout_p;
    uint64_t dropout_seed;
    uint64_t *seq_seeds;      /* [max_seqs] each sequence's dropout seed: f(dropout_seed, its seq_id) */
    /* Called by encoder_backward as soon as the gradients of a part are final
     * (data parallelism sums them while the backward pass goes on): part =
     * n_layers (the classifier), then n_layers-1 .. 0 (the blocks), then -1
     * (the embeddings). NULL = none. */
    void (*on_grads_ready)(void *user, int32_t part);
    void *grads_user;
    /* bf16 / int8 inference: weights packed once per linear layer (indexed by linear_ref.index) */
    nerc_precision precision;
    linear_packed **packed;
    void *packed_scratch;     /* linear_packed_scratch_bytes(precision, max_rows, max(C, F)) */
    /* bf16 training (torch.autocast): bf16 copies of the fp32 master weights of
     * every linear layer, refreshed at each training forward, and bf16 scratch */
    uint16_t *w16;            /* linear weights back to back, linear_ref.index order */
    int64_t *w16_off;         /* [n_linears] offset of each in w16 */
    uint8_t *w16_blocked;     /* [n_linears] 1: two blocked copies (fwd, bwd; amx_blocked_layer), 0: one plain */
    int w16_current;          /* w16 holds the master weights' conversion: a forward pass need not refresh it */
    uint16_t *in16, *out16;   /* (max_rows, widest linear side) */
    double *w_squares;        /* [n_linears] the sum of squares of each weight gradient as the last backward
                               * wrote it, when its kernel summed them (AMX), else NaN (grad_global_norm_state) */
};

/* ---- parameters (params.c) ---- */

/* Sets the parameter views and fills the HF tensor table of the family. */
nerc_status encoder_layout(struct nerc_model *m);
/* Views of another buffer with the parameter layout (gradients, moments). */
void encoder_views(const struct nerc_model *m, float *base, encoder_params *out);
/* Layer l of a buffer with the parameter layout. */
layer_view encoder_layer(const struct nerc_model *m, const encoder_params *p, int64_t l);
/* Linear layer `op` of layer l in buffer p, and the classifier (index 4L). */
linear_ref encoder_linear(const struct nerc_model *m, const encoder_params *p, int64_t l, layer_linear op);
linear_ref encoder_classifier(const struct nerc_model *m, const encoder_params *p);
int32_t encoder_n_linears(const struct nerc_model *m);
/* The linear layer with index i (0 .. 4L) in buffer p. */
linear_ref encoder_linear_at(const struct nerc_model *m, const encoder_params *p, int32_t i);
const param_tensor *encoder_find_tensor(const struct nerc_model *m, const char *name);

/* HF _init_weights in distribution: N(0, initializer_range) for Linear and
 * Embedding weights, zero biases, LayerNorm 1/0, padding rows zeroed. */
void encoder_init_weights(struct nerc_model *m, uint64_t seed);
void encoder_init_classifier(struct nerc_model *m, uint64_t seed);
/* A model object for a config (takes the config's contents) with a zeroed buffer. */
nerc_status encoder_new(struct nerc_model **out, encoder_config *cfg, const char *tokenizer_dir);

/* ---- forward / backward (forward.c, backward.c) ---- */

/* Forward over a packed batch; training enables dropout with `seed`. */
nerc_status encoder_forward(struct nerc_state *s, const nerc_batch *b, int training, uint64_t seed);
/* Cross-entropy over labelled rows divided by `norm` (the number of labelled
 * tokens of the whole effective batch); fills d_logits. */
nerc_status encoder_loss(struct nerc_state *s, const nerc_batch *b, double norm, double *loss);
/* Accumulates parameter gradients (call after encoder_loss). */
nerc_status encoder_backward(struct nerc_state *s, const nerc_batch *b);
/* Makes the gradient buffer what it reads as before anyone else reads or sums
 * it: zeroes the stale linear-weight gradients when no backward pass ran
 * since zero_grad (a rank without sequences), and with rows_from_elsewhere
 * (other ranks' gradients summed in) has the next zero_grad clear the whole
 * word-embedding table. */
void encoder_grads_settle(struct nerc_state *s, int rows_from_elsewhere);

/* Inverted dropout of a packed (N, width) activation, sequence by sequence:
 * the mask of element (t, c) of a sequence is a function of its seed, the
 * stream and t*width + c only, not of where the batch packs it. The backward
 * pass calls it on the gradient (the same mask and scale). */
void encoder_dropout(const struct nerc_state *s, float *x, int64_t width, float p, uint64_t stream);

/* Activation slot of block l: its own in training, a shared one in inference. */
static inline int64_t encoder_slot(const struct nerc_state *s, int64_t l) { return s->training ? l : 0; }
/* bf16 training: converts the master weights into s->w16. A forward pass
 * does it when the copies are not current: after the state's creation or a
 * precision switch, and after every change of the weights that did not write
 * the copies too. Whoever writes the master weights of a bf16 training state
 * therefore calls encoder_w16_written (it wrote every copy: AdamW with
 * encoder_w16_copies) or encoder_w16_stale (it did not: a reload, a
 * broadcast, an optimizer step without copies). */
void encoder_refresh_w16(struct nerc_state *s);
/* per_tensor[i] = where tensor i of the model (a linear weight) has its bf16
 * copy in s->w16 (plain or AMX blocked), else all NULL; returns 0 (all
 * NULL) when the state keeps no copies or some linear weight has no tensor
 * of its own. */
int encoder_w16_copies(const struct nerc_state *s, bf16_copy *per_tensor);
/* The bf16 copy of linear layer `index` as the matmuls take it. */
autocast_weights encoder_autocast_weights(const struct nerc_state *s, int32_t index);
void encoder_w16_written(struct nerc_state *s);
void encoder_w16_stale(struct nerc_state *s);

/* Output of block `layer` (or the embeddings for layer -1) of the last forward.
 * An inference state keeps only the last block's output. */
const float *encoder_hidden(const struct nerc_state *s, int32_t layer);

/* BERT-style blocks drop out the attention output before its residual; DistilBERT does not. */
static inline float encoder_attention_output_dropout(const struct nerc_state *s) {
    return s->m->cfg.family == FAMILY_DISTILBERT ? 0.0f : s->dropout_p;
}

/* The FFN activation of the config, as the fused kernels name it. */
static inline act_kind encoder_act_kind(const encoder_config *c) {
    return c->activation == ACT_RELU ? ACT_KIND_RELU : c->activation == ACT_GELU_TANH ? ACT_KIND_GELU_TANH : ACT_KIND_GELU;
}

/* Dropout stream ids: one per op so that masks never repeat. */
#define STREAM_EMB 1u
#define STREAM_CLS 2u
#define STREAM_ATT(l) (100u + 10u * (uint64_t)(l) + 1u)
#define STREAM_ATT_OUT(l) (100u + 10u * (uint64_t)(l) + 3u)
#define STREAM_FFN(l) (100u + 10u * (uint64_t)(l) + 2u)

#endif
