/* Batcher: seeded per-epoch shuffles or length-sorted order, packed (and padded) batch views, preallocated. */
#include "nerc/data.h"
#include "core/error.h"
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>

struct nerc_batcher {
    const nerc_sequences *enc;
    int32_t batch_size;
    int32_t *order;        /* [n_seqs] */
    int32_t max_rows;      /* rows of the batch_size longest sequences */
    int64_t max_sq;        /* sum of len^2 over them */
    /* packed buffers, [max_rows] unless noted */
    int32_t *input_ids, *position_ids, *labels, *row_sent, *row_word;
    uint8_t *row_scoring;
    int32_t *seq_offsets;  /* [batch_size+1] */
    int32_t *seq_index;    /* [batch_size] */
    /* padded buffers, [batch_size * max_seq_len] */
    int32_t *pad_ids, *pad_mask, *pad_labels;
    int32_t *len_count;    /* [max_seq_len+2] scratch of the length sort */
};

static int32_t seq_len(const nerc_sequences *e, int32_t k) { return e->seq_offsets[k + 1] - e->seq_offsets[k]; }

static int cmp_desc_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

/* Worst batch: the batch_size longest sequences (rows and sum of squares). */
static nerc_status compute_bounds(nerc_batcher *b) {
    const nerc_sequences *e = b->enc;
    int32_t *lens = malloc((size_t)(e->n_seqs ? e->n_seqs : 1) * sizeof *lens);
    if (!lens)
        return nerc_errorf(NERC_ERR_NOMEM, "batcher: out of memory");
    for (int32_t k = 0; k < e->n_seqs; k++)
        lens[k] = seq_len(e, k);
    qsort(lens, (size_t)e->n_seqs, sizeof *lens, cmp_desc_i32);
    int64_t rows = 0, sq = 0;
    for (int32_t k = 0; k < e->n_seqs && k < b->batch_size; k++) {
        rows += lens[k];
        sq += (int64_t)lens[k] * lens[k];
    }
    free(lens);
    if (rows > INT32_MAX)
        return nerc_errorf(NERC_ERR_NOMEM, "batcher: batch of more than 2^31 rows");
    b->max_rows = (int32_t)rows;
    b->max_sq = sq;
    return NERC_OK;
}

static nerc_status alloc_buffers(nerc_batcher *b) {
    /* No batch holds more sequences than the dataset has. */
    int32_t n_seqs = b->enc->n_seqs ? b->enc->n_seqs : 1;
    size_t rows = (size_t)(b->max_rows ? b->max_rows : 1);
    size_t bs = (size_t)(b->batch_size < n_seqs ? b->batch_size : n_seqs);
    size_t padded = bs * (size_t)(b->enc->max_seq_len ? b->enc->max_seq_len : 1);
    b->input_ids = malloc(rows * sizeof *b->input_ids);
    b->position_ids = malloc(rows * sizeof *b->position_ids);
    b->labels = malloc(rows * sizeof *b->labels);
    b->row_sent = malloc(rows * sizeof *b->row_sent);
    b->row_word = malloc(rows * sizeof *b->row_word);
    b->row_scoring = malloc(rows);
    b->seq_offsets = malloc((bs + 1) * sizeof *b->seq_offsets);
    b->seq_index = malloc(bs * sizeof *b->seq_index);
    b->pad_ids = malloc(padded * sizeof *b->pad_ids);
    b->pad_mask = malloc(padded * sizeof *b->pad_mask);
    b->pad_labels = malloc(padded * sizeof *b->pad_labels);
    b->len_count = malloc(((size_t)b->enc->max_seq_len + 2) * sizeof *b->len_count);
    if (!b->len_count || !b->input_ids || !b->position_ids || !b->labels || !b->row_sent || !b->row_word || !b->row_scoring ||
        !b->seq_offsets || !b->seq_index || !b->pad_ids || !b->pad_mask || !b->pad_labels)
        return nerc_errorf(NERC_ERR_NOMEM, "batcher: out of memory");
    return NERC_OK;
}

nerc_status nerc_batcher_init(nerc_batcher **out, const nerc_sequences *enc, int32_t batch_size) {
    *out = NULL;
    if (batch_size < 1)
        return nerc_errorf(NERC_ERR_ARG, "batcher: batch size %d < 1", (int)batch_size);
    nerc_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return nerc_errorf(NERC_ERR_NOMEM, "batcher: out of memory");
    b->enc = enc;
    b->batch_size = batch_size;
    nerc_status st = NERC_OK;
    b->order = malloc((size_t)(enc->n_seqs ? enc->n_seqs : 1) * sizeof *b->order);
    if (!b->order) {
        st = nerc_errorf(NERC_ERR_NOMEM, "batcher: out of memory");
        goto fail;
    }
    if ((st = compute_bounds(b)) || (st = alloc_buffers(b)))
        goto fail;
    nerc_batcher_sequential(b);
    *out = b;
    return NERC_OK;
fail:
    nerc_batcher_free(b);
    return st;
}

void nerc_batcher_free(nerc_batcher *b) {
    if (!b)
        return;
    free(b->order);
    free(b->input_ids);
    free(b->position_ids);
    free(b->labels);
    free(b->row_sent);
    free(b->row_word);
    free(b->row_scoring);
    free(b->seq_offsets);
    free(b->seq_index);
    free(b->pad_ids);
    free(b->pad_mask);
    free(b->pad_labels);
    free(b->len_count);
    free(b);
}

void nerc_batcher_sequential(nerc_batcher *b) {
    for (int32_t k = 0; k < b->enc->n_seqs; k++)
        b->order[k] = k;
}

void nerc_batcher_shuffle(nerc_batcher *b, uint64_t seed, int64_t epoch) {
    uint64_t x = seed;
    rng_state r;
    rng_seed(&r, rng_splitmix64(&x) ^ (uint64_t)epoch);
    nerc_batcher_sequential(b);
    rng_shuffle_i32(&r, b->order, b->enc->n_seqs);
}

/* Longest first, ties in file order: a stable counting sort on length. */
void nerc_batcher_sort_by_length(nerc_batcher *b) {
    const nerc_sequences *e = b->enc;
    int32_t maxlen = e->max_seq_len, *count = b->len_count;
    memset(count, 0, ((size_t)maxlen + 2) * sizeof *count);
    for (int32_t k = 0; k < e->n_seqs; k++)
        count[maxlen - seq_len(e, k) + 1]++;
    for (int32_t l = 1; l <= maxlen + 1; l++)
        count[l] += count[l - 1];
    for (int32_t k = 0; k < e->n_seqs; k++)
        b->order[count[maxlen - seq_len(e, k)]++] = k;
}

const int32_t *nerc_batcher_order(const nerc_batcher *b) { return b->order; }

int32_t nerc_batcher_n_batches(const nerc_batcher *b) {
    return (int32_t)(((int64_t)b->enc->n_seqs + b->batch_size - 1) / b->batch_size);
}

int32_t nerc_batcher_max_rows(const nerc_batcher *b) { return b->max_rows; }
int64_t nerc_batcher_max_sq(const nerc_batcher *b) { return b->max_sq; }

/* Sequences [first, first+n) of the current order for batch i. */
static nerc_status batch_range(const nerc_batcher *b, int32_t i, int32_t *first, int32_t *n) {
    if (i < 0 || i >= nerc_batcher_n_batches(b))
        return nerc_errorf(NERC_ERR_ARG, "batcher: batch %d not in [0, %d)", (int)i,
                           (int)nerc_batcher_n_batches(b));
    *first = i * b->batch_size;
    *n = b->enc->n_seqs - *first < b->batch_size ? b->enc->n_seqs - *first : b->batch_size;
    return NERC_OK;
}

/* Copies sequence k into the packed buffers at `row`; returns the next row. */
static int32_t copy_seq(nerc_batcher *b, int32_t k, int32_t row) {
    const nerc_sequences *e = b->enc;
    int32_t off = e->seq_offsets[k], len = seq_len(e, k);
    memcpy(b->input_ids + row, e->input_ids + off, (size_t)len * sizeof *b->input_ids);
    memcpy(b->labels + row, e->labels + off, (size_t)len * sizeof *b->labels);
    memcpy(b->row_word + row, e->row_word + off, (size_t)len * sizeof *b->row_word);
    memcpy(b->row_scoring + row, e->row_scoring + off, (size_t)len);
    for (int32_t j = 0; j < len; j++) {
        b->position_ids[row + j] = j;
        b->row_sent[row + j] = e->seq_sent[k];
    }
    return row + len;
}

nerc_status nerc_batcher_get(nerc_batcher *b, int32_t i, nerc_data_batch *out) {
    int32_t first = 0, n = 0;
    NERC_TRY(batch_range(b, i, &first, &n));
    int32_t row = 0;
    b->seq_offsets[0] = 0;
    for (int32_t j = 0; j < n; j++) {
        int32_t k = b->order[first + j];
        b->seq_index[j] = k;
        row = copy_seq(b, k, row);
        b->seq_offsets[j + 1] = row;
    }
    out->batch = (nerc_batch){.n_seqs = n, .n_tokens = row, .input_ids = b->input_ids,
                              .position_ids = b->position_ids, .labels = b->labels,
                              .seq_offsets = b->seq_offsets, .seq_keys = NULL};
    out->seq_index = b->seq_index;
    out->row_sent = b->row_sent;
    out->row_word = b->row_word;
    out->row_scoring = b->row_scoring;
    return NERC_OK;
}

nerc_status nerc_batcher_get_padded(nerc_batcher *b, int32_t i, int32_t pad_id, nerc_padded_batch *out) {
    int32_t first = 0, n = 0, t = 0;
    NERC_TRY(batch_range(b, i, &first, &n));
    const nerc_sequences *e = b->enc;
    for (int32_t j = 0; j < n; j++) {
        int32_t len = seq_len(e, b->order[first + j]);
        t = len > t ? len : t;
    }
    for (int32_t j = 0; j < n; j++) {
        int32_t k = b->order[first + j], off = e->seq_offsets[k], len = seq_len(e, k);
        int32_t *ids = b->pad_ids + (size_t)j * t, *mask = b->pad_mask + (size_t)j * t;
        int32_t *labels = b->pad_labels + (size_t)j * t;
        for (int32_t c = 0; c < t; c++) {
            ids[c] = c < len ? e->input_ids[off + c] : pad_id;
            mask[c] = c < len;
            labels[c] = c < len ? e->labels[off + c] : NERC_IGNORE_INDEX;
        }
        b->seq_index[j] = k;
    }
    *out = (nerc_padded_batch){.n_seqs = n, .seq_len = t, .input_ids = b->pad_ids,
                               .attention_mask = b->pad_mask, .labels = b->pad_labels,
                               .seq_index = b->seq_index};
    return NERC_OK;
}

void nerc_batch_scatter_predictions(int32_t *word_pred, const nerc_data_batch *db, const int32_t *row_pred,
                                    const nerc_dataset *ds) {
    for (int32_t r = 0; r < db->batch.n_tokens; r++)
        if (db->row_scoring[r])
            word_pred[ds->sent_offsets[db->row_sent[r]] + db->row_word[r]] = row_pred[r];
}
