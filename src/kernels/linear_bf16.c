/* bf16 linear layers through oneDNN matmul (runtime M, packed weights,
 * fp32 bias and output). */
#include "kernels/linear_bf16.h"

#include <stdlib.h>

#include "core/error.h"
#include "kernels/onednn.h"

struct linear_bf16 {
    onednn_matmul mm; /* bf16 x bf16 -> f32, bias f32 */
};

nerc_status linear_bf16_create(linear_bf16 **out, const float *weight, const float *bias, int64_t IC, int64_t OC) {
    *out = NULL;
    NERC_TRY(nerc_precision_check(NERC_PRECISION_BF16)); /* no emulated bf16, no SIGILL */
    linear_bf16 *l = calloc(1, sizeof *l);
    uint16_t *w = malloc((size_t)(IC * OC) * sizeof *w);
    nerc_status st = l && w ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK) {
        f32_to_bf16(w, weight, IC * OC);
        st = onednn_matmul_init(&l->mm, dnnl_bf16, dnnl_bf16, dnnl_f32, w, bias, IC, OC);
    }
    free(w);
    if (st != NERC_OK) {
        free(l);
        return st;
    }
    *out = l;
    return NERC_OK;
}

void linear_bf16_free(linear_bf16 *l) {
    if (!l)
        return;
    onednn_matmul_release(&l->mm);
    free(l);
}

nerc_status linear_bf16_forward(const linear_bf16 *l, float *out, const float *inp, uint16_t *scratch, int64_t N) {
    if (N <= 0)
        return NERC_OK;
    f32_to_bf16(scratch, inp, N * l->mm.IC);
    return onednn_matmul_run(&l->mm, out, scratch, N);
}

nerc_status linear_bf16_forward16(const linear_bf16 *l, float *out, const uint16_t *in16, int64_t N) {
    return N > 0 ? onednn_matmul_run(&l->mm, out, in16, N) : NERC_OK;
}
