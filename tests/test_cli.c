/* The nerc command line on hostile or wrong input: every case exits with a
 * non-zero status (never a crash) and prints a one-line message that names
 * the file at fault; --help of every command exits 0 and shows defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/fs.h"
#include "io/safetensors.h"
#include "nerc.h"
#include "test.h"
#include "test_conll.h"

static char nerc[512], tmp[64];

/* Runs `args` through nerc; returns the exit status (-1 on a signal), the
 * output (stdout + stderr) in out. */
static int run(const char *args, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", nerc, args);
    return test_run_capture(cmd, out, cap);
}

static void write_file(const char *name, const char *data, size_t len) {
    char *p = fs_join(tmp, name);
    CHECK_OK(fs_write_file_atomic(p, data, len));
    free(p);
}

/* `args` must fail with status `want` and one line that contains `needle`. */
static void expect_error(const char *args, int want, const char *needle) {
    char out[8192];
    int rc = run(args, out, sizeof out);
    int lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    CHECK_MSG(rc == want, "nerc %s: exit %d, expected %d; output: %s", args, rc, want, out);
    CHECK_MSG(strstr(out, needle) != NULL, "nerc %s: output lacks '%s': %s", args, needle, out);
    CHECK_MSG(lines == 1, "nerc %s: %d lines of error output: %s", args, lines, out);
}

/* `args` must fail with status `want`, its last line naming `needle` (progress lines may come first). */
static void expect_last_line(const char *args, int want, const char *needle) {
    char out[16384];
    int rc = run(args, out, sizeof out);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    const char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    CHECK_MSG(rc == want, "nerc %s: exit %d, expected %d; output: %s", args, rc, want, out);
    CHECK_MSG(strstr(last, needle) != NULL, "nerc %s: last line lacks '%s': %s", args, needle, last);
}

static void make_bad_model(const char *name, const char *config, const void *st, size_t st_len) {
    char *dir = fs_join(tmp, name), *c = fs_join(dir, "config.json"), *m = fs_join(dir, "model.safetensors");
    CHECK_OK(fs_mkdirs(dir));
    CHECK_OK(fs_write_file_atomic(c, config, strlen(config)));
    CHECK_OK(fs_write_file_atomic(m, st, st_len));
    free(dir), free(c), free(m);
}

/* nerc tokenize for each family (ids of the Rust library for "Hello, World!"); a tokenizer.json
 * with an unsupported model exits 2 with one line naming the file and the field. */
static void test_tokenize_families(void) {
    static const char *const dirs[] = {"bert_tiny", "roberta_tiny", "xlmr_tiny"};
    static const char *const want[] = {"\"input_ids\":[101,7592,1010,2088,999,102]",
                                       "\"input_ids\":[0,15500,15,2163,4,2]",
                                       "\"input_ids\":[0,123,711,60,220,575,3,2]"};
    char args[1024], out[8192];
    write_file("hello.txt", "Hello, World!\n", 14);
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "tokenize --model %s/fixtures/family/%s %s/hello.txt", SHARED_DIR, dirs[i], tmp);
        CHECK_MSG(run(args, out, sizeof out) == 0 && strstr(out, want[i]) && strstr(out, "special_tokens_mask"),
                  "nerc %s: %s", args, out);
    }
    char *dir = fs_join(tmp, "badtok");
    CHECK_OK(fs_mkdirs(dir));
    write_file("badtok/tokenizer.json", "{\"model\": {\"type\": \"WordLevel\"}}", 32);
    snprintf(args, sizeof args, "tokenize --model %s %s/hello.txt", dir, tmp);
    expect_error(args, 2, "badtok/tokenizer.json: model.type");
    free(dir);
}

/* Rewrites the optimizer state at `path` with element 3 of its first second
 * moment set to `value`; returns that tensor's name (static) or NULL. */
static const char *damage_second_moment(const char *path, float value) {
    static char name[200];
    st_file f;
    if (st_open(&f, path) != NERC_OK)
        return NULL;
    st_entry *e = calloc((size_t)f.n, sizeof *e);
    float **data = calloc((size_t)f.n, sizeof *data);
    int done = 0;
    for (int32_t i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        data[i] = malloc((size_t)t->numel * sizeof(float));
        CHECK_OK(st_read_f32(&f, t, data[i]));
        e[i] = (st_entry){t->name, ST_F32, t->ndim, {0}, data[i]};
        memcpy(e[i].shape, t->shape, sizeof e[i].shape);
        if (!done && !strncmp(t->name, "exp_avg_sq.", 11) && t->numel > 3) {
            data[i][3] = value;
            snprintf(name, sizeof name, "%s", t->name);
            done = 1;
        }
    }
    CHECK_OK(st_write(path, e, f.n, NULL));
    for (int32_t i = 0; i < f.n; i++)
        free(data[i]);
    free(data);
    free(e);
    st_close(&f);
    return done ? name : NULL;
}

/* kill -9 at an arbitrary moment (checkpoints are written every step), then
 * --resume: the result equals an uninterrupted run, byte for byte. */
static void test_kill9_resume(void) {
    char data[256], train[1024], cmd[3000], out[4096];
    snprintf(data, sizeof data, "%s/data.txt", tmp);
    test_conll_subset(SHARED_DIR "/data/conll2003/train.txt", data, 1200);
    snprintf(train, sizeof train,
             "train --model %s/fixtures/model/tiny --train %s --validation %s --max-steps 24 --eval-every 1 "
             "--batch-size 4 --lr 1e-3 --threads 1",
             SHARED_DIR, data, data);
    snprintf(cmd, sizeof cmd, "%s --out %s/whole", train, tmp);
    CHECK_MSG(run(cmd, out, sizeof out) == 0, "uninterrupted run failed: %s", out);
    const int delays_ms[3] = {150, 400, 700};
    int interrupted = 0;
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd,
                 "{ %s %s --out %s/killed%d >/dev/null 2>&1 & pid=$!; sleep %.3f; kill -9 $pid; wait $pid; } 2>/dev/null",
                 nerc, train, tmp, k, delays_ms[k] / 1000.0);
        if (system(cmd) < 0)
            CHECK(0);
        char done[512];
        snprintf(done, sizeof done, "%s/killed%d/results.json", tmp, k);
        interrupted += !fs_exists(done);
        snprintf(cmd, sizeof cmd, "%s --out %s/killed%d --resume", train, tmp, k);
        CHECK_MSG(run(cmd, out, sizeof out) == 0, "resume after kill -9 (%d ms) failed: %s", delays_ms[k], out);
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/whole/checkpoint-24/model.safetensors", tmp);
        snprintf(b, sizeof b, "%s/killed%d/checkpoint-24/model.safetensors", tmp, k);
        CHECK_MSG(test_same_file(a, b), "kill -9 after %d ms + resume: weights differ", delays_ms[k]);
        snprintf(a, sizeof a, "%s/whole/checkpoint-24/optimizer.safetensors", tmp);
        snprintf(b, sizeof b, "%s/killed%d/checkpoint-24/optimizer.safetensors", tmp, k);
        CHECK_MSG(test_same_file(a, b), "kill -9 after %d ms + resume: optimizer state differs", delays_ms[k]);
    }
    CHECK_MSG(interrupted > 0, "every run finished before its kill -9: the test proved nothing");
    /* --resume with other settings breaks the bit-identical promise: refused, naming the field */
    const char *changed[][2] = {{"--lr 2e-3", "learning_rate 0.001, this run has learning_rate 0.002"},
                                {"--warmup-steps 3", "warmup_steps 0, this run has warmup_steps 3"},
                                {"--weight-decay 0.01", "weight_decay 0, this run has weight_decay 0.01"},
                                {"--max-length 32", "max_length 512, this run has max_length 32"},
                                {"--stride 16", "stride 128, this run has stride 16"},
                                {"--dropout 0.2", "dropout 0.100000001, this run has dropout 0.200000003"}};
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s --out %s/whole --resume %s", train, tmp, changed[i][0]);
        expect_last_line(cmd, 2, changed[i][1]);
    }
    /* a trainer_state.json whose counters were edited or damaged: refused on resume, naming file and field */
    const char *hostile[][2] = {{"batch_in_epoch", "-3"}, {"global_step", "5"}, {"adam_step", "1000000"},
                                {"best_metric", "7.5"}, {"epoch_index", "-1"}};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        snprintf(cmd, sizeof cmd,
                 "rm -rf %s/hostile && cp -r %s/whole %s/hostile && sed -i -E 's/\"%s\": [-0-9.e+]+/\"%s\": %s/' "
                 "%s/hostile/checkpoint-*/trainer_state.json",
                 tmp, tmp, tmp, hostile[i][0], hostile[i][0], hostile[i][1], tmp);
        CHECK(system(cmd) == 0);
        char needle[128];
        snprintf(needle, sizeof needle, "trainer_state.json: \"%s\" is %s, outside [", hostile[i][0], hostile[i][1]);
        snprintf(cmd, sizeof cmd, "%s --out %s/hostile --resume", train, tmp);
        expect_last_line(cmd, 2, needle);
    }
    /* a second moment below zero in optimizer.safetensors: refused, naming the tensor and element */
    snprintf(cmd, sizeof cmd, "rm -rf %s/hostile && cp -r %s/whole %s/hostile", tmp, tmp, tmp);
    CHECK(system(cmd) == 0);
    char opt[600], needle[300];
    snprintf(opt, sizeof opt, "%s/hostile/checkpoint-24/optimizer.safetensors", tmp);
    const char *moment = damage_second_moment(opt, -1e-3f);
    CHECK(moment != NULL);
    snprintf(needle, sizeof needle, "optimizer.safetensors: tensor '%s' holds -0.001 at element 3 (a negative value",
             moment ? moment : "?");
    snprintf(cmd, sizeof cmd, "%s --out %s/hostile --resume", train, tmp);
    expect_last_line(cmd, 2, needle);
    printf("  kill -9 at 150/400/700 ms (%d of 3 runs cut short) + --resume: weights and optimizer identical; "
           "%zu kinds of damaged counters and a negative second moment refused\n",
           interrupted, sizeof hostile / sizeof hostile[0]);
}

int main(int argc, char **argv) {
    (void)argc;
    /* build/tests/test_cli -> build/nerc */
    snprintf(nerc, sizeof nerc, "%s", argv[0]);
    char *slash = strrchr(nerc, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(nerc, '/');
    snprintf(slash ? slash + 1 : nerc, sizeof nerc - (size_t)(slash ? slash + 1 - nerc : 0), "nerc");
    snprintf(tmp, sizeof tmp, "/tmp/nerc_test_cli_XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    const char *cfg = "{\"dim\": 8, \"n_layers\": 1, \"n_heads\": 2, \"hidden_dim\": 16, \"vocab_size\": 10, "
                      "\"max_position_embeddings\": 8, \"id2label\": {\"0\": \"O\", \"1\": \"B-X\"}}";
    char args[1024];

    make_bad_model("truncated", cfg, "\x05\x00\x00", 3);
    snprintf(args, sizeof args, "eval --model %s/truncated --data x.txt", tmp);
    expect_error(args, 2, "truncated/model.safetensors: truncated");

    make_bad_model("biglen", cfg, "\xff\xff\x00\x00\x00\x00\x00\x00{}", 10);
    snprintf(args, sizeof args, "eval --model %s/biglen --data x.txt", tmp);
    expect_error(args, 2, "larger than the file");

    const char st_bad_dtype[] = "\x3c\x00\x00\x00\x00\x00\x00\x00"
                                "{\"x\": {\"dtype\": \"Q4\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
    make_bad_model("dtype", cfg, st_bad_dtype, sizeof st_bad_dtype - 1);
    snprintf(args, sizeof args, "forward --model %s/dtype --batch b --out o", tmp);
    expect_error(args, 2, "unknown dtype 'Q4'");

    make_bad_model("badjson", "{\"dim\": 8,,}", "", 0);
    snprintf(args, sizeof args, "eval --model %s/badjson --data x.txt", tmp);
    expect_error(args, 2, "badjson/config.json:1:");

    make_bad_model("nokey", "{\"dim\": 8}", "", 0);
    snprintf(args, sizeof args, "eval --model %s/nokey --data x.txt", tmp);
    expect_error(args, 2, "missing required key");

    snprintf(args, sizeof args, "init --config %s/nokey/config.json --out %s/o", tmp, tmp);
    expect_error(args, 2, "missing required key");

    /* model families: an unsupported model_type or hidden_act, a tokenizer larger than the embeddings */
    make_bad_model("gpt2", "{\"model_type\": \"gpt2\"}", "", 0);
    snprintf(args, sizeof args, "predict --model %s/gpt2", tmp);
    expect_error(args, 2, "gpt2/config.json: model_type \"gpt2\" is not supported");
#define TINY_BERT "\"model_type\": \"bert\", \"vocab_size\": 100, \"max_position_embeddings\": 16, \"hidden_size\": 8, " \
                  "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 16"
    make_bad_model("swish", "{" TINY_BERT ", \"hidden_act\": \"swish\"}", "", 0);
    snprintf(args, sizeof args, "eval --model %s/swish --data x.txt", tmp);
    expect_error(args, 2, "swish/config.json: hidden_act \"swish\" is not supported");
    make_bad_model("small_vocab", "{" TINY_BERT "}", "", 0);
    snprintf(args, sizeof args, "cp %s/models/distilbert-base-uncased/vocab.txt %s/small_vocab/", SHARED_DIR, tmp);
    CHECK(system(args) == 0);
    snprintf(args, sizeof args, "init --config %s/small_vocab/config.json --out %s/small_vocab_model", tmp, tmp);
    char init_out[1024];
    CHECK(run(args, init_out, sizeof init_out) == 0);
    snprintf(args, sizeof args, "predict --model %s/small_vocab_model /dev/null", tmp);
    expect_error(args, 2, "the tokenizer has 30522 ids (vocabulary + added tokens) but config.json vocab_size is 100");

    /* labels that do not match the classifier size */
    snprintf(args, sizeof args, "train --model %s/fixtures/model/tiny --train %s/one_col.txt --validation x --out %s/t",
             SHARED_DIR, tmp, tmp);
    write_file("one_col.txt", "EU B-ORG\nrejects\n", 17);
    expect_error(args, 2, "one_col.txt:2:");

    write_file("score.txt", "a B-PER B-PER\nb I-PER\n", 22);
    snprintf(args, sizeof args, "score %s/score.txt", tmp);
    expect_error(args, 2, "score.txt:2");

    expect_error("train --bogus", 2, "unknown option '--bogus'");
    expect_error("frobnicate", 2, "unknown command 'frobnicate'");
    /* option scaffolding: choices go through the library's parsers, ranges and required flags are checked */
    expect_error("eval --model x --data y --label-all-tokens cpy", 2, "--label-all-tokens: unknown label mode 'cpy'");
    expect_error("train --model x --train y --validation z --out o --label-all-tokens cpy", 2,
                 "--label-all-tokens: unknown label mode 'cpy'");
    expect_error("predict --model x --aggregation frist", 2, "--aggregation: ");
    expect_error("eval --data y", 2, "--model is required");
    expect_error("train --model x --train y --out o", 2, "--validation is required");
    expect_error("eval --model x --data y --batch-size 0", 2, "--batch-size must be in [1, 65536], got 0");
    expect_error("predict --model x --batch-size 4294967297", 2, "--batch-size must be in [1, 65536]");
    expect_error("score --digits 18 f", 2, "--digits must be in [0, 17], got 18");
    expect_error("score --format xml f", 2, "--format: unknown report format 'xml'");

    const char *cmds[] = {"init", "forward", "train", "eval", "predict", "tokenize", "score"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char out[16384];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        int rc = run(args, out, sizeof out);
        CHECK_MSG(rc == 0 && strstr(out, "usage: nerc") && strstr(out, "default"), "nerc %s --help: exit %d: %s",
                  cmds[i], rc, out);
    }
    test_tokenize_families();
    test_kill9_resume();
    {
        char out2[8192];
        snprintf(args, sizeof args, "eval --model %s/fixtures/model/tiny --data %s/data.txt --precision bf16 --format json",
                 SHARED_DIR, tmp);
        if (nerc_precision_check(NERC_PRECISION_BF16) == NERC_OK)
            CHECK_MSG(run(args, out2, sizeof out2) == 0 && strstr(out2, "overall_f1"), "eval --precision bf16: %s",
                      out2);
        else {
            SKIP("nerc eval --precision bf16 (%s); checking the refusal instead", nerc_last_error());
            expect_error(args, 2, "bf16 needs AVX512_BF16 or AMX-BF16");
        }
        expect_error("eval --model x --data y --precision fp8", 2, "--precision: unknown precision 'fp8'");
        snprintf(args, sizeof args, "eval --model %s/fixtures/model/tiny --data %s/data.txt --precision int8 --format json",
                 SHARED_DIR, tmp);
        CHECK_MSG(run(args, out2, sizeof out2) == 0 && strstr(out2, "overall_f1"), "eval --precision int8: %s", out2);
    }
    /* --recipe hf-notebook turns on label_all_tokens and the sub-token-level metric */
    char out[8192];
    snprintf(args, sizeof args,
             "train --model %s/fixtures/model/tiny --train %s/data.txt --validation %s/data.txt --out %s/recipe "
             "--max-steps 2 --recipe hf-notebook",
             SHARED_DIR, tmp, tmp, tmp);
    CHECK_MSG(run(args, out, sizeof out) == 0 && strstr(out, "[validation split, sub-token level]") &&
                  strstr(out, "[validation split, word level]"),
              "hf-notebook recipe: %s", out);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return test_report("test_cli");
}
