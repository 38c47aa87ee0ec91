/* AdamW update kernel (compiled once per ISA level, kernels/simd.h). */
#include <math.h>

#include "kernels/adamw.h"
#include "kernels/simd.h"

void SIMD_NAME(adamw_update)(float *restrict p, float *restrict m, float *restrict v, const float *restrict grad,
                             float grad_scale, int64_t n,
                             float decay_factor, float beta1, float beta2, float step_size, float bc2_sqrt,
                             float eps) {
    float one_minus_b1 = 1.0f - beta1, one_minus_b2 = 1.0f - beta2;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] * grad_scale;
        p[i] *= decay_factor;
        m[i] = m[i] * beta1 + g * one_minus_b1;
        v[i] = v[i] * beta2 + g * g * one_minus_b2;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += -step_size * (m[i] / denom);
    }
}
