/* nerc: the command-line front end — dispatches to src/cli/cmd_<name>.c.
 * Compiled for plain x86-64 (Makefile BASELINE_SRC): on a CPU without AVX2
 * it says so before any AVX2 code runs. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"init", cmd_init, "write a randomly initialised model (HF directory) from a config.json"},
    {"forward", cmd_forward, "run a stored batch; dump logits, loss and gradients (parity checks)"},
    {"train", cmd_train, "fine-tune on CoNLL/JSONL data (Hugging Face Trainer semantics)"},
    {"eval", cmd_eval, "evaluate a model on labelled data (seqeval / conlleval reports)"},
    {"predict", cmd_predict, "predict entities in raw text, CoNLL or JSONL (HF pipeline aggregation)"},
    {"serve", cmd_serve, "serve the model over HTTP (HF Inference API JSON, dynamic batching)"},
    {"tokenize", cmd_tokenize, "WordPiece-tokenize text exactly as Hugging Face does (JSONL out)"},
    {"score", cmd_score, "score predictions against gold tags (seqeval / conlleval)"},
    {"download", cmd_download, "fetch a model from the Hugging Face hub into its cache (resumable, verified)"},
};

static void usage(FILE *out) {
    fprintf(out, "nerc — named-entity recognition in C (token classification with DistilBERT, BERT, RoBERTa, XLM-RoBERTa)\n\n"
                 "usage: nerc <command> [options]   (nerc <command> --help for details; nerc --version)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
}

/* Commands that run over the ranks of `mpirun -np N nerc ...`; the others refuse. */
static int runs_distributed(const char *name) {
    static const char *const names[] = {"train", "eval", "predict"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

/* Joins the MPI job when launched by mpirun, runs the command, leaves the job. */
static int run_command(const command *c, int argc, char **argv) {
    if (nerc_dist_init(&argc, &argv) != NERC_OK)
        return cli_fail(c->name);
    int rc;
    if (nerc_dist_size() > 1 && !runs_distributed(c->name)) {
        if (nerc_dist_rank() == 0)
            fprintf(stderr, "nerc %s: runs on one process; start it without mpirun (train, eval and predict run "
                            "over MPI ranks)\n", c->name);
        rc = 2;
    } else {
        rc = c->fn(argc - 1, argv + 1);
    }
    nerc_dist_finalize();
    return rc;
}

int main(int argc, char **argv) {
    if (!nerc_cpu_supported()) {
        fprintf(stderr, "nerc: this build needs an x86-64 CPU with AVX2 and FMA (x86-64-v3); this one has not:\n%s\n",
                nerc_cpu_info());
        return 2;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("%s\n%s\n", nerc_version_string(), nerc_cpu_info());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return run_command(&commands[i], argc, argv);
    fprintf(stderr, "nerc: unknown command '%s' (commands:", argv[1]);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, "; see nerc --help)\n");
    return 2;
}
