/* fp32 -> bf16 conversion (compiled once per ISA level, kernels/simd.h). */
#include <string.h>

#include "kernels/convert.h"
#include "kernels/simd.h"

void SIMD_NAME(f32_to_bf16)(uint16_t *dst, const float *src, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dst[i] = bf16_bits(src[i]);
}
