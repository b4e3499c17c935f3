/*
 * AVX-512 VNNI quantized dots and int8 GEMV/GEMM: the x86 body (internal/qdot_x86_body.h) with
 * vpdpbusd (256-bit, AVX512VL) adding four u8 * s8 products into each int32 lane without
 * saturation. Q4_K / Q6_K use avx2's kernels (their unsigned codes already fit maddubs exactly).
 */
#include "internal/qdot.h"

#if KESTREL_X86

KESTREL_TARGET_AVX512VNNI_BEGIN

#define QD_TIER avx512vnni
#define QD_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define QD_DOT_I8 kestrel_dot_i8_avx512vnni
#include "internal/qdot_x86_body.h"

KESTREL_TARGET_END

#endif
