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

dnnl_status_t onednn_matmul_pd(dnnl_primitive_desc_t *pd, const dnnl_matmul_desc_t *md, int accumulate) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success && accumulate) { /* dst += product: a sum post-op */
        s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success)
            s = dnnl_post_ops_append_sum(ops, 1.0f);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(pd, md, attr, engine, NULL);
    if (ops)
        dnnl_post_ops_destroy(ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return s;
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

/* The matmul's primitive descriptor for M rows (DNNL_RUNTIME_DIM_VAL: any),
 * over weights in the layout `packed` (NULL: the one it prefers), with an
 * f32 bias when with_bias. */
static nerc_status matmul_pd(const onednn_matmul *mm, int64_t M, const dnnl_memory_desc_t *packed, int with_bias,
                             dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t src, wei, dst, bias;
    dnnl_dims_t sd = {M, mm->IC}, wd = {mm->IC, mm->OC}, dd = {M, mm->OC}, bd = {1, mm->OC};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src, 2, sd, mm->src_dt, dnnl_ab), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei, 2, wd, mm->wei_dt, dnnl_format_tag_any), "weights desc");
    if (packed)
        wei = *packed;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 2, dd, mm->dst_dt, dnnl_ab), "dst desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab), "bias desc");
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &src, &wei, with_bias ? &bias : NULL, &dst), "matmul desc");
    DNNL_TRY(onednn_matmul_pd(pd, &md, 0), "matmul primitive desc");
    return NERC_OK;
}

/* On AMX, oneDNN 2.x serves a matmul whose M comes at run time with its
 * gemm:jit kernels; with M fixed it builds brgemm on AMX tiles (bf16 and int8).
 * There a matmul keeps no runtime-M primitive: its weights are packed once in
 * the brgemm layout preferred at M = FIXED_M_STEP (every M takes it) and M
 * rows run in blocks of FIXED_M_STEP times powers of two, largest first, and
 * a tail of fewer than FIXED_M_STEP rows, each through a primitive of that
 * shape, built on first use and kept in one table for every layer of the same
 * sizes (a primitive holds no weights): at most ~70 per product (layer
 * shape, bias), 35-90 KB each (onednn_kept_primitive). Its users: int8
 * inference, and bf16 inference's layers that nerc's own AMX kernels
 * (kernels/amx.h) do not take (sizes not multiples of 64: the classifier);
 * bf16 training runs those on gemm_bf16. */
enum { FIXED_M_STEP = 64, KEPT_MAX = 1024 };

typedef struct {
    onednn_key key;
    dnnl_primitive_t prim;
} kept_primitive;
static kept_primitive kept[KEPT_MAX];
static int n_kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_key(const onednn_key *x, const onednn_key *y) {
    return x->kind == y->kind && x->a == y->a && x->b == y->b && x->c == y->c && x->M == y->M && x->N == y->N &&
           x->K == y->K;
}

int onednn_kept_full(void) {
    pthread_mutex_lock(&kept_lock);
    int full = n_kept == KEPT_MAX;
    pthread_mutex_unlock(&kept_lock);
    return full;
}

nerc_status onednn_kept_primitive(const onednn_key *key, onednn_build_fn build, const void *ctx,
                                  dnnl_primitive_t *prim, int *owned) {
    *owned = 0;
    pthread_mutex_lock(&kept_lock);
    nerc_status st = NERC_OK;
    int i = 0;
    while (i < n_kept && !same_key(&kept[i].key, key))
        i++;
    if (i < n_kept)
        *prim = kept[i].prim;
    else if ((st = build(ctx, prim)) == NERC_OK && n_kept < KEPT_MAX)
        kept[n_kept++] = (kept_primitive){*key, *prim};
    else if (st == NERC_OK)
        *owned = 1;
    pthread_mutex_unlock(&kept_lock);
    return st;
}

static int wants_fixed_m(dnnl_data_type_t src_dt) { return src_dt == dnnl_bf16 ? cpu_amx_bf16() : cpu_amx_int8(); }

static nerc_status make_primitive(onednn_matmul *mm, const void *w) {
    mm->fixed_m = wants_fixed_m(mm->src_dt);
    dnnl_primitive_desc_t pd;
    NERC_TRY(matmul_pd(mm, mm->fixed_m ? FIXED_M_STEP : DNNL_RUNTIME_DIM_VAL, NULL, mm->bias_copy != NULL, &pd));
    mm->packed_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    nerc_status st = pack_weights(mm, &mm->packed_md, mm->wei_dt, w);
    if (st == NERC_OK && !mm->fixed_m && dnnl_primitive_create(&mm->prim, pd) != dnnl_success)
        st = nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: matmul primitive creation failed");
    dnnl_dims_t bd = {1, mm->OC};
    dnnl_memory_desc_t bias;
    if (st == NERC_OK && mm->bias_copy &&
        (dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab) != dnnl_success ||
         dnnl_memory_create(&mm->bias, &bias, engine, mm->bias_copy) != dnnl_success))
        st = nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: bias memory creation failed");
    dnnl_primitive_desc_destroy(pd);
    return st;
}

typedef struct {
    const onednn_matmul *mm;
    int64_t M;
    int with_bias;
} fixed_m_shape;

/* The primitive for M rows of a fixed_m matmul, over its packed weights'
 * layout (the layout of M = FIXED_M_STEP, whatever M would prefer). */
static nerc_status build_fixed_m(const void *ctx, dnnl_primitive_t *prim) {
    const fixed_m_shape *f = ctx;
    dnnl_primitive_desc_t pd;
    NERC_TRY(matmul_pd(f->mm, f->M, &f->mm->packed_md, f->with_bias, &pd));
    dnnl_status_t s = dnnl_primitive_create(prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return s == dnnl_success ? NERC_OK
                             : nerc_errorf(NERC_ERR_INTERNAL, "oneDNN: matmul primitive creation failed (M = %lld)",
                                           (long long)f->M);
}

nerc_status onednn_matmul_init(onednn_matmul *mm, dnnl_data_type_t src_dt, dnnl_data_type_t wei_dt,
                               dnnl_data_type_t dst_dt, const void *w, const float *bias, int64_t IC, int64_t OC) {
    memset(mm, 0, sizeof *mm);
    dnnl_stream_t s_unused = NULL;
    dnnl_engine_t e_unused;
    NERC_TRY(onednn_engine(&e_unused, &s_unused));
    *mm = (onednn_matmul){.IC = IC, .OC = OC, .src_dt = src_dt, .wei_dt = wei_dt, .dst_dt = dst_dt};
    if (bias) {
        if (!(mm->bias_copy = malloc((size_t)OC * sizeof(float))))
            return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        memcpy(mm->bias_copy, bias, (size_t)OC * sizeof(float));
    }
    nerc_status st = make_primitive(mm, w);
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

/* One run of prim over M rows (with mm's bias when it has one). */
static nerc_status run_primitive(const onednn_matmul *mm, dnnl_primitive_t prim, void *dst, const void *src,
                                 int64_t M) {
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
        s = dnnl_primitive_execute(prim, stream, mm->bias ? 4 : 3, args);
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

static size_t dt_size(dnnl_data_type_t dt) { return dt == dnnl_bf16 ? 2 : dt == dnnl_u8 || dt == dnnl_s8 ? 1 : 4; }

/* Rows [at, at + M) of the product through the primitive for M rows. */
static nerc_status run_fixed_m(const onednn_matmul *mm, void *dst, const void *src, int64_t at, int64_t M) {
    /* kind 1: weights packed at init in the layout preferred at FIXED_M_STEP rows */
    onednn_key key = {.kind = 1, .a = (int32_t)mm->src_dt, .b = (int32_t)mm->dst_dt, .c = mm->bias != NULL,
                      .M = M, .N = mm->OC, .K = mm->IC};
    fixed_m_shape shape = {mm, M, mm->bias != NULL};
    dnnl_primitive_t prim = NULL;
    int owned = 0;
    nerc_status st = onednn_kept_primitive(&key, build_fixed_m, &shape, &prim, &owned);
    if (st == NERC_OK)
        st = run_primitive(mm, prim, (char *)dst + (size_t)(at * mm->OC) * dt_size(mm->dst_dt),
                           (const char *)src + (size_t)(at * mm->IC) * dt_size(mm->src_dt), M);
    if (owned)
        dnnl_primitive_destroy(prim);
    return st;
}

/* M rows: power-of-two multiples of FIXED_M_STEP, largest first, then the tail. */
nerc_status onednn_matmul_run(const onednn_matmul *mm, void *dst, const void *src, int64_t M) {
    if (M <= 0)
        return NERC_OK;
    if (!mm->fixed_m)
        return run_primitive(mm, mm->prim, dst, src, M);
    int64_t chunk = FIXED_M_STEP, at = 0;
    while (chunk * 2 <= M)
        chunk *= 2;
    for (; chunk >= FIXED_M_STEP; chunk /= 2)
        if (M - at >= chunk) {
            NERC_TRY(run_fixed_m(mm, dst, src, at, chunk));
            at += chunk;
        }
    return at < M ? run_fixed_m(mm, dst, src, at, M - at) : NERC_OK;
}
