/* fp32 -> bf16 conversion (compiled once per ISA level, kernels/simd.h). */
#include <string.h>

#include "kernels/convert.h"
#include "kernels/simd.h"
#include "kernels/transpose.h"

void SIMD_NAME(f32_to_bf16)(uint16_t *dst, const float *src, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dst[i] = bf16_bits(src[i]);
}

/* The rows' values are converted once, COLS columns at a time, into h
 * (BF16_AMX_ROWS x COLS bf16), and then laid out twice. */
enum { COLS = 256 };

/* bwd: rows o, o + 1 interleaved, 64 columns at a time. */
static void pack_amx_bwd(uint16_t *bwd, const uint16_t *h, int64_t row, int64_t c0, int64_t cols, int64_t OC) {
    for (int64_t r = 0; r < BF16_AMX_ROWS; r += 2) {
        const uint16_t *lo = h + r * COLS, *hi = lo + COLS;
        int64_t o = row + r, at = (o / 32) * 2048 + (o % 32 / 2) * 128;
        for (int64_t c = 0; c < cols; c += 64) {
            uint32_t *d = (uint32_t *)(bwd + (c0 + c) / 64 * 64 * OC + at);
#if defined(__AVX512F__)
            for (int64_t j = 0; j < 64; j += 16) {
                __m512i l = _mm512_cvtepu16_epi32(_mm256_load_si256((const __m256i *)(lo + c + j)));
                __m512i u = _mm512_cvtepu16_epi32(_mm256_load_si256((const __m256i *)(hi + c + j)));
                _mm512_stream_si512((void *)(d + j), _mm512_or_si512(l, _mm512_slli_epi32(u, 16)));
            }
#else
            for (int64_t j = 0; j < 64; j++)
                d[j] = (uint32_t)lo[c + j] | (uint32_t)hi[c + j] << 16;
#endif
        }
    }
}

/* fwd: the 16 rows are 16 of the 64 columns of a block of W^T; each 16 x 16
 * tile of (row, column pair) values is transposed into [pair][row], 64-byte
 * lines of the copy. */
static void pack_amx_fwd(uint16_t *fwd, const uint16_t *h, int64_t row, int64_t c0, int64_t cols, int64_t IC) {
    uint32_t *d = (uint32_t *)(fwd + (row / 64) * 64 * IC) + row % 64;
    for (int64_t j0 = 0; j0 < cols / 2; j0 += 16) {
        uint32_t *out = d + (c0 / 2 + j0) / 16 * 1024;
#if defined(__AVX512F__)
        __m512i r[16];
        for (int a = 0; a < 16; a++)
            r[a] = _mm512_loadu_si512(h + a * COLS + 2 * j0);
        transpose16(r);
        for (int b = 0; b < 16; b++) /* whole lines, not read again here: past the caches */
            _mm512_stream_si512((void *)(out + b * 64), r[b]);
#else
        for (int b = 0; b < 16; b++)
            for (int a = 0; a < 16; a++) {
                const uint16_t *x = h + a * COLS + 2 * (j0 + b);
                out[b * 64 + a] = (uint32_t)x[0] | (uint32_t)x[1] << 16;
            }
#endif
    }
}

void SIMD_NAME(bf16_pack_amx_rows)(uint16_t *fwd, uint16_t *bwd, const float *w, int64_t row, int64_t IC,
                                   int64_t OC) {
    _Alignas(64) uint16_t h[BF16_AMX_ROWS * COLS];
    for (int64_t c0 = 0; c0 < IC; c0 += COLS) {
        int64_t cols = IC - c0 < COLS ? IC - c0 : COLS; /* a multiple of 64 */
        for (int64_t r = 0; r < BF16_AMX_ROWS; r++)
            for (int64_t c = 0; c < cols; c++)
                h[r * COLS + c] = bf16_bits(w[r * IC + c0 + c]);
        pack_amx_fwd(fwd, h, row, c0, cols, IC);
        pack_amx_bwd(bwd, h, row, c0, cols, OC);
    }
#if defined(__AVX512F__)
    _mm_sfence(); /* the streamed lines visible before anyone reads the copies */
#endif
}

void SIMD_NAME(bf16_pack_amx)(uint16_t *fwd, uint16_t *bwd, const float *w, int64_t IC, int64_t OC) {
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < OC; row += BF16_AMX_ROWS)
        SIMD_NAME(bf16_pack_amx_rows)(fwd, bwd, w + row * IC, row, IC, OC);
}
