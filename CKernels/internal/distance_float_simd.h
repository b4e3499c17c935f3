/*
 * Vocabulary of the SIMD tiers of the f32 / f16 / bf16 distances (distance_float_x86_avx2.c,
 * distance_float_x86_avx512.c, distance_float_arm_neon.c): element kinds, operations and the
 * inlining / unrolling the kernels rely on. Each tier file includes this first, defines its
 * ISA primitives, then includes distance_float_driver.h for the ISA-independent drivers.
 * Not part of the public API.
 */
#ifndef KESTREL_DISTANCE_FLOAT_SIMD_H
#define KESTREL_DISTANCE_FLOAT_SIMD_H

#include "kestrel_internal.h"
#include "kestrel_tiers.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))
/* The loops over accumulators and rows must unroll so that everything stays in registers. */
#define UNROLL _Pragma("GCC unroll 16")

typedef enum { K_F32, K_F16, K_BF16 } elem_kind;
typedef enum { OP_DOT, OP_L2, OP_COS } dist_op;

ALWAYS_INLINE size_t elem_bytes(elem_kind k) { return k == K_F32 ? 4 : 2; }

#endif
