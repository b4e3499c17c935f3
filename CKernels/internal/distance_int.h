/*
 * Internal prototypes of the int8 and packed-binary distance family, one set per tier, and the
 * helpers its files share. Not part of the public API: callers reach these through the
 * function table (`kestrel_register_distance_int` in distance_int_scalar.c).
 *
 * Every tier returns exactly the scalar reference's value: int8 sums are integers held in
 * int32 lanes that are flushed into 64-bit totals at least every KESTREL_I8_BLOCK elements,
 * and popcounts are exact.
 */
#ifndef KESTREL_DISTANCE_INT_H
#define KESTREL_DISTANCE_INT_H

#include "kestrel_internal.h"

#if defined(__GNUC__) || defined(__clang__)
#define KESTREL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define KESTREL_ALWAYS_INLINE inline
#endif

/*
 * Argument check of the int32-output int8 one-to-many kernels (dot, l2sq): the generic
 * check, then dim <= KESTREL_I8_MANY_MAX_DIM so that every row result fits in int32.
 */
static inline kestrel_status kestrel_check_i8_many(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                                   size_t stride, const void *out) {
    kestrel_status st = kestrel_check_many(q, base, dim, count, stride, out);
    if (st == KESTREL_OK && count > 0 && dim > KESTREL_I8_MANY_MAX_DIM) return KESTREL_ERR_INVALID_ARGUMENT;
    return st;
}

/*
 * Rows the int8 / binary one-to-many scans prefetch ahead of the ones they are reading: the
 * start-up plan's 1-byte scan distance for rows of this stride (kestrel_scan_prefetch_bytes) in
 * whole rows, at least 4 and at most 64; 0 when the plan says no software prefetch.
 */
static inline size_t kestrel_prefetch_rows(size_t stride_bytes) {
    const size_t bytes = kestrel_scan_prefetch_bytes(1, stride_bytes);
    if (bytes == 0) return 0;
    size_t r = stride_bytes ? bytes / stride_bytes : 64;
    return r < 4 ? 4 : r > 64 ? 64 : r;
}

#define KESTREL_INT_DECLARE_TIER(tier)                                                                          \
    int64_t kestrel_dot_i8_##tier(const int8_t *a, const int8_t *b, size_t n);                                  \
    int64_t kestrel_l2sq_i8_##tier(const int8_t *a, const int8_t *b, size_t n);                                 \
    float kestrel_cosine_i8_##tier(const int8_t *a, const int8_t *b, size_t n);                                 \
    kestrel_status kestrel_dot_i8_many_##tier(const int8_t *q, const int8_t *base, size_t dim, size_t count,    \
                                              size_t stride, int32_t *out);                                     \
    kestrel_status kestrel_l2sq_i8_many_##tier(const int8_t *q, const int8_t *base, size_t dim, size_t count,   \
                                               size_t stride, int32_t *out);                                    \
    kestrel_status kestrel_cosine_i8_many_##tier(const int8_t *q, const int8_t *base, size_t dim, size_t count, \
                                                 size_t stride, float *out);

#define KESTREL_BIN_DECLARE_TIER(tier)                                                                           \
    uint64_t kestrel_hamming_b1_##tier(const uint8_t *a, const uint8_t *b, size_t nbytes);                       \
    float kestrel_jaccard_b1_##tier(const uint8_t *a, const uint8_t *b, size_t nbytes);                          \
    kestrel_status kestrel_hamming_b1_many_##tier(const uint8_t *q, const uint8_t *base, size_t nbytes,          \
                                                  size_t count, size_t stride, uint32_t *out);                   \
    kestrel_status kestrel_jaccard_b1_many_##tier(const uint8_t *q, const uint8_t *base, size_t nbytes,          \
                                                  size_t count, size_t stride, float *out);

/* Scalar reference (distance_int_scalar.c). */
KESTREL_INT_DECLARE_TIER(scalar)
KESTREL_BIN_DECLARE_TIER(scalar)

#if KESTREL_X86
/* AVX2 (distance_int_x86_avx2.c). */
KESTREL_INT_DECLARE_TIER(avx2)
KESTREL_BIN_DECLARE_TIER(avx2)
/* AVX-512 BW (distance_int_x86_avx512.c). */
KESTREL_INT_DECLARE_TIER(avx512)
KESTREL_BIN_DECLARE_TIER(avx512)
/* AVX-512 VNNI (distance_int_x86_avx512.c); binary distances have no VNNI form. */
KESTREL_INT_DECLARE_TIER(avx512vnni)
#endif

#if KESTREL_ARM64
/* NEON (distance_int_arm_neon.c). */
KESTREL_INT_DECLARE_TIER(neon)
KESTREL_BIN_DECLARE_TIER(neon)
/* NEON + dot product (distance_int_arm_neon.c); binary distances have no dotprod form. */
KESTREL_INT_DECLARE_TIER(neondot)
#endif

#endif
