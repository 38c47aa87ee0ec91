/* HF's padded batch layout ([B, T] input_ids + attention_mask) turned into
 * nerc's packed layout with every position kept as a row, so padded query rows
 * run through the network exactly as in PyTorch. */
#ifndef NERC_INFER_PADDED_BATCH_H
#define NERC_INFER_PADDED_BATCH_H

#include "io/safetensors.h"
#include "nerc/model.h"

typedef struct {
    int32_t B, T;
    int32_t *input_ids, *position_ids, *labels; /* [B*T]; labels NULL when absent */
    int32_t *seq_offsets;                        /* [B+1] */
    int32_t *seq_keys;                           /* [B] = sum of the mask row */
    nerc_batch batch;
} padded_batch;

/* Reads input_ids, attention_mask and optional labels ([B, T] integers) from
 * a safetensors file. The mask must be right padding (ones, then zeros). */
nerc_status padded_batch_read(padded_batch *pb, const st_file *f);
void padded_batch_free(padded_batch *pb);

#endif
