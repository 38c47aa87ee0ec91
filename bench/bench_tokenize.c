/* Benchmark: WordPiece-tokenize the CoNLL-2003 train split word by word (is_split_into_words)
 * and report words/s. usage: bench_tokenize [MODEL_DIR] [CONLL_FILE] (run from the repo root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fs.h"
#include "nerc/text.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokenizes the first column of every non-blank, non -DOCSTART- line; counts words and pieces. */
static int tokenize_file(const nerc_tokenizer *tok, char *data, long *words, long *pieces) {
    int32_t ids[256], n;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        size_t len = strcspn(line, " \t\r");
        if (len == 0 || !strncmp(line, "-DOCSTART-", 10))
            continue;
        if (nerc_tokenizer_encode_word(tok, line, len, ids, 256, &n) != NERC_OK) {
            fprintf(stderr, "bench_tokenize: %s\n", nerc_last_error());
            return 1;
        }
        (*words)++;
        *pieces += n;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "../shared/models/distilbert-base-uncased";
    const char *path = argc > 2 ? argv[2] : "../shared/data/conll2003/train.txt";
    nerc_tokenizer *tok = NULL;
    char *data = NULL;
    size_t len = 0;
    if (nerc_tokenizer_load(&tok, model) != NERC_OK || fs_read_file(path, 0, &data, &len) != NERC_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", nerc_last_error());
        nerc_tokenizer_free(tok);
        return 1;
    }
    long words = 0, pieces = 0;
    double t0 = now_seconds();
    int rc = tokenize_file(tok, data, &words, &pieces);
    double dt = now_seconds() - t0;
    if (rc == 0)
        printf("bench_tokenize: %ld words -> %ld pieces in %.3f s: %.0f words/s\n", words, pieces, dt,
               (double)words / dt);
    free(data);
    nerc_tokenizer_free(tok);
    return rc;
}
