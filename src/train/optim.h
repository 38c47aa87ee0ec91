/* AdamW exactly as torch 1.13 (decoupled decay first, bias correction),
 * global gradient-norm clipping as clip_grad_norm_, and HF's linear schedule. */
#ifndef NERC_TRAIN_OPTIM_H
#define NERC_TRAIN_OPTIM_H

#include <stdint.h>

#include "kernels/adamw.h"
#include "model/encoder.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
} adamw_hparams;

/* torch / HF defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0. */
adamw_hparams adamw_defaults(void);

/* Steps a lazily updated row may fall behind before every row is brought up to date. */
#define ADAMW_LOG_MAX 1024

typedef struct {
    float *m, *v;  /* first and second moments, the parameter layout */
    int64_t n;
    int64_t step;  /* optimizer steps taken */
    /* Rows of the word-embedding table whose moments may be nonzero (a row
     * never used stays at m = v = 0: its update reads and writes only p).
     * live_rows 0: not known; the next step by rows finds them from m and v. */
    uint8_t *live;
    int64_t live_rows;
    bf16_copy *p16; /* [n_tensors] scratch of adamw_step_state: where each tensor's bf16 copy lives */
    /* lazy_rows (set by the caller, who then calls adamw_rows_current before
     * anything reads the table): a step updates only the rows its batch used;
     * each row's skipped zero-gradient steps are run when it is next used, or
     * by adamw_rows_current, from the log of the steps' coefficients: the same
     * bits as updating every row every step, without reading the ~14,000 live
     * rows of CoNLL's vocabulary each step (8 ms of a DistilBERT step). */
    int lazy_rows;
    int64_t table_offset, table_rows, table_width; /* the table being updated lazily (rows 0: none yet) */
    int64_t *row_step;                              /* [table_rows] */
    int32_t *row_list;                              /* [table_rows] scratch */
    uint8_t *row_listed;                            /* [table_rows] scratch, all 0 between calls */
    adamw_coeffs *log;                              /* [ADAMW_LOG_MAX] */
    int64_t log_first, log_len;                     /* log[i]: step log_first + 1 + i */
} adamw_state;

nerc_status adamw_init(adamw_state *a, int64_t n_params);
void adamw_free(adamw_state *a);
/* m or v were written from outside (a checkpoint, another rank): the live rows
 * are found again before the next step. */
void adamw_moments_changed(adamw_state *a);

/* Brings the listed rows of the lazily updated table (ids may repeat; ids
 * NULL: every row) up to the last step taken, in params (the model's
 * parameter buffer); nothing to do unless lazy_rows deferred some. */
void adamw_rows_current(adamw_state *a, float *params, const int32_t *ids, int64_t n);

/* Where the gradient buffer is sparse: the word-embedding table (rows x
 * width floats at offset) of which only the rows with used[r] != 0 can be
 * nonzero (used NULL: any row). A batch touches ~300 of 30,522 rows. */
typedef struct {
    int64_t offset, rows, width;
    const uint8_t *used;
} grad_rows;

/* The state's record of the rows its backward passes wrote since zero_grad. */
grad_rows grad_rows_of(const struct nerc_state *s);

/* Marks the rows ids[0..n) of gr's table live (may hold nonzero moments), as
 * they are once a run's data has used them: benchmarks time that steady state. */
nerc_status adamw_mark_live_rows(adamw_state *a, const grad_rows *gr, const int32_t *ids, int64_t n);

/* One step over every trainable tensor of `m` with gradients `grads`:
 *   p *= 1 - lr*wd  (wd = 0 for biases and LayerNorm weights)
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * gr (may be NULL): the rows known to be zero are not read. p16 (may be
 * NULL): per tensor, where to write a bf16 copy of p with the update (bf16
 * training's weight copies, encoder_w16_copies: plain or AMX blocked), or
 * all NULL. On a bf16 training
 * state, follow with encoder_w16_written or encoder_w16_stale (as
 * adamw_step_state does). */
void adamw_step(adamw_state *a, struct nerc_model *m, const float *grads, const grad_rows *gr, float grad_scale,
                double lr, const adamw_hparams *hp, const bf16_copy *p16);
/* adamw_step over m (s's model) with s's gradients; in bf16 training it
 * writes the state's bf16 weight copies with the update and marks them
 * written (stale, to be refreshed by the next forward pass, when they cannot
 * be mapped). */
void adamw_step_state(adamw_state *a, struct nerc_model *m, struct nerc_state *s, const grad_rows *gr,
                      float grad_scale, double lr, const adamw_hparams *hp);

/* sqrt(sum g^2) over all gradients (accumulated in double, in a fixed order:
 * the same bits at any thread count, and whether gr's zero rows are read or
 * skipped). gr may be NULL (the buffer read whole). */
double grad_global_norm(const float *grads, int64_t n, const grad_rows *gr);
/* clip_grad_norm_'s factor min(1, max_norm / (norm + 1e-6)); *norm = the norm
 * before clipping. adamw_step applies it (g * factor, as torch does in place),
 * which saves a pass over the gradients. max_norm <= 0: factor 1. */
float grad_clip_factor(const float *grads, int64_t n, const grad_rows *gr, double max_norm, double *norm);
/* The same norm for the state's gradients after its backward passes, each
 * weight gradient whose kernel summed its squares (s->w_squares, bf16
 * training on AMX) taken as summed, the rest read: a pass over ~170 MB less
 * for DistilBERT. Equal to grad_global_norm up to the order of the double
 * sums. Only while the gradients are as the backward passes left them (not
 * after a data-parallel sum). */
double grad_global_norm_state(const struct nerc_state *s, const grad_rows *gr);
/* The factor of grad_clip_factor for a norm computed already. */
float grad_clip_of_norm(double norm, double max_norm);

/* HF get_linear_schedule_with_warmup: lr at optimizer step `step` (0-based). */
double lr_linear(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

#endif
