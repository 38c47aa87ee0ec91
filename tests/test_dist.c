/* nerc over MPI ranks, on one machine (mpirun --oversubscribe, loopback and
 * shared memory only, 1 thread per rank). In a build without MPI: launched as
 * one of several ranks, nerc says so and stops. In the MPI build (make MPI=1)
 * with mpirun on the PATH:
 *   - dropout 0: 30 steps on 2 ranks give the single-process weights within
 *     float rounding and the same validation metrics;
 *   - dropout on: 2 ranks twice give the same bytes, and their loss curve is
 *     the single-process one (the masks follow the sequence, not the rank);
 *   - one rank killed mid-run: the job stops with an error, the newest
 *     checkpoint loads, and --resume on 1 rank finishes the run;
 *   - sharded predict (text, CoNLL, JSONL, stdin) and eval: the
 *     single-process output byte for byte; a failure is reported once. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "io/safetensors.h"
#include "nerc.h"
#include "test.h"
#include "test_conll.h"

#define MPIRUN "mpirun --oversubscribe --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo " \
               "--mca oob_tcp_if_include lo"

static char nerc[512], tmp[64];

/* Runs a shell command; returns its exit status (-1 on a signal), stdout + stderr in out. */
static int run(const char *cmd, char *out, size_t cap) {
    char full[8192];
    snprintf(full, sizeof full, "{ %s ; } 2>&1", cmd);
    return test_run_capture(full, out, cap);
}

static char *path(const char *name) { return fs_join(tmp, name); }

/* ---- a build without MPI ---------------------------------------------------------- */

static void test_refuses_without_mpi(void) {
    char cmd[1024], out[4096];
    const char *envs[] = {"OMPI_COMM_WORLD_SIZE=2", "PMI_SIZE=4"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "env %s %s train --model m --train t --validation v --out o", envs[i], nerc);
        int rc = run(cmd, out, sizeof out);
        CHECK_MSG(rc == 2 && strstr(out, "built without MPI") && strstr(out, "make MPI=1"),
                  "%s: exit %d: %s", envs[i], rc, out);
    }
    snprintf(cmd, sizeof cmd, "env OMPI_COMM_WORLD_SIZE=1 %s --version", nerc);
    CHECK(run(cmd, out, sizeof out) == 0);
    printf("  without MPI: launched as 2 or 4 ranks (Open MPI / PMI env), nerc says so and exits 2\n");
}

/* ---- training ---------------------------------------------------------------------- */

/* Steps' losses and validation entries of OUT/log.jsonl. */
typedef struct {
    double loss[64]; /* the first 64 steps' */
    int n_steps, world[64], last_world; /* n_steps counts every step entry, last_world is the newest one's */
    double f1[8], precision[8], recall[8], eval_loss[8];
    int n_evals;
} run_log;

static void read_log(const char *out, run_log *g) {
    memset(g, 0, sizeof *g);
    char *p = fs_join(out, "log.jsonl"), *text = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(p, 0, &text, &len));
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        if (!e)
            continue;
        if (json_object_get(e, "split") && g->n_evals < 8) {
            int k = g->n_evals++;
            g->f1[k] = json_real_value(json_object_get(e, "f1"));
            g->precision[k] = json_real_value(json_object_get(e, "precision"));
            g->recall[k] = json_real_value(json_object_get(e, "recall"));
            g->eval_loss[k] = json_real_value(json_object_get(e, "loss"));
        } else if (json_object_get(e, "loss") && json_object_get(e, "world_size")) {
            g->last_world = (int)json_integer_value(json_object_get(e, "world_size"));
            if (g->n_steps < 64) {
                g->world[g->n_steps] = g->last_world;
                g->loss[g->n_steps] = json_real_value(json_object_get(e, "loss"));
            }
            g->n_steps++;
        }
        json_decref(e);
    }
    free(text), free(p);
}

/* Largest |a - b| and largest |a - b| / |a| over weights with |a| >= 1e-2 (the
 * attention key biases, whose gradient is 0 in exact arithmetic and pure
 * rounding in float, count in the first only). */
static void weight_diff(const char *dir_a, const char *dir_b, double *max_abs, double *max_rel) {
    char *pa = fs_join(dir_a, "model.safetensors"), *pb = fs_join(dir_b, "model.safetensors");
    st_file a, b;
    *max_abs = *max_rel = INFINITY;
    if (st_open(&a, pa) != NERC_OK) {
        CHECK_MSG(0, "%s", nerc_last_error());
        free(pa), free(pb);
        return;
    }
    if (st_open(&b, pb) != NERC_OK) {
        CHECK_MSG(0, "%s", nerc_last_error());
        st_close(&a);
        free(pa), free(pb);
        return;
    }
    *max_abs = *max_rel = 0.0;
    for (int32_t i = 0; i < a.n; i++) {
        const st_tensor *ta = &a.tensors[i], *tb = st_find(&b, ta->name);
        CHECK_MSG(tb && tb->numel == ta->numel, "tensor %s", ta->name);
        if (!tb || tb->numel != ta->numel)
            continue;
        float *x = malloc((size_t)ta->numel * sizeof *x), *y = malloc((size_t)ta->numel * sizeof *y);
        CHECK_OK(st_read_f32(&a, ta, x));
        CHECK_OK(st_read_f32(&b, tb, y));
        /* softmax ignores a shift of all of a query's scores: q.(k_j + b) - q.k_j is the same for every j */
        int key_bias = strstr(ta->name, "k_lin.bias") || strstr(ta->name, "self.key.bias");
        for (int64_t k = 0; k < ta->numel; k++) {
            double d = fabs((double)x[k] - y[k]);
            *max_abs = fmax(*max_abs, d);
            if (fabs(x[k]) >= 1e-2 && !key_bias)
                *max_rel = fmax(*max_rel, d / fabs(x[k]));
        }
        free(x), free(y);
    }
    st_close(&a), st_close(&b);
    free(pa), free(pb);
}

static char warm[256], train_file[256], dev_file[256];

static void train(int ranks, const char *out, const char *extra) {
    char cmd[4096], o[16384], launcher[256] = "";
    if (ranks > 1)
        snprintf(launcher, sizeof launcher, MPIRUN " -np %d ", ranks);
    snprintf(cmd, sizeof cmd,
             "%s%s train --model %s --train %s --validation %s --out %s/%s --max-steps 30 --eval-every 10 "
             "--batch-size 16 --lr 1e-3 --threads 1 %s",
             launcher, nerc, warm, train_file, dev_file, tmp, out, extra);
    int rc = run(cmd, o, sizeof o);
    CHECK_MSG(rc == 0, "%s: exit %d: %s", cmd, rc, o);
}

/* A model 120 steps into training, so that 30 more steps move real entity predictions. */
static void make_warm_model(void) {
    char cmd[2048], o[16384];
    snprintf(warm, sizeof warm, "%s/warm", tmp);
    snprintf(cmd, sizeof cmd,
             "%s train --model %s/fixtures/model/tiny --train %s --validation %s --out %s --max-steps 120 "
             "--eval-every 120 --batch-size 16 --lr 5e-3 --dropout 0 --threads 1",
             nerc, SHARED_DIR, train_file, dev_file, warm);
    CHECK_MSG(run(cmd, o, sizeof o) == 0, "warm-up run: %s", o);
}

static void test_dropout0_matches_one_process(void) {
    run_log one, two;
    train(1, "d0_n1", "--dropout 0");
    train(2, "d0_n2", "--dropout 0");
    char *a = path("d0_n1/checkpoint-30"), *b = path("d0_n2/checkpoint-30"), *na = path("d0_n1"), *nb = path("d0_n2");
    double max_abs, max_rel;
    weight_diff(a, b, &max_abs, &max_rel);
    CHECK_MSG(max_abs < 1e-4 && max_rel < 1e-3, "2 ranks vs 1: weights differ by %.3g (relative %.3g)", max_abs,
              max_rel);
    read_log(na, &one);
    read_log(nb, &two);
    CHECK_MSG(one.n_evals == 3 && two.n_evals == 3, "%d and %d evaluations", one.n_evals, two.n_evals);
    double worst_loss = 0.0;
    for (int k = 0; k < one.n_evals && k < two.n_evals; k++) {
        CHECK_MSG(one.f1[k] == two.f1[k] && one.precision[k] == two.precision[k] && one.recall[k] == two.recall[k],
                  "evaluation %d: F1 %.6f vs %.6f", k, one.f1[k], two.f1[k]);
        worst_loss = fmax(worst_loss, fabs(one.eval_loss[k] - two.eval_loss[k]));
    }
    CHECK_MSG(worst_loss < 1e-5, "validation loss differs by %.3g", worst_loss);
    CHECK_MSG(one.f1[2] > 0.05, "the warm model should find entities (F1 %.4f)", one.f1[2]);
    CHECK_MSG(two.n_steps == 30 && two.world[0] == 2 && one.world[0] == 1, "world_size in log.jsonl: %d, %d",
              two.world[0], one.world[0]);
    printf("  dropout 0, 30 steps, batch 16: 2 ranks vs 1: max |weight diff| %.3g, max relative %.3g "
           "(|w| >= 1e-2, key biases aside); validation F1 %.4f / %.4f / %.4f on both, loss within %.2g\n",
           max_abs, max_rel, one.f1[0], one.f1[1], one.f1[2], worst_loss);
    free(a), free(b), free(na), free(nb);
}

static void test_dropout_deterministic(void) {
    run_log one, two;
    train(2, "dr_a", "--dropout 0.1");
    train(2, "dr_b", "--dropout 0.1");
    train(1, "dr_1", "--dropout 0.1");
    char *a = path("dr_a/checkpoint-30"), *b = path("dr_b/checkpoint-30"), *c = path("dr_1/checkpoint-30");
    char *ma = fs_join(a, "model.safetensors"), *mb = fs_join(b, "model.safetensors");
    char *oa = fs_join(a, "optimizer.safetensors"), *ob = fs_join(b, "optimizer.safetensors");
    CHECK_MSG(test_same_file(ma, mb) && test_same_file(oa, ob), "dropout on, 2 ranks twice: different bytes");
    char *na = path("dr_a"), *n1 = path("dr_1");
    read_log(n1, &one);
    read_log(na, &two);
    double worst = 0.0;
    for (int s = 0; s < one.n_steps && s < two.n_steps && s < 64; s++)
        worst = fmax(worst, fabs(one.loss[s] - two.loss[s]));
    CHECK_MSG(one.n_steps == 30 && two.n_steps == 30 && worst < 1e-4, "loss curves of 1 and 2 ranks: %.3g apart",
              worst);
    double max_abs, max_rel;
    weight_diff(c, a, &max_abs, &max_rel);
    CHECK_MSG(max_rel < 1e-3, "dropout on, 2 ranks vs 1: weights differ by %.3g relative", max_rel);
    printf("  dropout 0.1: 2 ranks twice bit-identical; loss curve of 2 ranks within %.2g of 1 rank's over 30 "
           "steps (the same masks), weights within %.3g relative\n",
           worst, max_rel);
    free(a), free(b), free(c), free(ma), free(mb), free(oa), free(ob), free(na), free(n1);
}

/* The newest checkpoint-<step> of `out` with a trainer_state.json, or -1. */
static int newest_checkpoint(const char *out) {
    for (int step = 400; step > 0; step--) {
        char p[1024];
        snprintf(p, sizeof p, "%s/checkpoint-%d/trainer_state.json", out, step);
        if (fs_exists(p))
            return step;
    }
    return -1;
}

static void test_kill_one_rank(void) {
    char cmd[4096], o[16384], base[2048];
    snprintf(base, sizeof base,
             "%s train --model %s --train %s --validation %s --out %s/killed --max-steps 400 --eval-every 5 "
             "--save-total-limit 2 --batch-size 16 --lr 1e-3 --threads 1",
             nerc, warm, train_file, dev_file, tmp);
    /* rank 1 (the second child of mpirun) gets kill -9 once a checkpoint of step >= 10 exists (any: with
       --save-total-limit 2 a fast machine may have deleted checkpoint-10 before the next look) */
    snprintf(cmd, sizeof cmd,
             MPIRUN " -np 2 %s & m=$!; for i in $(seq 100); do sleep 0.1; "
                    "ls %s/killed/checkpoint-[1-9][0-9]*/trainer_state.json >/dev/null 2>&1 && break; done; "
                    "kill -9 $(pgrep -P $m | tail -1); wait $m",
             base, tmp);
    int rc = run(cmd, o, sizeof o);
    CHECK_MSG(rc != 0 && strstr(o, "signal 9"), "kill -9 of rank 1: exit %d: %s", rc, o);
    char out[512];
    snprintf(out, sizeof out, "%s/killed", tmp);
    int step = newest_checkpoint(out);
    CHECK_MSG(step >= 10 && step < 400, "newest checkpoint after the kill: %d", step);
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint-%d", out, step);
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, ckpt, NULL, 0, 0));
    nerc_model_free(m);
    /* 1 rank continues the 2-rank run (same data order and masks) */
    /* --max-steps is a resume setting (total_steps): keep it, stop with Ctrl-C 10 steps later */
    snprintf(cmd, sizeof cmd, "%s --resume", base);
    char killer[5000];
    snprintf(killer, sizeof killer, "%s & p=$!; for i in $(seq 300); do sleep 0.1; "
                                    "[ -e %s/checkpoint-%d/trainer_state.json ] && break; done; kill -INT $p; wait $p",
             cmd, out, step + 10);
    rc = run(killer, o, sizeof o);
    CHECK_MSG((rc == 130 || rc == 0) && strstr(o, "resumed from"), "resume on 1 rank: exit %d: %s", rc, o);
    run_log g;
    read_log(out, &g);
    CHECK_MSG(g.n_steps > step && g.world[0] == 2 && g.last_world == 1, "log after resume: %d steps, world_size %d .. %d",
              g.n_steps, g.world[0], g.last_world);
    printf("  kill -9 of rank 1: the job stops (exit %d, mpirun names the signal); checkpoint-%d loads; "
           "--resume on 1 rank continues (log: world_size 2 then 1)\n",
           rc == 130 ? 1 : rc, step);
}

/* ---- sharded predict / eval --------------------------------------------------------- */

/* nerc `args` on 1 and 2 (.. max_np) ranks: the same stdout (and the same `file`, when not NULL, that args write). */
static void expect_same_output(const char *args, const char *input_redirect, const char *file, int max_np) {
    char cmd[4096], a[1024], b[1024], fa[1024], o[16384];
    snprintf(a, sizeof a, "%s/one.out", tmp);
    snprintf(b, sizeof b, "%s/many.out", tmp);
    snprintf(fa, sizeof fa, "%s.one", file ? file : "");
    snprintf(cmd, sizeof cmd, "%s %s %s > %s", nerc, args, input_redirect, a);
    int rc1 = run(cmd, o, sizeof o);
    CHECK_MSG(rc1 == 0, "%s: %s", cmd, o);
    CHECK(!file || rename(file, fa) == 0);
    for (int np = 2; np <= max_np; np++) {
        snprintf(cmd, sizeof cmd, MPIRUN " -np %d %s %s %s > %s", np, nerc, args, input_redirect, b);
        int rc = run(cmd, o, sizeof o);
        CHECK_MSG(rc == 0 && test_same_file(a, b), "%d ranks: nerc %s: exit %d, output differs: %s", np, args, rc, o);
        CHECK_MSG(!file || test_same_file(file, fa), "%d ranks: nerc %s: %s differs", np, args, file);
    }
}

static void write_inputs(void) {
    char *conll = path("input.conll"), *text = NULL, *lines = path("input.txt"), *jsonl = path("input.jsonl");
    test_conll_subset(SHARED_DIR "/data/conll2003/test.txt", conll, 1500);
    size_t len = 0;
    CHECK_OK(fs_read_file(conll, 0, &text, &len));
    FILE *ft = fopen(lines, "w"), *fj = fopen(jsonl, "w");
    CHECK(ft && fj);
    int words = 0, docs = 0;
    json_t *doc = json_array();
    for (char *line = text ? strtok(text, "\n") : NULL; ft && fj && line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "-DOCSTART-", 10))
            continue;
        char *sp = strchr(line, ' ');
        if (sp)
            *sp = '\0';
        fprintf(ft, "%s%s", words ? " " : "", line);
        json_array_append_new(doc, json_string(line));
        if (++words == 5 + docs % 17) { /* documents of 5 to 21 words */
            fprintf(ft, "\n");
            json_t *o = json_pack("{s:O}", "tokens", doc);
            json_dumpf(o, fj, JSON_COMPACT);
            fprintf(fj, "\n");
            json_decref(o);
            json_array_clear(doc);
            words = 0;
            docs++;
        }
    }
    if (ft && words)
        fprintf(ft, "\n");
    json_decref(doc);
    if (ft)
        fclose(ft);
    if (fj)
        fclose(fj);
    free(text), free(conll), free(lines), free(jsonl);
}

static void test_sharded_predict_eval(void) {
    write_inputs();
    char args[2048], in[600];
    const char *model = SHARED_DIR "/fixtures/model/small";
    snprintf(args, sizeof args, "predict --model %s --threads 1 --batch-size 3 %s/input.txt", model, tmp);
    expect_same_output(args, "", NULL, 3);
    snprintf(args, sizeof args, "predict --model %s --threads 1 --batch-size 4 --aggregation none", model);
    snprintf(in, sizeof in, "< %s/input.txt", tmp);
    expect_same_output(args, in, NULL, 2);
    snprintf(args, sizeof args, "predict --model %s --threads 1 --conll --aggregation first %s/input.conll", model, tmp);
    expect_same_output(args, "", NULL, 2);
    snprintf(args, sizeof args, "predict --model %s --threads 1 --jsonl --batch-size 5 %s/input.jsonl", model, tmp);
    expect_same_output(args, "", NULL, 2);
    snprintf(args, sizeof args, "eval --model %s --threads 1 --batch-size 5 --format json --data %s/input.conll",
             model, tmp);
    expect_same_output(args, "", NULL, 3);
    char written[600];
    snprintf(written, sizeof written, "%s/pred.conll", tmp);
    snprintf(args, sizeof args, "eval --model %s --threads 1 --label-all-tokens copy --data %s/input.conll --write-conll %s",
             model, tmp, written);
    expect_same_output(args, "", written, 2);
    /* a failure every rank meets is said once */
    char cmd[1024], o[8192];
    snprintf(cmd, sizeof cmd, MPIRUN " -np 2 %s predict --model %s/no-such-model %s/input.txt", nerc, tmp, tmp);
    int rc = run(cmd, o, sizeof o), said = 0;
    for (const char *c = o; (c = strstr(c, "nerc predict:")); c++)
        said++;
    CHECK_MSG(rc != 0 && said == 1, "missing model on 2 ranks: exit %d, %d messages: %s", rc, said, o);
    printf("  predict (text, stdin, CoNLL, JSONL) and eval (json, sub-token level, --write-conll) on 2 (and 3) "
           "ranks: byte-identical to 1 process; a missing model reported once\n");
}

static int have_mpirun(void) {
    char o[256];
    return run("mpirun --version", o, sizeof o) == 0;
}

int main(int argc, char **argv) {
    (void)argc;
    snprintf(nerc, sizeof nerc, "%s", argv[0]); /* build/tests/test_dist -> build/nerc */
    char *slash = strrchr(nerc, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(nerc, '/');
    snprintf(slash ? slash + 1 : nerc, sizeof nerc - (size_t)(slash ? slash + 1 - nerc : 0), "nerc");
    if (!nerc_dist_available()) {
        test_refuses_without_mpi();
        if (have_mpirun()) /* make test runs them in build-mpi/ */
            printf("  the mpirun checks run in the MPI build (make MPI=1: build-mpi/tests/test_dist)\n");
        else
            SKIP("the mpirun checks: Open MPI is not installed (apt-get install openmpi-bin libopenmpi-dev)");
        return test_report("test_dist");
    }
    if (!have_mpirun()) {
        SKIP("mpirun not found (apt-get install openmpi-bin)");
        return test_report("test_dist");
    }
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1); /* CI containers run as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    snprintf(tmp, sizeof tmp, "/tmp/nerc_test_dist_XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    snprintf(train_file, sizeof train_file, "%s/train.txt", tmp);
    snprintf(dev_file, sizeof dev_file, "%s/dev.txt", tmp);
    test_conll_subset(SHARED_DIR "/data/conll2003/train.txt", train_file, 20000);
    test_conll_subset(SHARED_DIR "/data/conll2003/dev.txt", dev_file, 1500);
    make_warm_model();
    test_dropout0_matches_one_process();
    test_dropout_deterministic();
    test_kill_one_rank();
    test_sharded_predict_eval();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return test_report("test_dist");
}
