/* nerc predict: entities for each text line (or CoNLL / JSONL sentence) of a file, one JSON object per line. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"
#include "nerc/predict.h"

#define SCORE_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(8))

typedef struct {
    const char *model, *input, *aggregation, *tokens_key, *precision;
    int conll, jsonl;
    int32_t threads;
} predict_args;

typedef struct {
    const nerc_model *model;
    int none; /* aggregation none: HF's per-token keys */
} printer;

static nerc_status print_json(json_t *obj) {
    int rc = obj ? json_dumpf(obj, stdout, SCORE_FLAGS) : -1;
    json_decref(obj);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return NERC_ERR_IO;
    return NERC_OK;
}

/* HF's keys: entity/score/index/word/start/end with none, else entity_group as "type". */
static json_t *entity_json(const nerc_entity *e, int none, int words) {
    json_t *o = json_object();
    json_object_set_new(o, none ? "entity" : "type", json_string(e->type));
    json_object_set_new(o, "start", json_integer(e->start));
    json_object_set_new(o, "end", json_integer(e->end));
    json_object_set_new(o, none && !words ? "word" : "text", json_stringn(e->word, strlen(e->word)));
    json_object_set_new(o, "score", json_real(e->score));
    if (none && !words)
        json_object_set_new(o, "index", json_integer(e->index));
    return o;
}

static json_t *entities_json(const nerc_prediction *p, int none, int words) {
    json_t *arr = json_array();
    for (int32_t i = 0; i < p->n_entities; i++)
        json_array_append_new(arr, entity_json(&p->entities[i], none, words));
    return arr;
}

static nerc_status print_text(const char *text, size_t len, const nerc_prediction *p, void *user) {
    const printer *pr = user;
    json_t *o = json_object();
    json_object_set_new(o, "text", json_stringn(text, len));
    json_object_set_new(o, "entities", entities_json(p, pr->none, 0));
    return print_json(o);
}

static nerc_status print_words(const char *const *words, const size_t *lens, int32_t n, const nerc_prediction *p,
                               void *user) {
    const printer *pr = user;
    json_t *o = json_object(), *w = json_array(), *tags = json_array();
    for (int32_t i = 0; i < n; i++) {
        json_array_append_new(w, json_stringn(words[i], lens[i]));
        int32_t t = p->word_tags[i];
        json_array_append_new(tags, json_string(t < 0 ? "O" : nerc_model_label(pr->model, t)));
    }
    json_object_set_new(o, "words", w);
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "entities", entities_json(p, pr->none, 1));
    return print_json(o);
}

static nerc_status run(nerc_predictor *pr, const predict_args *a, FILE *in) {
    printer out = {nerc_predictor_model(pr), nerc_predictor_params(pr)->aggregation == NERC_AGGREGATION_NONE};
    const char *name = strcmp(a->input, "-") ? a->input : "<stdin>";
    if (a->conll)
        return nerc_predict_conll(pr, in, name, print_words, &out);
    if (a->jsonl)
        return nerc_predict_jsonl(pr, in, name, a->tokens_key, print_words, &out);
    return nerc_predict_lines(pr, in, name, print_text, &out);
}

static int predict_file(const predict_args *a, const nerc_predict_params *p) {
    nerc_set_threads(a->threads);
    nerc_predictor *pr = NULL;
    if (nerc_dist_agree(nerc_predictor_load(&pr, a->model, p)) != NERC_OK) {
        nerc_predictor_free(pr);
        return cli_fail("predict");
    }
    /* over MPI ranks, rank 0 reads the input and writes every result (the library shards the work) */
    FILE *in = strcmp(a->input, "-") && nerc_dist_rank() == 0 ? fopen(a->input, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "nerc predict: cannot open %s: %s\n", a->input, strerror(errno));
        nerc_predictor_free(pr);
        return 1;
    }
    nerc_status st = run(pr, a, in);
    if (in != stdin)
        fclose(in);
    nerc_predictor_free(pr);
    if (st == NERC_ERR_IO && fflush(stdout) != 0) {
        fprintf(stderr, "nerc predict: error writing the output\n");
        return 1;
    }
    return st == NERC_OK && fflush(stdout) == 0 ? 0 : cli_fail("predict");
}

int cmd_predict(int argc, char **argv) {
    nerc_predict_params p = nerc_predict_default_params();
    predict_args a = {.input = "-", .aggregation = "simple", .tokens_key = "tokens", .precision = "fp32"};
    cli_opt opts[] = {
        {.name = "model", .kind = OPT_STRING, .value = &a.model, .help = "HF model directory (config.json, model.safetensors, vocab.txt / tokenizer.json) or hub id", .required = 1},
        {.name = "aggregation", .kind = OPT_CHOICE, .value = &a.aggregation, .help = "none|simple|first|average|max (HF TokenClassificationPipeline)", .parse = cli_choice_aggregation, .target = &p.aggregation},
        {.name = "conll", .kind = OPT_FLAG, .value = &a.conll, .help = "input is CoNLL columns (word first; blank line ends a sentence) (default: off)"},
        {.name = "jsonl", .kind = OPT_FLAG, .value = &a.jsonl, .help = "input is JSON Lines with a list of words (HF Datasets style) (default: off)"},
        {.name = "tokens-key", .kind = OPT_STRING, .value = &a.tokens_key, .help = "with --jsonl: the key of the word list"},
        {.name = "max-length", .kind = OPT_INT32, .value = &p.max_length, .help = "sub-tokens per window incl. [CLS]/[SEP] (0 = min(512, model positions))", .max = INT32_MAX},
        {.name = "stride", .kind = OPT_INT32, .value = &p.stride, .help = "sub-tokens shared by consecutive windows (-1 = min(128, (max-length - 2) / 2))", .min = -1, .max = INT32_MAX},
        {.name = "batch-size", .kind = OPT_INT32, .value = &p.batch_size, .help = "windows per forward pass; lines / sentences per batch", .min = 1, .max = 65536},
        {.name = "precision", .kind = OPT_CHOICE, .value = &a.precision, .help = "fp32 (exact) | bf16 (AVX512_BF16 or AMX-BF16: ~0.3% logit error) | int8 (dynamic quantization)", .parse = cli_choice_precision, .target = &p.precision},
        {.name = "threads", .kind = OPT_INT32, .value = &a.threads, .help = "threads (0 = OMP_NUM_THREADS or all cores)", .max = 4096},
        CLI_END,
    };
    const char *syn =
        "--model DIR [FILE|-] [--aggregation S] [--conll | --jsonl] [--max-length N] [--stride N]\n"
        "       [--batch-size N] [--threads N]\n\n"
        "Predicts entities. Raw text (default): one document per line of FILE (default: - = stdin), printed as\n"
        "{\"text\", \"entities\": [{\"type\", \"start\", \"end\", \"text\", \"score\"}]} with code-point offsets; with\n"
        "--aggregation none one entry per sub-token {\"entity\", \"start\", \"end\", \"word\", \"score\", \"index\"}.\n"
        "--conll / --jsonl: pre-tokenized sentences, printed as {\"words\", \"tags\", \"entities\"} with word\n"
        "indices (end exclusive). Long inputs run through overlapping windows; nothing is truncated.";
    const char *pos[1];
    int n_pos = 0;
    int rc = cli_parse("predict", syn, opts, argc, argv, pos, 1, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (n_pos == 1)
        a.input = pos[0];
    if (a.conll && a.jsonl) {
        fprintf(stderr, "nerc predict: --conll and --jsonl exclude each other\n");
        return 2;
    }
    return predict_file(&a, &p);
}
