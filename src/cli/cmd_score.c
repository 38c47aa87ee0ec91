/* nerc score: seqeval / conlleval evaluation of predicted tags against gold tags. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc/metrics.h"

static const char score_synopsis[] =
    "FILE [PRED_FILE] [--strict] [--scheme S] [--format F] [--split NAME] [--level L]\n\n"
    "Entity-level precision / recall / F1 per type, micro / macro / weighted averages and\n"
    "token accuracy, exactly as seqeval (default or strict mode) or conlleval.pl.\n"
    "  FILE             conlleval input: 'word ... gold predicted' per line, whitespace\n"
    "                   separated, a blank line between sentences, -DOCSTART- lines skipped\n"
    "  FILE PRED_FILE   a gold and a predicted CoNLL file (tag = last column), aligned by line\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error or bad input.";

/* What the command line asks for, after checking. */
typedef struct {
    const char *gold_path, *pred_path; /* pred_path NULL: gold_path is a 3-column file */
    nerc_eval_mode mode;
    nerc_scheme scheme;
    nerc_report_format format;
    const char *split;
    nerc_level level;
    int32_t digits;
} score_params;

/* Parses argv into p; returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, score_params *p) {
    const char *scheme = NULL, *format = "text", *level = "word";
    int strict = 0;
    p->split = "unnamed";
    p->digits = 4;
    p->scheme = NERC_SCHEME_IOB2;
    cli_opt opts[] = {
        {.name = "strict", .kind = OPT_FLAG, .value = &strict, .help = "seqeval mode=\"strict\": only well-formed chunks count (default: off)"},
        {.name = "scheme", .kind = OPT_CHOICE, .value = &scheme, .help = "IOB2 IOB1 IOE1 IOE2 IOBES BILOU; implies --strict (default: IOB2)", .parse = cli_choice_scheme, .target = &p->scheme},
        {.name = "format", .kind = OPT_CHOICE, .value = &format, .help = "text (seqeval table), json (HF evaluate keys) or conlleval (conlleval.pl byte for byte;\n"
         "                           without --strict it uses conlleval's own chunk rules)", .parse = cli_choice_report_format, .target = &p->format},
        {.name = "split", .kind = OPT_STRING, .value = &p->split, .help = "split name in the report header"},
        {.name = "level", .kind = OPT_CHOICE, .value = &level, .help = "word or sub-token, printed in the header", .parse = cli_choice_level, .target = &p->level},
        {.name = "digits", .kind = OPT_INT32, .value = &p->digits, .help = "decimals of the text table", .max = 17},
        CLI_END,
    };
    const char *pos[2];
    int n_pos = 0;
    int rc = cli_parse("score", score_synopsis, opts, argc, argv, pos, 2, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (n_pos == 0) {
        fprintf(stderr, "nerc score: missing FILE (see nerc score --help)\n");
        return 2;
    }
    p->gold_path = pos[0];
    p->pred_path = n_pos > 1 ? pos[1] : NULL;
    if (!*p->split) {
        fprintf(stderr, "nerc score: --split wants a non-empty name\n");
        return 2;
    }
    if (strict || scheme)
        p->mode = NERC_EVAL_MODE_STRICT;
    else
        p->mode = p->format == NERC_REPORT_FORMAT_CONLLEVAL ? NERC_EVAL_MODE_CONLLEVAL : NERC_EVAL_MODE_DEFAULT;
    return -1;
}

int cmd_score(int argc, char **argv) {
    score_params p;
    int rc = parse_args(argc, argv, &p);
    if (rc >= 0)
        return rc;
    nerc_scorer *sc = NULL;
    nerc_report rep = {0};
    nerc_status st = nerc_scorer_init(&sc);
    if (st == NERC_OK)
        st = p.pred_path ? nerc_score_read_pair(sc, p.gold_path, p.pred_path)
                         : nerc_score_read_file(sc, p.gold_path);
    if (st == NERC_OK)
        st = nerc_scorer_report(sc, p.mode, p.scheme, &rep);
    if (st == NERC_OK)
        st = nerc_report_write(stdout, &rep, p.format, p.split, p.level, p.digits);
    rc = 0;
    if (st == NERC_OK && fflush(stdout) != 0) {
        fprintf(stderr, "nerc score: writing to stdout failed\n");
        rc = 1;
    } else if (st != NERC_OK) {
        rc = cli_fail("score");
    }
    nerc_report_free(&rep);
    nerc_scorer_free(sc);
    return rc;
}
