/* Shared helpers of evaluation, prediction and training. */
#ifndef NERC_INFER_INFER_H
#define NERC_INFER_INFER_H

#include "nerc/data.h"

/* Reads a CoNLL file, or HF JSONL when the name ends in .jsonl / .json. */
nerc_status read_dataset(nerc_dataset **out, const char *path, const nerc_label_set *labels);
/* Encoding parameters capped to the model: max_length <= max_position_embeddings,
 * stride <= (max_length - 2) / 2. */
struct nerc_model;
nerc_encode_params encode_params_for(const struct nerc_model *m, int32_t max_length, int32_t stride,
                                     nerc_label_mode mode);
/* Raises *rows / *att to the worst batch of `enc` at `batch_size`. */
nerc_status batch_capacity(const nerc_encoded *enc, int32_t batch_size, int64_t *rows, int64_t *att);
/* pred[i] = argmax_j logits[i, j] (first maximum). */
void argmax_rows(int32_t *pred, const float *logits, int64_t n, int64_t k);

#endif
