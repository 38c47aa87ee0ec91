/* Benchmark (not a test): the real DistilBERT size (random init from
 * ../shared/models/distilbert-base-uncased/config.json) on CoNLL-2003 train
 * batches of 16 sentences: forward, forward+backward and a full training step
 * (with clipping and AdamW) per batch in fp32 and (where the CPU has native
 * bf16) bf16 mixed precision, the time inside GEMMs and the non-GEMM share of
 * a step, real tokens/s, GFLOP/s, peak RSS, the extrapolated time of 3
 * epochs, and dev inference sentences/s at fp32 / bf16 / int8. Prints the CPU.
 *   usage: bench_model [STEPS=20] [THREADS=0 (all)] [MODE=all|train|fp32|bf16|int8|order] [CONFIG.json]
 * (MODE: only the training runs, only dev inference at one precision, or only
 * fp32 dev inference over unsorted batches in file order:
 * bench/compare.sh measures each one's peak RSS in its own process.)
 * Any other config.json of a supported family (BERT, RoBERTa, XLM-R) can be
 * given fourth, e.g. bench/configs/bert-base-uncased.json; the tokenizer is
 * distilbert-base-uncased's, so its vocabulary must hold 30,522 ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernels/gemm.h"
#include "model/encoder.h"
#include "bench.h"
#include "nerc.h"
#include "train/optim.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* The linear layers' FLOPs of a forward pass (what sgemm runs): 2*N*(4C^2 + 2CF)
 * per layer and the classifier's 2*N*C*K. */
static double linear_flops(const nerc_model *m, const nerc_batch *b) {
    const encoder_config *c = &m->cfg;
    double C = c->dim, F = c->hidden_dim, N = b->n_tokens;
    return c->n_layers * 2.0 * N * (4 * C * C + 2 * C * F) + 2.0 * N * C * c->n_labels;
}

/* Forward FLOPs of a batch: linear layers 2*N*(4C^2 + 2CF) per layer,
 * attention 4*T^2*C per sequence per layer, classifier 2*N*C*K. */
static double forward_flops(const nerc_model *m, const nerc_batch *b) {
    const encoder_config *c = &m->cfg;
    double C = c->dim, att = 0;
    for (int32_t i = 0; i < b->n_seqs; i++) {
        double T = b->seq_offsets[i + 1] - b->seq_offsets[i];
        att += 4.0 * T * T * C;
    }
    return linear_flops(m, b) + c->n_layers * att;
}

/* oneDNN's best sgemm rate on this CPU (GFLOP/s): 2048^3, best of 5, after a warm-up. */
static double sgemm_peak_gflops(void) {
    enum { S = 2048 };
    float *a = calloc((size_t)S * S, sizeof *a), *b = calloc((size_t)S * S, sizeof *b);
    float *c = calloc((size_t)S * S, sizeof *c);
    double best = 1e30;
    for (int r = 0; a && b && c && r < 6; r++) {
        double t0 = now_s();
        gemm_f32(0, 0, S, S, S, 1.0f, a, S, b, S, 0.0f, c, S);
        double dt = now_s() - t0;
        if (r > 0 && dt < best)
            best = dt;
    }
    free(a), free(b), free(c);
    return 2.0 * S * S * (double)S / best / 1e9;
}

typedef struct {
    double fwd_s, fwdbwd_s, step_s, gemm_s, att_s, flops, linear_flops, tokens;
    double flush_s; /* bringing every embedding row current after the timed steps (counted in step_s) */
    int n;
} timing;

/* The steady state of the 2nd and 3rd epochs: every word-embedding row the
 * train split uses (14,097 of 30,522 for DistilBERT's vocabulary) holds AdamW
 * moments (the rows it never uses keep m = v = 0 and cost AdamW nothing but p),
 * and the gradient table's pages are resident (the first zero_grad clears it
 * whole), not faulted in row by row as a first epoch does once. */
static void time_training(nerc_model *m, nerc_state *s, nerc_batcher *bt, const nerc_sequences *train, int steps,
                          timing *t) {
    gemm_timing_enable(1);
    adamw_state opt;
    adamw_hparams hp = adamw_defaults();
    grad_rows all_rows = grad_rows_of(s);
    if (adamw_init(&opt, m->n_params) != NERC_OK ||
        adamw_mark_live_rows(&opt, &all_rows, train->input_ids, train->n_tokens) != NERC_OK)
        exit(1);
    opt.lazy_rows = 1; /* as the trainer */
    encoder_grads_settle(s, 1);
    for (int i = -2; i < steps; i++) { /* two warm-up batches */
        nerc_data_batch db;
        double loss;
        nerc_batcher_get(bt, i + 2, &db);
        gemm_timing_reset();
        double t0 = now_s();
        adamw_rows_current(&opt, m->params_mem, db.batch.input_ids, db.batch.n_tokens);
        nerc_forward(s, &db.batch, 1, (uint64_t)i);
        double t1 = now_s();
        nerc_state_zero_grad(s);
        nerc_loss(s, &db.batch, 0.0, &loss);
        nerc_backward(s, &db.batch);
        double t2 = now_s();
        grad_rows gr = grad_rows_of(s);
        float clip = grad_clip_of_norm(grad_global_norm_state(s, &gr), 1.0); /* as the trainer (one process) */
        adamw_step_state(&opt, m, s, &gr, clip, 2e-5, &hp); /* as the trainer: bf16 copies written by AdamW */
        double t3 = now_s();
        if (i < 0)
            continue;
        t->fwd_s += t1 - t0;
        t->fwdbwd_s += t2 - t0;
        t->step_s += t3 - t0;
        t->gemm_s += gemm_timing_seconds();
        t->att_s += gemm_timing_attention_seconds();
        t->flops += forward_flops(m, &db.batch);
        t->linear_flops += 3 * linear_flops(m, &db.batch); /* forward, input and weight gradients */
        t->tokens += db.batch.n_tokens;
        t->n++;
    }
    double t0 = now_s(); /* what an evaluation or a save adds: the rows left behind */
    adamw_rows_current(&opt, m->params_mem, NULL, 0);
    t->flush_s = now_s() - t0;
    t->step_s += t->flush_s; /* every row runs every step in the end: this is part of the steps' cost */
    adamw_free(&opt);
    gemm_timing_enable(0);
}

static void print_training(const char *name, const timing *t) {
    printf("  %s training: forward %.1f ms (%.0f GFLOP/s), forward+backward %.1f ms (%.0f GFLOP/s)\n", name,
           1e3 * t->fwd_s / t->n, t->flops / t->fwd_s / 1e9, 1e3 * t->fwdbwd_s / t->n,
           3 * t->flops / t->fwdbwd_s / 1e9);
    printf("  %s training step (+clip, AdamW) %.3f s/step, %.0f real tokens/s; GEMM %.3f s/step = %.0f%%, "
           "non-GEMM share %.1f%% (attention's batched products %.1f%%, the rest %.1f%%)\n",
           name, t->step_s / t->n, t->tokens / t->step_s, t->gemm_s / t->n, 100 * t->gemm_s / t->step_s,
           100 * (1 - t->gemm_s / t->step_s), 100 * t->att_s / t->step_s,
           100 * (1 - (t->gemm_s + t->att_s) / t->step_s));
    printf("  %s training step parts: forward %.1f ms, backward %.1f ms, gradient norm + AdamW %.1f ms; "
           "outside GEMMs %.1f ms\n",
           name, 1e3 * t->fwd_s / t->n, 1e3 * (t->fwdbwd_s - t->fwd_s) / t->n, 1e3 * (t->step_s - t->fwdbwd_s) / t->n,
           1e3 * (t->step_s - t->gemm_s) / t->n);
    printf("  %s training: AdamW's embedding-row steps left to run after the timed steps (as at an evaluation or a "
           "save): %.1f ms, counted above in the step and in AdamW\n",
           name, 1e3 * t->flush_s);
}

/* What the fp32 step cannot go below on this CPU: its GEMMs at oneDNN's best
 * sgemm rate, plus the gradient norm and AdamW as measured (memory-bound).
 * bench/compare.sh divides PyTorch's step by it: the highest fp32 ratio this
 * machine allows. */
static void print_fp32_floor(const timing *t, double peak_gflops) {
    double gemm_s = t->linear_flops / t->n / (peak_gflops * 1e9), opt_s = (t->step_s - t->fwdbwd_s) / t->n;
    printf("  fp32 step floor on this CPU %.3f s: its GEMMs (%.1f GFLOP) at oneDNN's best sgemm rate here (%.0f "
           "GFLOP/s, 2048^3) %.3f s + gradient norm and AdamW as measured %.1f ms (the step is %.0f%% above it)\n",
           gemm_s + opt_s, t->linear_flops / t->n / 1e9, peak_gflops, gemm_s, 1e3 * opt_s,
           100 * (t->step_s / t->n / (gemm_s + opt_s) - 1));
}

static double time_inference(nerc_model *m, const nerc_dataset *dev, const nerc_sequences *enc, nerc_precision prec,
                             double *gemm_s) {
    nerc_state *s = NULL;
    if (nerc_eval_state_init(&s, m, enc, 64) != NERC_OK || nerc_state_set_precision(s, prec) != NERC_OK) {
        fprintf(stderr, "bench: %s\n", nerc_last_error());
        exit(1);
    }
    nerc_eval_params ep = nerc_eval_default_params();
    ep.batch_size = 64;
    nerc_eval_result r;
    gemm_timing_enable(1);
    gemm_timing_reset();
    double t0 = now_s();
    if (nerc_evaluate(s, dev, enc, &ep, &r) != NERC_OK) {
        fprintf(stderr, "bench: %s\n", nerc_last_error());
        exit(1);
    }
    double dt = now_s() - t0;
    *gemm_s = gemm_timing_seconds();
    gemm_timing_enable(0);
    nerc_eval_result_free(&r);
    nerc_state_free(s);
    return dt;
}

/* Dev inference over batches of 64 in file order (no sorting): nerc packs each
 * batch's rows, where a padding peer pays for its longest sentence. Forward
 * passes only, as the peers of compare.sh time them. */
static double time_inference_in_order(nerc_model *m, const nerc_sequences *enc) {
    nerc_batcher *b = NULL;
    nerc_state *s = NULL;
    if (nerc_batcher_init(&b, enc, 64) != NERC_OK ||
        nerc_state_init(&s, m, 64, nerc_batcher_max_rows(b), nerc_batcher_max_sq(b), 0) != NERC_OK) {
        fprintf(stderr, "bench: %s\n", nerc_last_error());
        exit(1);
    }
    double t0 = now_s();
    for (int32_t i = 0; i < nerc_batcher_n_batches(b); i++) {
        nerc_data_batch db;
        nerc_batcher_get(b, i, &db);
        if (nerc_forward(s, &db.batch, 0, 0) != NERC_OK) {
            fprintf(stderr, "bench: %s\n", nerc_last_error());
            exit(1);
        }
    }
    double dt = now_s() - t0;
    nerc_state_free(s);
    nerc_batcher_free(b);
    return dt;
}

static const char *const usage =
    "usage: bench_model [STEPS=20] [THREADS=0 (all)] [MODE=all|train|fp32|bf16|int8|order] [CONFIG.json]\n";

/* A whole decimal number in [lo, hi], or -1. */
static int parse_count(const char *s, int lo, int hi) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= lo && v <= hi ? (int)v : -1;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? parse_count(argv[1], 1, 100000) : 20;
    int threads = argc > 2 ? parse_count(argv[2], 0, 4096) : 0;
    const char *mode = argc > 3 ? argv[3] : "all";
    const char *const modes[] = {"all", "train", "fp32", "bf16", "int8", "order"};
    int mode_ok = 0;
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        mode_ok |= !strcmp(mode, modes[i]);
    if (steps < 0 || threads < 0 || !mode_ok || argc > 5) {
        fputs(usage, stderr);
        return 2;
    }
    int do_train = !strcmp(mode, "all") || !strcmp(mode, "train");
    nerc_set_threads(threads);
    nerc_model *m = NULL;
    nerc_tokenizer *tok = NULL;
    nerc_label_set labels;
    nerc_labels_init(&labels, nerc_conll2003_labels, 9);
    const char *config = argc > 4 ? argv[4] : SHARED "/models/distilbert-base-uncased/config.json";
    if (nerc_model_init(&m, config, nerc_conll2003_labels, 9, 42) ||
        nerc_tokenizer_load(&tok, SHARED "/models/distilbert-base-uncased")) {
        fprintf(stderr, "bench: %s\n", nerc_last_error());
        return 1;
    }
    nerc_dataset *train = NULL, *dev = NULL;
    nerc_sequences *enc = bench_encode_split(SHARED "/data/conll2003/train.txt", &labels, tok, &train);
    nerc_sequences *enc_dev = bench_encode_split(SHARED "/data/conll2003/dev.txt", &labels, tok, &dev);
    nerc_batcher *bt = NULL;
    nerc_state *s = NULL;
    nerc_batcher_init(&bt, enc, 16);
    nerc_batcher_shuffle(bt, 42, 0);
    if (do_train && nerc_state_init(&s, m, 16, nerc_batcher_max_rows(bt), nerc_batcher_max_sq(bt), 1) != NERC_OK) {
        fprintf(stderr, "bench: %s\n", nerc_last_error());
        return 1;
    }
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("%s\n", nerc_cpu_info());
    printf("nerc bench_model: %s, %s, %lld params, %d threads, %d random CoNLL train batches of 16; "
           "load average %.2f at start\n",
           config, nerc_model_type(m), (long long)m->n_params, nerc_get_threads(), steps, load[0]);
    timing t = {0}, tb = {0};
    if (do_train) {
        time_training(m, s, bt, enc, steps, &t);
        double rss_train = peak_rss_mb();
        int64_t steps_3ep = 3LL * nerc_batcher_n_batches(bt);
        printf("  real tokens per batch (avg)     %.0f\n", t.tokens / t.n);
        print_training("fp32", &t);
        print_fp32_floor(&t, sgemm_peak_gflops());
        printf("  3 epochs (%lld steps) extrapolated, fp32  %.1f min\n", (long long)steps_3ep,
               steps_3ep * t.step_s / t.n / 60);
        printf("  peak RSS during fp32 training   %.0f MB\n", rss_train);
        if (nerc_state_set_precision(s, NERC_PRECISION_BF16) == NERC_OK) {
            time_training(m, s, bt, enc, steps, &tb);
            print_training("bf16", &tb);
            printf("  bf16 / fp32 training step speed  %.2fx\n", t.step_s / tb.step_s);
        } else
            printf("  bf16 training: skipped (%s)\n", nerc_last_error());
    }
    const nerc_precision precs[3] = {NERC_PRECISION_FP32, NERC_PRECISION_BF16, NERC_PRECISION_INT8};
    double fp32_s = 0.0;
    for (int i = 0; i < 3; i++) {
        if (strcmp(mode, "all") && strcmp(mode, nerc_precision_name(precs[i])))
            continue;
        if (nerc_precision_check(precs[i]) != NERC_OK) {
            printf("  dev inference %s: skipped (%s)\n", nerc_precision_name(precs[i]), nerc_last_error());
            continue;
        }
        double gemm_s = 0.0, dt = time_inference(m, dev, enc_dev, precs[i], &gemm_s);
        fp32_s = i == 0 ? dt : fp32_s;
        printf("  dev inference %s (batch 64, sorted) %.1f sentences/s (%d sentences in %.1f s, GEMM %.0f%%",
               nerc_precision_name(precs[i]), dev->n_sents / dt, dev->n_sents, dt, 100 * gemm_s / dt);
        if (fp32_s > 0)
            printf("; %.2fx fp32", fp32_s / dt);
        printf(")\n");
    }
    if (!strcmp(mode, "all") || !strcmp(mode, "order")) {
        double dt = time_inference_in_order(m, enc_dev);
        printf("  dev inference fp32 in file order (batch 64, unsorted) %.1f sentences/s (%d sentences in %.1f s)\n",
               dev->n_sents / dt, dev->n_sents, dt);
    }
    printf("  peak RSS of this process        %.0f MB\n", peak_rss_mb());
    nerc_state_free(s);
    nerc_batcher_free(bt);
    nerc_sequences_free(enc);
    nerc_sequences_free(enc_dev);
    nerc_dataset_free(train);
    nerc_dataset_free(dev);
    nerc_labels_free(&labels);
    nerc_tokenizer_free(tok);
    nerc_model_free(m);
    return 0;
}
