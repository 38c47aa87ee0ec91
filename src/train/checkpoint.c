/* Training checkpoints: HF model files + optimizer moments + trainer_state.json,
 * written into checkpoint-<step>.tmp/ and renamed into place, so that a kill at
 * any moment leaves every earlier checkpoint intact. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "train/trainer.h"

char *checkpoint_dir(const char *out, int64_t step) {
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%lld", (long long)step);
    return fs_join(out, name);
}

static nerc_status remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? NERC_OK : nerc_errorf(NERC_ERR_IO, "%s: %s", path, strerror(errno));
    struct dirent *e;
    nerc_status st = NERC_OK;
    while (st == NERC_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *child = fs_join(path, e->d_name);
        if (!child || unlink(child) != 0)
            st = nerc_errorf(NERC_ERR_IO, "cannot remove %s/%s", path, e->d_name);
        free(child);
    }
    closedir(d);
    if (st == NERC_OK && rmdir(path) != 0)
        st = nerc_errorf(NERC_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return st;
}

static nerc_status save_moments(const trainer *t, const char *dir) {
    const nerc_model *m = t->m;
    int32_t n = 2 * m->n_tensors;
    st_entry *e = calloc((size_t)n, sizeof *e);
    char **names = calloc((size_t)n, sizeof *names);
    nerc_status st = e && names ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; st == NERC_OK && i < m->n_tensors; i++) {
        const param_tensor *pt = &m->tensors[i];
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(pt->name) + 16;
            char *name = names[2 * i + k] = malloc(len);
            if (!name) {
                st = nerc_errorf(NERC_ERR_NOMEM, "out of memory");
                break;
            }
            snprintf(name, len, "%s.%s", k ? "exp_avg_sq" : "exp_avg", pt->name);
            e[2 * i + k] = (st_entry){name, ST_F32, pt->ndim, {pt->shape[0], pt->shape[1]},
                                      (k ? t->opt.v : t->opt.m) + pt->offset};
        }
    }
    char *path = fs_join(dir, "optimizer.safetensors");
    if (st == NERC_OK)
        st = path ? st_write(path, e, n, NULL) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(e);
    free(path);
    return st;
}

/* ---- trainer state: one table drives save, restore and the resume check ---- */

typedef enum { FIELD_I64, FIELD_I32, FIELD_F64, FIELD_F32, FIELD_U64, FIELD_ENUM } field_type;

typedef enum {
    FIELD_COUNTER, /* progress: saved, restored on resume */
    FIELD_SETTING, /* how the run was made: saved, must be equal on resume */
    FIELD_RECORD   /* how the run was made: saved only (it may change on resume) */
} field_role;

typedef struct {
    const char *name; /* key in trainer_state.json (HF's at the top level, nerc's under "nerc") */
    field_type type;
    void *ptr;
    field_role role;
    int top_level;    /* HF Trainer's own keys */
} state_field;

#define N_STATE_FIELDS 27

/* Every field of the run's state, pointing into `t` (settings are read only). */
static int state_fields(trainer *t, state_field *f) {
    nerc_train_params *p = (nerc_train_params *)t->p;
    encoder_config *c = &t->m->cfg;
    state_field all[] = {
        {"global_step", FIELD_I64, &t->step, FIELD_COUNTER, 1},
        {"best_metric", FIELD_F64, &t->best_f1, FIELD_COUNTER, 1},
        {"best_step", FIELD_I64, &t->best_step, FIELD_COUNTER, 1},
        {"epoch_index", FIELD_I64, &t->epoch, FIELD_COUNTER, 0},
        {"batch_in_epoch", FIELD_I64, &t->batch_in_epoch, FIELD_COUNTER, 0},
        {"adam_step", FIELD_I64, &t->opt.step, FIELD_COUNTER, 0},
        {"evals_since_best", FIELD_I32, &t->evals_since_best, FIELD_COUNTER, 0},
        {"tokens_seen", FIELD_I64, &t->tokens_seen, FIELD_COUNTER, 0},
        {"train_seconds", FIELD_F64, &t->train_seconds, FIELD_COUNTER, 0},
        {"seed", FIELD_U64, &p->seed, FIELD_SETTING, 0},
        {"batch_size", FIELD_I32, &p->batch_size, FIELD_SETTING, 0},
        {"grad_accum", FIELD_I32, &p->grad_accum, FIELD_SETTING, 0},
        {"label_mode", FIELD_ENUM, &p->label_mode, FIELD_SETTING, 0},
        {"total_steps", FIELD_I64, &t->total_steps, FIELD_SETTING, 0},
        {"warmup_steps", FIELD_I64, &t->warmup_steps, FIELD_SETTING, 0},
        {"learning_rate", FIELD_F64, &p->lr, FIELD_SETTING, 0},
        {"weight_decay", FIELD_F64, &p->weight_decay, FIELD_SETTING, 0},
        {"max_grad_norm", FIELD_F64, &p->max_grad_norm, FIELD_SETTING, 0},
        {"adam_beta1", FIELD_F64, &p->adam_beta1, FIELD_SETTING, 0},
        {"adam_beta2", FIELD_F64, &p->adam_beta2, FIELD_SETTING, 0},
        {"adam_epsilon", FIELD_F64, &p->adam_eps, FIELD_SETTING, 0},
        {"max_length", FIELD_I32, &p->max_length, FIELD_SETTING, 0},
        {"stride", FIELD_I32, &p->stride, FIELD_SETTING, 0},
        {"dropout", FIELD_F32, &c->dropout, FIELD_SETTING, 0},
        {"attention_dropout", FIELD_F32, &c->attention_dropout, FIELD_SETTING, 0},
        {"classifier_dropout", FIELD_F32, &c->classifier_dropout, FIELD_SETTING, 0},
        {"world_size", FIELD_I32, &t->dp.size, FIELD_RECORD, 0}, /* data order and masks do not depend on it */
    };
    _Static_assert(sizeof all / sizeof all[0] == N_STATE_FIELDS, "N_STATE_FIELDS must count the table");
    memcpy(f, all, sizeof all);
    return N_STATE_FIELDS;
}

static json_t *field_to_json(const state_field *f) {
    switch (f->type) {
    case FIELD_I64: return json_integer((json_int_t) * (int64_t *)f->ptr);
    case FIELD_I32: return json_integer(*(int32_t *)f->ptr);
    case FIELD_U64: return json_integer((json_int_t) * (uint64_t *)f->ptr);
    case FIELD_ENUM: return json_integer(*(int *)f->ptr);
    case FIELD_F64: return json_real(*(double *)f->ptr);
    case FIELD_F32: return json_real(*(float *)f->ptr);
    }
    return json_null();
}

/* The JSON value as this field's type (in `out`, 8 bytes); 0 when it has the wrong JSON type. */
static int field_from_json(const state_field *f, const json_t *v, void *out) {
    if (f->type == FIELD_F64 || f->type == FIELD_F32) {
        if (!json_is_number(v))
            return 0;
        double d = json_number_value(v);
        if (f->type == FIELD_F32)
            *(float *)out = (float)d;
        else
            *(double *)out = d;
        return 1;
    }
    if (!json_is_integer(v))
        return 0;
    json_int_t i = json_integer_value(v);
    switch (f->type) {
    case FIELD_I64: *(int64_t *)out = i; break;
    case FIELD_U64: *(uint64_t *)out = (uint64_t)i; break;
    case FIELD_I32: *(int32_t *)out = (int32_t)i; break;
    case FIELD_ENUM: *(int *)out = (int)i; break;
    default: break;
    }
    return 1;
}

static size_t field_size(field_type type) {
    return type == FIELD_I32 || type == FIELD_ENUM || type == FIELD_F32 ? 4 : 8;
}

static void field_format(const state_field *f, const void *v, char *buf, size_t n) {
    switch (f->type) {
    case FIELD_I64: snprintf(buf, n, "%lld", (long long)*(const int64_t *)v); break;
    case FIELD_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)v); break;
    case FIELD_I32: snprintf(buf, n, "%d", *(const int32_t *)v); break;
    case FIELD_ENUM: snprintf(buf, n, "%d", *(const int *)v); break;
    case FIELD_F64: snprintf(buf, n, "%.17g", *(const double *)v); break;
    case FIELD_F32: snprintf(buf, n, "%.9g", (double)*(const float *)v); break;
    }
}

static json_t *trainer_state_json(trainer *t) {
    state_field f[N_STATE_FIELDS];
    int n = state_fields(t, f);
    json_t *root = json_object(), *nerc = json_object();
    json_object_set_new(root, "epoch", json_real(t->steps_per_epoch ? (double)t->step / (double)t->steps_per_epoch
                                                                    : 0.0));
    json_object_set(root, "log_history", t->history);
    for (int i = 0; i < n; i++)
        json_object_set_new(f[i].top_level ? root : nerc, f[i].name, field_to_json(&f[i]));
    json_object_set_new(root, "nerc", nerc);
    return root;
}

static nerc_status save_state_json(trainer *t, const char *dir) {
    json_t *j = trainer_state_json(t);
    char *s = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
    json_decref(j);
    char *path = fs_join(dir, "trainer_state.json");
    nerc_status st = s && path ? fs_write_file_atomic(path, s, strlen(s))
                               : nerc_errorf(NERC_ERR_NOMEM, "cannot serialise trainer state");
    free(s);
    free(path);
    return st;
}

nerc_status checkpoint_save(trainer *t) {
    char *final = checkpoint_dir(t->p->out, t->step);
    size_t n = final ? strlen(final) + 8 : 0;
    char *tmp = final ? malloc(n) : NULL;
    if (!tmp) {
        free(final);
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp", final);
    nerc_status st = remove_tree(tmp);
    if (st == NERC_OK)
        st = nerc_model_save(t->m, tmp);
    if (st == NERC_OK)
        st = save_moments(t, tmp);
    if (st == NERC_OK)
        st = save_state_json(t, tmp);
    if (st == NERC_OK)
        st = remove_tree(final); /* a checkpoint of the same step from an earlier run */
    if (st == NERC_OK && rename(tmp, final) != 0)
        st = nerc_errorf(NERC_ERR_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
    if (st == NERC_OK) {
        fs_fsync_parent_dir(final);
        t->last_checkpoint = t->step;
    }
    free(tmp);
    free(final);
    return st;
}

/* "checkpoint-<digits>" exactly (not .tmp) with a trainer_state.json inside. */
static int64_t parse_checkpoint_name(const char *out, const char *name) {
    if (strncmp(name, "checkpoint-", 11) != 0 || !name[11])
        return -1;
    int64_t step = 0;
    for (const char *c = name + 11; *c; c++) {
        if (*c < '0' || *c > '9' || step > (INT64_MAX - 9) / 10)
            return -1;
        step = step * 10 + (*c - '0');
    }
    char *dir = fs_join(out, name), *state = dir ? fs_join(dir, "trainer_state.json") : NULL;
    int ok = state && fs_exists(state);
    free(dir);
    free(state);
    return ok ? step : -1;
}

int64_t checkpoint_latest(const char *out) {
    DIR *d = opendir(out);
    if (!d)
        return -1;
    int64_t best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s = parse_checkpoint_name(out, e->d_name);
        best = s > best ? s : best;
    }
    closedir(d);
    return best;
}

void checkpoint_prune(const trainer *t) {
    if (t->p->save_total_limit <= 0)
        return;
    DIR *d = opendir(t->p->out);
    if (!d)
        return;
    int64_t steps[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        int64_t s = parse_checkpoint_name(t->p->out, e->d_name);
        if (s >= 0 && s != t->best_step && s != t->last_checkpoint)
            steps[n++] = s;
    }
    closedir(d);
    int keep = t->p->save_total_limit - 1 - (t->best_step != t->last_checkpoint && t->best_step >= 0);
    for (int removed = 0; n - removed > (keep > 0 ? keep : 0); removed++) {
        int oldest = 0;
        for (int i = 1; i < n; i++)
            if (steps[i] >= 0 && (steps[oldest] < 0 || steps[i] < steps[oldest]))
                oldest = i;
        char *dir = checkpoint_dir(t->p->out, steps[oldest]);
        if (dir && remove_tree(dir) != NERC_OK)
            nerc_logf("could not remove %s: %s", dir, nerc_last_error());
        free(dir);
        steps[oldest] = -1;
    }
}

static nerc_status load_moments(trainer *t, const char *dir) {
    char *path = fs_join(dir, "optimizer.safetensors");
    st_file f;
    nerc_status st = path ? st_open(&f, path) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    free(path);
    NERC_TRY(st);
    for (int32_t i = 0; st == NERC_OK && i < t->m->n_tensors; i++) {
        const param_tensor *pt = &t->m->tensors[i];
        for (int k = 0; st == NERC_OK && k < 2; k++) {
            char name[160];
            snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", pt->name);
            const st_tensor *s = st_find(&f, name);
            if (!s || s->numel != pt->numel || s->dtype != ST_F32)
                st = nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' missing or misshaped", f.path, name);
            else /* a second moment is a running mean of squares: never below 0 */
                st = st_read_f32_checked(&f, s, (k ? t->opt.v : t->opt.m) + pt->offset, k);
        }
    }
    st_close(&f);
    adamw_moments_changed(&t->opt);
    return st;
}

/* Settings must be equal; counters are read back only when every setting matches. */
static nerc_status restore_fields(trainer *t, json_t *j, const char *path) {
    state_field f[N_STATE_FIELDS];
    int n = state_fields(t, f);
    uint64_t vals[N_STATE_FIELDS];
    json_t *nj = json_object_get(j, "nerc");
    for (int i = 0; i < n; i++) {
        const json_t *v = json_object_get(f[i].top_level ? j : nj, f[i].name);
        if (f[i].role == FIELD_RECORD)
            continue; /* and may be absent (checkpoints older than it) */
        if (!v || !field_from_json(&f[i], v, &vals[i]))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" missing or not a number", path, f[i].name);
        if (f[i].role == FIELD_SETTING && memcmp(&vals[i], f[i].ptr, field_size(f[i].type)) != 0) {
            char was[48], now[48];
            field_format(&f[i], &vals[i], was, sizeof was);
            field_format(&f[i], f[i].ptr, now, sizeof now);
            return nerc_errorf(NERC_ERR_ARG,
                               "%s: the checkpoint was made with %s %s, this run has %s %s; resume with the same "
                               "settings",
                               path, f[i].name, was, f[i].name, now);
        }
    }
    for (int i = 0; i < n; i++)
        if (f[i].role == FIELD_COUNTER)
            memcpy(f[i].ptr, &vals[i], field_size(f[i].type));
    return NERC_OK;
}

/* A counter read back lies in [lo, hi], or the file is refused naming it. */
static nerc_status counter_in(const char *path, const char *name, double v, double lo, double hi) {
    if (v >= lo && v <= hi) /* false for NaN */
        return NERC_OK;
    return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" is %.17g, outside [%.17g, %.17g]", path, name, v, lo, hi);
}

/* The counters of checkpoint-<step> against each other and this run: a
 * trainer_state.json edited or damaged by hand stops the resume here, not as
 * an out-of-range batch or a NaN learning rate later. */
static nerc_status check_counters(const trainer *t, int64_t step, const char *path) {
    double s = (double)t->step, batches = (double)nerc_batcher_n_batches(t->bt);
    NERC_TRY(counter_in(path, "global_step", s, (double)step, (double)step)); /* the directory's own step */
    NERC_TRY(counter_in(path, "adam_step", (double)t->opt.step, s, s));      /* one optimizer step per step */
    NERC_TRY(counter_in(path, "epoch_index", (double)t->epoch, 0.0, s));
    NERC_TRY(counter_in(path, "batch_in_epoch", (double)t->batch_in_epoch, 0.0, batches));
    NERC_TRY(counter_in(path, "best_step", (double)t->best_step, -1.0, s));
    NERC_TRY(counter_in(path, "best_metric", t->best_f1, -1.0, 1.0));
    NERC_TRY(counter_in(path, "evals_since_best", (double)t->evals_since_best, 0.0, s));
    NERC_TRY(counter_in(path, "tokens_seen", (double)t->tokens_seen, 0.0, (double)INT64_MAX));
    return counter_in(path, "train_seconds", t->train_seconds, 0.0, 1e12);
}

static nerc_status restore_counters(trainer *t, const char *dir, int64_t step) {
    char *path = fs_join(dir, "trainer_state.json");
    json_error_t jerr;
    json_t *j = path ? json_load_file(path, 0, &jerr) : NULL;
    nerc_status st = NERC_OK;
    if (!j || !json_is_object(json_object_get(j, "nerc")) || !json_is_array(json_object_get(j, "log_history")))
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: unreadable trainer state (%s)", path ? path : dir, j ? "fields" : jerr.text);
    if (st == NERC_OK)
        st = restore_fields(t, j, path);
    if (st == NERC_OK)
        st = check_counters(t, step, path);
    if (st == NERC_OK) {
        json_decref(t->history);
        t->history = json_deep_copy(json_object_get(j, "log_history"));
    }
    json_decref(j);
    free(path);
    return st;
}

nerc_status checkpoint_load_state(trainer *t, int64_t step) {
    char *dir = checkpoint_dir(t->p->out, step);
    if (!dir)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    nerc_model *m = NULL;
    nerc_status st = nerc_model_load(&m, dir, (const char *const *)t->m->cfg.labels, t->m->cfg.n_labels, 0);
    if (st == NERC_OK && m->n_params != t->m->n_params)
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: a different model size", dir);
    if (st == NERC_OK)
        memcpy(t->m->params_mem, m->params_mem, (size_t)m->n_params * sizeof(float));
    nerc_model_free(m);
    encoder_w16_stale(t->s);
    if (st == NERC_OK)
        st = load_moments(t, dir);
    if (st == NERC_OK)
        st = restore_counters(t, dir, step);
    if (st == NERC_OK)
        t->last_checkpoint = step;
    free(dir);
    return st;
}

nerc_status checkpoint_share_state(trainer *t) {
    if (t->dp.size == 1)
        return NERC_OK;
    int64_t n = t->m->n_params * (int64_t)sizeof(float);
    NERC_TRY(dist_bcast(t->m->params_mem, n, 0));
    encoder_w16_stale(t->s);
    NERC_TRY(dist_bcast(t->opt.m, n, 0));
    NERC_TRY(dist_bcast(t->opt.v, n, 0));
    adamw_moments_changed(&t->opt);
    NERC_TRY(dist_bcast(&t->last_checkpoint, sizeof t->last_checkpoint, 0));
    state_field f[N_STATE_FIELDS];
    int nf = state_fields(t, f);
    for (int i = 0; i < nf; i++)
        if (f[i].role == FIELD_COUNTER)
            NERC_TRY(dist_bcast(f[i].ptr, (int64_t)field_size(f[i].type), 0));
    return NERC_OK;
}
