/* nerc/check.h — debug entry points for parity checks against a reference
 * implementation (not part of the umbrella header nerc.h). */
#ifndef NERC_CHECK_H
#define NERC_CHECK_H

#include "nerc/common.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* The `nerc forward` check: runs a batch stored as safetensors (input_ids,
 * attention_mask, optional labels: HF's padded [B, T] layout) through the
 * model with dropout off and writes logits [B, T, K], loss and, with
 * with_grad, every grad.<HF name> to out_path. */
nerc_status nerc_check_forward(const char *model_dir, const char *batch_path, const char *out_path, int with_grad);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
