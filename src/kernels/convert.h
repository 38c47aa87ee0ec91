/* Precision conversions of activations and weights (per-ISA kernels, see
 * kernels/simd.h). */
#ifndef NERC_KERNELS_CONVERT_H
#define NERC_KERNELS_CONVERT_H

#include <stdint.h>

/* Round-to-nearest-even fp32 -> bf16 (NaN stays NaN). */
void f32_to_bf16(uint16_t *dst, const float *src, int64_t n);

#endif
