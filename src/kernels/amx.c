/* bf16 products on AMX tiles (math and layouts in kernels/amx.h). This file
 * alone is compiled with AVX-512 and AMX enabled (Makefile); nothing in it
 * runs unless amx_bf16_ready() said yes. */
#include "kernels/amx.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cpu.h"
#include "kernels/gemm.h"
#include "kernels/rows.h"
#include "kernels/transpose.h"

enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };

static int tiles_permitted;
static pthread_once_t tiles_once = PTHREAD_ONCE_INIT;

/* Linux hands a process the tiles' 8 KiB of state only when asked. */
static void ask_for_tiles(void) {
    tiles_permitted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int amx_bf16_ready(void) {
    if (!cpu_amx_bf16())
        return 0;
    pthread_once(&tiles_once, ask_for_tiles);
    return tiles_permitted;
}

int amx_dweight_fits(int64_t IC, int64_t OC) { return IC % 32 == 0 && OC % 32 == 0 && amx_bf16_ready(); }

int64_t amx_panel_rows(int64_t N) { return (N + 31) / 32 * 32; }

/* Palette 1, tiles 0-7 each 16 rows of 64 bytes: 0-3 sums (16 x 16 fp32),
 * 4-5 a (16 x 32 bf16), 6-7 b (16 token pairs x 16 x 2 bf16). Per thread. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

static void tiles_configure(void) {
    tile_config cfg = {.palette = 1};
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
}

/* 16 floats as bf16 bits (f32_to_bf16's rounding; NaN stays NaN) in the low
 * halves of 32-bit lanes; zeros past the end of the data (!valid). */
static inline __m512i bf16_lanes(const float *x, int valid) {
    if (!valid)
        return _mm512_setzero_si512();
    __m512i u = _mm512_loadu_si512(x), one = _mm512_set1_epi32(1);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)), 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    return _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
}

/* Rows t and t + 1 of x (columns c .. c + 15) as 16 (row t, row t + 1) pairs. */
static inline __m512i token_pairs(const float *x, int64_t t, int64_t N, int64_t ld, int64_t c) {
    __m512i lo = bf16_lanes(x + t * ld + c, t < N), hi = bf16_lanes(x + (t + 1) * ld + c, t + 1 < N);
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

/* A 32 x 32 block of sums in tiles 0-3 (rows 0-15 | 16-31, columns 0-15 | 16-31):
 * loaded from or stored to c (ldc floats a row), or zeroed. */
static inline void sums_load(const float *c, int64_t ldc) {
    _tile_loadd(0, c, ldc * 4);
    _tile_loadd(1, c + 16, ldc * 4);
    _tile_loadd(2, c + 16 * ldc, ldc * 4);
    _tile_loadd(3, c + 16 * ldc + 16, ldc * 4);
}

static inline void sums_store(float *c, int64_t ldc) {
    _tile_stored(0, c, ldc * 4);
    _tile_stored(1, c + 16, ldc * 4);
    _tile_stored(2, c + 16 * ldc, ldc * 4);
    _tile_stored(3, c + 16 * ldc + 16, ldc * 4);
}

static inline void sums_zero(void) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
}

/* The sums += a (tiles 4-5: two 16-row halves) b (tiles 6-7: two 16-column halves). */
static inline void sums_multiply_add(void) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
}

/* Each 32 tokens x 16 outputs of dout become [16 outputs][32 tokens]: 16
 * token pairs x 16 outputs of 32-bit values, transposed. */
void amx_pack_dout(uint16_t *a, const float *dout, int64_t N, int64_t OC) {
    int64_t KB = amx_panel_rows(N) / 32;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t kb = 0; kb < KB; kb++) /* 32 rows at a time, read across */
        for (int64_t ob = 0; ob < OC / 16; ob++) {
            __m512i r[16];
            for (int p = 0; p < 16; p++)
                r[p] = token_pairs(dout, kb * 32 + 2 * p, N, OC, ob * 16);
            transpose16(r);
            uint16_t *panel = a + (ob * KB + kb) * 512;
            for (int o = 0; o < 16; o++)
                _mm512_storeu_si512(panel + 32 * o, r[o]);
        }
}

void amx_pack_inp(uint16_t *b, const float *inp, int64_t N, int64_t IC) {
    int64_t pairs = amx_panel_rows(N) / 2;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pairs; p++) /* the rows read in order */
        for (int64_t ib = 0; ib < IC / 16; ib++)
            _mm512_storeu_si512(b + (ib * pairs + p) * 32, token_pairs(inp, 2 * p, N, IC, ib * 16));
}

/* The squares of 16 values added to acc in double (fixed order). */
static inline __m512d add_squares(__m512d acc, __m512 v) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v)), hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    return _mm512_fmadd_pd(hi, hi, _mm512_fmadd_pd(lo, lo, acc));
}

/* The four 16 x 16 sums of dweight rows o .. o + 31, columns i .. i + 31.
 * Written: through an L1 buffer and streamed (nothing reads the gradients
 * before the optimizer, after the whole backward pass); accumulated: loaded
 * and stored in place. Returns the sum of the squares of the 32 x 32 values
 * stored (row by row), 0 unless squares. */
static double dweight_block(float *c, int64_t ldc, const uint16_t *a0, const uint16_t *b0, int64_t KB, int accumulate,
                            int squares) {
    const uint16_t *a1 = a0 + KB * 512, *b1 = b0 + KB * 512;
    if (accumulate)
        sums_load(c, ldc);
    else
        sums_zero();
    for (int64_t kb = 0; kb < KB; kb++) {
        _tile_loadd(4, a0 + kb * 512, 64);
        _tile_loadd(5, a1 + kb * 512, 64);
        _tile_loadd(6, b0 + kb * 512, 64);
        _tile_loadd(7, b1 + kb * 512, 64);
        sums_multiply_add();
    }
    __m512d sq = _mm512_setzero_pd();
    if (accumulate) {
        sums_store(c, ldc);
        for (int r = 0; squares && r < 32; r++)
            sq = add_squares(add_squares(sq, _mm512_loadu_ps(c + r * ldc)), _mm512_loadu_ps(c + r * ldc + 16));
        return _mm512_reduce_add_pd(sq);
    }
    _Alignas(64) float sums[32 * 32];
    sums_store(sums, 32);
    for (int r = 0; r < 32; r++)
        for (int q = 0; q < 2; q++) {
            __m512 v = _mm512_load_ps(sums + 32 * r + 16 * q);
            float *dst = c + r * ldc + 16 * q;
            if (((uintptr_t)dst & 63) == 0)
                _mm512_stream_ps(dst, v);
            else
                _mm512_storeu_ps(dst, v);
            if (squares)
                sq = add_squares(sq, v);
        }
    return _mm512_reduce_add_pd(sq);
}

/* Rows of blocks whose sums of squares a call keeps (on the stack): OC up to 16,384. */
enum { SQUARE_ROW_BLOCKS = 512 };

void amx_dweight(float *dweight, const uint16_t *a, const uint16_t *b, int64_t K, int64_t IC, int64_t OC,
                 int accumulate, double *sum_squares) {
    int64_t KB = K / 32;
    int squares = sum_squares && OC / 32 <= SQUARE_ROW_BLOCKS;
    double row_squares[SQUARE_ROW_BLOCKS];
    double t0 = gemm_timing_start();
#pragma omp parallel
    {
        tiles_configure();
#pragma omp for schedule(static)
        for (int64_t o = 0; o < OC; o += 32) {
            double sq = 0.0;
            for (int64_t i = 0; i < IC; i += 32)
                sq += dweight_block(dweight + o * IC + i, IC, a + o / 16 * KB * 512, b + i / 16 * KB * 512, KB,
                                    accumulate, squares);
            if (squares)
                row_squares[o / 32] = sq;
        }
        _tile_release();
    }
    _mm_sfence(); /* the streamed lines visible before anyone reads the gradients */
    gemm_timing_stop(t0);
    if (sum_squares) { /* block rows in order: the same bits for any number of threads */
        double total = squares ? 0.0 : NAN;
        for (int64_t r = 0; squares && r < OC / 32; r++)
            total += row_squares[r];
        *sum_squares = total;
    }
}

/* ---- products over a weight copy in oneDNN's BA16a64b2a layout ---------------- */

int amx_blocked_layer(int64_t IC, int64_t OC) { return IC % 64 == 0 && OC % 64 == 0 && amx_bf16_ready(); }

enum { SUMS_ZERO, SUMS_BIAS, SUMS_ADD };

/* The address of column n's first tile in the blocked copy b of K rows. */
static const uint16_t *blocked_tile(const uint16_t *b, int64_t K, int64_t n) { return b + n / 64 * 64 * K + n % 64 * 2; }

/* c(32, 32) (ldc) = a(32 rows from a, K) b(K, columns n .. n + 31 of the
 * blocked copy b of K rows), plus c or the bias (start). */
static void blocked_block(float *c, int64_t ldc, const uint16_t *a, int64_t K, const uint16_t *b, int64_t n,
                          const float *bias, int start) {
    const uint16_t *b0 = blocked_tile(b, K, n), *a1 = a + 16 * K;
    if (start == SUMS_ADD)
        sums_load(c, ldc);
    else if (start == SUMS_BIAS)
        sums_load(bias + n, 0); /* every row the bias: a row stride of 0 */
    else
        sums_zero();
    for (int64_t k = 0; k < K; k += 32) {
        _tile_loadd(4, a + k, K * 2);
        _tile_loadd(5, a1 + k, K * 2);
        _tile_loadd(6, b0 + k * 64, 256);
        _tile_loadd(7, b0 + k * 64 + 32, 256);
        sums_multiply_add();
    }
    sums_store(c, ldc);
}

/* The last rows (fewer than 32) through a 32 x 32 buffer: A's rows past M are
 * read (room for them is the caller's) and their sums dropped. */
static void blocked_tail(float *c, int64_t N, int rows, const uint16_t *a, int64_t K, const uint16_t *b, int64_t n,
                         const float *bias, int start) {
    _Alignas(64) float sums[32 * 32] = {0};
    for (int r = 0; start == SUMS_ADD && r < rows; r++)
        memcpy(sums + 32 * r, c + r * N + n, 32 * sizeof *sums);
    blocked_block(sums, 32, a, K, b, n, bias, start);
    for (int r = 0; r < rows; r++)
        memcpy(c + r * N + n, sums + 32 * r, 32 * sizeof *sums);
}

/* Columns are taken GROUP at a time (their copy ~200-800 KB, kept in L2)
 * and each block of 32 rows of a runs over the group's columns while in L1:
 * a is read once per group, not once per 32 columns (128 against 32: GEMM
 * time of a bf16 step ~65 -> ~59 ms; 256 leaves a 2-thread team unbalanced
 * at 768 columns). */
enum { GROUP = 128 };

void amx_matmul_blocked(float *c, const uint16_t *a, const uint16_t *b, const float *bias, int64_t M, int64_t K,
                        int64_t N, int accumulate) {
    int start = accumulate ? SUMS_ADD : bias ? SUMS_BIAS : SUMS_ZERO;
    int64_t full = M / 32 * 32;
    double t0 = gemm_timing_start();
#pragma omp parallel
    {
        tiles_configure();
#pragma omp for schedule(static)
        for (int64_t n0 = 0; n0 < N; n0 += GROUP) {
            int64_t n1 = n0 + GROUP < N ? n0 + GROUP : N;
            for (int64_t m = 0; m < full; m += 32)
                for (int64_t n = n0; n < n1; n += 32)
                    blocked_block(c + m * N + n, N, a + m * K, K, b, n, bias, start);
            for (int64_t n = n0; full < M && n < n1; n += 32)
                blocked_tail(c + full * N, N, (int)(M - full), a + full * K, K, b, n, bias, start);
        }
        _tile_release();
    }
    gemm_timing_stop(t0);
}

/* rows x 32 sums of a block (32 floats a row) put through f and rounded to
 * bf16 (f32_to_bf16's rounding) into c16 (ldc values a row). */
static void act16_rows(uint16_t *c16, int64_t ldc, const float *sums, int64_t rows, act_kind kind) {
    for (int64_t r = 0; r < rows; r++)
        act_row_bf16(c16 + r * ldc, sums + 32 * r, 32, kind);
}

void amx_matmul_blocked_act16(uint16_t *c16, const uint16_t *a, const uint16_t *b, const float *bias, int64_t M,
                              int64_t K, int64_t N, act_kind kind) {
    int start = bias ? SUMS_BIAS : SUMS_ZERO;
    double t0 = gemm_timing_start();
#pragma omp parallel
    {
        tiles_configure();
        _Alignas(64) float sums[32 * 32];
#pragma omp for schedule(static)
        for (int64_t n0 = 0; n0 < N; n0 += GROUP) {
            int64_t n1 = n0 + GROUP < N ? n0 + GROUP : N;
            for (int64_t m = 0; m < M; m += 32)
                for (int64_t n = n0; n < n1; n += 32) {
                    blocked_block(sums, 32, a + m * K, K, b, n, bias, start);
                    act16_rows(c16 + m * N + n, N, sums, M - m < 32 ? M - m : 32, kind);
                }
        }
        _tile_release();
    }
    gemm_timing_stop(t0);
}
