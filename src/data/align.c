/* HF NER label alignment (tokenize_and_align_labels): a word's label on its first piece. */
#include "data/align.h"
#include "core/error.h"

int32_t align_word(int32_t *input_ids, int32_t *labels, const int32_t *pieces, int32_t n_pieces,
                   int32_t label, nerc_label_mode mode, const int32_t *b_to_i) {
    for (int32_t k = 0; k < n_pieces; k++) {
        input_ids[k] = pieces[k];
        if (k == 0 || label == NERC_IGNORE_INDEX || mode == NERC_LABEL_MODE_COPY)
            labels[k] = label;
        else if (mode == NERC_LABEL_MODE_B_TO_I)
            labels[k] = b_to_i[label];
        else
            labels[k] = NERC_IGNORE_INDEX;
    }
    return n_pieces;
}

nerc_status align_check_mode(nerc_label_mode mode, const int32_t *b_to_i) {
    if (mode != NERC_LABEL_MODE_FIRST_PIECE && mode != NERC_LABEL_MODE_COPY && mode != NERC_LABEL_MODE_B_TO_I)
        return nerc_errorf(NERC_ERR_ARG, "align: unknown label mode %d", (int)mode);
    if (mode == NERC_LABEL_MODE_B_TO_I && !b_to_i)
        return nerc_errorf(NERC_ERR_ARG, "align: label_all_tokens b-to-i needs the B->I map");
    return NERC_OK;
}

nerc_status align_check_labels(const int32_t *word_labels, int32_t n_words, int32_t n_labels) {
    for (int32_t w = 0; w < n_words; w++) {
        int32_t l = word_labels[w];
        if (l != NERC_IGNORE_INDEX && (l < 0 || l >= n_labels))
            return nerc_errorf(NERC_ERR_ARG, "align: word %d has label %d (not in 0..%d)", (int)w, (int)l,
                               (int)n_labels - 1);
    }
    return NERC_OK;
}

nerc_status nerc_align_labels(int32_t *input_ids, int32_t *labels, const int32_t *pieces,
                              const int32_t *piece_offsets, const int32_t *word_labels, int32_t n_words,
                              int32_t cls_id, int32_t sep_id, nerc_label_mode mode, const int32_t *b_to_i,
                              int32_t n_labels) {
    NERC_TRY(align_check_mode(mode, b_to_i));
    NERC_TRY(align_check_labels(word_labels, n_words, n_labels));
    if (n_words < 0 || piece_offsets[0] < 0)
        return nerc_errorf(NERC_ERR_ARG, "align: negative word count or piece offset");
    for (int32_t w = 0; w < n_words; w++)
        if (piece_offsets[w + 1] < piece_offsets[w])
            return nerc_errorf(NERC_ERR_ARG, "align: piece offsets decrease at word %d", (int)w);
    int32_t n = 0;
    input_ids[n] = cls_id;
    labels[n++] = NERC_IGNORE_INDEX;
    for (int32_t w = 0; w < n_words; w++)
        n += align_word(input_ids + n, labels + n, pieces + piece_offsets[w],
                        piece_offsets[w + 1] - piece_offsets[w], word_labels[w], mode, b_to_i);
    input_ids[n] = sep_id;
    labels[n] = NERC_IGNORE_INDEX;
    return NERC_OK;
}
