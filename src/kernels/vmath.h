/* Branch-free float32 exp and erf that compilers vectorise (libm's expf/erff
 * are scalar calls). The polynomials are written as fused multiply-adds
 * (__builtin_fmaf: one rounding, the same bits at every ISA level, as all
 * have FMA; GELU forward 1.2x, backward 1.25x faster than separate ops).
 * Accuracy, checked over the whole float range in tests/test_kernels.c: exp
 * within 2e-7 relative of exp((double)x); erf within 5e-7 absolute of
 * erf((double)x) (a rational minimax fit on [-4, 4]; erf is
 * +-1 in float beyond). */
#ifndef NERC_KERNELS_VMATH_H
#define NERC_KERNELS_VMATH_H

#include <stdint.h>
#include <string.h>

/* e^x = 2^n e^r, n = round(x / ln 2), |r| <= ln2 / 2, e^r by its degree-7 Taylor polynomial. */
static inline float vm_expf(float x) {
    float xc = x < 88.0f ? x : 88.0f; /* NaN -> 88 here: n stays a valid int; NaN is restored below */
    xc = xc > -87.0f ? xc : -87.0f;
    float n = __builtin_rintf(xc * 1.44269504088896341f);
    float r = xc - n * 0.693359375f; /* ln 2, high bits (exact product) */
    r = __builtin_fmaf(n, 2.12194440e-4f, r); /* ln 2, low bits */
    float p = 1.0f / 5040.0f;
    p = __builtin_fmaf(p, r, 1.0f / 720.0f);
    p = __builtin_fmaf(p, r, 1.0f / 120.0f);
    p = __builtin_fmaf(p, r, 1.0f / 24.0f);
    p = __builtin_fmaf(p, r, 1.0f / 6.0f);
    p = __builtin_fmaf(p, r, 0.5f);
    p = __builtin_fmaf(p, r, 1.0f);
    p = __builtin_fmaf(p, r, 1.0f);
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x != x ? x : p * scale;
}

/* erf(x) ~ x P(x^2) / Q(x^2) on [-4, 4] (odd degree-13 / even degree-8). */
static inline float vm_erff(float x) {
    x = x > 4.0f ? 4.0f : x < -4.0f ? -4.0f : x;
    float x2 = x * x;
    float p = __builtin_fmaf(x2, -2.72614225801306e-10f, 2.77068142495902e-08f);
    p = __builtin_fmaf(x2, p, -2.10102402082508e-06f);
    p = __builtin_fmaf(x2, p, -5.69250639462346e-05f);
    p = __builtin_fmaf(x2, p, -7.34990630326855e-04f);
    p = __builtin_fmaf(x2, p, -2.95459980854025e-03f);
    p = __builtin_fmaf(x2, p, -1.60960333262415e-02f);
    float q = __builtin_fmaf(x2, -1.45660718464996e-05f, -2.13374055278905e-04f);
    q = __builtin_fmaf(x2, q, -1.68282697438203e-03f);
    q = __builtin_fmaf(x2, q, -7.37332916720468e-03f);
    q = __builtin_fmaf(x2, q, -1.42647390514189e-02f);
    return x * p / q;
}

#endif
