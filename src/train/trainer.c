/* nerc_train: Hugging Face Trainer semantics (AdamW, linear schedule, clipping,
 * evaluation each epoch, best model by validation F1) over packed batches, with
 * atomic checkpoints that resume bit-identically. Over several ranks (dist)
 * it is data-parallel (data_parallel.c); rank 0 alone writes files and sends
 * events, and the ranks agree on every outcome that decides what comes next. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "eval/eval_internal.h"
#include "nerc/hub.h"
#include "train/trainer.h"

nerc_train_params nerc_train_default_params(void) {
    nerc_train_params p;
    memset(&p, 0, sizeof p);
    p.lr = 2e-5;
    p.batch_size = 16;
    p.epochs = 3.0;
    p.max_grad_norm = 1.0;
    p.adam_beta1 = 0.9;
    p.adam_beta2 = 0.999;
    p.adam_eps = 1e-8;
    p.grad_accum = 1;
    p.max_length = 512;
    p.stride = 128;
    p.label_mode = NERC_LABEL_MODE_FIRST_PIECE;
    p.seed = 42;
    p.dropout = -1.0;
    p.eval_mode = NERC_EVAL_MODE_DEFAULT;
    p.eval_scheme = NERC_SCHEME_IOB2;
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void emit(const trainer *t, nerc_train_event *ev) {
    if (t->dp.rank != 0)
        return;
    ev->total_steps = t->total_steps;
    ev->step = t->step;
    ev->epoch = t->steps_per_epoch ? (double)t->step / (double)t->steps_per_epoch : 0.0;
    if (t->p->on_event)
        t->p->on_event(ev, t->p->user);
}

static void info(const trainer *t, const char *msg) {
    nerc_train_event ev = {.kind = NERC_EVENT_KIND_INFO, .message = msg};
    emit(t, &ev);
}

/* ---- data ------------------------------------------------------------------- */

static nerc_status encode(const trainer *t, const nerc_dataset *ds, nerc_sequences **out, const char *split) {
    nerc_encode_params ep = encode_params_for(t->m, t->p->max_length, t->p->stride, t->p->label_mode);
    NERC_TRY(nerc_encode_dataset(out, ds, t->tok, &ep));
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %d sentences, %d words -> %d sequences, %d sub-tokens (%d sentences windowed)",
             split, ds->n_sents, ds->n_words, (*out)->n_seqs, (*out)->n_tokens, (*out)->n_windowed);
    info(t, msg);
    return NERC_OK;
}

static nerc_status load_model(trainer *t) {
    const nerc_train_params *p = t->p;
    const char *const *names = (const char *const *)t->train->labels.names;
    if (p->init_random) {
        char dir[4096]; /* a path, or a hub id found in the Hugging Face cache */
        NERC_TRY(nerc_hub_resolve(p->model, dir, sizeof dir));
        char *cfg = fs_join(dir, "config.json");
        nerc_status st = cfg ? nerc_model_init(&t->m, cfg, names, t->train->labels.n, p->seed)
                             : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        free(cfg);
        NERC_TRY(st);
    } else {
        NERC_TRY(nerc_model_load(&t->m, p->model, names, t->train->labels.n, p->seed));
    }
    if (p->dropout >= 0.0)
        nerc_model_set_dropout(t->m, (float)p->dropout, (float)p->dropout);
    return NERC_OK;
}

static nerc_status setup_data(trainer *t) {
    const nerc_train_params *p = t->p;
    nerc_label_set given = {0};
    if (p->labels && p->n_labels > 0)
        NERC_TRY(nerc_labels_init(&given, p->labels, p->n_labels));
    nerc_status st = nerc_dataset_read(&t->train, p->train, p->n_labels > 0 ? &given : NULL);
    nerc_labels_free(&given);
    NERC_TRY(st);
    NERC_TRY(nerc_dataset_read(&t->dev, p->validation, &t->train->labels));
    if (p->test)
        NERC_TRY(nerc_dataset_read(&t->test, p->test, &t->train->labels));
    NERC_TRY(load_model(t));
    const char *tokdir = nerc_model_tokenizer_dir(t->m);
    NERC_TRY(nerc_tokenizer_load(&t->tok, tokdir ? tokdir : p->model));
    NERC_TRY(nerc_model_check_tokenizer(t->m, t->tok));
    NERC_TRY(encode(t, t->train, &t->enc_train, "train"));
    NERC_TRY(encode(t, t->dev, &t->enc_dev, "validation"));
    if (t->test)
        NERC_TRY(encode(t, t->test, &t->enc_test, "test"));
    return NERC_OK;
}

static nerc_status setup_compute(trainer *t) {
    const nerc_train_params *p = t->p;
    NERC_TRY(dp_init(t));
    int64_t rows = 1, att = 1, eval_rows = 1, eval_att = 1;
    int32_t slice = (int32_t)(((int64_t)p->batch_size + t->dp.size - 1) / t->dp.size);
    NERC_TRY(batch_capacity(t->enc_train, slice, &rows, &att));
    NERC_TRY(batch_capacity(t->enc_dev, p->batch_size, &eval_rows, &eval_att));
    if (t->enc_test)
        NERC_TRY(batch_capacity(t->enc_test, p->batch_size, &eval_rows, &eval_att));
    if (t->dp.size == 1) { /* one state for both, as big as either needs */
        rows = rows > eval_rows ? rows : eval_rows;
        att = att > eval_att ? att : eval_att;
    } else {
        NERC_TRY(nerc_state_init(&t->eval_s, t->m, p->batch_size, eval_rows, eval_att, 0));
    }
    NERC_TRY(nerc_state_init(&t->s, t->m, t->dp.size == 1 ? p->batch_size : slice, rows, att, 1));
    NERC_TRY(nerc_state_set_precision(t->s, p->precision));
    NERC_TRY(nerc_batcher_init(&t->bt, t->enc_train, p->batch_size));
    NERC_TRY(adamw_init(&t->opt, t->m->n_params));
    /* rows brought current before each forward pass, evaluation and save; the
     * same bits as NERC_ADAMW_ROWS=eager (every row every step), which is
     * there for A/B runs and for machines where memory is cheaper than the
     * replay's divisions (README, Benchmarks) */
    const char *adamw_rows = getenv("NERC_ADAMW_ROWS");
    t->opt.lazy_rows = !(adamw_rows && !strcmp(adamw_rows, "eager"));
    t->hp = (adamw_hparams){(float)p->adam_beta1, (float)p->adam_beta2, (float)p->adam_eps, (float)p->weight_decay};
    int64_t n_batches = nerc_batcher_n_batches(t->bt);
    t->steps_per_epoch = (n_batches + p->grad_accum - 1) / p->grad_accum;
    t->total_steps = p->max_steps > 0 ? p->max_steps : (int64_t)ceil(p->epochs * (double)t->steps_per_epoch);
    t->warmup_steps = p->warmup_steps > 0 ? p->warmup_steps : (int64_t)ceil(p->warmup_ratio * (double)t->total_steps);
    return NERC_OK;
}

/* ---- logging ------------------------------------------------------------------ */

static void log_entry(trainer *t, json_t *entry) {
    if (t->log) {
        char *s = json_dumps(entry, JSON_COMPACT);
        if (s) {
            fprintf(t->log, "%s\n", s);
            fflush(t->log);
            free(s);
        }
    }
    json_array_append_new(t->history, entry);
}

static nerc_status open_log(trainer *t) {
    if (t->dp.rank != 0)
        return NERC_OK;
    char *path = fs_join(t->p->out, "log.jsonl");
    t->log = path ? fopen(path, "w") : NULL;
    nerc_status st = t->log ? NERC_OK : nerc_errorf(NERC_ERR_IO, "%s: cannot open for writing", path ? path : "log");
    free(path);
    NERC_TRY(st);
    size_t i;
    json_t *e;
    json_array_foreach(t->history, i, e) { /* a resumed run rewrites the history up to its checkpoint */
        char *s = json_dumps(e, JSON_COMPACT);
        if (s)
            fprintf(t->log, "%s\n", s);
        free(s);
    }
    fflush(t->log);
    return NERC_OK;
}

/* ---- steps ------------------------------------------------------------------- */

/* The next batch index of the epoch, moving to a new shuffled epoch as needed. */
static void next_position(trainer *t) {
    if (t->batch_in_epoch >= nerc_batcher_n_batches(t->bt)) {
        t->epoch++;
        t->batch_in_epoch = 0;
        nerc_batcher_shuffle(t->bt, t->p->seed, t->epoch);
    }
}

/* Labelled tokens of the batches of the coming step (the loss divisor). */
static nerc_status count_step_tokens(trainer *t, int32_t n_micro, int64_t *count) {
    *count = 0;
    for (int32_t k = 0; k < n_micro; k++) {
        nerc_data_batch db;
        NERC_TRY(nerc_batcher_get(t->bt, (int32_t)t->batch_in_epoch + k, &db));
        for (int32_t r = 0; r < db.batch.n_tokens; r++)
            *count += db.batch.labels[r] != NERC_IGNORE_INDEX;
    }
    return NERC_OK;
}

static uint64_t dropout_seed(uint64_t seed, int64_t step, int32_t micro) {
    uint64_t x = seed ^ ((uint64_t)step * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)micro << 48);
    return rng_splitmix64(&x);
}

static nerc_status numeric_error(const trainer *t, const char *what, double v) {
    if (t->last_checkpoint >= 0)
        return nerc_errorf(NERC_ERR_NUMERIC, "%s is %g at step %lld; last good checkpoint: %s/checkpoint-%lld", what, v,
                           (long long)t->step + 1, t->p->out, (long long)t->last_checkpoint);
    return nerc_errorf(NERC_ERR_NUMERIC, "%s is %g at step %lld (no checkpoint yet); try a lower --lr", what, v,
                       (long long)t->step + 1);
}

/* One optimizer step: grad_accum micro-batches, every labelled token of the
 * effective batch weighted equally; clip; AdamW. */
static nerc_status train_step(trainer *t, double *loss_out, double *norm_out, int64_t *rows_out) {
    next_position(t);
    int64_t left = nerc_batcher_n_batches(t->bt) - t->batch_in_epoch;
    int32_t n_micro = (int32_t)(left < t->p->grad_accum ? left : t->p->grad_accum);
    int64_t counted;
    NERC_TRY(count_step_tokens(t, n_micro, &counted));
    nerc_state_zero_grad(t->s);
    double loss_sum = 0.0;
    *rows_out = 0;
    for (int32_t k = 0; k < n_micro; k++) {
        nerc_data_batch db;
        double loss = 0.0;
        NERC_TRY(nerc_batcher_get(t->bt, (int32_t)t->batch_in_epoch + k, &db));
        nerc_batch mine = dp_slice(t, &db);
        if (k == n_micro - 1)
            dp_begin_sync(t);
        if (mine.n_seqs == 0)
            continue; /* more ranks than sequences: this rank adds nothing */
        adamw_rows_current(&t->opt, t->m->params_mem, mine.input_ids, mine.n_tokens);
        NERC_TRY(nerc_forward(t->s, &mine, 1, dropout_seed(t->p->seed, t->step, k)));
        NERC_TRY(nerc_loss(t->s, &mine, (double)(counted ? counted : 1), &loss));
        NERC_TRY(nerc_backward(t->s, &mine));
        loss_sum += loss;
        *rows_out += mine.n_tokens;
    }
    NERC_TRY(dp_finish_sync(t, &loss_sum, rows_out));
    encoder_grads_settle(t->s, 0);
    if (!isfinite(loss_sum))
        return numeric_error(t, "the training loss", loss_sum);
    grad_rows gr = grad_rows_of(t->s);
    double norm = t->dp.size == 1 ? grad_global_norm_state(t->s, &gr) /* the kernels' sums still hold */
                                  : grad_global_norm(t->s->grad_mem, t->m->n_params, &gr);
    float clip = grad_clip_of_norm(norm, t->p->max_grad_norm);
    if (!isfinite(norm))
        return numeric_error(t, "the gradient norm", norm);
    double lr = lr_linear(t->p->lr, t->step, t->warmup_steps, t->total_steps);
    adamw_step_state(&t->opt, t->m, t->s, &gr, clip, lr, &t->hp); /* bf16: with the weights' bf16 copies */
    t->batch_in_epoch += n_micro;
    t->step++;
    *loss_out = loss_sum;
    *norm_out = norm;
    return NERC_OK;
}

static void report_step(trainer *t, double loss, double norm, int64_t rows, double dt) {
    double lr = lr_linear(t->p->lr, t->step - 1, t->warmup_steps, t->total_steps);
    t->tokens_seen += rows;
    t->train_seconds += dt;
    nerc_train_event ev = {.kind = NERC_EVENT_KIND_STEP, .loss = loss, .lr = lr, .grad_norm = norm};
    ev.tokens_per_s = dt > 0 ? (double)rows / dt : 0.0;
    ev.elapsed_s = t->train_seconds;
    ev.eta_s = t->step ? t->train_seconds / (double)t->step * (double)(t->total_steps - t->step) : 0.0;
    emit(t, &ev);
    json_t *e = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "step", (json_int_t)t->step, "epoch", ev.epoch,
                          "loss", loss, "learning_rate", lr, "grad_norm", norm, "tokens_per_s", ev.tokens_per_s,
                          "seconds", dt, "world_size", (int)t->dp.size);
    if (e && t->dp.size > 1) /* the part of the step spent waiting for the gradient sums (not overlapped) */
        json_object_set_new(e, "sync_wait_seconds", json_real(t->dp.wait_s));
    log_entry(t, e);
}

/* ---- evaluation ---------------------------------------------------------------- */

static nerc_eval_params eval_params(const trainer *t) {
    nerc_eval_params ep = nerc_eval_default_params();
    ep.batch_size = t->p->batch_size;
    ep.mode = t->p->eval_mode;
    ep.scheme = t->p->eval_scheme;
    ep.subtoken_level = t->p->label_mode != NERC_LABEL_MODE_FIRST_PIECE;
    return ep;
}

static json_t *eval_json(const trainer *t, const char *split, const nerc_eval_result *r) {
    json_t *e = json_pack("{s:I, s:f, s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "step", (json_int_t)t->step, "epoch",
                          t->steps_per_epoch ? (double)t->step / (double)t->steps_per_epoch : 0.0, "split", split,
                          "level", "word", "precision", r->word.micro.precision, "recall", r->word.micro.recall, "f1",
                          r->word.micro.f1, "accuracy", r->word.accuracy, "loss", r->loss);
    if (e && r->has_subtoken)
        json_object_set_new(e, "subtoken",
                            json_pack("{s:f, s:f, s:f, s:f}", "precision", r->subtoken.micro.precision, "recall",
                                      r->subtoken.micro.recall, "f1", r->subtoken.micro.f1, "accuracy",
                                      r->subtoken.accuracy));
    return e;
}

static nerc_status evaluate_split(trainer *t, const char *split, const nerc_dataset *ds, const nerc_sequences *enc,
                                  nerc_eval_result *r) {
    nerc_eval_params ep = eval_params(t);
    char msg[160];
    snprintf(msg, sizeof msg, "evaluating on the %s split (%d sentences)...", split, ds->n_sents);
    info(t, msg);
    if (t->eval_s) { /* an inference state packs bf16 weights once: pack this step's */
        NERC_TRY(nerc_state_set_precision(t->eval_s, NERC_PRECISION_FP32));
        NERC_TRY(nerc_state_set_precision(t->eval_s, t->p->precision));
    }
    NERC_TRY(nerc_evaluate(t->eval_s ? t->eval_s : t->s, ds, enc, &ep, r));
    nerc_train_event ev = {.kind = NERC_EVENT_KIND_EVAL, .split = split, .eval = r};
    emit(t, &ev);
    return NERC_OK;
}

/* Rank 0 writes the checkpoint; every rank learns whether it worked. */
static nerc_status save_checkpoint(trainer *t) {
    nerc_status st = NERC_OK;
    adamw_rows_current(&t->opt, t->m->params_mem, NULL, 0);
    if (t->dp.rank == 0)
        st = checkpoint_save(t);
    else
        t->last_checkpoint = t->step;
    return dist_agree(st);
}

/* Evaluates on validation; keeps the best model in OUT; checkpoints. */
static nerc_status evaluate_and_checkpoint(trainer *t, int *stop_early) {
    nerc_eval_result r;
    adamw_rows_current(&t->opt, t->m->params_mem, NULL, 0); /* every row as of this step */
    NERC_TRY(evaluate_split(t, "validation", t->dev, t->enc_dev, &r));
    double f1 = r.word.micro.f1;
    log_entry(t, eval_json(t, "validation", &r));
    nerc_eval_result_free(&r);
    nerc_status st = NERC_OK;
    if (f1 > t->best_f1 || t->best_step < 0) {
        t->best_f1 = f1;
        t->best_step = t->step;
        t->evals_since_best = 0;
        if (t->dp.rank == 0)
            st = nerc_model_save(t->m, t->p->out);
    } else {
        t->evals_since_best++;
    }
    if (st == NERC_OK)
        st = save_checkpoint(t);
    else
        st = dist_agree(st);
    if (st == NERC_OK && t->dp.rank == 0)
        checkpoint_prune(t);
    *stop_early = t->p->patience > 0 && t->evals_since_best >= t->p->patience;
    return st;
}

static int eval_due(const trainer *t) {
    if (t->p->eval_every > 0)
        return t->step % t->p->eval_every == 0;
    return t->batch_in_epoch >= nerc_batcher_n_batches(t->bt); /* end of an epoch */
}

static nerc_status train_loop(trainer *t, nerc_train_result *res) {
    int evaluated_last = 0;
    while (t->step < t->total_steps) {
        double t0 = now_s(), loss = 0.0, norm = 0.0;
        int64_t rows = 0;
        NERC_TRY(train_step(t, &loss, &norm, &rows));
        report_step(t, loss, norm, rows, now_s() - t0);
        evaluated_last = 0;
        if (eval_due(t) || t->step == t->total_steps) {
            int stop_early = 0;
            NERC_TRY(evaluate_and_checkpoint(t, &stop_early));
            evaluated_last = 1;
            if (stop_early) {
                res->early_stopped = 1;
                info(t, "early stopping: validation F1 has not improved");
                break;
            }
        }
        int stop = t->p->should_stop && t->p->should_stop(t->p->user);
        NERC_TRY(dp_any(&stop)); /* a signal on any rank stops every rank after the same step */
        if (stop) {
            if (!evaluated_last)
                NERC_TRY(save_checkpoint(t));
            res->interrupted = 1;
            break;
        }
    }
    return NERC_OK;
}

/* ---- final report --------------------------------------------------------------- */

static nerc_status reload_best(trainer *t) {
    if (t->best_step == t->step)
        return NERC_OK; /* the weights in memory are the best */
    nerc_model *best = NULL;
    nerc_status st = NERC_OK;
    if (t->dp.rank == 0)
        st = nerc_model_load(&best, t->p->out, (const char *const *)t->m->cfg.labels, t->m->cfg.n_labels, 0);
    if (st == NERC_OK && best)
        memcpy(t->m->params_mem, best->params_mem, (size_t)best->n_params * sizeof(float));
    nerc_model_free(best);
    encoder_w16_stale(t->s); /* the last step's bf16 copies are not the best weights' */
    NERC_TRY(dist_agree(st));
    return dist_bcast(t->m->params_mem, t->m->n_params * (int64_t)sizeof(float), 0);
}

/* The logged validation result of the best step (no second evaluation). */
static json_t *best_validation_entry(const trainer *t) {
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(t->history, i, e) {
        const char *split = json_string_value(json_object_get(e, "split"));
        if (split && !strcmp(split, "validation") && json_integer_value(json_object_get(e, "step")) == t->best_step)
            found = e;
    }
    return found ? json_deep_copy(found) : json_null();
}

static nerc_status write_results(trainer *t, const nerc_train_result *res) {
    json_t *j = json_pack("{s:I, s:f, s:I, s:f, s:f, s:b, s:b, s:i}", "steps", (json_int_t)res->steps, "best_f1",
                          res->best_f1, "best_step", (json_int_t)res->best_step, "train_seconds", res->train_seconds,
                          "train_tokens_per_s", res->tokens_per_s, "interrupted", res->interrupted, "early_stopped",
                          res->early_stopped, "world_size", (int)t->dp.size);
    json_object_set_new(j, "validation", best_validation_entry(t));
    nerc_status st = NERC_OK;
    if (t->test) {
        nerc_eval_result r;
        st = reload_best(t);
        if (st == NERC_OK && (st = evaluate_split(t, "test", t->test, t->enc_test, &r)) == NERC_OK) {
            json_object_set_new(j, "test", eval_json(t, "test", &r));
            nerc_eval_result_free(&r);
        }
    }
    char *s = json_dumps(j, JSON_INDENT(2));
    char *path = fs_join(t->p->out, "results.json");
    if (st == NERC_OK && t->dp.rank == 0)
        st = s && path ? fs_write_file_atomic(path, s, strlen(s)) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    st = dist_agree(st);
    free(s);
    free(path);
    json_decref(j);
    return st;
}

static nerc_status finish(trainer *t, nerc_train_result *res) {
    adamw_rows_current(&t->opt, t->m->params_mem, NULL, 0);
    res->steps = t->step;
    res->best_f1 = t->best_f1;
    res->best_step = t->best_step;
    res->train_seconds = t->train_seconds;
    res->tokens_per_s = t->train_seconds > 0 ? (double)t->tokens_seen / t->train_seconds : 0.0;
    nerc_status st = NERC_OK;
    if (t->dp.rank == 0) {
        char *svg = fs_join(t->p->out, "learning_curve.svg");
        st = svg ? plot_learning_curve(t->history, svg) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        free(svg);
    }
    st = dist_agree(st);
    if (st != NERC_OK || res->interrupted || t->best_step < 0)
        return st;
    return write_results(t, res);
}

static void trainer_free(trainer *t) {
    if (t->log)
        fclose(t->log);
    json_decref(t->history);
    adamw_free(&t->opt);
    nerc_batcher_free(t->bt);
    nerc_state_free(t->s);
    nerc_state_free(t->eval_s);
    dp_free(&t->dp);
    nerc_sequences_free(t->enc_train);
    nerc_sequences_free(t->enc_dev);
    nerc_sequences_free(t->enc_test);
    nerc_tokenizer_free(t->tok);
    nerc_model_free(t->m);
    nerc_dataset_free(t->train);
    nerc_dataset_free(t->dev);
    nerc_dataset_free(t->test);
}

static nerc_status check_params(const nerc_train_params *p) {
    if (!p->model || !p->train || !p->validation || !p->out)
        return nerc_errorf(NERC_ERR_ARG, "model, train, validation and out are required");
    if (p->batch_size < 1 || p->grad_accum < 1 || !(p->lr > 0.0) || !(p->epochs > 0.0 || p->max_steps > 0) ||
        p->max_length < 3 || p->stride < 0 || p->weight_decay < 0.0 || p->warmup_ratio < 0.0 || p->warmup_ratio > 1.0)
        return nerc_errorf(NERC_ERR_ARG, "invalid training parameters (batch size, grad accum, lr, epochs, max length, "
                                         "stride, weight decay, warmup ratio)");
    if (p->precision != NERC_PRECISION_FP32 && p->precision != NERC_PRECISION_BF16)
        return nerc_errorf(NERC_ERR_ARG, "%s precision is for inference; training takes fp32 or bf16",
                           nerc_precision_name(p->precision));
    return nerc_precision_check(p->precision); /* before any work: no SIGILL, no emulation */
}

/* One line that says what this run will do. */
static void describe_run(const trainer *t) {
    const nerc_train_params *p = t->p;
    char labels[256] = "", msg[1024];
    size_t at = 0;
    for (int32_t i = 0; i < t->m->cfg.n_labels && at + 1 < sizeof labels; i++)
        at += (size_t)snprintf(labels + at, sizeof labels - at, "%s%s", i ? " " : "", t->m->cfg.labels[i]);
    snprintf(msg, sizeof msg,
             "model %s%s: %.1fM parameters, %d labels (%s); %lld steps (%lld per epoch), batch %d x %d, lr %g "
             "linear with %lld warmup steps, weight decay %g, dropout %g, label mode %s, seed %llu, %s, world_size %d "
             "x %d threads",
             p->model, p->init_random ? " (random init)" : "", (double)t->m->n_params / 1e6, t->m->cfg.n_labels, labels,
             (long long)t->total_steps, (long long)t->steps_per_epoch, p->batch_size, p->grad_accum, p->lr,
             (long long)t->warmup_steps, p->weight_decay, (double)t->m->cfg.dropout,
             nerc_label_mode_name(p->label_mode),
             (unsigned long long)p->seed, nerc_precision_name(p->precision), (int)t->dp.size, nerc_get_threads());
    info(t, msg);
}

static nerc_status start_or_resume(trainer *t) {
    describe_run(t);
    int64_t latest = t->p->resume && t->dp.rank == 0 ? checkpoint_latest(t->p->out) : -1;
    NERC_TRY(dist_bcast(&latest, sizeof latest, 0));
    if (t->p->resume && latest < 0)
        info(t, "no checkpoint to resume from: starting from scratch");
    if (latest >= 0) {
        NERC_TRY(dist_agree(t->dp.rank == 0 ? checkpoint_load_state(t, latest) : NERC_OK));
        NERC_TRY(checkpoint_share_state(t));
        char msg[256];
        snprintf(msg, sizeof msg, "resumed from %s/checkpoint-%lld", t->p->out, (long long)latest);
        info(t, msg);
    }
    nerc_batcher_shuffle(t->bt, t->p->seed, t->epoch);
    return open_log(t);
}

nerc_status nerc_train(const nerc_train_params *p, nerc_train_result *res) {
    memset(res, 0, sizeof *res);
    NERC_TRY(check_params(p));
    nerc_set_threads(p->threads);
    NERC_TRY(dist_agree(dist_rank() == 0 ? fs_mkdirs(p->out) : NERC_OK));
    trainer t = {.p = p, .best_f1 = -1.0, .best_step = -1, .last_checkpoint = -1, .history = json_array()};
    t.dp.rank = dist_rank(); /* dp_init fills the rest */
    t.dp.size = dist_size();
    nerc_status st = setup_data(&t);
    if (st == NERC_OK)
        st = setup_compute(&t);
    st = dist_agree(st);
    if (st == NERC_OK)
        st = start_or_resume(&t);
    if (st == NERC_OK)
        st = train_loop(&t, res);
    if (st == NERC_OK)
        st = finish(&t, res);
    trainer_free(&t);
    return st;
}
