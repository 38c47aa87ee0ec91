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

/* bf16 training on AMX keeps a linear layer's weight W (OC, IC) twice, each
 * in the blocked layout oneDNN's brgemm matmul reads straight (its tag
 * BA16a64b2a over a (K, N) operand: blocks of 64 columns, inside them blocks
 * of 32 rows, stored [16 row pairs][64 columns][2 rows]):
 *   fwd: W^T as (K = IC, N = OC), the forward product's operand;
 *   bwd: W as (K = OC, N = IC), the input gradient's operand.
 * IC and OC are multiples of 64; each copy holds IC * OC values and starts
 * on a 64-byte boundary (its lines are streamed past the caches).
 * bf16_pack_amx_rows writes rows [row, row + BF16_AMX_ROWS) of W (w: that
 * first row; row a multiple of BF16_AMX_ROWS) into both, f32_to_bf16's
 * rounding; one thread. */
enum { BF16_AMX_ROWS = 16 };
void bf16_pack_amx_rows(uint16_t *fwd, uint16_t *bwd, const float *w, int64_t row, int64_t IC, int64_t OC);
/* Every row of W (OC, IC) into both copies, the bands shared out over the threads. */
void bf16_pack_amx(uint16_t *fwd, uint16_t *bwd, const float *w, int64_t IC, int64_t OC);
/* Where W[o][i] lies in each copy (the layout's definition; tests). */
static inline int64_t bf16_amx_fwd_index(int64_t o, int64_t i, int64_t IC) {
    return (o / 64) * 64 * IC + (i / 32) * 2048 + (i % 32 / 2) * 128 + (o % 64) * 2 + i % 2;
}
static inline int64_t bf16_amx_bwd_index(int64_t o, int64_t i, int64_t OC) {
    return (i / 64) * 64 * OC + (o / 32) * 2048 + (o % 32 / 2) * 128 + (i % 64) * 2 + o % 2;
}

#endif
