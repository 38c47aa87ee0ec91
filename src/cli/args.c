/* Long-option parsing and usage printing shared by every subcommand. */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nerc.h"

static void print_default(const cli_opt *o) {
    switch (o->kind) {
    case OPT_STRING: {
        const char *v = *(const char **)o->value;
        if (v)
            printf(" (default: %s)", v);
        break;
    }
    case OPT_INT: printf(" (default: %lld)", (long long)*(int64_t *)o->value); break;
    case OPT_FLOAT: printf(" (default: %g)", *(double *)o->value); break;
    case OPT_FLAG: break;
    }
}

void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts, int n_opts) {
    printf("usage: nerc %s %s\n\noptions:\n", cmd, synopsis);
    for (int i = 0; i < n_opts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", opts[i].name,
                 opts[i].kind == OPT_FLAG ? "" : opts[i].kind == OPT_STRING ? " S" : " N");
        printf("  %-24s %s", left, opts[i].help);
        print_default(&opts[i]);
        printf("\n");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

static int set_value(const char *cmd, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_STRING: *(const char **)o->value = v; return 0;
    case OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            fprintf(stderr, "nerc %s: --%s expects an integer, got '%s'\n", cmd, o->name, v);
            return 2;
        }
        *(int64_t *)o->value = x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end) {
            fprintf(stderr, "nerc %s: --%s expects a number, got '%s'\n", cmd, o->name, v);
            return 2;
        }
        *(double *)o->value = x;
        return 0;
    }
    case OPT_FLAG: *(int *)o->value = 1; return 0;
    }
    return 2;
}

static const cli_opt *find_opt(const cli_opt *opts, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

int cli_parse(const char *cmd, const char *synopsis, const cli_opt *opts, int n_opts, int argc, char **argv,
              const char **pos, int max_pos, int *n_pos) {
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_usage(cmd, synopsis, opts, n_opts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*n_pos >= max_pos) {
                fprintf(stderr, "nerc %s: unexpected argument '%s' (see nerc %s --help)\n", cmd, a, cmd);
                return 2;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        const cli_opt *o = find_opt(opts, n_opts, name, eq ? (size_t)(eq - name) : strlen(name));
        if (!o) {
            fprintf(stderr, "nerc %s: unknown option '%s' (see nerc %s --help)\n", cmd, a, cmd);
            return 2;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (o->kind != OPT_FLAG && !v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nerc %s: --%s needs a value\n", cmd, o->name);
                return 2;
            }
            v = argv[++i];
        }
        if (o->kind == OPT_FLAG && v) {
            fprintf(stderr, "nerc %s: --%s takes no value\n", cmd, o->name);
            return 2;
        }
        int rc = set_value(cmd, o, v);
        if (rc)
            return rc;
    }
    return 0;
}

int cli_fail(const char *cmd) {
    fprintf(stderr, "nerc %s: %s\n", cmd, nerc_last_error());
    return 1;
}

int cli_split_commas(char *s, const char **items, int max) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        items[n++] = tok;
    return n;
}
