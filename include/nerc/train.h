/* nerc/train.h — fine-tuning with Hugging Face Trainer semantics. */
#ifndef NERC_TRAIN_H
#define NERC_TRAIN_H

#include "nerc/common.h"
#include "nerc/data.h"
#include "nerc/eval.h"
#include "nerc/metrics.h"
#include "nerc/model.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- training --------------------------------------------------------------- */

struct nerc_train_event;

typedef struct {
    const char *model;        /* HF directory to start from (pretrained or fine-tuned) */
    int init_random;          /* 1: ignore weights, random init from model/config.json */
    const char *train, *validation, *test; /* CoNLL or JSONL (.jsonl/.json) files; test may be NULL */
    const char *out;          /* output directory */
    const char *const *labels; /* label list in id order (NULL: read from the training file); needed for */
    int32_t n_labels;          /* JSONL files with integer tags */
    double lr;                /* 2e-5 */
    int32_t batch_size;       /* 16 */
    double epochs;            /* 3 */
    int64_t max_steps;        /* > 0 overrides epochs */
    double warmup_ratio;      /* 0 */
    int64_t warmup_steps;     /* 0; wins over warmup_ratio when > 0 */
    double weight_decay;      /* 0 (HF TrainingArguments default) */
    double max_grad_norm;     /* 1.0 */
    double adam_beta1, adam_beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
    int32_t grad_accum;       /* 1 */
    int32_t max_length;       /* 512 (capped by max_position_embeddings) */
    int32_t stride;           /* 128: overlap of windows over long sentences */
    nerc_label_mode label_mode; /* first piece (HF default) */
    int64_t eval_every;       /* 0 = at the end of each epoch, else every N optimizer steps */
    int32_t patience;         /* 0 = no early stopping, else stop after N evals without a better F1 */
    int32_t save_total_limit; /* 0 = keep every checkpoint, else the newest N (the best is always kept) */
    uint64_t seed;            /* 42: init, shuffling and dropout */
    int resume;               /* continue from the newest complete checkpoint in out */
    int32_t threads;          /* 0 = OMP_NUM_THREADS or all cores */
    double dropout;           /* < 0 = config.json's (hidden and attention dropout) */
    nerc_precision precision; /* FP32 (default) or BF16: torch.autocast(bfloat16) mixed precision, bf16
                               * matmuls forward and backward, fp32 master weights, LayerNorm, softmax,
                               * loss and AdamW (needs AVX512_BF16 or AMX-BF16) */
    nerc_eval_mode eval_mode; /* seqeval default (lenient) */
    nerc_scheme eval_scheme;
    /* Polled between optimizer steps: nonzero = save a checkpoint and return
     * (e.g. a flag set by the caller's signal handler). NULL = never. */
    int (*should_stop)(void *user);
    /* Progress: called after every optimizer step and every evaluation. */
    void (*on_event)(const struct nerc_train_event *ev, void *user);
    void *user;               /* passed to should_stop and on_event */
} nerc_train_params;
nerc_train_params nerc_train_default_params(void);

typedef enum { NERC_EVENT_KIND_STEP, NERC_EVENT_KIND_EVAL, NERC_EVENT_KIND_INFO } nerc_event_kind;

typedef struct nerc_train_event {
    nerc_event_kind kind;
    int64_t step, total_steps;
    double epoch;             /* fractional epoch */
    double loss, lr, grad_norm;
    double tokens_per_s;      /* real (non-padding) tokens per second over the last step */
    double elapsed_s, eta_s;
    const char *split;        /* for EVAL: "validation" / "test" */
    const nerc_eval_result *eval;
    const char *message;      /* for INFO */
} nerc_train_event;

typedef struct {
    int64_t steps;            /* optimizer steps done */
    double best_f1;           /* best validation word-level F1 */
    int64_t best_step;
    int interrupted;          /* stopped by *stop; a checkpoint was saved */
    int early_stopped;
    double train_seconds;
    double tokens_per_s;      /* average real tokens/s of training */
} nerc_train_result;

/* Fine-tunes and evaluates; writes OUT/checkpoint-<step>/, OUT/best model
 * files, OUT/log.jsonl, OUT/results.json and OUT/learning_curve.svg. */
nerc_status nerc_train(const nerc_train_params *p, nerc_train_result *res);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
