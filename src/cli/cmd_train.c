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
    if (ev->kind == NERC_EVENT_STEP) {
        print_step(pg, ev);
        return;
    }
    if (pg->tty)
        fprintf(stderr, "\r\033[K");
    if (ev->kind == NERC_EVENT_EVAL)
        print_eval(ev);
    else
        fprintf(stderr, "%s\n", ev->message);
}

static int parse_label_mode(const char *s, nerc_label_mode *m) {
    if (!strcmp(s, "none") || !strcmp(s, "first"))
        *m = NERC_LABEL_FIRST_PIECE;
    else if (!strcmp(s, "copy"))
        *m = NERC_LABEL_ALL_COPY;
    else if (!strcmp(s, "b-to-i"))
        *m = NERC_LABEL_ALL_B_TO_I;
    else
        return 0;
    return 1;
}

typedef struct {
    const char *recipe, *label_all, *eval_every, *scheme;
    int strict;
    int64_t batch_size, grad_accum, max_length, stride, patience, save_total_limit, threads, seed, max_steps,
        warmup_steps;
} train_flags;

static int apply_flags(nerc_train_params *p, const train_flags *f) {
    if (f->recipe && !strcmp(f->recipe, "hf-notebook")) {
        p->label_mode = NERC_LABEL_ALL_COPY; /* the notebook's label_all_tokens=True */
        p->weight_decay = 0.01;
    } else if (f->recipe) {
        fprintf(stderr, "nerc train: unknown --recipe '%s' (known: hf-notebook)\n", f->recipe);
        return 2;
    }
    if (f->label_all && !parse_label_mode(f->label_all, &p->label_mode)) {
        fprintf(stderr, "nerc train: --label-all-tokens must be none, copy or b-to-i\n");
        return 2;
    }
    if (f->eval_every && strcmp(f->eval_every, "epoch") != 0) {
        char *end;
        long long n = strtoll(f->eval_every, &end, 10);
        if (*end || n <= 0) {
            fprintf(stderr, "nerc train: --eval-every takes a positive step count or 'epoch'\n");
            return 2;
        }
        p->eval_every = n;
    }
    if (f->strict) {
        p->eval_mode = NERC_EVAL_STRICT;
        if (nerc_scheme_parse(f->scheme, &p->eval_scheme) != NERC_OK) {
            fprintf(stderr, "nerc train: unknown --scheme '%s'\n", f->scheme);
            return 2;
        }
    }
    p->batch_size = (int32_t)f->batch_size;
    p->grad_accum = (int32_t)f->grad_accum;
    p->max_length = (int32_t)f->max_length;
    p->stride = (int32_t)f->stride;
    p->patience = (int32_t)f->patience;
    p->save_total_limit = (int32_t)f->save_total_limit;
    p->threads = (int32_t)f->threads;
    p->seed = (uint64_t)f->seed;
    p->max_steps = f->max_steps;
    p->warmup_steps = f->warmup_steps;
    return 0;
}

static const char *synopsis =
    "--model DIR --train FILE --validation FILE [--test FILE] --out DIR [options]\n\n"
    "Fine-tunes DistilBERT for token classification with Hugging Face Trainer semantics\n"
    "(AdamW, linear decay, gradient clipping), evaluates on the validation split after\n"
    "every epoch (word-level seqeval), keeps the best model in OUT and checkpoints in\n"
    "OUT/checkpoint-<step>. Ctrl-C saves a checkpoint; --resume continues from it.\n"
    "Files: CoNLL columns (word first, tag last) or HF JSONL (.jsonl).\n"
    "Defaults are the tutorial's: lr 2e-5, batch 16, seed 42, 3 epochs.";

int cmd_train(int argc, char **argv) {
    nerc_train_params p = nerc_train_default_params();
    train_flags f = {NULL, NULL, "epoch", "IOB2", 0, p.batch_size, p.grad_accum, p.max_length, p.stride, 0, 0, 0,
                     (int64_t)p.seed, 0, 0};
    int init_random = 0, resume = 0;
    const char *labels = NULL;
    cli_opt opts[] = {
        {"model", OPT_STRING, &p.model, "HF model directory to start from (e.g. models/distilbert-base-uncased)"},
        {"init-random", OPT_FLAG, &init_random, "random init from --model's config.json instead of its weights"},
        {"train", OPT_STRING, &p.train, "training data"},
        {"validation", OPT_STRING, &p.validation, "validation data (evaluated every epoch)"},
        {"test", OPT_STRING, &p.test, "test data (evaluated once with the best model)"},
        {"out", OPT_STRING, &p.out, "output directory"},
        {"labels", OPT_STRING, &labels, "comma-separated labels in id order (default: from the training file)"},
        {"recipe", OPT_STRING, &f.recipe, "hf-notebook: label_all_tokens copy + weight decay 0.01 + sub-token metric"},
        {"lr", OPT_FLOAT, &p.lr, "peak learning rate"},
        {"batch-size", OPT_INT, &f.batch_size, "sequences per batch"},
        {"epochs", OPT_FLOAT, &p.epochs, "training epochs"},
        {"max-steps", OPT_INT, &f.max_steps, "stop after N optimizer steps (overrides --epochs; 0 = off)"},
        {"warmup-ratio", OPT_FLOAT, &p.warmup_ratio, "linear warmup over this fraction of the steps"},
        {"warmup-steps", OPT_INT, &f.warmup_steps, "linear warmup steps (overrides --warmup-ratio)"},
        {"weight-decay", OPT_FLOAT, &p.weight_decay, "AdamW decoupled weight decay (not on biases/LayerNorm)"},
        {"max-grad-norm", OPT_FLOAT, &p.max_grad_norm, "global gradient-norm clipping (0 = off)"},
        {"grad-accum", OPT_INT, &f.grad_accum, "gradient accumulation steps"},
        {"max-length", OPT_INT, &f.max_length, "sub-tokens per sequence incl. [CLS]/[SEP]"},
        {"stride", OPT_INT, &f.stride, "overlap (sub-tokens) of the windows over longer sentences"},
        {"label-all-tokens", OPT_STRING, &f.label_all, "none | copy (HF notebook) | b-to-i (run_ner) (default: none)"},
        {"dropout", OPT_FLOAT, &p.dropout, "override config.json dropout (< 0 keeps it)"},
        {"eval-every", OPT_STRING, &f.eval_every, "evaluate every N steps, or 'epoch'"},
        {"patience", OPT_INT, &f.patience, "early stopping after N evaluations without a better F1 (0 = off)"},
        {"save-total-limit", OPT_INT, &f.save_total_limit, "keep at most N checkpoints (0 = all; best kept)"},
        {"strict", OPT_FLAG, &f.strict, "score entities in seqeval strict mode"},
        {"scheme", OPT_STRING, &f.scheme, "tagging scheme for --strict: IOB2 IOB1 IOE1 IOE2 IOBES BILOU"},
        {"seed", OPT_INT, &f.seed, "seed of init, shuffling and dropout"},
        {"threads", OPT_INT, &f.threads, "threads (0 = OMP_NUM_THREADS or all cores)"},
        {"resume", OPT_FLAG, &resume, "continue from the newest checkpoint in --out"},
    };
    int n_opts = (int)(sizeof opts / sizeof opts[0]), n_pos = 0;
    int rc = cli_parse("train", synopsis, opts, n_opts, argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!p.model || !p.train || !p.validation || !p.out) {
        fprintf(stderr, "nerc train: --model, --train, --validation and --out are required (see nerc train --help)\n");
        return 2;
    }
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
    p.stop = &stop_requested;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    nerc_train_result res;
    if (nerc_train(&p, &res) != NERC_OK) {
        int no_weights = strstr(nerc_last_error(), "model.safetensors: not found") != NULL;
        cli_fail("train");
        if (no_weights && !init_random)
            fprintf(stderr, "hint: download the weights (README: Getting the pretrained weights), or add "
                            "--init-random to train this architecture from random weights\n");
        return 1;
    }
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
