/*
 * Prototypes of the f32 / f16 / bf16 distance kernels of every tier (scalar reference,
 * AVX2+FMA+F16C, AVX-512, NEON). Only the registration function and tests/benchmarks that
 * link the library statically call these names directly; everyone else goes through the
 * function table. A tier's functions must only be called when `kestrel_isa_supported` says so.
 */
#ifndef KESTREL_DISTANCE_FLOAT_H
#define KESTREL_DISTANCE_FLOAT_H

#include "kestrel_kernels.h"

#define KESTREL_DISTANCE_FLOAT_TIER(tier)                                                                      \
    float kestrel_dot_f32_##tier(const float *a, const float *b, size_t n);                                     \
    float kestrel_l2sq_f32_##tier(const float *a, const float *b, size_t n);                                    \
    float kestrel_cosine_f32_##tier(const float *a, const float *b, size_t n);                                  \
    float kestrel_dot_f16_##tier(const uint16_t *a, const uint16_t *b, size_t n);                               \
    float kestrel_l2sq_f16_##tier(const uint16_t *a, const uint16_t *b, size_t n);                              \
    float kestrel_cosine_f16_##tier(const uint16_t *a, const uint16_t *b, size_t n);                            \
    float kestrel_dot_bf16_##tier(const uint16_t *a, const uint16_t *b, size_t n);                              \
    float kestrel_l2sq_bf16_##tier(const uint16_t *a, const uint16_t *b, size_t n);                             \
    float kestrel_cosine_bf16_##tier(const uint16_t *a, const uint16_t *b, size_t n);                           \
    kestrel_status kestrel_dot_f32_many_##tier(const float *q, const float *base, size_t dim, size_t count,     \
                                               size_t stride, float *out);                                      \
    kestrel_status kestrel_l2sq_f32_many_##tier(const float *q, const float *base, size_t dim, size_t count,    \
                                                size_t stride, float *out);                                     \
    kestrel_status kestrel_cosine_f32_many_##tier(const float *q, const float *base, size_t dim, size_t count,  \
                                                  size_t stride, float *out);                                   \
    kestrel_status kestrel_dot_f16_many_##tier(const uint16_t *q, const uint16_t *base, size_t dim,             \
                                               size_t count, size_t stride, float *out);                        \
    kestrel_status kestrel_l2sq_f16_many_##tier(const uint16_t *q, const uint16_t *base, size_t dim,            \
                                                size_t count, size_t stride, float *out);                       \
    kestrel_status kestrel_cosine_f16_many_##tier(const uint16_t *q, const uint16_t *base, size_t dim,          \
                                                  size_t count, size_t stride, float *out);                     \
    kestrel_status kestrel_dot_bf16_many_##tier(const uint16_t *q, const uint16_t *base, size_t dim,            \
                                                size_t count, size_t stride, float *out);                       \
    kestrel_status kestrel_l2sq_bf16_many_##tier(const uint16_t *q, const uint16_t *base, size_t dim,           \
                                                 size_t count, size_t stride, float *out);                      \
    kestrel_status kestrel_cosine_bf16_many_##tier(const uint16_t *q, const uint16_t *base, size_t dim,         \
                                                   size_t count, size_t stride, float *out);

/* Sequential f32 accumulation: the reference (distance_float_scalar.c). */
KESTREL_DISTANCE_FLOAT_TIER(scalar)
/* AVX2 + FMA + F16C (distance_float_x86_avx2.c); x86-64 builds only. */
KESTREL_DISTANCE_FLOAT_TIER(avx2)
/* AVX-512 F/BW/VL/DQ (distance_float_x86_avx512.c); x86-64 builds only. */
KESTREL_DISTANCE_FLOAT_TIER(avx512)
/* Baseline AArch64 Advanced SIMD (distance_float_arm_neon.c); arm64 builds only. */
KESTREL_DISTANCE_FLOAT_TIER(neon)

#undef KESTREL_DISTANCE_FLOAT_TIER

#endif
