/* Runtime ISA dispatch: the plain kernel names (ops.h, convert.h, adamw.h,
 * quant.h, fused.h) call the table of the level the CPU supports (kernels/simd.h), chosen once. */
#include <stdatomic.h>

#include "kernels/adamw.h"
#include "kernels/convert.h"
#include "kernels/fused.h"
#include "kernels/quant.h"
#include "kernels/simd.h"

static _Atomic(const simd_kernels *) table;

static const simd_kernels *table_for(cpu_isa_level level) {
    return level >= CPU_ISA_AVX512 ? &simd_kernels_avx512 : &simd_kernels_avx2;
}

const simd_kernels *simd_get(void) {
    const simd_kernels *t = atomic_load_explicit(&table, memory_order_acquire);
    if (!t) {
        t = table_for(cpu_isa());
        atomic_store_explicit(&table, t, memory_order_release);
    }
    return t;
}

void simd_select(cpu_isa_level level) {
    cpu_isa_level top = cpu_isa_detected();
    atomic_store_explicit(&table, table_for(level < top ? level : top), memory_order_release);
}

#define SIMD_CALL_V(name, params, args)                                                                                \
    void name params { simd_get()->name args; }
#define SIMD_CALL_R(type, name, params, args)                                                                          \
    type name params { return simd_get()->name args; }
SIMD_KERNELS(SIMD_CALL_V, SIMD_CALL_R)
