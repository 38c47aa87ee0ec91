/* The fine-tuning run: everything nerc_train holds between steps. */
#ifndef NERC_TRAIN_TRAINER_H
#define NERC_TRAIN_TRAINER_H

#include <jansson.h>
#include <stdio.h>

#include "dist/dist.h"
#include "model/encoder.h"
#include "nerc/train.h"
#include "train/optim.h"

/* Data parallelism over the ranks of a dist run (data_parallel.c): this
 * rank's slice of every batch, and the gradient buckets summed over the ranks
 * while the backward pass goes on. */
typedef struct {
    int rank;
    int32_t size;            /* ranks (the world size recorded in logs and checkpoints) */
    int32_t *offsets;        /* [batch_size + 1] row offsets of this rank's slice */
    dist_reducer *red;
    int32_t next_part;       /* the part (encoder_backward's numbering) whose gradients come next */
    float *pend_lo[P_COUNT]; /* per stacked category: the layers handed over, not yet started */
    int64_t pend_n[P_COUNT];
    int64_t pend_bytes;
    nerc_status st;          /* first failure of a bucket start (the hook returns nothing) */
    double wait_s;           /* the last step's wait for its sums after the backward pass */
} data_parallel;

typedef struct {
    const nerc_train_params *p;
    nerc_dataset *train, *dev, *test;
    nerc_tokenizer *tok;
    nerc_sequences *enc_train, *enc_dev, *enc_test;
    nerc_model *m;
    nerc_state *s;
    nerc_state *eval_s;      /* evaluation state with several ranks (s then holds one slice of a batch) */
    nerc_batcher *bt;
    data_parallel dp;
    adamw_state opt;
    adamw_hparams hp;
    /* position: the next optimizer step is `step`; it starts at batch
     * `batch_in_epoch` of epoch `epoch` (order = f(seed, epoch)) */
    int64_t step, total_steps, warmup_steps, steps_per_epoch;
    int64_t epoch, batch_in_epoch;
    /* bookkeeping restored on resume */
    double best_f1;
    int64_t best_step;
    int32_t evals_since_best;
    int64_t tokens_seen;
    double train_seconds;
    int64_t last_checkpoint; /* step of the newest complete checkpoint, -1 if none */
    json_t *history;         /* log entries (also in log.jsonl) */
    FILE *log;
} trainer;

/* Checkpoints: OUT/checkpoint-<step>/ written via a .tmp directory + rename. */
nerc_status checkpoint_save(trainer *t);
/* The newest complete checkpoint in `out` (step, or -1 when none). */
int64_t checkpoint_latest(const char *out);
/* Restores the model weights, moments and position of checkpoint `step`. */
nerc_status checkpoint_load_state(trainer *t, int64_t step);
/* Deletes checkpoints beyond save_total_limit (never the best or the newest). */
void checkpoint_prune(const trainer *t);
char *checkpoint_dir(const char *out, int64_t step);

/* Every rank gets rank 0's restored weights, moments and counters. */
nerc_status checkpoint_share_state(trainer *t);

/* ---- data parallelism (data_parallel.c) ---- */

nerc_status dp_init(trainer *t);
void dp_free(data_parallel *dp);
/* This rank's share of a training batch: sequences [B*r/N, B*(r+1)/N), with
 * their dataset indices as seq_ids (the dropout masks). N = 1: all of it. */
nerc_batch dp_slice(trainer *t, const nerc_data_batch *db);
/* Before the last micro-batch's backward pass: hand its gradients to the
 * buckets as they become final. */
void dp_begin_sync(trainer *t);
/* After the step's backward passes: every bucket summed over the ranks, and
 * the step's loss and rows. */
nerc_status dp_finish_sync(trainer *t, double *loss, int64_t *rows);
/* Nonzero on every rank when `local` is nonzero on any. */
nerc_status dp_any(int *flag);

/* The learning curve (loss per step, validation F1 per evaluation) as SVG. */
nerc_status plot_learning_curve(const json_t *history, const char *path);

#endif
