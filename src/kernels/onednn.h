/* What the oneDNN-backed kernels share: one CPU engine and stream for the
 * process (created after core/cpu.c has capped oneDNN's ISA), and the
 * "matmul with runtime M over weights packed once" they are built on. */
#ifndef NERC_KERNELS_ONEDNN_H
#define NERC_KERNELS_ONEDNN_H

#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>

#include "nerc/common.h"

/* Returns a failing status with "oneDNN: <what> failed (status N)". */
#define DNNL_TRY(call, what)                                                                                   \
    do {                                                                                                       \
        dnnl_status_t dnnl_try_s_ = (call);                                                                    \
        if (dnnl_try_s_ != dnnl_success)                                                                       \
            return nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: %s failed (status %d)", what, (int)dnnl_try_s_); \
    } while (0)

nerc_status onednn_engine(dnnl_engine_t *engine, dnnl_stream_t *stream);

/* The primitive descriptor of a matmul on the process's engine, with a sum
 * post-op (dst += product) when accumulate (the engine must exist:
 * onednn_engine). */
dnnl_status_t onednn_matmul_pd(dnnl_primitive_desc_t *pd, const dnnl_matmul_desc_t *md, int accumulate);

/* Primitives kept for the life of the process, for shapes that need one
 * each (AMX: oneDNN 2.x runs brgemm on AMX tiles only for fixed sizes): a
 * key's primitive is built by `build(ctx, &prim)` on first use. Past the
 * table's size (1024) the primitive is built for one use: *owned is set and
 * the caller destroys it after running it. Thread-safe. */
typedef struct {
    int32_t kind, a, b, c; /* the caller's kind of product and its flags / data types */
    int64_t M, N, K;
} onednn_key;
typedef nerc_status (*onednn_build_fn)(const void *ctx, dnnl_primitive_t *prim);
nerc_status onednn_kept_primitive(const onednn_key *key, onednn_build_fn build, const void *ctx,
                                  dnnl_primitive_t *prim, int *owned);
/* Whether the table is full (a caller with another way to run the product
 * takes it then rather than building a primitive for each use). */
int onednn_kept_full(void);

/* A matmul dst(M,OC) = src(M,IC) @ W(IC,OC) [+ bias(1,OC) f32] with M given
 * at run time and W packed once in the layout the primitive prefers (on AMX:
 * per-M primitives over brgemm's layout, see onednn.c). */
typedef struct {
    int64_t IC, OC;
    dnnl_data_type_t src_dt, wei_dt, dst_dt;
    int fixed_m;                 /* AMX: no runtime-M primitive, per-M ones from a shared table */
    dnnl_memory_desc_t packed_md; /* the weights' layout */
    dnnl_primitive_t prim;       /* runtime M (NULL when fixed_m) */
    dnnl_memory_t weights; /* packed */
    dnnl_memory_t bias;    /* f32 (1, OC) over bias_copy, or NULL */
    float *bias_copy;
} onednn_matmul;

/* w: (OC, IC) row-major of type wei_dt (torch Linear layout). bias may be NULL. */
nerc_status onednn_matmul_init(onednn_matmul *mm, dnnl_data_type_t src_dt, dnnl_data_type_t wei_dt,
                               dnnl_data_type_t dst_dt, const void *w, const float *bias, int64_t IC, int64_t OC);
void onednn_matmul_release(onednn_matmul *mm);
/* dst (M, OC) of dst_dt from src (M, IC) of src_dt, both dense row-major. */
nerc_status onednn_matmul_run(const onednn_matmul *mm, void *dst, const void *src, int64_t M);

#endif
