/* libFuzzer target: CoNLL parsing from memory, then encoding with windows and batching the result. */
#include "nerc/data.h"

#include <stdlib.h>

/* Encodes with len(word) % 4 pieces per word and tiny windows, then walks every batch. */
static void exercise(const nerc_dataset *ds) {
    int32_t *offsets = malloc(((size_t)ds->n_words + 1) * sizeof *offsets);
    int32_t *pieces = malloc(((size_t)ds->n_words * 3 + 1) * sizeof *pieces);
    if (!offsets || !pieces)
        goto done;
    offsets[0] = 0;
    for (int32_t w = 0; w < ds->n_words; w++) {
        int32_t n = (int32_t)(nerc_dataset_word_len(ds, w) % 4);
        for (int32_t k = 0; k < n; k++)
            pieces[offsets[w] + k] = 1000 + k;
        offsets[w + 1] = offsets[w] + n;
    }
    nerc_encode_params p = {7, 2, (nerc_label_mode)(ds->n_words % 3)};
    nerc_sequences *e = NULL;
    if (nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &p) == NERC_OK) {
        nerc_batcher *b = NULL;
        if (nerc_batcher_init(&b, e, 3) == NERC_OK) {
            nerc_batcher_shuffle(b, 1, 2);
            nerc_data_batch db;
            nerc_padded_batch pb;
            for (int32_t i = 0; i < nerc_batcher_n_batches(b); i++)
                if (nerc_batcher_get(b, i, &db) != NERC_OK || nerc_batcher_get_padded(b, i, 0, &pb) != NERC_OK)
                    abort();
            nerc_batcher_free(b);
        }
    }
    nerc_sequences_free(e);
done:
    free(offsets);
    free(pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nerc_set_log(NULL, NULL);
    nerc_label_set ls;
    if (nerc_labels_init(&ls, nerc_conll2003_labels, 9) != NERC_OK)
        return 0;
    nerc_dataset *ds = NULL;
    if (nerc_dataset_parse_conll(&ds, (const char *)data, size, "fuzz", NULL) == NERC_OK) {
        exercise(ds);
        (void)nerc_dataset_count_entities(ds);
        nerc_dataset_free(ds);
    }
    if (nerc_dataset_parse_conll(&ds, (const char *)data, size, "fuzz", &ls) == NERC_OK)
        nerc_dataset_free(ds);
    nerc_labels_free(&ls);
    return 0;
}
