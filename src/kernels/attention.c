/* Packed multi-head attention, forward and backward (see ops.h for the math),
 * compiled once per ISA level (kernels/simd.h). Each (sequence, head) pair is
 * a handful of small matrix products; they run on two register-tiled
 * micro-kernels of 4 rows x one vector register (16 lanes with AVX-512, 8
 * with AVX2), the accumulators held in registers:
 *   rows_dot_rows:     out(i, j) = a_i . b_j         (Q K^T, dctx V^T)
 *   weighted_rows:     out_i     = sum_j w(i, j) x_j  (P V, dS K, dS^T Q, P^T dctx)
 * Every sum runs over its index in ascending order, whatever the thread
 * count: the results do not depend on scheduling. */
#include "kernels/simd.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/rows.h"
#include "kernels/transpose.h"
#include "kernels/vmath.h"

#define TILE_ROWS 4
/* One vector register of floats; loaded and stored with memcpy (any alignment).
 * Each output element is the same chain of fused multiply-adds at either width. */
#ifdef __AVX512F__
#define TILE_LANES 16
#else
#define TILE_LANES 8
#endif
typedef float lanes __attribute__((vector_size(TILE_LANES * sizeof(float))));

#define LANES_LOAD(v, p) memcpy(&(v), (p), sizeof(lanes))

/* acc[r][v] = a_r . bt[:, v-th vector] over D, bt laid out (D, 2 vectors):
 * 8 independent chains, enough to keep two FMA units busy. */
static inline void tile_dot2(lanes acc[TILE_ROWS][2], const float *const a[TILE_ROWS], const float *bt, int64_t D) {
    lanes c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, e0 = {0}, e1 = {0}, e2 = {0}, e3 = {0};
    for (int64_t d = 0; d < D; d++) {
        lanes b, f;
        LANES_LOAD(b, bt + d * 2 * TILE_LANES);
        LANES_LOAD(f, bt + d * 2 * TILE_LANES + TILE_LANES);
        c0 += a[0][d] * b, e0 += a[0][d] * f;
        c1 += a[1][d] * b, e1 += a[1][d] * f;
        c2 += a[2][d] * b, e2 += a[2][d] * f;
        c3 += a[3][d] * b, e3 += a[3][d] * f;
    }
    acc[0][0] = c0, acc[1][0] = c1, acc[2][0] = c2, acc[3][0] = c3;
    acc[0][1] = e0, acc[1][1] = e1, acc[2][1] = e2, acc[3][1] = e3;
}

/* out[0, cols) = v * scale (not a variable-size memcpy: rep movs is slow here). */
static inline void store_cols(float *out, const lanes *v, int nvec, int64_t cols, float scale) {
    for (int k = 0; k < nvec; k++) {
        lanes s = v[k] * scale;
        if (cols >= (k + 1) * TILE_LANES) {
            memcpy(out + k * TILE_LANES, &s, sizeof s);
            continue;
        }
        for (int64_t l = 0; l < cols - k * TILE_LANES; l++)
            out[k * TILE_LANES + l] = s[l];
        return;
    }
}

#ifdef __AVX512F__
/* Rows r < rows of b (each of n <= 16 floats, ldb apart; zeros past them),
 * transposed: bt[k * ldt + r] for k < n, r < 16. */
static inline void transpose_lanes(float *bt, int64_t ldt, const float *b, int64_t ldb, int64_t rows, int64_t n) {
    __mmask16 m = (__mmask16)((1u << n) - 1);
    __m512i r[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, b + i * ldb)) : _mm512_setzero_si512();
    transpose16(r);
    for (int k = 0; k < n; k++)
        _mm512_storeu_ps(bt + k * ldt, _mm512_castsi512_ps(r[k]));
}
#else
/* The same with 8 x 8 blocks (AVX2): rows r < rows of n <= 8 floats. */
static inline void transpose_lanes(float *bt, int64_t ldt, const float *b, int64_t ldb, int64_t rows, int64_t n) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = i < rows ? _mm256_maskload_ps(b + i * ldb, m) : _mm256_setzero_ps();
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4)
        for (int j = 0; j < 2; j++) {
            r[i + 2 * j] = _mm256_shuffle_ps(t[i + j], t[i + j + 2], 0x44);
            r[i + 2 * j + 1] = _mm256_shuffle_ps(t[i + j], t[i + j + 2], 0xee);
        }
    for (int j = 0; j < 4; j++) {
        t[j] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x20);
        t[j + 4] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x31);
    }
    for (int k = 0; k < n; k++)
        _mm256_storeu_ps(bt + k * ldt, t[k]);
}
#endif

/* bt(D, W) = the first cols rows of b (each D floats, ldb apart) transposed,
 * zeros in the columns past cols; TILE_LANES x TILE_LANES blocks at a time
 * (one element at a time, this took as long as the products over the block). */
static void transpose_block(float *bt, int64_t W, const float *b, int64_t ldb, int64_t cols, int64_t D) {
    for (int64_t l0 = 0; l0 < W; l0 += TILE_LANES) {
        int64_t rows = cols - l0 < 0 ? 0 : cols - l0 < TILE_LANES ? cols - l0 : TILE_LANES;
        for (int64_t d0 = 0; d0 < D; d0 += TILE_LANES)
            transpose_lanes(bt + d0 * W + l0, W, b + l0 * ldb + d0, ldb, rows,
                            D - d0 < TILE_LANES ? D - d0 : TILE_LANES);
    }
}

/* out(i, j) = scale * a_i . b_j for i < na, j < nb, with rows a_i = a + i*lda,
 * b_j = b + j*ldb of length D <= HEAD_DIM_MAX and out rows ldo apart. b is
 * transposed 2 vectors' worth of rows at a time into a block on the stack. */
static void rows_dot_rows(float *out, int64_t ldo, const float *a, int64_t lda, int64_t na, const float *b,
                          int64_t ldb, int64_t nb, int64_t D, float scale) {
    enum { W = 2 * TILE_LANES };
    float bt[HEAD_DIM_MAX * W];
    for (int64_t j0 = 0; j0 < nb; j0 += W) {
        int64_t cols = nb - j0 < W ? nb - j0 : W;
        transpose_block(bt, W, b + j0 * ldb, ldb, cols, D);
        for (int64_t i0 = 0; i0 < na; i0 += TILE_ROWS) {
            const float *ar[TILE_ROWS];
            for (int r = 0; r < TILE_ROWS; r++)
                ar[r] = a + (i0 + r < na ? i0 + r : na - 1) * lda;
            lanes acc[TILE_ROWS][2];
            tile_dot2(acc, ar, bt, D);
            for (int r = 0; r < TILE_ROWS && i0 + r < na; r++)
                store_cols(out + (i0 + r) * ldo + j0, acc[r], 2, cols, scale);
        }
    }
}

/* out_r[d0, d0 + NV vectors) = sum_{j < nx} w_r(j) x_j[d0, ...) for the tile's
 * rows, NV = 1 or 2 (2: 8 independent chains). */
#define TILE_WEIGHTED(NV)                                                                                              \
    static inline void tile_weighted##NV(float *const out[TILE_ROWS], int rows, const float *const w[TILE_ROWS],      \
                                         int64_t wc, const float *x, int64_t ldx, int64_t nx, int64_t d0) {           \
        lanes acc[TILE_ROWS][NV];                                                                                      \
        for (int r = 0; r < TILE_ROWS; r++)                                                                            \
            for (int k = 0; k < NV; k++)                                                                               \
                acc[r][k] = (lanes){0};                                                                                \
        for (int64_t j = 0; j < nx; j++) {                                                                             \
            lanes xv[NV];                                                                                              \
            for (int k = 0; k < NV; k++)                                                                               \
                LANES_LOAD(xv[k], x + j * ldx + d0 + k * TILE_LANES);                                                  \
            for (int r = 0; r < TILE_ROWS; r++) {                                                                      \
                float wr = w[r][j * wc];                                                                               \
                for (int k = 0; k < NV; k++)                                                                           \
                    acc[r][k] += wr * xv[k];                                                                           \
            }                                                                                                          \
        }                                                                                                              \
        for (int r = 0; r < rows; r++)                                                                                 \
            memcpy(out[r] + d0, acc[r], sizeof acc[r]);                                                                \
    }
TILE_WEIGHTED(1)
TILE_WEIGHTED(2)
#undef TILE_WEIGHTED

/* out_i = sum_{j < nx} w(i, j) x_j for i < nout, rows of length D: out_i =
 * out + i*ldo, x_j = x + j*ldx, w(i, j) = w[i*wr + j*wc] (wr, wc give w or
 * its transpose). */
static void weighted_rows(float *out, int64_t ldo, int64_t nout, const float *w, int64_t wr, int64_t wc,
                          const float *x, int64_t ldx, int64_t nx, int64_t D) {
    int64_t full = D - D % TILE_LANES, pairs = D - D % (2 * TILE_LANES);
    for (int64_t i0 = 0; i0 < nout; i0 += TILE_ROWS) {
        int rows = nout - i0 < TILE_ROWS ? (int)(nout - i0) : TILE_ROWS;
        float *o[TILE_ROWS];
        const float *wp[TILE_ROWS];
        for (int r = 0; r < TILE_ROWS; r++) {
            int64_t i = i0 + (r < rows ? r : rows - 1);
            o[r] = out + i * ldo;
            wp[r] = w + i * wr;
        }
        for (int64_t d0 = 0; d0 < pairs; d0 += 2 * TILE_LANES)
            tile_weighted2(o, rows, wp, wc, x, ldx, nx, d0);
        if (full > pairs)
            tile_weighted1(o, rows, wp, wc, x, ldx, nx, pairs);
        for (int r = 0; r < rows; r++) /* the last D % TILE_LANES columns */
            for (int64_t d = full; d < D; d++) {
                float s = 0.0f;
                for (int64_t j = 0; j < nx; j++)
                    s += wp[r][j * wc] * x[j * ldx + d];
                o[r][d] = s;
            }
    }
}

/* The dropout key of sequence b's probabilities: its own seed and indices
 * from 0 when the layout has per-sequence seeds, else the call's seed and b's
 * offset in the batch. */
static inline uint64_t att_drop_seed(const att_layout *lay, int64_t b, uint64_t seed) {
    return lay->drop_seeds ? lay->drop_seeds[b] : seed;
}
static inline int64_t att_drop_base(const att_layout *lay, int64_t b) {
    return lay->drop_seeds ? 0 : lay->att_offsets[b];
}

/* One (sequence, head) and its slices: rows r0.. of qkv / ctx, probabilities
 * (Tq, Tk) at att + at (and the same place in the scratch), dropout key. */
typedef struct {
    int64_t r0, Tq, Tk, C, D, h, at;
    float drop_p;
    uint64_t seed, stream;
    int64_t drop_base; /* mask index of this head's element (0, 0) */
} head_view;

static head_view head_at(const att_layout *lay, int64_t bh, int64_t C, int64_t H, float drop_p, uint64_t seed,
                         uint64_t stream) {
    int64_t b = bh / H, h = bh % H;
    int64_t r0 = lay->seq_offsets[b], Tq = lay->seq_offsets[b + 1] - r0, Tk = lay->seq_keys[b];
    return (head_view){r0, Tq, Tk, C, C / H, h, lay->att_offsets[b] + h * Tq * Tk, drop_p, att_drop_seed(lay, b, seed),
                       stream, att_drop_base(lay, b) + h * Tq * Tk};
}

/* p(Tq, Tk) *= keep / (1 - p): the attention-probability dropout mask. */
static void head_dropout(const head_view *v, float *p) {
    const dropout_mask dm = dropout_mask_of(v->drop_p, v->seed, v->stream);
    const int64_t n_all = v->Tq * v->Tk, base = v->drop_base; /* locals: the stores to p cannot change them */
    for (int64_t n = 0; n < n_all; n++)
        p[n] *= dropout_mask_scale(&dm, (uint64_t)(base + n));
}

static void softmax_rows(float *p, int64_t rows, int64_t n) {
    for (int64_t i = 0; i < rows; i++, p += n) {
        float mx = -INFINITY, sum = 0.0f;
        for (int64_t j = 0; j < n; j++)
            mx = p[j] > mx ? p[j] : mx;
        for (int64_t j = 0; j < n; j++) /* a loop of its own: vectorised (the sum's order is kept) */
            p[j] = vm_expf(p[j] - mx);
        for (int64_t j = 0; j < n; j++)
            sum += p[j];
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; j++)
            p[j] *= inv;
    }
}

/* The (sequence, head) pairs a thread takes at a time: all of a sequence's
 * heads when there are enough sequences to share out (its rows of qkv, every
 * head's slice, ~9 KB each, then come into one core's cache once, not into
 * each core's: 1.3x faster for 16 CoNLL sequences on 2 threads), else one
 * (a single sentence's heads spread over the threads). */
static int64_t heads_per_task(const att_layout *lay, int64_t H) {
    return lay->n_seqs >= 8 * omp_get_max_threads() ? H : 1;
}

/* att = softmax(q k^T / sqrt(D)); ctx = dropout(att) v. pd: scratch (Tq, Tk) for
 * dropout(att), or NULL: then att itself holds dropout(att) on return. */
static void attention_head_forward(float *ctx, float *att, float *pd, const float *qkv, const head_view *v) {
    int64_t C3 = 3 * v->C, hd = v->h * v->D;
    const float *q = qkv + v->r0 * C3 + hd, *k = q + v->C, *val = q + 2 * v->C;
    rows_dot_rows(att, v->Tk, q, C3, v->Tq, k, C3, v->Tk, v->D, 1.0f / sqrtf((float)v->D));
    softmax_rows(att, v->Tq, v->Tk);
    float *w = att;
    if (v->drop_p > 0.0f) {
        if (pd) { /* else dropped in place: no backward follows */
            memcpy(pd, att, (size_t)(v->Tq * v->Tk) * sizeof *pd);
            w = pd;
        }
        head_dropout(v, w);
    }
    weighted_rows(ctx + v->r0 * v->C + hd, v->C, v->Tq, w, v->Tk, 1, val, C3, v->Tk, v->D);
}

void SIMD_NAME(attention_forward)(float *ctx, float *att, float *scratch, const float *qkv, const att_layout *lay,
                                  int64_t C, int64_t H, float drop_p, uint64_t seed, uint64_t stream) {
    int64_t per = heads_per_task(lay, H);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t task = 0; task < lay->n_seqs * H / per; task++)
        for (int64_t bh = task * per; bh < (task + 1) * per; bh++) {
            head_view v = head_at(lay, bh, C, H, drop_p, seed, stream);
            attention_head_forward(ctx, att + v.at, scratch ? scratch + v.at : NULL, qkv, &v);
        }
}

/* One (sequence, head) of the backward pass; d is scratch (Tq, Tk):
 *   dv = pd^T dctx                       (pd = dropout(p))
 *   dpd = dctx v^T;  dp = dropout'(dpd);  ds = p (dp - rowsum(p dp)) / sqrt(D)
 *   dq = ds k;  dk = ds^T q              (dk, dv of masked keys: 0) */
static void attention_head_backward(float *dqkv, float *d, const float *dctx, const float *qkv, const float *p,
                                    const head_view *v) {
    int64_t C3 = 3 * v->C, hd = v->h * v->D, Tq = v->Tq, Tk = v->Tk;
    const float *q = qkv + v->r0 * C3 + hd, *k = q + v->C, *val = q + 2 * v->C, *dc = dctx + v->r0 * v->C + hd;
    float *dq = dqkv + v->r0 * C3 + hd, *dk = dq + v->C, *dv = dq + 2 * v->C;
    const float *pd = p;
    if (v->drop_p > 0.0f) {
        memcpy(d, p, (size_t)(Tq * Tk) * sizeof *d);
        head_dropout(v, d);
        pd = d;
    }
    weighted_rows(dv, C3, Tk, pd, 1, Tk, dc, v->C, Tq, v->D);
    for (int64_t j = Tk; j < Tq; j++) { /* masked keys (padding): no gradient */
        memset(dk + j * C3, 0, (size_t)v->D * sizeof *dk);
        memset(dv + j * C3, 0, (size_t)v->D * sizeof *dv);
    }
    rows_dot_rows(d, Tk, dc, v->C, Tq, val, C3, Tk, v->D, 1.0f);
    if (v->drop_p > 0.0f)
        head_dropout(v, d);
    float scale = 1.0f / sqrtf((float)v->D);
    for (int64_t i = 0; i < Tq; i++) {
        const float *pi = p + i * Tk;
        float *di = d + i * Tk, s = 0.0f;
        for (int64_t j = 0; j < Tk; j++)
            s += pi[j] * di[j];
        for (int64_t j = 0; j < Tk; j++)
            di[j] = pi[j] * (di[j] - s) * scale;
    }
    weighted_rows(dq, C3, Tq, d, Tk, 1, k, C3, Tk, v->D);
    weighted_rows(dk, C3, Tk, d, 1, Tk, q, C3, Tq, v->D);
}

void SIMD_NAME(attention_backward)(float *dqkv, float *datt, const float *dctx, const float *qkv, const float *att,
                                   const att_layout *lay, int64_t C, int64_t H, float drop_p, uint64_t seed,
                                   uint64_t stream) {
    /* Different heads write disjoint columns of dqkv; a sequence's rows belong to it alone. */
    int64_t per = heads_per_task(lay, H);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t task = 0; task < lay->n_seqs * H / per; task++)
        for (int64_t bh = task * per; bh < (task + 1) * per; bh++) {
            head_view v = head_at(lay, bh, C, H, drop_p, seed, stream);
            attention_head_backward(dqkv, datt + v.at, dctx, qkv, att + v.at, &v);
        }
}

void SIMD_NAME(attention_forward_ref)(float *ctx, float *att, const float *qkv, const att_layout *lay, int64_t C,
                                      int64_t H) {
    int64_t D = C / H;
    for (int32_t b = 0; b < lay->n_seqs; b++) {
        int64_t r0 = lay->seq_offsets[b], Tq = lay->seq_offsets[b + 1] - r0, Tk = lay->seq_keys[b];
        double *sc = malloc((size_t)Tk * sizeof *sc);
        if (!sc)
            return;
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tq; i++) {
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < Tk; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < D; d++)
                        s += (double)qkv[(r0 + i) * 3 * C + h * D + d] * qkv[(r0 + j) * 3 * C + C + h * D + d];
                    sc[j] = s / sqrt((double)D);
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int64_t j = 0; j < Tk; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int64_t d = 0; d < D; d++) {
                    double o = 0.0;
                    for (int64_t j = 0; j < Tk; j++)
                        o += sc[j] / sum * qkv[(r0 + j) * 3 * C + 2 * C + h * D + d];
                    ctx[(r0 + i) * C + h * D + d] = (float)o;
                }
                for (int64_t j = 0; j < Tk; j++)
                    att[lay->att_offsets[b] + (h * Tq + i) * Tk + j] = (float)(sc[j] / sum);
            }
        free(sc);
    }
}
