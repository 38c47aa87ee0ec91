/* nerc score: seqeval / conlleval evaluation of predicted tags against gold tags. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "nerc/metrics.h"

typedef enum { FORMAT_TEXT, FORMAT_JSON, FORMAT_CONLLEVAL } score_format;

static const char *const format_names[] = {"text", "json", "conlleval"};

static const char score_synopsis[] =
    "FILE [PRED_FILE] [--strict] [--scheme S] [--format F] [--split NAME] [--level L]\n\n"
    "Entity-level precision / recall / F1 per type, micro / macro / weighted averages and\n"
    "token accuracy, exactly as seqeval (default or strict mode) or conlleval.pl.\n"
    "  FILE             conlleval input: 'word ... gold predicted' per line, whitespace\n"
    "                   separated, a blank line between sentences, -DOCSTART- lines skipped\n"
    "  FILE PRED_FILE   a gold and a predicted CoNLL file (tag = last column), aligned by line\n"
    "Exit status: 0 ok, 1 bad input or I/O error, 2 usage error.";

/* What the command line asks for, after checking. */
typedef struct {
    const char *gold_path, *pred_path; /* pred_path NULL: gold_path is a 3-column file */
    nerc_eval_mode mode;
    nerc_scheme scheme;
    score_format format;
    const char *split;
    nerc_level level;
    int digits;
} score_params;

static int usage_error(const char *what, const char *arg, const char *choices) {
    fprintf(stderr, "nerc score: unknown %s '%s' (%s; see nerc score --help)\n", what, arg, choices);
    return 2;
}

static int parse_format(const char *name, score_format *format) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, format_names[i])) {
            *format = (score_format)i;
            return 1;
        }
    return 0;
}

/* Parses argv into p; returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, score_params *p) {
    const char *scheme = NULL, *format = "text", *split = "unnamed", *level = "word";
    int strict = 0;
    int64_t digits = 4;
    cli_opt opts[] = {
        {"strict", OPT_FLAG, &strict, "seqeval mode=\"strict\": only well-formed chunks count (default: off)"},
        {"scheme", OPT_STRING, &scheme, "IOB2 IOB1 IOE1 IOE2 IOBES BILOU; implies --strict (default: IOB2)"},
        {"format", OPT_STRING, &format,
         "text (seqeval table), json (HF evaluate keys) or conlleval (conlleval.pl byte for byte;\n"
         "                           without --strict it uses conlleval's own chunk rules)"},
        {"split", OPT_STRING, &split, "split name in the report header"},
        {"level", OPT_STRING, &level, "word or sub-token, printed in the header"},
        {"digits", OPT_INT, &digits, "decimals of the text table, 0..17"},
    };
    const char *pos[2];
    int n_pos = 0;
    int rc = cli_parse("score", score_synopsis, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv,
                       pos, 2, &n_pos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (n_pos == 0) {
        fprintf(stderr, "nerc score: missing FILE (see nerc score --help)\n");
        return 2;
    }
    p->gold_path = pos[0];
    p->pred_path = n_pos > 1 ? pos[1] : NULL;
    p->scheme = NERC_SCHEME_IOB2;
    if (scheme && nerc_scheme_parse(scheme, &p->scheme) != NERC_OK)
        return usage_error("scheme", scheme, "IOB2 IOB1 IOE1 IOE2 IOBES BILOU");
    if (!parse_format(format, &p->format))
        return usage_error("format", format, "text json conlleval");
    if (nerc_level_parse(level, &p->level) != NERC_OK)
        return usage_error("level", level, "word sub-token");
    if (!*split) {
        fprintf(stderr, "nerc score: --split wants a non-empty name\n");
        return 2;
    }
    if (digits < 0 || digits > 17) {
        fprintf(stderr, "nerc score: --digits wants 0..17, got %lld\n", (long long)digits);
        return 2;
    }
    p->split = split;
    p->digits = (int)digits;
    if (strict || scheme)
        p->mode = NERC_EVAL_STRICT;
    else
        p->mode = p->format == FORMAT_CONLLEVAL ? NERC_EVAL_CONLLEVAL : NERC_EVAL_DEFAULT;
    return -1;
}

static nerc_status write_report(const score_params *p, const nerc_report *rep) {
    switch (p->format) {
    case FORMAT_JSON: return nerc_report_write_json(stdout, rep, p->split, p->level);
    case FORMAT_CONLLEVAL: return nerc_report_write_conlleval(stdout, rep);
    case FORMAT_TEXT: break;
    }
    return nerc_report_write_text(stdout, rep, p->split, p->level, p->digits);
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
        st = write_report(&p, &rep);
    if (st == NERC_OK && fflush(stdout) != 0) {
        fprintf(stderr, "nerc score: writing to stdout failed\n");
        st = NERC_ERR_IO;
    } else if (st != NERC_OK) {
        cli_fail("score");
    }
    nerc_report_free(&rep);
    nerc_scorer_free(sc);
    return st == NERC_OK ? 0 : 1;
}
