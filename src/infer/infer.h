/* Shared helpers of evaluation, prediction and training. */
#ifndef NERC_INFER_INFER_H
#define NERC_INFER_INFER_H

#include "nerc/data.h"

/* Encoding parameters capped to the model: max_length <= max_position_embeddings,
 * stride <= (max_length - 2) / 2. */
struct nerc_model;
nerc_encode_params encode_params_for(const struct nerc_model *m, int32_t max_length, int32_t stride,
                                     nerc_label_mode mode);
/* Raises *rows / *att to the worst batch of `enc` at `batch_size`. */
nerc_status batch_capacity(const nerc_encoded *enc, int32_t batch_size, int64_t *rows, int64_t *att);
/* argmax_j row[j], the first maximum on ties (numpy's and torch's argmax). */
static inline int32_t argmax_row(const float *row, int64_t k) {
    int32_t best = 0;
    for (int64_t j = 1; j < k; j++)
        if (row[j] > row[best])
            best = (int32_t)j;
    return best;
}
/* pred[i] = argmax_row(logits[i, :]). */
void argmax_rows(int32_t *pred, const float *logits, int64_t n, int64_t k);

#endif
