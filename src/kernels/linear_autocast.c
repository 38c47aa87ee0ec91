/* bf16 mixed-precision linear layers for training (math in linear_autocast.h). */
#include "kernels/linear_autocast.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/amx.h"
#include "kernels/convert.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"

int64_t linear_autocast_rows(int64_t N) {
    int64_t align = gemm_bf16_k_align();
    return (N + align - 1) / align * align;
}

nerc_status linear_autocast_forward(float *out, const float *inp, const autocast_weights *w16, const float *bias,
                                    uint16_t *in16, int64_t N, int64_t IC, int64_t OC) {
    f32_to_bf16(in16, inp, N * IC);
    if (w16->fwd16) { /* the bias added by the product */
        amx_matmul_blocked(out, in16, w16->fwd16, bias, N, IC, OC, 0);
        return NERC_OK;
    }
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++)
            memcpy(out + n * OC, bias, (size_t)OC * sizeof *out);
    }
    return gemm_bf16(0, 1, N, OC, IC, in16, w16->plain, bias ? 1.0f : 0.0f, out);
}

nerc_status linear_autocast_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                     const autocast_weights *w16, uint16_t *in16, uint16_t *out16, int64_t N,
                                     int64_t IC, int64_t OC, float dinp_beta, float dweight_beta,
                                     double *dweight_squares) {
    if (dweight_squares)
        *dweight_squares = NAN; /* unless the AMX kernel sums them */
    f32_to_bf16(out16, dout, N * OC);
    if (dinp && w16->bwd16)
        amx_matmul_blocked(dinp, out16, w16->bwd16, NULL, N, OC, IC, dinp_beta != 0.0f);
    else if (dinp)
        NERC_TRY(gemm_bf16(0, 0, N, IC, OC, out16, w16->plain, dinp_beta, dinp));
    if (dweight && amx_dweight_fits(IC, OC)) { /* the panels over the scratch: out16 is read */
        amx_pack_dout(out16, dout, N, OC);
        amx_pack_inp(in16, inp, N, IC);
        amx_dweight(dweight, out16, in16, amx_panel_rows(N), IC, OC, dweight_beta != 0.0f, dweight_squares);
    } else if (dweight) { /* the token dimension rounded up with zero rows: the same sums, fewer primitive shapes */
        int64_t K = linear_autocast_rows(N);
        f32_to_bf16(in16, inp, N * IC);
        memset(in16 + N * IC, 0, (size_t)((K - N) * IC) * sizeof *in16);
        memset(out16 + N * OC, 0, (size_t)((K - N) * OC) * sizeof *out16);
        NERC_TRY(gemm_bf16(1, 0, OC, IC, K, out16, in16, dweight_beta, dweight));
    }
    if (dbias) /* the fp32 reduction of linear_backward */
        linear_backward(NULL, NULL, dbias, dout, NULL, NULL, N, IC, OC, 1.0f, 1.0f);
    return NERC_OK;
}
