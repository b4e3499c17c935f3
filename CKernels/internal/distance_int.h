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

#include "kestrel_tiers.h"

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
 * Defines an int32-output int8 one-to-many kernel `fn` that checks its arguments (dimension cap
 * included) and applies the one-pair kernel `pair` to every row (tiers without a blocked scan).
 */
#define KESTREL_DEFINE_I8_MANY(fn, pair)                                                          \
    kestrel_status fn(const int8_t *q, const int8_t *base, size_t dim, size_t count, size_t stride, \
                      int32_t *out) {                                                             \
        kestrel_status st = kestrel_check_i8_many(q, base, dim, count, stride, out);              \
        if (st != KESTREL_OK) return st;                                                          \
        for (size_t r = 0; r < count; r++) out[r] = (int32_t)pair(q, base + r * stride, dim);     \
        return KESTREL_OK;                                                                        \
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

/* The per-tier prototypes of this family are in kestrel_tiers.h. */


#endif
