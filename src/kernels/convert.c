/* fp32 -> bf16 conversion (compiled once per ISA level, kernels/simd.h). */
#include <string.h>

#include "kernels/convert.h"
#include "kernels/simd.h"

void SIMD_NAME(f32_to_bf16)(uint16_t *dst, const float *src, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        dst[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
    }
}
