/* Long-option parsing and usage printing shared by every subcommand. */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nerc.h"

/* A precision this CPU cannot run natively is a usage error too (exit 2, one line). */
nerc_status cli_choice_precision(const char *text, void *target) {
    nerc_status st = nerc_precision_parse(text, target);
    return st == NERC_OK ? nerc_precision_check(*(nerc_precision *)target) : st;
}
nerc_status cli_choice_aggregation(const char *text, void *target) { return nerc_aggregation_parse(text, target); }
nerc_status cli_choice_label_mode(const char *text, void *target) { return nerc_label_mode_parse(text, target); }
nerc_status cli_choice_scheme(const char *text, void *target) { return nerc_scheme_parse(text, target); }
nerc_status cli_choice_level(const char *text, void *target) { return nerc_level_parse(text, target); }
nerc_status cli_choice_report_format(const char *text, void *target) { return nerc_report_format_parse(text, target); }

static void print_default(const cli_opt *o) {
    switch (o->kind) {
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *v = *(const char **)o->value;
        if (v)
            printf(" (default: %s)", v);
        break;
    }
    case OPT_INT: printf(" (default: %lld)", (long long)*(int64_t *)o->value); break;
    case OPT_INT32: printf(" (default: %d)", (int)*(int32_t *)o->value); break;
    case OPT_FLOAT: printf(" (default: %g)", *(double *)o->value); break;
    case OPT_FLAG: break;
    }
}

void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts) {
    printf("usage: nerc %s %s\n\noptions:\n", cmd, synopsis);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        const char *arg = o->kind == OPT_FLAG ? "" : o->kind == OPT_STRING || o->kind == OPT_CHOICE ? " S" : " N";
        snprintf(left, sizeof left, "--%s%s", o->name, arg);
        printf("  %-24s %s%s", left, o->help, o->required ? " (required)" : "");
        if (!o->required)
            print_default(o);
        printf("\n");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

static int parse_integer(const char *cmd, const cli_opt *o, const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    int64_t lo = o->kind == OPT_INT32 ? INT32_MIN : INT64_MIN, hi = o->kind == OPT_INT32 ? INT32_MAX : INT64_MAX;
    if (o->min < o->max) {
        lo = o->min;
        hi = o->max;
    }
    if (errno || end == v || *end) {
        fprintf(stderr, "nerc %s: --%s expects an integer, got '%s'\n", cmd, o->name, v);
        return 2;
    }
    if (x < lo || x > hi) {
        fprintf(stderr, "nerc %s: --%s must be in [%lld, %lld], got %lld\n", cmd, o->name, (long long)lo,
                (long long)hi, x);
        return 2;
    }
    *out = x;
    return 0;
}

static int set_value(const char *cmd, const cli_opt *o, const char *v) {
    int64_t x = 0;
    switch (o->kind) {
    case OPT_STRING:
    case OPT_CHOICE: *(const char **)o->value = v; return 0;
    case OPT_INT:
    case OPT_INT32: {
        int rc = parse_integer(cmd, o, v, &x);
        if (!rc && o->kind == OPT_INT)
            *(int64_t *)o->value = x;
        else if (!rc)
            *(int32_t *)o->value = (int32_t)x;
        return rc;
    }
    case OPT_FLOAT: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end) {
            fprintf(stderr, "nerc %s: --%s expects a number, got '%s'\n", cmd, o->name, v);
            return 2;
        }
        *(double *)o->value = d;
        return 0;
    }
    case OPT_FLAG: *(int *)o->value = 1; return 0;
    }
    return 2;
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name, size_t len) {
    for (const cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len))
            return o;
    return NULL;
}

/* Choices are converted after parsing so that their defaults reach the target too. */
static int finish(const char *cmd, const cli_opt *opts, const unsigned char *seen) {
    for (const cli_opt *o = opts; o->name; o++) {
        if (o->required && !seen[o - opts]) {
            fprintf(stderr, "nerc %s: --%s is required (see nerc %s --help)\n", cmd, o->name, cmd);
            return 2;
        }
        const char *v = o->kind == OPT_CHOICE ? *(const char **)o->value : NULL;
        if (v && o->parse(v, o->target) != NERC_OK) {
            fprintf(stderr, "nerc %s: --%s: %s\n", cmd, o->name, nerc_last_error());
            return 2;
        }
    }
    return 0;
}

static int parse_option(const char *cmd, const cli_opt *opts, int argc, char **argv, int *i, unsigned char *seen) {
    const char *name = argv[*i] + 2, *eq = strchr(name, '=');
    const cli_opt *o = find_opt(opts, name, eq ? (size_t)(eq - name) : strlen(name));
    if (!o) {
        fprintf(stderr, "nerc %s: unknown option '%s' (see nerc %s --help)\n", cmd, argv[*i], cmd);
        return 2;
    }
    const char *v = eq ? eq + 1 : NULL;
    if (o->kind != OPT_FLAG && !v) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "nerc %s: --%s needs a value\n", cmd, o->name);
            return 2;
        }
        v = argv[++*i];
    }
    if (o->kind == OPT_FLAG && v) {
        fprintf(stderr, "nerc %s: --%s takes no value\n", cmd, o->name);
        return 2;
    }
    seen[o - opts] = 1;
    return set_value(cmd, o, v);
}

int cli_parse(const char *cmd, const char *synopsis, const cli_opt *opts, int argc, char **argv, const char **pos,
              int max_pos, int *n_pos) {
    *n_pos = 0;
    size_t n_opts = 0;
    while (opts[n_opts].name)
        n_opts++;
    unsigned char *seen = calloc(n_opts + 1, 1);
    int rc = seen ? 0 : 2;
    for (int i = 1; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_usage(cmd, synopsis, opts);
            rc = 1;
        } else if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*n_pos < max_pos) {
                pos[(*n_pos)++] = a;
                continue;
            }
            fprintf(stderr, "nerc %s: unexpected argument '%s' (see nerc %s --help)\n", cmd, a, cmd);
            rc = 2;
        } else {
            rc = parse_option(cmd, opts, argc, argv, &i, seen);
        }
    }
    if (rc == 0)
        rc = finish(cmd, opts, seen);
    free(seen);
    return rc;
}

int cli_fail(const char *cmd) {
    nerc_status st = nerc_last_status();
    int rc = st == NERC_ERR_FORMAT || st == NERC_ERR_ARG || st == NERC_ERR_UNSUPPORTED ? 2 : 1;
    if (nerc_dist_size() == 1) {
        fprintf(stderr, "nerc %s: %s\n", cmd, nerc_last_error());
    } else if (nerc_dist_failed_together()) { /* every rank has it: say it once */
        if (nerc_dist_rank() == 0)
            fprintf(stderr, "nerc %s: %s\n", cmd, nerc_last_error());
    } else { /* this rank alone: the others may wait for it in a collective */
        fprintf(stderr, "nerc %s: rank %d of %d: %s\n", cmd, nerc_dist_rank(), nerc_dist_size(), nerc_last_error());
        fflush(stderr);
        nerc_dist_abort(rc);
    }
    return rc;
}

int cli_split_commas(char *s, const char **items, int max) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        items[n++] = tok;
    return n;
}
