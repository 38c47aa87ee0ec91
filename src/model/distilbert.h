/* DistilBertForTokenClassification: parameters, per-run state, forward and
 * backward over packed batches. Internal header (public API: nerc/model.h). */
#ifndef NERC_MODEL_DISTILBERT_H
#define NERC_MODEL_DISTILBERT_H

#include <stdint.h>

#include "kernels/linear_bf16.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "nerc/model.h"

#define LAYERNORM_EPS 1e-12f

/* Pointers into one float buffer, one per parameter category, stacked over
 * layers (llm.c style). Gradients and Adam moments use the same layout. */
typedef struct {
    float *word_emb;   /* (V, C) */
    float *pos_emb;    /* (P, C) */
    float *emb_ln_w;   /* (C) */
    float *emb_ln_b;   /* (C) */
    float *qkv_w;      /* (L, 3C, C)  rows: q_lin | k_lin | v_lin */
    float *qkv_b;      /* (L, 3C) */
    float *out_w;      /* (L, C, C)   attention.out_lin */
    float *out_b;      /* (L, C) */
    float *ln1_w;      /* (L, C)      sa_layer_norm */
    float *ln1_b;      /* (L, C) */
    float *fc1_w;      /* (L, F, C)   ffn.lin1 */
    float *fc1_b;      /* (L, F) */
    float *fc2_w;      /* (L, C, F)   ffn.lin2 */
    float *fc2_b;      /* (L, C) */
    float *ln2_w;      /* (L, C)      output_layer_norm */
    float *ln2_b;      /* (L, C) */
    float *cls_w;      /* (K, C)      classifier */
    float *cls_b;      /* (K) */
} distilbert_params;

/* One HF-named tensor of the checkpoint and where it lives in the buffer. */
typedef struct {
    char name[112];   /* e.g. distilbert.transformer.layer.0.attention.q_lin.weight */
    int64_t offset;   /* in floats from the start of the parameter buffer */
    int32_t ndim;
    int64_t shape[2];
    int64_t numel;
    int32_t no_decay; /* biases and LayerNorm weights: no weight decay */
    int32_t frozen;   /* sinusoidal position table: never updated */
} param_tensor;

struct nerc_model {
    distilbert_config cfg;
    int64_t n_params;
    float *params_mem;       /* one allocation, n_params floats */
    distilbert_params p;
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
    distilbert_params g;      /* gradient views */
    /* activations (N = rows of the current batch; A = its attention pairs) */
    float *emb_sum;           /* (N, C) word + position embeddings */
    float *emb_mean, *emb_rstd; /* (N) */
    float *x0;                /* (N, C) embeddings output */
    /* per-block activations: L slots in training, 1 shared slot in inference */
    float *qkv;               /* (L, N, 3C) */
    float *att;               /* (L, H*A) softmax probabilities (before dropout) */
    float *ctx;               /* (L, N, C) */
    float *res1;              /* (L, N, C) out_lin(ctx) + x */
    float *ln1_mean, *ln1_rstd; /* (L, N) */
    float *h1;                /* (L, N, C) sa_layer_norm output */
    float *fc1;               /* (L, N, F) before the activation */
    float *fc1_act;           /* (L, N, F) after it */
    float *res2;              /* (L, N, C) dropout(lin2(.)) + h1 */
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
    float dropout_p, att_dropout_p;
    uint64_t dropout_seed;
    /* bf16 inference: packed weights per linear layer (4 per block + classifier) */
    nerc_precision precision;
    linear_bf16 **bf16;
    uint16_t *bf16_scratch;   /* (max_rows, max(C, F)) */
};

/* Sets the parameter views of `base` and fills the HF tensor table. */
nerc_status distilbert_layout(struct nerc_model *m);
/* Views of another buffer with the parameter layout (gradients, moments). */
void distilbert_views(const struct nerc_model *m, float *base, distilbert_params *out);
const param_tensor *distilbert_find_tensor(const struct nerc_model *m, const char *name);

/* HF _init_weights in distribution: N(0, initializer_range) for Linear and
 * Embedding weights, zero biases, LayerNorm 1/0, padding row zeroed. */
void distilbert_init_weights(struct nerc_model *m, uint64_t seed);
void distilbert_init_classifier(struct nerc_model *m, uint64_t seed);

/* Forward over a packed batch; training enables dropout with `seed`. */
nerc_status distilbert_forward(struct nerc_state *s, const nerc_batch *b, int training, uint64_t seed);
/* Cross-entropy over labelled rows divided by `norm` (the number of labelled
 * tokens of the whole effective batch); fills d_logits. */
nerc_status distilbert_loss(struct nerc_state *s, const nerc_batch *b, double norm, double *loss);
/* Accumulates parameter gradients (call after distilbert_loss). */
nerc_status distilbert_backward(struct nerc_state *s, const nerc_batch *b);

/* Output of block `layer` (or the embeddings for layer -1) of the last forward.
 * An inference state keeps only the last block's output. */
const float *distilbert_hidden(const struct nerc_state *s, int32_t layer);

#endif
