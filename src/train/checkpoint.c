/* Training checkpoints: HF model files + optimizer moments + trainer_state.json,
 * written into checkpoint-<step>.tmp/ and renamed into place, so that a kill at
 * any moment leaves every earlier checkpoint intact. */
#include <dirent.h>
#include <errno.h>
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

static json_t *trainer_state_json(const trainer *t) {
    return json_pack("{s:I, s:f, s:f, s:I, s:O, s:{s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:f, s:I, s:i, s:i}}",
                     "global_step", (json_int_t)t->step, "epoch",
                     t->steps_per_epoch ? (double)t->step / (double)t->steps_per_epoch : 0.0, "best_metric",
                     t->best_f1, "best_step", (json_int_t)t->best_step, "log_history", t->history, "nerc", "seed",
                     (json_int_t)t->p->seed, "epoch_index", (json_int_t)t->epoch, "batch_in_epoch",
                     (json_int_t)t->batch_in_epoch, "adam_step", (json_int_t)t->opt.step, "total_steps",
                     (json_int_t)t->total_steps, "evals_since_best", t->evals_since_best, "tokens_seen",
                     (json_int_t)t->tokens_seen, "train_seconds", t->train_seconds, "batch_size",
                     (json_int_t)t->p->batch_size, "grad_accum", t->p->grad_accum, "label_mode",
                     (int)t->p->label_mode);
}

static nerc_status save_state_json(const trainer *t, const char *dir) {
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
            else
                st = st_read_f32(&f, s, (k ? t->opt.v : t->opt.m) + pt->offset);
        }
    }
    st_close(&f);
    return st;
}

static int64_t get_i(json_t *o, const char *k) { return (int64_t)json_integer_value(json_object_get(o, k)); }

static nerc_status check_same_run(const trainer *t, json_t *nj, const char *path) {
    const nerc_train_params *p = t->p;
    if ((uint64_t)get_i(nj, "seed") != p->seed || get_i(nj, "batch_size") != p->batch_size ||
        get_i(nj, "grad_accum") != p->grad_accum || get_i(nj, "label_mode") != (int64_t)p->label_mode)
        return nerc_errorf(NERC_ERR_ARG,
                           "%s: the checkpoint was made with seed %lld, batch size %lld, grad accum %lld; resume with "
                           "the same settings",
                           path, (long long)get_i(nj, "seed"), (long long)get_i(nj, "batch_size"),
                           (long long)get_i(nj, "grad_accum"));
    if (get_i(nj, "total_steps") != t->total_steps)
        return nerc_errorf(NERC_ERR_ARG, "%s: the checkpoint plans %lld steps, this run %lld (epochs/max-steps changed?)",
                           path, (long long)get_i(nj, "total_steps"), (long long)t->total_steps);
    return NERC_OK;
}

static nerc_status restore_counters(trainer *t, const char *dir) {
    char *path = fs_join(dir, "trainer_state.json");
    json_error_t jerr;
    json_t *j = path ? json_load_file(path, 0, &jerr) : NULL;
    nerc_status st = NERC_OK;
    json_t *nj = j ? json_object_get(j, "nerc") : NULL;
    if (!j || !json_is_object(nj) || !json_is_array(json_object_get(j, "log_history")))
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: unreadable trainer state (%s)", path ? path : dir, j ? "fields" : jerr.text);
    if (st == NERC_OK)
        st = check_same_run(t, nj, path);
    if (st == NERC_OK) {
        t->step = get_i(j, "global_step");
        t->epoch = get_i(nj, "epoch_index");
        t->batch_in_epoch = get_i(nj, "batch_in_epoch");
        t->opt.step = get_i(nj, "adam_step");
        t->evals_since_best = (int32_t)get_i(nj, "evals_since_best");
        t->tokens_seen = get_i(nj, "tokens_seen");
        t->train_seconds = json_real_value(json_object_get(nj, "train_seconds"));
        t->best_f1 = json_number_value(json_object_get(j, "best_metric"));
        t->best_step = get_i(j, "best_step");
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
    if (st == NERC_OK)
        st = load_moments(t, dir);
    if (st == NERC_OK)
        st = restore_counters(t, dir);
    if (st == NERC_OK)
        t->last_checkpoint = step;
    free(dir);
    return st;
}
