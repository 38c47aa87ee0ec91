/* Encodes a dataset with the model's tokenizer (WordPiece, BPE or Unigram): each word on its own
 * (is_split_into_words), wrapped in the tokenizer's own specials ([CLS] ... [SEP], <s> ... </s>). */
#include "nerc/data.h"
#include "core/error.h"

#include <stdlib.h>

/* Appends the pieces of word w to *pieces (growing it). */
static nerc_status tokenize_word(const nerc_tokenizer *tok, const nerc_dataset *ds, int32_t w, int32_t **pieces,
                                 int32_t *cap, int32_t *n_total) {
    for (;;) {
        int32_t room = *cap - *n_total, n = 0;
        NERC_TRY(nerc_tokenizer_encode_word(tok, nerc_dataset_word(ds, w), nerc_dataset_word_len(ds, w),
                                            *pieces + *n_total, room, &n));
        if (n < 0)
            return nerc_errorf(NERC_ERR_INTERNAL, "tokenizer returned %d pieces", (int)n);
        if (n <= room) {
            *n_total += n;
            return NERC_OK;
        }
        int64_t ncap = 2 * (int64_t)*cap;
        while (ncap < (int64_t)*n_total + n)
            ncap *= 2;
        if (ncap > INT32_MAX)
            return nerc_errorf(NERC_ERR_NOMEM, "encode: more than 2^31 pieces");
        int32_t *np = realloc(*pieces, (size_t)ncap * sizeof *np);
        if (!np)
            return nerc_errorf(NERC_ERR_NOMEM, "encode: out of memory");
        *pieces = np;
        *cap = (int32_t)ncap;
    }
}

nerc_status nerc_encode_dataset(nerc_sequences **out, const nerc_dataset *ds, const nerc_tokenizer *tok,
                                const nerc_encode_params *params) {
    *out = NULL;
    if (nerc_tokenizer_cls_id(tok) < 0 || nerc_tokenizer_sep_id(tok) < 0)
        return nerc_errorf(NERC_ERR_ARG, "encode: the tokenizer adds no special token before and after a text "
                           "(its post_processor), which token classification needs");
    int32_t cap = 1 << 16, n_total = 0;
    int32_t *pieces = malloc((size_t)cap * sizeof *pieces);
    int32_t *offsets = malloc(((size_t)ds->n_words + 1) * sizeof *offsets);
    nerc_status st = NERC_OK;
    if (!pieces || !offsets) {
        st = nerc_errorf(NERC_ERR_NOMEM, "encode: out of memory");
        goto fail;
    }
    offsets[0] = 0;
    for (int32_t w = 0; w < ds->n_words; w++) {
        if ((st = tokenize_word(tok, ds, w, &pieces, &cap, &n_total))) {
            nerc_error_prefix(st, "encode: word %d ('%.40s')", (int)w, nerc_dataset_word(ds, w));
            goto fail;
        }
        offsets[w + 1] = n_total;
    }
    st = nerc_encode_pieces(out, ds, pieces, offsets, nerc_tokenizer_cls_id(tok), nerc_tokenizer_sep_id(tok),
                            params);
fail:
    free(pieces);
    free(offsets);
    return st;
}
