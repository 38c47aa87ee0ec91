/* oneDNN engine/stream and the packed-weight matmul shared by the bf16 and
 * int8 linear layers. */
#include "kernels/onednn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/gemm.h"

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

nerc_status onednn_engine(dnnl_engine_t *e, dnnl_stream_t *s) {
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success)
        return nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: no CPU engine (status %d)", (int)engine_status);
    *e = engine;
    *s = stream;
    return NERC_OK;
}

/* Reorders the (IC, OC) weights given in `ba` layout into the packed layout. */
static nerc_status pack_weights(onednn_matmul *mm, const dnnl_memory_desc_t *packed, dnnl_data_type_t dt,
                                const void *w) {
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {mm->IC, mm->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dt, dnnl_ba), "weights desc");
    dnnl_memory_t src = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_status_t s = dnnl_memory_create(&src, &plain, engine, (void *)w);
    if (s == dnnl_success)
        s = dnnl_memory_create(&mm->weights, packed, engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, packed, engine, NULL);
    if (s == dnnl_success)
        s = dnnl_primitive_create(&reorder, rpd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, mm->weights}};
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

static nerc_status make_primitive(onednn_matmul *mm, dnnl_data_type_t wei_dt, const void *w) {
    dnnl_memory_desc_t src, wei, dst, bias;
    dnnl_dims_t sd = {DNNL_RUNTIME_DIM_VAL, mm->IC}, wd = {mm->IC, mm->OC}, dd = {DNNL_RUNTIME_DIM_VAL, mm->OC},
                bd = {1, mm->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src, 2, sd, mm->src_dt, dnnl_ab), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei, 2, wd, wei_dt, dnnl_format_tag_any), "weights desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 2, dd, mm->dst_dt, dnnl_ab), "dst desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab), "bias desc");
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &src, &wei, mm->bias_copy ? &bias : NULL, &dst), "matmul desc");
    dnnl_primitive_desc_t pd;
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL), "matmul primitive desc");
    const dnnl_memory_desc_t *packed = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    nerc_status st = pack_weights(mm, packed, wei_dt, w);
    if (st == NERC_OK && dnnl_primitive_create(&mm->prim, pd) != dnnl_success)
        st = nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: matmul primitive creation failed");
    if (st == NERC_OK && mm->bias_copy && dnnl_memory_create(&mm->bias, &bias, engine, mm->bias_copy) != dnnl_success)
        st = nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: bias memory creation failed");
    dnnl_primitive_desc_destroy(pd);
    return st;
}

nerc_status onednn_matmul_init(onednn_matmul *mm, dnnl_data_type_t src_dt, dnnl_data_type_t wei_dt,
                               dnnl_data_type_t dst_dt, const void *w, const float *bias, int64_t IC, int64_t OC) {
    memset(mm, 0, sizeof *mm);
    dnnl_stream_t s_unused;
    dnnl_engine_t e_unused;
    NERC_TRY(onednn_engine(&e_unused, &s_unused));
    *mm = (onednn_matmul){.IC = IC, .OC = OC, .src_dt = src_dt, .dst_dt = dst_dt};
    if (bias) {
        if (!(mm->bias_copy = malloc((size_t)OC * sizeof(float))))
            return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        memcpy(mm->bias_copy, bias, (size_t)OC * sizeof(float));
    }
    nerc_status st = make_primitive(mm, wei_dt, w);
    if (st != NERC_OK)
        onednn_matmul_release(mm);
    return st;
}

void onednn_matmul_release(onednn_matmul *mm) {
    if (mm->prim)
        dnnl_primitive_destroy(mm->prim);
    if (mm->weights)
        dnnl_memory_destroy(mm->weights);
    if (mm->bias)
        dnnl_memory_destroy(mm->bias);
    free(mm->bias_copy);
    memset(mm, 0, sizeof *mm);
}

nerc_status onednn_matmul_run(const onednn_matmul *mm, void *dst, const void *src, int64_t M) {
    if (M <= 0)
        return NERC_OK;
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t sd = {M, mm->IC}, dd = {M, mm->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, mm->src_dt, dnnl_ab), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, mm->dst_dt, dnnl_ab), "dst desc");
    dnnl_memory_t s_mem = NULL, d_mem = NULL;
    dnnl_status_t s = dnnl_memory_create(&s_mem, &src_md, engine, (void *)src);
    if (s == dnnl_success)
        s = dnnl_memory_create(&d_mem, &dst_md, engine, dst);
    double t0 = gemm_timing_start();
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, s_mem}, {DNNL_ARG_WEIGHTS, mm->weights}, {DNNL_ARG_DST, d_mem},
                                   {DNNL_ARG_BIAS, mm->bias}};
        s = dnnl_primitive_execute(mm->prim, stream, mm->bias ? 4 : 3, args);
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(stream);
    gemm_timing_stop(t0);
    if (s_mem)
        dnnl_memory_destroy(s_mem);
    if (d_mem)
        dnnl_memory_destroy(d_mem);
    return s == dnnl_success ? NERC_OK : nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: matmul failed (%d)", (int)s);
}
