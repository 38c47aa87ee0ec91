/* The AdamW update of one tensor as one pass over memory (per-ISA kernel,
 * kernels/simd.h); train/optim.c drives it over the parameter table. */
#ifndef NERC_KERNELS_ADAMW_H
#define NERC_KERNELS_ADAMW_H

#include <stdint.h>

/* torch 1.13 single-tensor AdamW in float32, with clip_grad_norm_'s factor
 * folded in (g = grad * grad_scale):
 *   p *= decay_factor;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps) */
void adamw_update(float *p, float *m, float *v, const float *grad, float grad_scale, int64_t n, float decay_factor,
                  float beta1, float beta2, float step_size, float bc2_sqrt, float eps);

#endif
