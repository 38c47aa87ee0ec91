/* The kernel table of one ISA level (compiled once per level, kernels/simd.h). */
#include "kernels/simd.h"

#define SIMD_STR_(x) #x
#define SIMD_STR(x) SIMD_STR_(x)
#define SIMD_ENTRY_V(name, params, args) .name = SIMD_NAME(name),
#define SIMD_ENTRY_R(type, name, params, args) .name = SIMD_NAME(name),

const simd_kernels SIMD_NAME(simd_kernels) = {.level = SIMD_STR(NERC_SIMD), SIMD_KERNELS(SIMD_ENTRY_V, SIMD_ENTRY_R)};
