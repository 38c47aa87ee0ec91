/* Internal: one word's share of the HF label alignment (used by align.c and encode.c). */
#ifndef NERC_DATA_ALIGN_H
#define NERC_DATA_ALIGN_H

#include "nerc/data.h"

/* Writes the word's n_pieces ids and labels (label on the first piece; the
 * others per `mode`). Returns n_pieces. */
int32_t align_word(int32_t *input_ids, int32_t *labels, const int32_t *pieces, int32_t n_pieces,
                   int32_t label, nerc_label_mode mode, const int32_t *b_to_i);
/* Validates the mode (and that b-to-i has its map). */
nerc_status align_check_mode(nerc_label_mode mode, const int32_t *b_to_i);
/* Every word label is a label id or NERC_IGNORE_INDEX. */
nerc_status align_check_labels(const int32_t *word_labels, int32_t n_words, int32_t n_labels);

#endif
