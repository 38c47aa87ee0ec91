/* nerc eval: score a model on a labelled CoNLL/JSONL file (word level by
 * default; sub-token level with --label-all-tokens), as text, JSON or
 * conlleval output; optionally write "word gold pred" for conlleval.pl. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc.h"

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *format = "text", *scheme = "IOB2", *write_conll = NULL,
               *split = "validation", *label_all = "none", *precision = "fp32";
    int strict = 0;
    int32_t threads = 0;
    nerc_report_format fmt = NERC_REPORT_FORMAT_TEXT;
    nerc_eval_file_params p = nerc_eval_file_default_params();
    cli_opt opts[] = {
        {.name = "model", .kind = OPT_STRING, .value = &model, .help = "HF model directory (fine-tuned) or hub id ORG/NAME in the HF cache", .required = 1},
        {.name = "data", .kind = OPT_STRING, .value = &data, .help = "labelled data: CoNLL columns or HF JSONL (.jsonl)", .required = 1},
        {.name = "split", .kind = OPT_STRING, .value = &split, .help = "split name printed with the results"},
        {.name = "format", .kind = OPT_CHOICE, .value = &format, .help = "text | json (HF evaluate keys) | conlleval (conlleval.pl's output)", .parse = cli_choice_report_format, .target = &fmt},
        {.name = "strict", .kind = OPT_FLAG, .value = &strict, .help = "seqeval strict mode (only well-formed chunks count)"},
        {.name = "scheme", .kind = OPT_CHOICE, .value = &scheme, .help = "scheme for --strict: IOB2 IOB1 IOE1 IOE2 IOBES BILOU", .parse = cli_choice_scheme, .target = &p.eval.scheme},
        {.name = "label-all-tokens", .kind = OPT_CHOICE, .value = &label_all, .help = "none | copy | b-to-i: also report the sub-token level", .parse = cli_choice_label_mode, .target = &p.label_mode},
        {.name = "write-conll", .kind = OPT_STRING, .value = &write_conll, .help = "write 'word gold pred' lines to this file"},
        {.name = "batch-size", .kind = OPT_INT32, .value = &p.eval.batch_size, .help = "sequences per forward pass", .min = 1, .max = 65536},
        {.name = "max-length", .kind = OPT_INT32, .value = &p.max_length, .help = "sub-tokens per window incl. [CLS]/[SEP]", .min = 3, .max = 1 << 20},
        {.name = "stride", .kind = OPT_INT32, .value = &p.stride, .help = "overlap of windows over longer sentences", .max = 1 << 20},
        {.name = "precision", .kind = OPT_CHOICE, .value = &precision, .help = "fp32 (exact) | bf16 (AVX512_BF16 or AMX-BF16: ~0.3% logit error) | int8 (dynamic quantization)", .parse = cli_choice_precision, .target = &p.eval.precision},
        {.name = "threads", .kind = OPT_INT32, .value = &threads, .help = "threads (0 = OMP_NUM_THREADS or all cores)", .max = 4096},
        CLI_END,
    };
    const char *syn = "--model DIR --data FILE [--format text|json|conlleval] [--strict --scheme IOB2]\n\n"
                      "Entity-level precision / recall / F1 (seqeval) and token accuracy, at word level\n"
                      "(one prediction per word, from its first sub-token).";
    int n_pos = 0, rc = cli_parse("eval", syn, opts, argc, argv, NULL, 0, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    p.eval.mode = strict                               ? NERC_EVAL_MODE_STRICT
                  : fmt == NERC_REPORT_FORMAT_CONLLEVAL ? NERC_EVAL_MODE_CONLLEVAL
                                                       : NERC_EVAL_MODE_DEFAULT;
    p.eval.subtoken_level = p.label_mode != NERC_LABEL_MODE_FIRST_PIECE;
    nerc_set_threads(threads);
    nerc_model *m = NULL;
    if (nerc_dist_agree(nerc_model_load(&m, model, NULL, 0, 0)) != NERC_OK) {
        nerc_model_free(m);
        return cli_fail("eval");
    }
    nerc_eval_result r;
    nerc_dataset *ds = NULL;
    if (nerc_evaluate_file(m, data, &p, &r, &ds) != NERC_OK) {
        nerc_model_free(m);
        return cli_fail("eval");
    }
    if (nerc_dist_rank() != 0) { /* every rank has the results; rank 0 writes them */
        nerc_eval_result_free(&r);
        nerc_dataset_free(ds);
        nerc_model_free(m);
        return 0;
    }
    nerc_status st = nerc_report_write(stdout, &r.word, fmt, split, NERC_LEVEL_WORD, 4);
    if (st == NERC_OK && r.has_subtoken && fmt != NERC_REPORT_FORMAT_CONLLEVAL)
        st = nerc_report_write(stdout, &r.subtoken, fmt, split, NERC_LEVEL_SUBTOKEN, 4);
    if (st == NERC_OK && write_conll)
        st = nerc_dataset_write_conll(ds, r.word_pred, write_conll);
    rc = st == NERC_OK ? 0 : cli_fail("eval");
    nerc_eval_result_free(&r);
    nerc_dataset_free(ds);
    nerc_model_free(m);
    return rc;
}
