/* Reading a padded [B, T] batch (the fixture case format) into packed rows. */
#include "model/padded_batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static nerc_status read_bt(const st_file *f, const char *name, int32_t *B, int32_t *T, int64_t **out) {
    const st_tensor *t = st_find(f, name);
    if (!t)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: missing tensor '%s'", f->path, name);
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > (1 << 20) || t->shape[1] > (1 << 20))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' must be [batch, length]", f->path, name);
    if (*B && (t->shape[0] != *B || t->shape[1] != *T))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' is [%lld, %lld], input_ids is [%d, %d]", f->path, name,
                           (long long)t->shape[0], (long long)t->shape[1], *B, *T);
    *B = (int32_t)t->shape[0];
    *T = (int32_t)t->shape[1];
    *out = malloc((size_t)t->numel * sizeof **out);
    if (!*out)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    return st_read_i64(f, t, *out);
}

static nerc_status fill_rows(padded_batch *pb, const st_file *f, const int64_t *ids, const int64_t *mask,
                             const int64_t *labels) {
    int32_t B = pb->B, T = pb->T;
    for (int32_t b = 0; b < B; b++) {
        int32_t keys = 0;
        for (int32_t t = 0; t < T; t++) {
            int64_t mk = mask[(int64_t)b * T + t];
            if (mk != 0 && mk != 1)
                return nerc_errorf(NERC_ERR_FORMAT, "%s: attention_mask[%d][%d] = %lld (must be 0 or 1)", f->path, b, t,
                                   (long long)mk);
            if (mk == 1 && keys != t)
                return nerc_errorf(NERC_ERR_FORMAT, "%s: attention_mask row %d is not right-padded", f->path, b);
            keys += (int32_t)mk;
        }
        if (keys == 0)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: attention_mask row %d has no token", f->path, b);
        pb->seq_keys[b] = keys;
        pb->seq_offsets[b + 1] = (b + 1) * T;
        for (int32_t t = 0; t < T; t++) {
            int64_t i = (int64_t)b * T + t;
            if (ids[i] < 0 || ids[i] > INT32_MAX)
                return nerc_errorf(NERC_ERR_FORMAT, "%s: input_ids[%d][%d] = %lld is invalid", f->path, b, t,
                                   (long long)ids[i]);
            pb->input_ids[i] = (int32_t)ids[i];
            pb->position_ids[i] = t;
            if (labels)
                pb->labels[i] = labels[i] < INT32_MIN || labels[i] > INT32_MAX ? -1 : (int32_t)labels[i];
        }
    }
    return NERC_OK;
}

nerc_status padded_batch_read(padded_batch *pb, const st_file *f) {
    memset(pb, 0, sizeof *pb);
    int64_t *ids = NULL, *mask = NULL, *labels = NULL;
    nerc_status st = read_bt(f, "input_ids", &pb->B, &pb->T, &ids);
    if (st == NERC_OK)
        st = read_bt(f, "attention_mask", &pb->B, &pb->T, &mask);
    if (st == NERC_OK && st_find(f, "labels"))
        st = read_bt(f, "labels", &pb->B, &pb->T, &labels);
    size_t n = (size_t)pb->B * (size_t)pb->T;
    if (st == NERC_OK && n > INT32_MAX)
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: batch too large", f->path);
    if (st == NERC_OK) {
        pb->input_ids = malloc(n * sizeof(int32_t));
        pb->position_ids = malloc(n * sizeof(int32_t));
        pb->labels = labels ? malloc(n * sizeof(int32_t)) : NULL;
        pb->seq_offsets = calloc((size_t)pb->B + 1, sizeof(int32_t));
        pb->seq_keys = calloc((size_t)pb->B, sizeof(int32_t));
        if (!pb->input_ids || !pb->position_ids || (labels && !pb->labels) || !pb->seq_offsets || !pb->seq_keys)
            st = nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    if (st == NERC_OK)
        st = fill_rows(pb, f, ids, mask, labels);
    free(ids);
    free(mask);
    free(labels);
    if (st != NERC_OK) {
        padded_batch_free(pb);
        return st;
    }
    pb->batch = (nerc_batch){pb->B, (int32_t)n, pb->input_ids, pb->position_ids, pb->labels, pb->seq_offsets,
                             pb->seq_keys, NULL};
    return NERC_OK;
}

void padded_batch_free(padded_batch *pb) {
    free(pb->input_ids);
    free(pb->position_ids);
    free(pb->labels);
    free(pb->seq_offsets);
    free(pb->seq_keys);
    memset(pb, 0, sizeof *pb);
}
