/* nerc/model.h — BERT-family encoders for token classification (DistilBERT,
 * BERT, RoBERTa, XLM-RoBERTa, chosen by config.json's model_type): load/save
 * HF directories, random init, forward, loss and backward over packed batches. */
#ifndef NERC_MODEL_H
#define NERC_MODEL_H

#include "nerc/batch.h"
#include "nerc/common.h"
#include "nerc/text.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* Immutable weights + configuration (shared by any number of states). */
typedef struct nerc_model nerc_model;
/* Per-run buffers: activations (and gradients when made for training). */
typedef struct nerc_state nerc_state;

/* Loads an HF directory (config.json + model.safetensors [+ tokenizer files]);
 * `dir` may also be a hub id found in the Hugging Face cache (nerc_hub_resolve).
 * Strict: a missing, unknown, misshaped or non-float tensor is an error naming
 * the tensor and the file; F16 / BF16 weights are widened to F32. Tensors that
 * token classification does not use (pooler, position_ids, masked-LM and
 * pre-training heads) are skipped and reported. A base (BertModel, ...) or
 * masked-LM checkpoint loads the encoder and gets a fresh classifier
 * (seeded by `seed`) for `labels`. labels == NULL keeps config.json's
 * id2label; given labels must match a fine-tuned checkpoint's classifier. */
nerc_status nerc_model_load(nerc_model **out, const char *dir, const char *const *labels, int32_t n_labels,
                            uint64_t seed);
/* A randomly initialised model from a config.json (HF _init_weights). */
nerc_status nerc_model_init(nerc_model **out, const char *config_path, const char *const *labels, int32_t n_labels,
                            uint64_t seed);
/* Writes an HF directory atomically: config.json (<Family>ForTokenClassification,
 * id2label/label2id), model.safetensors (F32, {"format": "pt"}) and the
 * tokenizer files of the directory the model came from. */
nerc_status nerc_model_save(const nerc_model *m, const char *dir);
void nerc_model_free(nerc_model *m);

int64_t nerc_model_num_params(const nerc_model *m);
int32_t nerc_model_num_labels(const nerc_model *m);
const char *nerc_model_label(const nerc_model *m, int32_t id);
/* All label names in id order ([nerc_model_num_labels] entries, owned by the model). */
const char *const *nerc_model_labels(const nerc_model *m);
/* Longest sequence (tokens incl. specials) the position table allows:
 * max_position_embeddings, minus pad_token_id + 1 for RoBERTa / XLM-R. */
int32_t nerc_model_max_length(const nerc_model *m);
/* config.json's model_type: "distilbert", "bert", "roberta" or "xlm-roberta". */
const char *nerc_model_type(const nerc_model *m);
/* NERC_ERR_FORMAT when the tokenizer produces ids the embedding table lacks
 * (its vocabulary, added tokens included, is larger than vocab_size). */
nerc_status nerc_model_check_tokenizer(const nerc_model *m, const nerc_tokenizer *tok);
/* Directory holding the tokenizer files (vocab.txt ...), or NULL. */
const char *nerc_model_tokenizer_dir(const nerc_model *m);
/* Overrides config.json's dropout probabilities (e.g. 0 for parity checks). */
void nerc_model_set_dropout(nerc_model *m, float hidden, float attention);

/* Buffers for batches of up to max_seqs sequences, max_rows rows and max_att
 * attention pairs (sum over sequences of rows*keys). training != 0 also
 * allocates gradients. Nothing is allocated per batch after this. */
nerc_status nerc_state_init(nerc_state **out, const nerc_model *m, int32_t max_seqs, int64_t max_rows,
                            int64_t max_att, int training);
void nerc_state_free(nerc_state *s);
/* The model a state runs. */
const nerc_model *nerc_state_model(const nerc_state *s);

/* Arithmetic of the linear layers in inference (nerc_precision, nerc/common.h).
 * BF16 and INT8 snapshot the model's weights now (converted and packed once);
 * NERC_ERR_UNSUPPORTED where the CPU cannot run them natively
 * (nerc_precision_check). A training state takes FP32 only here. */
nerc_status nerc_state_set_precision(nerc_state *s, nerc_precision p);

/* Forward pass; training != 0 turns dropout on, driven by `seed`. */
nerc_status nerc_forward(nerc_state *s, const nerc_batch *b, int training, uint64_t seed);
/* Logits (N, K) of the last forward, row-major. */
const float *nerc_state_logits(const nerc_state *s);
/* Mean cross-entropy over labelled rows; `norm` = labelled tokens of the
 * effective batch (0 = this batch's count). Prepares the backward pass. */
nerc_status nerc_loss(nerc_state *s, const nerc_batch *b, double norm, double *loss);
/* Accumulates d loss / d params into the state's gradients. */
nerc_status nerc_backward(nerc_state *s, const nerc_batch *b);
void nerc_state_zero_grad(nerc_state *s);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
