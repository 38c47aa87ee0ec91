/* Report writers: a seqeval-like text table, conlleval.pl's exact output, and HF evaluate's JSON. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "nerc/metrics.h"

/* "seqeval default mode", "seqeval strict mode, IOB2 scheme" or "conlleval mode". */
static void mode_label(const nerc_report *rep, char *buf, size_t size) {
    if (rep->mode == NERC_EVAL_MODE_STRICT)
        snprintf(buf, size, "seqeval strict mode, %s scheme", nerc_scheme_name(rep->scheme));
    else if (rep->mode == NERC_EVAL_MODE_CONLLEVAL)
        snprintf(buf, size, "conlleval mode");
    else
        snprintf(buf, size, "seqeval default mode");
}

static nerc_status check_written(FILE *out) {
    if (ferror(out))
        return nerc_errorf(NERC_ERR_IO, "report: write failed");
    return NERC_OK;
}

/* One row of seqeval's StringReporter: '{:>{width}s} ' + ' {:>9.{digits}f}' * 3 + ' {:>9}'. */
static void write_row(FILE *out, const nerc_type_score *t, int width, int digits) {
    fprintf(out, "%*s  %9.*f %9.*f %9.*f %9" PRId64 "\n", width, t->name, digits, t->precision,
            digits, t->recall, digits, t->f1, t->support);
}

nerc_status nerc_report_write_text(FILE *out, const nerc_report *rep, const char *split,
                                   nerc_level level, int digits) {
    if (digits < 0 || digits > 17)
        return nerc_errorf(NERC_ERR_ARG, "report: digits must be in 0..17, got %d", digits);
    char mode[64];
    mode_label(rep, mode, sizeof mode);
    fprintf(out, "%s split, %s level, %s\n\n", split && *split ? split : "unnamed",
            nerc_level_name(level), mode);
    int width = (int)strlen("weighted avg");
    for (int i = 0; i < rep->n_types; i++) {
        size_t len = strlen(rep->types[i].name);
        if (len > (size_t)width && len < 1024)
            width = (int)len;
    }
    if (digits > width)
        width = digits;
    fprintf(out, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    for (int i = 0; i < rep->n_types; i++)
        write_row(out, &rep->types[i], width, digits);
    fputc('\n', out);
    write_row(out, &rep->micro, width, digits);
    write_row(out, &rep->macro, width, digits);
    write_row(out, &rep->weighted, width, digits);
    fprintf(out, "\ntoken accuracy: %.*f (%" PRId64 "/%" PRId64 " tokens, O included), %" PRId64
                 " sentences\n",
            digits, rep->accuracy, rep->n_correct_tokens, rep->n_tokens, rep->n_sentences);
    return check_written(out);
}

/* ---- conlleval.pl ---- */

/* 100*a/b as conlleval computes it (0.0 when b is 0). */
static double percent(int64_t a, int64_t b) { return b > 0 ? (double)(100 * a) / (double)b : 0.0; }

static double fb1(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

static void conll_type_line(FILE *out, const nerc_type_score *t) {
    double p = percent(t->correct, t->predicted), r = percent(t->correct, t->support);
    fprintf(out, "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %" PRId64 "\n", t->name, p,
            r, fb1(p, r), t->predicted);
}

nerc_status nerc_report_write_conlleval(FILE *out, const nerc_report *rep) {
    const nerc_type_score *m = &rep->micro;
    fprintf(out, "processed %" PRId64 " tokens with %" PRId64 " phrases; found: %" PRId64
                 " phrases; correct: %" PRId64 ".\n",
            rep->n_tokens, m->support, m->predicted, m->correct);
    if (rep->n_tokens > 0) {
        double p = percent(m->correct, m->predicted), r = percent(m->correct, m->support);
        fprintf(out, "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n",
                percent(rep->n_correct_tokens, rep->n_tokens), p, r, fb1(p, r));
    }
    for (int i = 0; i < rep->n_types; i++) {
        const nerc_type_score *t = &rep->types[i];
        /* conlleval's de-duplication skips nothing after a false-y type name (""),
         * so "" is listed once per table (gold, guessed) it appears in */
        int times = t->name[0] ? 1 : (t->support > 0) + (t->predicted > 0);
        for (int k = 0; k < times; k++)
            conll_type_line(out, t);
    }
    return check_written(out);
}

/* ---- JSON (Hugging Face evaluate "seqeval") ---- */

static json_t *real_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

static int set_type(json_t *root, const nerc_type_score *t) {
    json_t *o = json_object();
    if (!o)
        return -1;
    json_object_set_new(o, "precision", real_or_null(t->precision));
    json_object_set_new(o, "recall", real_or_null(t->recall));
    json_object_set_new(o, "f1", real_or_null(t->f1));
    json_object_set_new(o, "number", json_integer(t->support));
    return json_object_set_new(root, t->name, o);
}

nerc_status nerc_report_write_json(FILE *out, const nerc_report *rep, const char *split,
                                   nerc_level level) {
    json_t *root = json_object();
    if (!root)
        return nerc_errorf(NERC_ERR_NOMEM, "report: out of memory");
    for (int i = 0; i < rep->n_types; i++)
        if (set_type(root, &rep->types[i]) != 0) {
            json_decref(root);
            return nerc_errorf(NERC_ERR_ARG, "report: type name '%s' is not valid UTF-8",
                               rep->types[i].name);
        }
    char mode[64];
    mode_label(rep, mode, sizeof mode);
    json_object_set_new(root, "overall_precision", real_or_null(rep->micro.precision));
    json_object_set_new(root, "overall_recall", real_or_null(rep->micro.recall));
    json_object_set_new(root, "overall_f1", real_or_null(rep->micro.f1));
    json_object_set_new(root, "overall_accuracy", real_or_null(rep->accuracy));
    json_object_set_new(root, "split", json_string(split && *split ? split : "unnamed"));
    json_object_set_new(root, "level", json_string(nerc_level_name(level)));
    json_object_set_new(root, "mode", json_string(mode));
    int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    fputc('\n', out);
    if (rc != 0)
        return nerc_errorf(NERC_ERR_IO, "report: JSON write failed");
    return check_written(out);
}

static const char *const report_format_names[] = {"text", "json", "conlleval"};

nerc_status nerc_report_format_parse(const char *name, nerc_report_format *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, report_format_names[i])) {
            *out = (nerc_report_format)i;
            return NERC_OK;
        }
    return nerc_errorf(NERC_ERR_ARG, "unknown report format '%s' (text, json, conlleval)", name);
}

const char *nerc_report_format_name(nerc_report_format f) {
    return (unsigned)f < 3 ? report_format_names[f] : "?";
}

nerc_status nerc_report_write(FILE *out, const nerc_report *rep, nerc_report_format f, const char *split,
                              nerc_level level, int digits) {
    switch (f) {
    case NERC_REPORT_FORMAT_JSON: return nerc_report_write_json(out, rep, split, level);
    case NERC_REPORT_FORMAT_CONLLEVAL: return nerc_report_write_conlleval(out, rep);
    case NERC_REPORT_FORMAT_TEXT: break;
    }
    return nerc_report_write_text(out, rep, split, level, digits);
}
