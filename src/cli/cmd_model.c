/* nerc init / nerc forward: create a random-init checkpoint; run a stored
 * batch through a model and dump logits, loss and gradients. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"
#include "nerc/check.h"

#define CONLL_LABELS "O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC,B-MISC,I-MISC"
#define MAX_LABELS 4096

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *labels = CONLL_LABELS, *out = NULL;
    int64_t seed = 42;
    cli_opt opts[] = {
        {.name = "config", .kind = OPT_STRING, .value = &config, .help = "config.json (its directory's vocab/tokenizer files are copied)", .required = 1},
        {.name = "labels", .kind = OPT_STRING, .value = &labels, .help = "comma-separated labels in id order"},
        {.name = "seed", .kind = OPT_INT, .value = &seed, .help = "random seed for the weights"},
        {.name = "out", .kind = OPT_STRING, .value = &out, .help = "output HF model directory", .required = 1},
        CLI_END,
    };
    const char *syn = "--config CONFIG.json --out DIR [--labels L1,L2,...] [--seed N]\n\n"
                      "Writes a randomly initialised DistilBertForTokenClassification (HF _init_weights:\n"
                      "N(0, initializer_range) weights, zero biases, LayerNorm 1/0) as an HF directory.";
    int n_pos = 0;
    int rc = cli_parse("init", syn, opts, argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    char buf[65536];
    snprintf(buf, sizeof buf, "%s", labels);
    const char *items[MAX_LABELS];
    int n = cli_split_commas(buf, items, MAX_LABELS);
    nerc_model *m = NULL;
    if (nerc_model_init(&m, config, items, n, (uint64_t)seed) != NERC_OK)
        return cli_fail("init");
    nerc_status st = nerc_model_save(m, out);
    if (st == NERC_OK)
        printf("wrote %s: %lld parameters, %d labels, seed %lld\n", out, (long long)nerc_model_num_params(m), n,
               (long long)seed);
    nerc_model_free(m);
    return st == NERC_OK ? 0 : cli_fail("init");
}

int cmd_forward(int argc, char **argv) {
    const char *model = NULL, *batch = NULL, *out = NULL;
    int grad = 0;
    int32_t threads = 0;
    cli_opt opts[] = {
        {.name = "model", .kind = OPT_STRING, .value = &model, .help = "HF model directory or hub id ORG/NAME in the HF cache", .required = 1},
        {.name = "batch", .kind = OPT_STRING, .value = &batch, .help = "safetensors with input_ids, attention_mask [B, T] and optional labels", .required = 1},
        {.name = "out", .kind = OPT_STRING, .value = &out, .help = "output safetensors: logits [B, T, K], loss, grad.<param>", .required = 1},
        {.name = "grad", .kind = OPT_FLAG, .value = &grad, .help = "also write the gradient of the loss for every parameter"},
        {.name = "threads", .kind = OPT_INT32, .value = &threads, .help = "threads (0 = OMP_NUM_THREADS or all cores)", .max = 4096},
        CLI_END,
    };
    const char *syn = "--model DIR --batch CASE.safetensors --out OUT.safetensors [--grad]\n\n"
                      "Runs a batch in Hugging Face's padded layout through the model with dropout off,\n"
                      "for comparing this build with PyTorch on any checkpoint.";
    int n_pos = 0;
    int rc = cli_parse("forward", syn, opts, argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    nerc_set_threads(threads);
    if (nerc_check_forward(model, batch, out, grad) != NERC_OK)
        return cli_fail("forward");
    printf("wrote %s\n", out);
    return 0;
}
