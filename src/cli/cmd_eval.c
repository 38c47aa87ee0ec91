/* nerc eval: score a model on a labelled CoNLL/JSONL file (word level by
 * default; sub-token level with --label-all-tokens), as text, JSON or
 * conlleval output; optionally write "word gold pred" for conlleval.pl. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"

static int print_report(const nerc_report *rep, const char *format, const char *split, nerc_level level) {
    nerc_status st;
    if (!strcmp(format, "json"))
        st = nerc_report_write_json(stdout, rep, split, level);
    else if (!strcmp(format, "conlleval"))
        st = nerc_report_write_conlleval(stdout, rep);
    else
        st = nerc_report_write_text(stdout, rep, split, level, 4);
    return st == NERC_OK ? 0 : cli_fail("eval");
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *format = "text", *scheme = "IOB2", *write_conll = NULL,
               *split = "validation", *label_all = "none", *precision = "fp32";
    int strict = 0;
    nerc_eval_file_params p = nerc_eval_file_default_params();
    int64_t batch = p.eval.batch_size, max_length = p.max_length, stride = p.stride, threads = 0;
    cli_opt opts[] = {
        {"model", OPT_STRING, &model, "HF model directory (fine-tuned)"},
        {"data", OPT_STRING, &data, "labelled data: CoNLL columns or HF JSONL (.jsonl)"},
        {"split", OPT_STRING, &split, "split name printed with the results"},
        {"format", OPT_STRING, &format, "text | json (HF evaluate keys) | conlleval (conlleval.pl's output)"},
        {"strict", OPT_FLAG, &strict, "seqeval strict mode (only well-formed chunks count)"},
        {"scheme", OPT_STRING, &scheme, "scheme for --strict: IOB2 IOB1 IOE1 IOE2 IOBES BILOU"},
        {"label-all-tokens", OPT_STRING, &label_all, "none | copy | b-to-i: also report the sub-token level"},
        {"write-conll", OPT_STRING, &write_conll, "write 'word gold pred' lines to this file"},
        {"batch-size", OPT_INT, &batch, "sequences per forward pass"},
        {"max-length", OPT_INT, &max_length, "sub-tokens per window incl. [CLS]/[SEP]"},
        {"stride", OPT_INT, &stride, "overlap of windows over longer sentences"},
        {"precision", OPT_STRING, &precision, "fp32 (exact) | bf16 (faster linear layers, ~0.3% logit error)"},
        {"threads", OPT_INT, &threads, "threads (0 = OMP_NUM_THREADS or all cores)"},
    };
    const char *syn = "--model DIR --data FILE [--format text|json|conlleval] [--strict --scheme IOB2]\n\n"
                      "Entity-level precision / recall / F1 (seqeval) and token accuracy, at word level\n"
                      "(one prediction per word, from its first sub-token).";
    int n_pos = 0, rc = cli_parse("eval", syn, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!model || !data) {
        fprintf(stderr, "nerc eval: --model and --data are required (see nerc eval --help)\n");
        return 2;
    }
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "conlleval")) {
        fprintf(stderr, "nerc eval: --format must be text, json or conlleval\n");
        return 2;
    }
    if (nerc_precision_parse(precision, &p.eval.precision) != NERC_OK) {
        fprintf(stderr, "nerc eval: --precision must be fp32 or bf16\n");
        return 2;
    }
    if (strict && nerc_scheme_parse(scheme, &p.eval.scheme) != NERC_OK) {
        fprintf(stderr, "nerc eval: unknown --scheme '%s'\n", scheme);
        return 2;
    }
    p.label_mode = !strcmp(label_all, "copy") ? NERC_LABEL_ALL_COPY
                   : !strcmp(label_all, "b-to-i") ? NERC_LABEL_ALL_B_TO_I
                                                  : NERC_LABEL_FIRST_PIECE;
    p.eval.mode = strict ? NERC_EVAL_STRICT : !strcmp(format, "conlleval") ? NERC_EVAL_CONLLEVAL : NERC_EVAL_DEFAULT;
    p.eval.subtoken_level = p.label_mode != NERC_LABEL_FIRST_PIECE;
    p.eval.batch_size = (int32_t)batch;
    p.max_length = (int32_t)max_length;
    p.stride = (int32_t)stride;
    nerc_set_threads((int)threads);
    nerc_model *m = NULL;
    if (nerc_model_load(&m, model, NULL, 0, 0) != NERC_OK)
        return cli_fail("eval");
    nerc_eval_result r;
    nerc_dataset *ds = NULL;
    if (nerc_evaluate_file(m, data, &p, &r, &ds) != NERC_OK) {
        nerc_model_free(m);
        return cli_fail("eval");
    }
    rc = print_report(&r.word, format, split, NERC_LEVEL_WORD);
    if (!rc && r.has_subtoken && strcmp(format, "conlleval"))
        rc = print_report(&r.subtoken, format, split, NERC_LEVEL_SUBTOKEN);
    if (!rc && write_conll && nerc_dataset_write_conll(ds, r.word_pred, write_conll) != NERC_OK)
        rc = cli_fail("eval");
    nerc_eval_result_free(&r);
    nerc_dataset_free(ds);
    nerc_model_free(m);
    return rc;
}
