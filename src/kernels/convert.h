/* Precision conversions of activations and weights (per-ISA kernels, see
 * kernels/simd.h). */
#ifndef NERC_KERNELS_CONVERT_H
#define NERC_KERNELS_CONVERT_H

#include <stdint.h>
#include <string.h>

/* Round-to-nearest-even fp32 -> bf16 (NaN stays NaN). */
void f32_to_bf16(uint16_t *dst, const float *src, int64_t n);

/* One value's bf16 bits, as f32_to_bf16 rounds it (for kernels that write a
 * bf16 copy on the way). */
static inline uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
}

#endif
