/* bf16 linear layers through oneDNN matmul (runtime M, packed weights,
 * fp32 bias and output). One engine and stream for the process. */
#include "kernels/linear_bf16.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "nerc/model.h"

struct linear_bf16 {
    int64_t IC, OC;
    dnnl_primitive_t prim;
    dnnl_memory_t weights; /* packed bf16 */
    dnnl_memory_t bias;    /* f32 (OC), or NULL */
    float *bias_copy;
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
    (void)cpu_isa(); /* NERC_ISA caps oneDNN's ISA before its first use */
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (engine_status == dnnl_success)
        engine_status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
}

#define DNNL_TRY(call, what)                                                                       \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success)                                                                    \
            return nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: %s failed (status %d)", what, (int)s_); \
    } while (0)

/* Reorders the (IC, OC) bf16 weights given in `ba` layout into the packed layout the primitive wants. */
static nerc_status pack_weights(linear_bf16 *l, const dnnl_memory_desc_t *packed_md, const uint16_t *w) {
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {l->IC, l->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dnnl_bf16, dnnl_ba), "weights desc");
    dnnl_memory_t src = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_status_t s = dnnl_memory_create(&src, &plain, engine, (void *)w);
    if (s == dnnl_success)
        s = dnnl_memory_create(&l->weights, packed_md, engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, packed_md, engine, NULL);
    if (s == dnnl_success)
        s = dnnl_primitive_create(&reorder, rpd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, l->weights}};
        s = dnnl_primitive_execute(reorder, stream, 2, args);
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(stream);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (src)
        dnnl_memory_destroy(src);
    return s == dnnl_success ? NERC_OK : nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: weight packing failed (%d)", (int)s);
}

static nerc_status make_primitive(linear_bf16 *l, const uint16_t *w) {
    dnnl_memory_desc_t src, wei, dst, bias;
    dnnl_dims_t sd = {DNNL_RUNTIME_DIM_VAL, l->IC}, wd = {l->IC, l->OC}, dd = {DNNL_RUNTIME_DIM_VAL, l->OC},
                bd = {1, l->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei, 2, wd, dnnl_bf16, dnnl_format_tag_any), "weights desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab), "dst desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab), "bias desc");
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &src, &wei, l->bias_copy ? &bias : NULL, &dst), "matmul desc");
    dnnl_primitive_desc_t pd;
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL), "matmul primitive desc");
    const dnnl_memory_desc_t *packed = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    nerc_status st = pack_weights(l, packed, w);
    if (st == NERC_OK && dnnl_primitive_create(&l->prim, pd) != dnnl_success)
        st = nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: matmul primitive creation failed");
    if (st == NERC_OK && l->bias_copy &&
        dnnl_memory_create(&l->bias, &bias, engine, l->bias_copy) != dnnl_success)
        st = nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: bias memory creation failed");
    dnnl_primitive_desc_destroy(pd);
    return st;
}

nerc_status linear_bf16_create(linear_bf16 **out, const float *weight, const float *bias, int64_t IC, int64_t OC) {
    *out = NULL;
    NERC_TRY(nerc_precision_check(NERC_PRECISION_BF16)); /* no emulated bf16, no SIGILL */
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success)
        return nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: no CPU engine (status %d)", (int)engine_status);
    linear_bf16 *l = calloc(1, sizeof *l);
    uint16_t *w = malloc((size_t)(IC * OC) * sizeof *w);
    if (l && bias && (l->bias_copy = malloc((size_t)OC * sizeof(float))))
        memcpy(l->bias_copy, bias, (size_t)OC * sizeof(float));
    nerc_status st = l && w && (!bias || l->bias_copy) ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK) {
        l->IC = IC;
        l->OC = OC;
        f32_to_bf16(w, weight, IC * OC); /* (OC, IC) row-major == (IC, OC) in "ba" layout */
        st = make_primitive(l, w);
    }
    free(w);
    if (st != NERC_OK) {
        linear_bf16_free(l);
        return st;
    }
    *out = l;
    return NERC_OK;
}

void linear_bf16_free(linear_bf16 *l) {
    if (!l)
        return;
    if (l->prim)
        dnnl_primitive_destroy(l->prim);
    if (l->weights)
        dnnl_memory_destroy(l->weights);
    if (l->bias)
        dnnl_memory_destroy(l->bias);
    free(l->bias_copy);
    free(l);
}

nerc_status linear_bf16_forward(const linear_bf16 *l, float *out, const float *inp, uint16_t *scratch, int64_t N) {
    if (N <= 0)
        return NERC_OK;
    f32_to_bf16(scratch, inp, N * l->IC);
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t sd = {N, l->IC}, dd = {N, l->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_bf16, dnnl_ab), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_ab), "dst desc");
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_status_t s = dnnl_memory_create(&src, &src_md, engine, scratch);
    if (s == dnnl_success)
        s = dnnl_memory_create(&dst, &dst_md, engine, out);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, l->weights}, {DNNL_ARG_DST, dst},
                                   {DNNL_ARG_BIAS, l->bias}};
        s = dnnl_primitive_execute(l->prim, stream, l->bias ? 4 : 3, args);
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(stream);
    if (src)
        dnnl_memory_destroy(src);
    if (dst)
        dnnl_memory_destroy(dst);
    return s == dnnl_success ? NERC_OK : nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: bf16 matmul failed (%d)", (int)s);
}
