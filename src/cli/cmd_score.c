/* Placeholder until the score command lands. */
#include <stdio.h>
#include "cli/cli.h"

int cmd_score(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "nerc score: not built yet\n");
    return 2;
}
