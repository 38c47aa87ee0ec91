/* Helpers shared by the benchmark programs (public API only). */
#ifndef NERC_BENCH_H
#define NERC_BENCH_H

#include <stdio.h>
#include <stdlib.h>

#include "nerc.h"

#define SHARED "../shared"

/* Reads and encodes a CoNLL split (first-sub-token labels); exits with the
 * library's message on failure: a benchmark has nothing to measure then. */
static inline nerc_sequences *bench_encode_split(const char *path, const nerc_label_set *labels,
                                                 const nerc_tokenizer *tok, nerc_dataset **ds) {
    nerc_sequences *enc = NULL;
    nerc_encode_params ep = nerc_encode_default_params();
    if (nerc_dataset_read_conll(ds, path, labels) != NERC_OK || nerc_encode_dataset(&enc, *ds, tok, &ep) != NERC_OK) {
        fprintf(stderr, "%s\n", nerc_last_error());
        exit(1);
    }
    return enc;
}

#endif
