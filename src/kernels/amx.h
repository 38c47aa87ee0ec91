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
 * oneDNN's AMX kernels sum them.
 *
 * Forward and input-gradient products: over the weight copies that AdamW
 * keeps in oneDNN's brgemm layout (BA16a64b2a), the same 32 x 32 blocks of
 * sums (four tiles) with the bias loaded as their start; in a training step
 * ~5% faster than oneDNN's brgemm over the same copies (which needs a
 * primitive per row count), both held back by the weights coming cold from
 * memory. */
#ifndef NERC_KERNELS_AMX_H
#define NERC_KERNELS_AMX_H

#include <stdint.h>

#include "kernels/rows.h"

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
 * accumulate. Needs amx_dweight_fits. sum_squares (may be NULL): the sum of
 * the squares of dweight's values as written, in double (the gradient norm's
 * share of this tensor, from the values while they are in L1; the same bits
 * for any number of threads), NaN when OC > 16,384. */
void amx_dweight(float *dweight, const uint16_t *a, const uint16_t *b, int64_t K, int64_t IC, int64_t OC,
                 int accumulate, double *sum_squares);

/* Whether a layer (IC, OC) keeps its bf16 weight in the blocked layout and
 * runs the products below over it (bf16 training and inference):
 * amx_bf16_ready, IC and OC multiples of 64 (the layout's column blocks). */
int amx_blocked_layer(int64_t IC, int64_t OC);

/* Products over a weight copy in oneDNN's blocked layout BA16a64b2a of a
 * (K, N) operand (kernels/convert.h: the forward's W^T, the input gradient's
 * W): c(M, N) = a(M, K) b(K, N), + c when accumulate, else + bias when not
 * NULL. a: bf16 row-major, with room for amx_panel_rows(M) rows (the rows
 * past M are read, whatever they hold, and their sums dropped). */
void amx_matmul_blocked(float *c, const uint16_t *a, const uint16_t *b, const float *bias, int64_t M, int64_t K,
                        int64_t N, int accumulate);
/* c16(M, N) = bf16(f(a b + bias)) (bias may be NULL; f32_to_bf16's
 * rounding): the same sums as amx_matmul_blocked, put through the
 * activation and rounded while in L1, never written in fp32 (bf16
 * inference: fc1's product straight into fc2's operand). Rows of a past M
 * are read as there. */
void amx_matmul_blocked_act16(uint16_t *c16, const uint16_t *a, const uint16_t *b, const float *bias, int64_t M,
                              int64_t K, int64_t N, act_kind kind);

#endif
