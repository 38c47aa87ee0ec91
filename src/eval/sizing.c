/* Sizing for a model and a dataset: encoding parameters capped to the model,
 * and the worst batch a state must hold. */
#include "core/error.h"
#include "eval/eval_internal.h"
#include "nerc/eval.h"

nerc_encode_params encode_params_for(const nerc_model *m, int32_t max_length, int32_t stride, nerc_label_mode mode) {
    nerc_encode_params ep = nerc_encode_default_params();
    ep.max_len = max_length < nerc_model_max_length(m) ? max_length : nerc_model_max_length(m);
    int32_t max_stride = (ep.max_len - 2) / 2; /* windows must advance */
    ep.stride = stride < max_stride ? stride : max_stride;
    ep.label_mode = mode;
    return ep;
}

nerc_status batch_capacity(const nerc_sequences *enc, int32_t batch_size, int64_t *rows, int64_t *att) {
    nerc_batcher *b = NULL;
    NERC_TRY(nerc_batcher_init(&b, enc, batch_size));
    int64_t r = nerc_batcher_max_rows(b), a = nerc_batcher_max_sq(b);
    nerc_batcher_free(b);
    *rows = r > *rows ? r : *rows;
    *att = a > *att ? a : *att;
    return NERC_OK;
}

nerc_status nerc_eval_state_init(nerc_state **out, const nerc_model *m, const nerc_sequences *enc, int32_t batch_size) {
    int64_t rows = 1, att = 1;
    NERC_TRY(batch_capacity(enc, batch_size, &rows, &att));
    return nerc_state_init(out, m, batch_size, rows, att, 0);
}

