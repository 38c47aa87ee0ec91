/* Reduced-precision inference linear layers behind one interface. */
#include "kernels/linear_packed.h"

#include <stdlib.h>

#include "core/error.h"
#include "kernels/linear_bf16.h"
#include "kernels/linear_int8.h"

struct linear_packed {
    nerc_precision p;
    int64_t IC;
    linear_bf16 *bf16;
    linear_int8 *int8;
};

nerc_status linear_packed_create(linear_packed **out, nerc_precision p, const float *weight, const float *bias,
                                 int64_t IC, int64_t OC) {
    *out = NULL;
    if (p != NERC_PRECISION_BF16 && p != NERC_PRECISION_INT8)
        return nerc_errorf(NERC_ERR_ARG, "packed linear layers are bf16 or int8 (got precision %d)", (int)p);
    NERC_TRY(nerc_precision_check(p));
    linear_packed *l = calloc(1, sizeof *l);
    if (!l)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    l->p = p;
    l->IC = IC;
    nerc_status st = p == NERC_PRECISION_BF16 ? linear_bf16_create(&l->bf16, weight, bias, IC, OC)
                                              : linear_int8_create(&l->int8, weight, bias, IC, OC);
    if (st != NERC_OK) {
        free(l);
        return st;
    }
    *out = l;
    return NERC_OK;
}

void linear_packed_free(linear_packed *l) {
    if (!l)
        return;
    linear_bf16_free(l->bf16);
    linear_int8_free(l->int8);
    free(l);
}

size_t linear_packed_scratch_bytes(nerc_precision p, int64_t N, int64_t IC) {
    return p == NERC_PRECISION_INT8 ? linear_int8_scratch_bytes(N, IC)
                                    : (size_t)(linear_bf16_rows(N) * IC) * sizeof(uint16_t);
}

nerc_status linear_packed_forward(const linear_packed *l, float *out, const float *inp, void *scratch, int64_t N) {
    return l->p == NERC_PRECISION_INT8 ? linear_int8_forward(l->int8, out, inp, scratch, N)
                                       : linear_bf16_forward(l->bf16, out, inp, scratch, N);
}

/* bf16: fc1's operand (rows of C), then the activations, fc2's operand (rows of F). */
size_t linear_packed_ffn_scratch_bytes(nerc_precision p, int64_t N, int64_t C, int64_t F) {
    return p == NERC_PRECISION_INT8 ? linear_int8_ffn_scratch_bytes(N, F)
                                    : (size_t)(linear_bf16_rows(N) * (C + F)) * sizeof(uint16_t);
}

nerc_status linear_packed_ffn(const linear_packed *fc1, const linear_packed *fc2, float *out, float *io,
                              const float *inp, void *scratch, int64_t N, act_kind kind) {
    if (fc1->p != fc2->p)
        return nerc_errorf(NERC_ERR_ARG, "feed-forward layers in two precisions");
    if (fc1->p == NERC_PRECISION_INT8)
        return linear_int8_ffn(fc1->int8, fc2->int8, out, io, inp, scratch, N, kind);
    uint16_t *in16 = scratch, *act16 = in16 + linear_bf16_rows(N) * fc1->IC;
    f32_to_bf16(in16, inp, N * fc1->IC);
    NERC_TRY(linear_bf16_forward_act16(fc1->bf16, act16, io, in16, N, kind));
    return linear_bf16_forward16(fc2->bf16, out, act16, N);
}
