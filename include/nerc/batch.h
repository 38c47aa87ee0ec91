/* nerc/batch.h — the packed batch that data produces and the model consumes. */
#ifndef NERC_BATCH_H
#define NERC_BATCH_H

#include <stdint.h>

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* Label id that is ignored by the loss (HF's -100). */
#define NERC_IGNORE_INDEX (-100)

/* A batch in packed layout: the tokens of all sequences back to back, no
 * padding. Sequence b owns rows [seq_offsets[b], seq_offsets[b+1]).
 * Its attention keys are its first seq_keys[b] rows (NULL = all its rows;
 * fewer keys than rows reproduces HF's right-padded batches exactly, where
 * padded query rows still run through the network). */
typedef struct {
    int32_t n_seqs;               /* B */
    int32_t n_tokens;             /* N = seq_offsets[B] */
    const int32_t *input_ids;     /* [N] */
    const int32_t *position_ids;  /* [N] position of the row within its sequence (0 = first token; the
                                   * model adds its family's offset, e.g. RoBERTa's pad_token_id + 1) */
    const int32_t *labels;        /* [N] label id or NERC_IGNORE_INDEX; NULL for inference */
    const int32_t *seq_offsets;   /* [B+1] */
    const int32_t *seq_keys;      /* [B] or NULL */
    const int32_t *seq_ids;       /* [B] ids keying each sequence's dropout masks (e.g. its index in the
                                   * dataset), so that a mask does not depend on how sequences are packed
                                   * or split over ranks; NULL = 0..B-1 */
} nerc_batch;

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
