/* bf16 linear layers: on AMX over a weight copy in the tiles' blocked layout
 * through nerc's own kernels (kernels/amx.h), elsewhere through oneDNN matmul
 * (runtime M, packed weights, fp32 bias and output). */
#include "kernels/linear_bf16.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/amx.h"
#include "kernels/fused.h"
#include "kernels/onednn.h"

struct linear_bf16 {
    int64_t IC, OC;
    uint16_t *w16;     /* AMX: W^T in the blocked layout (kernels/convert.h's fwd copy), else NULL */
    float *bias;       /* AMX: (OC) or NULL */
    onednn_matmul mm;  /* elsewhere: bf16 x bf16 -> f32, bias f32 */
};

/* The blocked copy of weight (OC, IC) (the layout's input-gradient copy,
 * which inference does not read, into scratch). */
static nerc_status pack_amx(linear_bf16 *l, const float *weight, const float *bias) {
    size_t bytes = (size_t)(l->IC * l->OC) * sizeof *l->w16;
    l->w16 = aligned_alloc(64, (bytes + 63) / 64 * 64);
    uint16_t *bwd = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (bias && (l->bias = malloc((size_t)l->OC * sizeof *l->bias)))
        memcpy(l->bias, bias, (size_t)l->OC * sizeof *l->bias);
    if (!l->w16 || !bwd || (bias && !l->bias)) {
        free(bwd);
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    bf16_pack_amx(l->w16, bwd, weight, l->IC, l->OC);
    free(bwd);
    return NERC_OK;
}

nerc_status linear_bf16_create(linear_bf16 **out, const float *weight, const float *bias, int64_t IC, int64_t OC) {
    *out = NULL;
    NERC_TRY(nerc_precision_check(NERC_PRECISION_BF16)); /* no emulated bf16, no SIGILL */
    linear_bf16 *l = calloc(1, sizeof *l);
    if (!l)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    l->IC = IC;
    l->OC = OC;
    nerc_status st;
    if (amx_blocked_layer(IC, OC)) {
        st = pack_amx(l, weight, bias);
    } else {
        uint16_t *w = malloc((size_t)(IC * OC) * sizeof *w);
        st = w ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        if (st == NERC_OK) {
            f32_to_bf16(w, weight, IC * OC);
            st = onednn_matmul_init(&l->mm, dnnl_bf16, dnnl_bf16, dnnl_f32, w, bias, IC, OC);
        }
        free(w);
    }
    if (st != NERC_OK) {
        linear_bf16_free(l);
        return st;
    }
    *out = l;
    return NERC_OK;
}

void linear_bf16_free(linear_bf16 *l) {
    if (!l)
        return;
    onednn_matmul_release(&l->mm);
    free(l->w16);
    free(l->bias);
    free(l);
}

int64_t linear_bf16_rows(int64_t N) { return amx_panel_rows(N); }

nerc_status linear_bf16_forward16(const linear_bf16 *l, float *out, const uint16_t *in16, int64_t N) {
    if (N <= 0)
        return NERC_OK;
    if (l->w16) {
        amx_matmul_blocked(out, in16, l->w16, l->bias, N, l->IC, l->OC, 0);
        return NERC_OK;
    }
    return onednn_matmul_run(&l->mm, out, in16, N);
}

nerc_status linear_bf16_forward(const linear_bf16 *l, float *out, const float *inp, uint16_t *scratch, int64_t N) {
    if (N <= 0)
        return NERC_OK;
    f32_to_bf16(scratch, inp, N * l->IC);
    return linear_bf16_forward16(l, out, scratch, N);
}

nerc_status linear_bf16_forward_act16(const linear_bf16 *l, uint16_t *act16, float *io, const uint16_t *in16,
                                      int64_t N, act_kind kind) {
    if (N <= 0)
        return NERC_OK;
    if (l->w16) {
        amx_matmul_blocked_act16(act16, in16, l->w16, l->bias, N, l->IC, l->OC, kind);
        return NERC_OK;
    }
    NERC_TRY(onednn_matmul_run(&l->mm, io, in16, N));
    act_to_bf16(act16, io, N, l->OC, kind);
    return NERC_OK;
}
