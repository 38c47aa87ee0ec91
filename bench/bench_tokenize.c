/* Benchmark: tokenize the CoNLL-2003 train split word by word (is_split_into_words) with each
 * family's tokenizer and report words/s. usage: bench_tokenize [MODEL_DIR [CONLL_FILE]] (run from
 * the repo root; without MODEL_DIR: DistilBERT's WordPiece, RoBERTa's byte-level BPE, XLM-R's
 * Unigram from ../shared). Prints the CPU model; best of 3 runs. */
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

/* The first column of every non-blank, non -DOCSTART- line, as (offset, length) pairs. */
static size_t collect_words(char *data, size_t len, size_t **words) {
    size_t n = 0, cap = 1 << 16;
    *words = malloc(2 * cap * sizeof **words);
    for (size_t pos = 0; *words && pos < len;) {
        char *eol = memchr(data + pos, '\n', len - pos);
        size_t end = eol ? (size_t)(eol - data) : len, wl = strcspn(data + pos, " \t\r\n");
        if (wl > end - pos)
            wl = end - pos;
        if (wl > 0 && strncmp(data + pos, "-DOCSTART-", 10)) {
            if (n == cap) {
                size_t *nw = realloc(*words, 4 * cap * sizeof *nw);
                if (!nw)
                    break;
                *words = nw;
                cap *= 2;
            }
            (*words)[2 * n] = pos, (*words)[2 * n + 1] = wl;
            n++;
        }
        pos = end + 1;
    }
    return n;
}

static int run(const char *model, const char *data, const size_t *words, size_t n) {
    nerc_tokenizer *tok = NULL;
    if (nerc_tokenizer_load(&tok, model) != NERC_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", nerc_last_error());
        return 1;
    }
    int32_t ids[256], got;
    long pieces = 0;
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_seconds();
        pieces = 0;
        for (size_t i = 0; i < n; i++) {
            if (nerc_tokenizer_encode_word(tok, data + words[2 * i], words[2 * i + 1], ids, 256, &got) != NERC_OK) {
                fprintf(stderr, "bench_tokenize: %s\n", nerc_last_error());
                nerc_tokenizer_free(tok);
                return 1;
            }
            pieces += got;
        }
        double dt = now_seconds() - t0;
        best = dt < best ? dt : best;
    }
    printf("bench_tokenize: %-9s %zu words -> %ld pieces in %.3f s: %.2f M words/s (%s)\n",
           nerc_tokenizer_model_name(nerc_tokenizer_model_type(tok)), n, pieces, best, (double)n / best / 1e6, model);
    nerc_tokenizer_free(tok);
    return 0;
}

static void print_cpu(void) {
    char *info = NULL;
    size_t len = 0;
    if (fs_read_file("/proc/cpuinfo", 1 << 20, &info, &len) == NERC_OK) {
        char *name = strstr(info, "model name");
        char *colon = name ? strchr(name, ':') : NULL;
        if (colon)
            printf("CPU: %.*s\n", (int)strcspn(colon + 2, "\n"), colon + 2);
    }
    free(info);
}

int main(int argc, char **argv) {
    static const char *const models[] = {"../shared/models/distilbert-base-uncased",
                                         "../shared/fixtures/family/roberta_tiny",
                                         "../shared/fixtures/family/xlmr_tiny"};
    const char *path = argc > 2 ? argv[2] : "../shared/data/conll2003/train.txt";
    char *data = NULL;
    size_t len = 0, *words = NULL;
    if (fs_read_file(path, 0, &data, &len) != NERC_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", nerc_last_error());
        return 1;
    }
    size_t n = collect_words(data, len, &words);
    print_cpu();
    int rc = 0;
    if (argc > 1)
        rc = run(argv[1], data, words, n);
    else
        for (int i = 0; i < 3 && rc == 0; i++)
            rc = run(models[i], data, words, n);
    free(words);
    free(data);
    return rc;
}
