/* Long-option parsing for the CLI: --name VALUE, --name=VALUE, --flag.
 * Each command declares a table of cli_opt ended by CLI_END; cli_parse fills
 * the values, checks ranges and required options, converts choices through
 * the library's parsers, and prints usage errors itself. */
#ifndef NERC_CLI_ARGS_H
#define NERC_CLI_ARGS_H

#include <stdint.h>

#include "nerc/common.h"

typedef enum {
    OPT_STRING, /* const char ** */
    OPT_INT,    /* int64_t * */
    OPT_INT32,  /* int32_t *, within [min, max] when min < max, else the int32 range */
    OPT_FLOAT,  /* double * */
    OPT_FLAG,   /* int *, set to 1 */
    OPT_CHOICE  /* const char ** (printed as the default), converted by `parse` into `target` */
} opt_kind;

/* Converts a choice's text into *target (an enum); NERC_ERR_ARG with the valid names otherwise. */
typedef nerc_status (*opt_parse_fn)(const char *text, void *target);

typedef struct {
    const char *name;  /* without the leading "--"; NULL ends the table */
    opt_kind kind;
    void *value;
    const char *help;  /* one line; the default is printed from *value */
    int required;      /* 1: cli_parse fails when the option is absent */
    int64_t min, max;  /* OPT_INT / OPT_INT32 range when min < max */
    opt_parse_fn parse;/* OPT_CHOICE */
    void *target;      /* OPT_CHOICE */
} cli_opt;

#define CLI_END {.name = NULL}

/* Adapters from the library's name parsers to opt_parse_fn. */
nerc_status cli_choice_precision(const char *text, void *target);
nerc_status cli_choice_aggregation(const char *text, void *target);
nerc_status cli_choice_label_mode(const char *text, void *target);
nerc_status cli_choice_scheme(const char *text, void *target);
nerc_status cli_choice_level(const char *text, void *target);
nerc_status cli_choice_report_format(const char *text, void *target);

/* Parses argv[1..] (argv[0] is the command name). Positional arguments are
 * stored in pos (up to max_pos). Returns 0, or 2 after printing a usage error;
 * --help prints usage and returns 1. */
int cli_parse(const char *cmd, const char *synopsis, const cli_opt *opts, int argc, char **argv, const char **pos,
              int max_pos, int *n_pos);
void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts);
/* Prints "nerc CMD: <last library error>" and returns the exit code: 2 when
 * the input is invalid (a bad argument, a malformed or unsupported file, a
 * precision this CPU cannot run), 1 for other failures (I/O, memory, numeric). */
int cli_fail(const char *cmd);
/* Splits "a,b,c" in place into at most max items; returns the count. */
int cli_split_commas(char *s, const char **items, int max);

#endif
