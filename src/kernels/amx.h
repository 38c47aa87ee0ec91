/* bf16 products of bf16 training on AMX tiles, written for nerc's shapes
 * where oneDNN 2.6 is slow (src/kernels/amx.c).
 *
 * Weight gradients: dW(OC, IC) = dout(N, OC)^T @ inp(N, IC), a product whose
 * inner dimension is the batch's token count (a few hundred) and whose output
 * (all the layer's gradients, fp32) is large: oneDNN reorders dout^T and runs
 * it at ~0.7 TFLOP/s on a 2-core Sapphire Rapids; over operands laid out for
 * the tiles on the way from fp32 (a conversion the product needs anyway) and
 * with its output streamed past the caches it runs at ~2.8 TFLOP/s, bounded
 * by writing the gradients.
 *
 * Operands: dout and inp are fp32, converted with f32_to_bf16's rounding into
 * "panels" (the tiles' own layout, the token dimension padded with zeros to
 * amx_panel_rows(N)):
 *   a (dout^T): [OC/16][K/32][16 outputs][32 tokens]
 *   b (inp):    [IC/16][K/2][16 inputs][2 tokens]
 * The sums are fp32 in the tiles' order (32 tokens at a time, in order), as
 * oneDNN's AMX kernels sum them. */
#ifndef NERC_KERNELS_AMX_H
#define NERC_KERNELS_AMX_H

#include <stdint.h>

/* Whether the AMX kernels may run: the CPU has AMX-BF16, nerc's ISA level and
 * oneDNN's allow it (cpu_amx_bf16) and the OS gave this process the tile
 * state (asked once). */
int amx_bf16_ready(void);
/* Whether a layer of these sizes takes the AMX weight-gradient kernel
 * (amx_bf16_ready, IC and OC multiples of 32). */
int amx_dweight_fits(int64_t IC, int64_t OC);
/* The token dimension of the panels for N tokens: N rounded up to 32. */
int64_t amx_panel_rows(int64_t N);

/* a: amx_panel_rows(N) * OC bf16 values, 64-byte aligned or not. */
void amx_pack_dout(uint16_t *a, const float *dout, int64_t N, int64_t OC);
/* b: amx_panel_rows(N) * IC bf16 values. */
void amx_pack_inp(uint16_t *b, const float *inp, int64_t N, int64_t IC);
/* dweight(OC, IC) = a^T b (K = amx_panel_rows(N)), + dweight when
 * accumulate. Needs amx_dweight_fits. */
void amx_dweight(float *dweight, const uint16_t *a, const uint16_t *b, int64_t K, int64_t IC, int64_t OC,
                 int accumulate);

#endif
