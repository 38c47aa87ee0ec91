/* The trainer end to end on the tiny fixture model and a CoNLL subset: loss
 * falls and evaluation improves; the saved model reloads to the same scores;
 * an interrupted run resumes bit-identically (stray partial checkpoints are
 * ignored); the same seed gives the same bytes; gradient accumulation 8 x 2
 * equals batch 16. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "io/safetensors.h"
#include "nerc.h"
#include "test.h"
#include "test_conll.h"
#include "train/optim.h"

#define TINY SHARED_DIR "/fixtures/model/tiny"
static char tmp[64];
static char train_path[128], dev_path[128];

typedef struct {
    int64_t stop_at;
    int stop_flag;
    double first_loss, last_losses[5];
    int64_t steps;
} watch;

static void on_event(const nerc_train_event *ev, void *user) {
    watch *w = user;
    if (ev->kind != NERC_EVENT_KIND_STEP)
        return;
    if (ev->step == 1)
        w->first_loss = ev->loss;
    w->last_losses[ev->step % 5] = ev->loss;
    w->steps = ev->step;
    if (w->stop_at && ev->step == w->stop_at)
        w->stop_flag = 1;
}

static int watch_should_stop(void *user) { return ((watch *)user)->stop_flag; }

static nerc_train_params base_params(const char *out) {
    nerc_train_params p = nerc_train_default_params();
    p.model = TINY;
    p.train = train_path;
    p.validation = dev_path;
    p.out = out;
    p.lr = 1e-3;
    p.batch_size = 8;
    p.on_event = on_event;
    return p;
}

static char *out_dir(const char *name) { return fs_join(tmp, name); }

static int same_file(const char *dir_a, const char *dir_b, const char *name) {
    char *a = fs_join(dir_a, name), *b = fs_join(dir_b, name);
    int ok = a && b && test_same_file(a, b);
    free(a), free(b);
    return ok;
}

static void test_learns(void) {
    char *out = out_dir("learn");
    nerc_model *m = NULL;
    nerc_eval_file_params ep = nerc_eval_file_default_params();
    nerc_eval_result before, after;
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_model_load(&m, TINY, NULL, 0, 0));
    CHECK_OK(nerc_evaluate_file(m, dev_path, &ep, &before, &ds));
    nerc_dataset_free(ds);
    nerc_model_free(m);

    watch w = {0};
    nerc_train_params p = base_params(out);
    p.epochs = 4;
    p.user = &w;
    nerc_train_result res;
    CHECK_OK(nerc_train(&p, &res));
    double last = 0;
    for (int i = 0; i < 5; i++)
        last += w.last_losses[i] / 5;
    CHECK_MSG(last < 0.6 * w.first_loss, "training loss %.4f -> %.4f", w.first_loss, last);

    CHECK_OK(nerc_model_load(&m, out, NULL, 0, 0));
    CHECK_OK(nerc_evaluate_file(m, dev_path, &ep, &after, &ds));
    CHECK_MSG(after.loss < before.loss && after.word.accuracy > before.word.accuracy,
              "validation loss %.4f -> %.4f, accuracy %.4f -> %.4f", before.loss, after.loss, before.word.accuracy,
              after.word.accuracy);
    CHECK_MSG(after.word.micro.f1 == res.best_f1, "reloaded F1 %.17g, during training %.17g", after.word.micro.f1,
              res.best_f1);
    printf("  learns: loss %.3f -> %.3f over %lld steps; validation loss %.3f -> %.3f, accuracy %.3f -> %.3f, F1 %.3f\n",
           w.first_loss, last, (long long)res.steps, before.loss, after.loss, before.word.accuracy,
           after.word.accuracy, after.word.micro.f1);
    char *results = fs_join(out, "results.json"), *svg = fs_join(out, "learning_curve.svg"), *log = fs_join(out, "log.jsonl");
    CHECK(fs_exists(results) && fs_exists(svg) && fs_exists(log));
    free(results), free(svg), free(log);
    nerc_eval_result_free(&before);
    nerc_eval_result_free(&after);
    nerc_dataset_free(ds);
    nerc_model_free(m);
    free(out);
}

/* Stray leftovers of a run killed while writing: a .tmp directory with a
 * truncated file, and a checkpoint directory without its trainer state. */
static void plant_partial_checkpoints(const char *out) {
    char *a = fs_join(out, "checkpoint-7.tmp"), *b = fs_join(out, "checkpoint-9");
    CHECK_OK(fs_mkdirs(a));
    CHECK_OK(fs_mkdirs(b));
    char *f = fs_join(a, "model.safetensors");
    CHECK_OK(fs_write_file_atomic(f, "\x10\x00", 2));
    free(f), free(a), free(b);
}

static void test_resume_and_determinism(void) {
    char *full = out_dir("full"), *again = out_dir("again"), *cut = out_dir("cut");
    nerc_train_result res;
    watch w = {0};
    nerc_train_params p = base_params(full);
    p.max_steps = 12;
    p.eval_every = 4;
    p.user = &w;
    CHECK_OK(nerc_train(&p, &res));
    p.out = again;
    CHECK_OK(nerc_train(&p, &res));
    char *ck_full = fs_join(full, "checkpoint-12"), *ck_again = fs_join(again, "checkpoint-12"),
         *ck_cut = fs_join(cut, "checkpoint-12");
    CHECK_MSG(same_file(ck_full, ck_again, "model.safetensors"), "same seed, different weights");

    watch wc = {.stop_at = 6};
    p.out = cut;
    p.user = &wc;
    p.should_stop = watch_should_stop;
    CHECK_OK(nerc_train(&p, &res));
    CHECK(res.interrupted && res.steps == 6);
    plant_partial_checkpoints(cut);
    wc.stop_flag = 0;
    wc.stop_at = 0;
    p.resume = 1;
    CHECK_OK(nerc_train(&p, &res));
    CHECK(!res.interrupted && res.steps == 12);
    CHECK_MSG(same_file(ck_full, ck_cut, "model.safetensors"), "resumed weights differ from an uninterrupted run");
    CHECK_MSG(same_file(ck_full, ck_cut, "optimizer.safetensors"), "resumed optimizer state differs");
    CHECK_MSG(same_file(full, cut, "model.safetensors"), "best models differ");
    printf("  resume at step 6 of 12 (dropout on): weights and Adam moments bit-identical; same seed: identical\n");
    free(ck_full), free(ck_again), free(ck_cut), free(full), free(again), free(cut);
}

/* The trainer with AdamW's embedding rows updated lazily (the default) and
 * every row every step (NERC_ADAMW_ROWS=eager), weight decay on, evaluations
 * and checkpoints between steps: the same checkpoint bytes (weights and both
 * moments) and the same best model. */
static void test_lazy_rows_same_bytes(void) {
    char *lazy = out_dir("rows_lazy"), *eager = out_dir("rows_eager");
    nerc_train_result res;
    watch w = {0};
    nerc_train_params p = base_params(lazy);
    p.max_steps = 12;
    p.eval_every = 5;
    p.weight_decay = 0.01;
    p.user = &w;
    CHECK_OK(nerc_train(&p, &res));
    setenv("NERC_ADAMW_ROWS", "eager", 1);
    p.out = eager;
    CHECK_OK(nerc_train(&p, &res));
    unsetenv("NERC_ADAMW_ROWS");
    const char *names[2] = {"model.safetensors", "optimizer.safetensors"};
    for (int i = 0; i < 2; i++) {
        char *a = fs_join(lazy, "checkpoint-10"), *b = fs_join(eager, "checkpoint-10");
        CHECK_MSG(same_file(a, b, names[i]), "checkpoint-10/%s: lazy and eager AdamW rows differ", names[i]);
        free(a), free(b);
    }
    CHECK_MSG(same_file(lazy, eager, "model.safetensors"), "best models differ between lazy and eager rows");
    printf("  AdamW rows lazy vs eager (weight decay 0.01, 12 steps, evaluations every 5): identical bytes\n");
    free(lazy), free(eager);
}

static float *load_params(const char *dir, int64_t *n) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, dir, NULL, 0, 0));
    if (!m)
        return NULL;
    *n = nerc_model_num_params(m);
    char *path = fs_join(dir, "model.safetensors");
    st_file f;
    float *all = malloc((size_t)*n * sizeof *all);
    int64_t at = 0;
    CHECK_OK(st_open(&f, path));
    for (int32_t i = 0; i < f.n; i++) {
        CHECK_OK(st_read_f32(&f, &f.tensors[i], all + at));
        at += f.tensors[i].numel;
    }
    st_close(&f);
    free(path);
    nerc_model_free(m);
    return all;
}

static void test_grad_accum(void) {
    char *d16 = out_dir("b16"), *d8x2 = out_dir("b8x2");
    nerc_train_result res;
    watch w = {0};
    nerc_train_params p = base_params(d16);
    p.max_steps = 3;
    p.lr = 5e-4;
    p.dropout = 0.0;
    p.batch_size = 16;
    p.user = &w;
    CHECK_OK(nerc_train(&p, &res));
    p.out = d8x2;
    p.batch_size = 8;
    p.grad_accum = 2;
    CHECK_OK(nerc_train(&p, &res));
    char *a = fs_join(d16, "checkpoint-3"), *b = fs_join(d8x2, "checkpoint-3");
    int64_t na = 0, nb = 0;
    float *pa = load_params(a, &na), *pb = load_params(b, &nb);
    double worst = 0;
    for (int64_t i = 0; pa && pb && na == nb && i < na; i++)
        worst = fmax(worst, fabs((double)pa[i] - pb[i]));
    CHECK_MSG(pa && pb && na == nb && worst <= 1e-5, "batch 16 vs 8 x 2: max |diff| %.3g", worst);
    printf("  gradient accumulation 8 x 2 vs 16: max |param diff| after 3 steps %.3g (tolerance 1e-5)\n", worst);
    free(pa), free(pb), free(a), free(b), free(d16), free(d8x2);
}

/* A diverging run stops with a numeric error naming the last good checkpoint. */
static void test_nan_stops(void) {
    char *out = out_dir("nan");
    watch w = {0};
    nerc_train_params p = base_params(out);
    p.lr = 1e12;
    p.max_steps = 40;
    p.eval_every = 1;
    p.user = &w;
    nerc_train_result res;
    nerc_status st = nerc_train(&p, &res);
    CHECK_MSG(st == NERC_ERR_NUMERIC, "lr 1e12: status %d (%s)", st, nerc_last_error());
    CHECK_MSG(strstr(nerc_last_error(), "last good checkpoint") != NULL, "%s", nerc_last_error());
    printf("  lr 1e12: %s\n", nerc_last_error());
    free(out);
}

static int count_checkpoints(const char *out, int *has_first, int *has_last, int first, int last) {
    int n = 0;
    for (int step = 1; step <= 64; step++) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint-%d", step);
        char *d = fs_join(out, name);
        if (fs_exists(d)) {
            n++;
            *has_first |= step == first;
            *has_last |= step == last;
        }
        free(d);
    }
    return n;
}

/* --patience stops after N evaluations without a better F1; --save-total-limit
 * keeps the newest checkpoints and always the best; warmup ramps the lr. */
static void test_patience_limit_warmup(void) {
    char *out = out_dir("patience");
    watch w = {0};
    nerc_train_params p = base_params(out);
    p.max_steps = 10;
    p.eval_every = 1;
    p.patience = 1;
    p.lr = 1e-6; /* the tiny model predicts O everywhere: F1 stays 0, never improves */
    p.user = &w;
    nerc_train_result res;
    CHECK_OK(nerc_train(&p, &res));
    CHECK_MSG(res.early_stopped && res.steps == 2, "patience 1: stopped=%d after %lld steps", res.early_stopped,
              (long long)res.steps);
    free(out);

    out = out_dir("limit");
    p = base_params(out);
    p.max_steps = 6;
    p.eval_every = 1;
    p.save_total_limit = 2;
    p.lr = 1e-6;
    p.user = &w;
    CHECK_OK(nerc_train(&p, &res));
    int has_best = 0, has_last = 0;
    int n = count_checkpoints(out, &has_best, &has_last, (int)res.best_step, 6);
    CHECK_MSG(n == 2 && has_best && has_last, "save_total_limit 2: %d checkpoints, best(%lld) %d, newest %d", n,
              (long long)res.best_step, has_best, has_last);
    free(out);

    CHECK_NEAR(lr_linear(1.0, 0, 2, 10), 0.0, 1e-15);
    CHECK_NEAR(lr_linear(1.0, 1, 2, 10), 0.5, 1e-15);
    CHECK_NEAR(lr_linear(1.0, 2, 2, 10), 1.0, 1e-15);
    CHECK_NEAR(lr_linear(1.0, 6, 2, 10), 0.5, 1e-15);
    CHECK_NEAR(lr_linear(1.0, 10, 2, 10), 0.0, 1e-15);
    printf("  patience 1 stops after 2 steps; save_total_limit 2 keeps best + newest; warmup schedule\n");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/nerc_test_train_XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    nerc_set_log(NULL, NULL);
    snprintf(train_path, sizeof train_path, "%s/train.txt", tmp);
    snprintf(dev_path, sizeof dev_path, "%s/dev.txt", tmp);
    test_conll_subset(SHARED_DIR "/data/conll2003/train.txt", train_path, 2500);
    test_conll_subset(SHARED_DIR "/data/conll2003/dev.txt", dev_path, 800);
    test_learns();
    test_resume_and_determinism();
    test_lazy_rows_same_bytes();
    test_grad_accum();
    test_nan_stops();
    test_patience_limit_warmup();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return test_report("test_train");
}
