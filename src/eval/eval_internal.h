/* Helpers shared by evaluation and training (internal to libnerc). */
#ifndef NERC_EVAL_EVAL_INTERNAL_H
#define NERC_EVAL_EVAL_INTERNAL_H

#include "nerc/data.h"
#include "nerc/model.h"

/* Encoding parameters capped to the model: max_length <= max_position_embeddings,
 * stride <= (max_length - 2) / 2. */
nerc_encode_params encode_params_for(const nerc_model *m, int32_t max_length, int32_t stride, nerc_label_mode mode);
/* Raises *rows / *att to the worst batch of `enc` at `batch_size`. */
nerc_status batch_capacity(const nerc_sequences *enc, int32_t batch_size, int64_t *rows, int64_t *att);

#endif
