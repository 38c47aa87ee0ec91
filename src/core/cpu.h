/* What the CPU can do (cpuid + the OS's saved register state) and which ISA
 * level nerc's own kernels run at. One build runs on any x86-64 with AVX2+FMA
 * (x86-64-v3); kernels/simd.h picks the per-ISA kernels from cpu_isa().
 * NERC_ISA=avx2|avx512 forces a lower level (tests, comparisons); it also
 * caps oneDNN (dnnl_set_max_cpu_isa) so that GEMMs and kernels agree.
 * This file is compiled for plain x86-64 so that it can say "no AVX2" on a
 * CPU without it instead of dying of SIGILL. */
#ifndef NERC_CORE_CPU_H
#define NERC_CORE_CPU_H

#include "nerc/common.h"

typedef enum { CPU_ISA_NONE = 0, CPU_ISA_AVX2 = 1, CPU_ISA_AVX512 = 2 } cpu_isa_level;

typedef struct {
    char brand[49];   /* cpuid brand string, e.g. "AMD EPYC 9B45" */
    int family, model;
    /* x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE and the OS saving YMM state */
    int avx2, fma, v3;
    /* x86-64-v4: AVX-512 F/BW/CD/DQ/VL and the OS saving ZMM + opmask state */
    int avx512f, avx512bw, avx512vl, v4;
    int avx512_vnni, avx512_bf16, avx_vnni;
    int amx_bf16, amx_int8; /* with the OS saving tile state */
} cpu_features;

/* Detected once (thread-safe); never NULL. */
const cpu_features *cpu_features_get(void);
/* The level the kernels run at: the detected one, or lower if NERC_ISA says so. */
cpu_isa_level cpu_isa(void);
/* The highest level this CPU supports. */
cpu_isa_level cpu_isa_detected(void);
const char *cpu_isa_name(cpu_isa_level l);
/* Native bf16 matmuls (AVX512_BF16 or AMX-BF16) at the level in use. */
int cpu_bf16_native(void);
/* VNNI int8 dot products (AVX512_VNNI or AMX-INT8) at the level in use: the
 * full u8 activation range is safe; without VNNI the u8*s8 pair sums of
 * vpmaddubsw saturate int16, so activations keep 7 bits (as fbgemm's reduce_range). */
int cpu_int8_vnni(void);
/* AMX tiles for bf16 / int8 at the level in use, and oneDNN running at its AMX ISA. */
int cpu_amx_bf16(void);
int cpu_amx_int8(void);

#endif
