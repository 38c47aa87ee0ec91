/* The fine-tuning run: everything nerc_train holds between steps. */
#ifndef NERC_TRAIN_TRAINER_H
#define NERC_TRAIN_TRAINER_H

#include <jansson.h>
#include <stdio.h>

#include "model/encoder.h"
#include "nerc/train.h"
#include "train/optim.h"

typedef struct {
    const nerc_train_params *p;
    nerc_dataset *train, *dev, *test;
    nerc_tokenizer *tok;
    nerc_sequences *enc_train, *enc_dev, *enc_test;
    nerc_model *m;
    nerc_state *s;
    nerc_batcher *bt;
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

/* The learning curve (loss per step, validation F1 per evaluation) as SVG. */
nerc_status plot_learning_curve(const json_t *history, const char *path);

#endif
