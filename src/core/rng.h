/* Deterministic random numbers: one seed drives init, shuffling and dropout.
 * A splitmix64-seeded xoshiro256** stream for sequential draws, and a
 * stateless counter hash for dropout masks (same mask whatever the thread
 * count or the order in which rows are visited). */
#ifndef NERC_CORE_RNG_H
#define NERC_CORE_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_state;

static inline uint64_t rng_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void rng_seed(rng_state *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix64(&seed);
}

static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next_u64(rng_state *r) {
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rng_uniform(rng_state *r) { return (double)(rng_next_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n) without modulo bias (n > 0). */
static inline uint64_t rng_below(rng_state *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next_u64(r);
    while (x >= limit);
    return x % n;
}

/* Standard normal (Box-Muller; one value per call, deterministic). */
static inline double rng_normal(rng_state *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

/* Fisher-Yates shuffle of n int32 values. */
static inline void rng_shuffle_i32(rng_state *r, int32_t *a, int32_t n) {
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)rng_below(r, (uint64_t)i + 1);
        int32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Stateless hash of (seed, stream, index) to a uniform in [0, 1): dropout
 * masks are a pure function of the step's seed, the op and the element.
 * rng_hash_key(seed, stream) once per stream, then a 24-bit draw per index. */
static inline uint64_t rng_hash_key(uint64_t seed, uint64_t stream) { return seed ^ (stream * 0xd1b54a32d192ed03ULL); }

static inline uint64_t rng_hash_u24_keyed(uint64_t key, uint64_t index) {
    uint64_t x = key ^ (index * 0x9e3779b97f4a7c15ULL);
    return rng_splitmix64(&x) >> 40;
}

static inline uint64_t rng_hash_u24(uint64_t seed, uint64_t stream, uint64_t index) {
    return rng_hash_u24_keyed(rng_hash_key(seed, stream), index);
}

static inline float rng_hash_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    return (float)rng_hash_u24(seed, stream, index) * 0x1.0p-24f;
}

#endif
