/* nerc/eval.h — evaluation of a model on a labelled dataset: batched forward
 * passes (dropout off), argmax per row, seqeval reports at word level and
 * (optionally) sub-token level, and the mean loss. */
#ifndef NERC_EVAL_H
#define NERC_EVAL_H

#include "nerc/common.h"
#include "nerc/data.h"
#include "nerc/metrics.h"
#include "nerc/model.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batch_size;      /* sequences per forward pass (default 16) */
    nerc_eval_mode mode;     /* seqeval default (lenient) or strict */
    nerc_scheme scheme;      /* for strict mode */
    int subtoken_level;      /* also score every labelled sub-token (HF notebook with label_all_tokens) */
    nerc_precision precision; /* fp32 (default) or bf16 linear layers; used by nerc_evaluate_file */
} nerc_eval_params;
nerc_eval_params nerc_eval_default_params(void);

typedef struct {
    nerc_report word;        /* word level: one prediction per word (first sub-token) */
    nerc_report subtoken;    /* sub-token level, when asked for (else zeroed) */
    int has_subtoken;
    double loss;             /* mean cross-entropy over labelled sub-tokens */
    int32_t *word_pred;      /* [ds->n_words] predicted label id per word */
    double seconds;
} nerc_eval_result;
void nerc_eval_result_free(nerc_eval_result *r);

/* Runs the state's model over a dataset's sequences (dropout off) and scores
 * it. `state` must hold the worst batch (nerc_eval_state_init makes one). */
nerc_status nerc_evaluate(nerc_state *state, const nerc_dataset *ds, const nerc_sequences *seqs,
                          const nerc_eval_params *p, nerc_eval_result *out);
/* A state sized for batches of `batch_size` sequences of `enc`. */
nerc_status nerc_eval_state_init(nerc_state **out, const nerc_model *m, const nerc_sequences *enc, int32_t batch_size);

/* Evaluation of a data file (CoNLL or .jsonl) with the model's own tokenizer
 * and labels: every tag of the file must be one of the model's labels. */
typedef struct {
    nerc_eval_params eval;
    int32_t max_length;       /* 512, capped by max_position_embeddings */
    int32_t stride;           /* 128 */
    nerc_label_mode label_mode; /* sub-token labels for the sub-token level */
} nerc_eval_file_params;
nerc_eval_file_params nerc_eval_file_default_params(void);
/* On success *ds holds the dataset (word predictions index its words). */
nerc_status nerc_evaluate_file(const nerc_model *m, const char *path, const nerc_eval_file_params *p,
                               nerc_eval_result *out, nerc_dataset **ds);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
