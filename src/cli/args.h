/* Minimal long-option parsing for the CLI: --name VALUE, --name=VALUE, --flag. */
#ifndef NERC_CLI_ARGS_H
#define NERC_CLI_ARGS_H

#include <stdint.h>

typedef enum { OPT_STRING, OPT_INT, OPT_FLOAT, OPT_FLAG } opt_kind;

typedef struct {
    const char *name;  /* without the leading "--" */
    opt_kind kind;
    void *value;       /* const char **, int64_t *, double *, int * */
    const char *help;  /* one line; the default is printed from *value */
} cli_opt;

/* Parses argv[1..] (argv[0] is the command name). Positional arguments are
 * stored in pos (up to max_pos). Returns 0, or 2 after printing a usage error;
 * --help prints usage and returns 1. */
int cli_parse(const char *cmd, const char *synopsis, const cli_opt *opts, int n_opts, int argc, char **argv,
              const char **pos, int max_pos, int *n_pos);
void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts, int n_opts);
/* Prints "nerc CMD: <last library error>" and returns 1. */
int cli_fail(const char *cmd);
/* Splits "a,b,c" in place into at most max items; returns the count. */
int cli_split_commas(char *s, const char **items, int max);

#endif
