/* nerc train: fine-tune with Hugging Face Trainer semantics; a live progress
 * bar on a terminal, plain log lines otherwise; SIGINT/SIGTERM checkpoint. */
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    if (stop_requested) { /* a second Ctrl-C: leave now */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_requested = 1;
}

typedef struct {
    int tty;
    int64_t last_line_step;
} progress;

static void fmt_time(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7)
        s = 0;
    int h = (int)(s / 3600), m = (int)(fmod(s, 3600) / 60), sec = (int)fmod(s, 60);
    snprintf(buf, n, h ? "%d:%02d:%02d" : "%d:%02d", h ? h : m, h ? m : sec, sec);
}

static void print_eval(const nerc_train_event *ev) {
    const nerc_eval_result *r = ev->eval;
    fprintf(stderr, "%s  [%s split, word level] precision %.4f  recall %.4f  F1 %.4f  accuracy %.4f  loss %.4f  (step %lld, epoch %.2f, %.1fs)\n",
            "eval", ev->split, r->word.micro.precision, r->word.micro.recall, r->word.micro.f1, r->word.accuracy,
            r->loss, (long long)ev->step, ev->epoch, r->seconds);
    if (r->has_subtoken)
        fprintf(stderr, "eval  [%s split, sub-token level] precision %.4f  recall %.4f  F1 %.4f  accuracy %.4f\n",
                ev->split, r->subtoken.micro.precision, r->subtoken.micro.recall, r->subtoken.micro.f1,
                r->subtoken.accuracy);
}

static void print_step(progress *pg, const nerc_train_event *ev) {
    char eta[32], el[32];
    fmt_time(eta, sizeof eta, ev->eta_s);
    fmt_time(el, sizeof el, ev->elapsed_s);
    if (pg->tty) {
        int width = 24, fill = ev->total_steps ? (int)(width * ev->step / ev->total_steps) : 0;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[Kepoch %.2f [%s] step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  %s elapsed, ETA %s",
                ev->epoch, bar, (long long)ev->step, (long long)ev->total_steps, ev->loss, ev->lr, ev->tokens_per_s, el,
                eta);
        fflush(stderr);
    } else if (ev->step - pg->last_line_step >= 50 || ev->step == 1 || ev->step == ev->total_steps) {
        fprintf(stderr, "step %lld/%lld  epoch %.2f  loss %.4f  lr %.3e  grad-norm %.3f  %.0f tok/s  elapsed %s  ETA %s\n",
                (long long)ev->step, (long long)ev->total_steps, ev->epoch, ev->loss, ev->lr, ev->grad_norm,
                ev->tokens_per_s, el, eta);
        pg->last_line_step = ev->step;
    }
}

static void on_event(const nerc_train_event *ev, void *user) {
    progress *pg = user;
    if (ev->kind == NERC_EVENT_KIND_STEP) {
        print_step(pg, ev);
        return;
    }
    if (pg->tty)
        fprintf(stderr, "\r\033[K");
    if (ev->kind == NERC_EVENT_KIND_EVAL)
        print_eval(ev);
    else
        fprintf(stderr, "%s\n", ev->message);
}

typedef struct {
    const char *recipe, *label_all, *eval_every, *scheme;
    nerc_label_mode label_mode; /* from --label-all-tokens, applied after the recipe */
    int strict;
    int64_t seed;
} train_flags;

static int apply_flags(nerc_train_params *p, const train_flags *f) {
    if (f->recipe && !strcmp(f->recipe, "hf-notebook")) {
        p->label_mode = NERC_LABEL_MODE_COPY; /* the notebook's label_all_tokens=True */
        p->weight_decay = 0.01;
    } else if (f->recipe) {
        fprintf(stderr, "nerc train: unknown --recipe '%s' (known: hf-notebook)\n", f->recipe);
        return 2;
    }
    if (f->label_all)
        p->label_mode = f->label_mode;
    if (f->eval_every && strcmp(f->eval_every, "epoch") != 0) {
        char *end;
        long long n = strtoll(f->eval_every, &end, 10);
        if (*end || n <= 0) {
            fprintf(stderr, "nerc train: --eval-every takes a positive step count or 'epoch'\n");
            return 2;
        }
        p->eval_every = n;
    }
    if (f->strict)
        p->eval_mode = NERC_EVAL_MODE_STRICT;
    p->seed = (uint64_t)f->seed;
    return 0;
}

static const char *synopsis =
    "--model DIR --train FILE --validation FILE [--test FILE] --out DIR [options]\n\n"
    "Fine-tunes a BERT-family encoder (DistilBERT, BERT, RoBERTa, XLM-RoBERTa: config.json's\n"
    "model_type) for token classification with Hugging Face Trainer semantics\n"
    "(AdamW, linear decay, gradient clipping), evaluates on the validation split after\n"
    "every epoch (word-level seqeval), keeps the best model in OUT and checkpoints in\n"
    "OUT/checkpoint-<step>. Ctrl-C saves a checkpoint; --resume continues from it.\n"
    "Files: CoNLL columns (word first, tag last) or HF JSONL (.jsonl).\n"
    "Defaults are the tutorial's: lr 2e-5, batch 16, seed 42, 3 epochs.";

static int should_stop(void *user) {
    (void)user;
    return stop_requested != 0;
}

int cmd_train(int argc, char **argv) {
    nerc_train_params p = nerc_train_default_params();
    train_flags f = {.eval_every = "epoch", .scheme = "IOB2", .seed = (int64_t)p.seed};
    int init_random = 0, resume = 0;
    const char *labels = NULL, *precision = "fp32";
    cli_opt opts[] = {
        {.name = "model", .kind = OPT_STRING, .value = &p.model, .help = "HF model directory or hub id to start from (e.g. distilbert-base-uncased after nerc download)", .required = 1},
        {.name = "init-random", .kind = OPT_FLAG, .value = &init_random, .help = "random init from --model's config.json instead of its weights"},
        {.name = "train", .kind = OPT_STRING, .value = &p.train, .help = "training data", .required = 1},
        {.name = "validation", .kind = OPT_STRING, .value = &p.validation, .help = "validation data (evaluated every epoch)", .required = 1},
        {.name = "test", .kind = OPT_STRING, .value = &p.test, .help = "test data (evaluated once with the best model)"},
        {.name = "out", .kind = OPT_STRING, .value = &p.out, .help = "output directory", .required = 1},
        {.name = "labels", .kind = OPT_STRING, .value = &labels, .help = "comma-separated labels in id order (default: from the training file)"},
        {.name = "recipe", .kind = OPT_STRING, .value = &f.recipe, .help = "hf-notebook: label_all_tokens copy + weight decay 0.01 + sub-token metric"},
        {.name = "lr", .kind = OPT_FLOAT, .value = &p.lr, .help = "peak learning rate"},
        {.name = "batch-size", .kind = OPT_INT32, .value = &p.batch_size, .help = "sequences per batch", .min = 1, .max = 65536},
        {.name = "epochs", .kind = OPT_FLOAT, .value = &p.epochs, .help = "training epochs"},
        {.name = "max-steps", .kind = OPT_INT, .value = &p.max_steps, .help = "stop after N optimizer steps (overrides --epochs; 0 = off)", .max = INT64_MAX},
        {.name = "warmup-ratio", .kind = OPT_FLOAT, .value = &p.warmup_ratio, .help = "linear warmup over this fraction of the steps"},
        {.name = "warmup-steps", .kind = OPT_INT, .value = &p.warmup_steps, .help = "linear warmup steps (overrides --warmup-ratio)", .max = INT64_MAX},
        {.name = "weight-decay", .kind = OPT_FLOAT, .value = &p.weight_decay, .help = "AdamW decoupled weight decay (not on biases/LayerNorm)"},
        {.name = "max-grad-norm", .kind = OPT_FLOAT, .value = &p.max_grad_norm, .help = "global gradient-norm clipping (0 = off)"},
        {.name = "grad-accum", .kind = OPT_INT32, .value = &p.grad_accum, .help = "gradient accumulation steps", .min = 1, .max = 65536},
        {.name = "max-length", .kind = OPT_INT32, .value = &p.max_length, .help = "sub-tokens per sequence incl. [CLS]/[SEP]", .min = 3, .max = 1 << 20},
        {.name = "stride", .kind = OPT_INT32, .value = &p.stride, .help = "overlap (sub-tokens) of the windows over longer sentences", .max = 1 << 20},
        {.name = "label-all-tokens", .kind = OPT_CHOICE, .value = &f.label_all, .help = "none | copy (HF notebook) | b-to-i (run_ner) (default: none)", .parse = cli_choice_label_mode, .target = &f.label_mode},
        {.name = "dropout", .kind = OPT_FLOAT, .value = &p.dropout, .help = "override config.json dropout (< 0 keeps it)"},
        {.name = "eval-every", .kind = OPT_STRING, .value = &f.eval_every, .help = "evaluate every N steps, or 'epoch'"},
        {.name = "patience", .kind = OPT_INT32, .value = &p.patience, .help = "early stopping after N evaluations without a better F1 (0 = off)", .max = INT32_MAX},
        {.name = "save-total-limit", .kind = OPT_INT32, .value = &p.save_total_limit, .help = "keep at most N checkpoints (0 = all; best kept)", .max = INT32_MAX},
        {.name = "strict", .kind = OPT_FLAG, .value = &f.strict, .help = "score entities in seqeval strict mode"},
        {.name = "scheme", .kind = OPT_CHOICE, .value = &f.scheme, .help = "tagging scheme for --strict: IOB2 IOB1 IOE1 IOE2 IOBES BILOU", .parse = cli_choice_scheme, .target = &p.eval_scheme},
        {.name = "seed", .kind = OPT_INT, .value = &f.seed, .help = "seed of init, shuffling and dropout"},
        {.name = "precision", .kind = OPT_CHOICE, .value = &precision, .help = "fp32 | bf16 (mixed precision as torch.autocast; needs AVX512_BF16 or AMX-BF16)", .parse = cli_choice_precision, .target = &p.precision},
        {.name = "threads", .kind = OPT_INT32, .value = &p.threads, .help = "threads (0 = OMP_NUM_THREADS or all cores)", .max = 4096},
        {.name = "resume", .kind = OPT_FLAG, .value = &resume, .help = "continue from the newest checkpoint in --out"},
        CLI_END,
    };
    int n_pos = 0;
    int rc = cli_parse("train", synopsis, opts, argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if ((rc = apply_flags(&p, &f)))
        return rc;
    char label_buf[65536];
    const char *label_items[4096];
    if (labels) {
        snprintf(label_buf, sizeof label_buf, "%s", labels);
        p.n_labels = cli_split_commas(label_buf, label_items, 4096);
        p.labels = label_items;
    }
    p.init_random = init_random;
    p.resume = resume;
    progress pg = {isatty(2), 0};
    p.on_event = on_event;
    p.user = &pg;
    p.should_stop = should_stop;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    nerc_train_result res;
    if (nerc_train(&p, &res) != NERC_OK) {
        int no_weights = strstr(nerc_last_error(), "model.safetensors: not found") != NULL;
        rc = cli_fail("train");
        if (no_weights && !init_random && nerc_dist_rank() == 0)
            fprintf(stderr, "hint: fetch the weights with nerc download ORG/NAME and pass --model ORG/NAME (README: "
                            "Getting the pretrained weights), or add --init-random to train this architecture from "
                            "random weights\n");
        return rc;
    }
    if (nerc_dist_rank() != 0) /* rank 0 reports for the job */
        return res.interrupted ? 130 : 0;
    if (res.interrupted) {
        fprintf(stderr, "interrupted at step %lld: checkpoint saved in %s; continue with --resume\n",
                (long long)res.steps, p.out);
        return 130;
    }
    printf("trained %lld steps in %.1fs (%.0f real tokens/s); best validation F1 (word level) %.4f at step %lld\n"
           "model: %s  results: %s/results.json  curve: %s/learning_curve.svg\n",
           (long long)res.steps, res.train_seconds, res.tokens_per_s, res.best_f1, (long long)res.best_step, p.out,
           p.out, p.out);
    return 0;
}
