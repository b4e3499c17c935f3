/*
 * ISA-independent drivers of the SIMD f32 / f16 / bf16 distance tiers: the one-pair and
 * one-to-many kernels built on a tier's block(). Included once by each tier file, inside its
 * target region, after distance_float_simd.h and after the tier has defined
 *   ROWS_DL, ROWS_COS, MAX_ROWS   rows per pass of a dot / l2sq scan and of a cosine scan,
 *                                 and the larger of the two;
 *   block(k, op, R, with_qq, q, row0, stride, n, pf, res, res2, qq)
 *                                 distances of q against R rows (see the tier files);
 * then KESTREL_FLOAT_TIER_KERNELS(tier) defines the tier's 18 exported kernels.
 * Not part of the public API.
 */
#ifndef KESTREL_DISTANCE_FLOAT_DRIVER_H
#define KESTREL_DISTANCE_FLOAT_DRIVER_H

/*
 * Software prefetch distance of a scan: the rows read PREFETCH_BYTES (rounded up to whole
 * passes) after the current pass. Far enough to cover memory latency, close enough that the
 * prefetched lines are still in L1 when read (measured on Cascade Lake: 4-12 KB ahead is
 * best; from 16 KB on, prefetched lines start to evict each other).
 */
enum { PREFETCH_BYTES = 6144 };

ALWAYS_INLINE float pair(elem_kind k, dist_op op, const void *a, const void *b, size_t n) {
    float res[1], res2[1], qq = 0.0f;
    block(k, op, 1, op == OP_COS, (const uint8_t *)a, (const uint8_t *)b, 0, n, NULL, res, res2, &qq);
    return op == OP_COS ? kestrel_cosine_finish(res[0], qq, res2[0]) : res[0];
}

ALWAYS_INLINE kestrel_status many(elem_kind k, dist_op op, const void *qp, const void *basep, size_t dim,
                                  size_t count, size_t stride, float *out) {
    kestrel_status st = kestrel_check_many(qp, basep, dim, count, stride, out);
    if (st != KESTREL_OK || count == 0) return st;
    if (dim == 0) { /* base may be NULL: no row address is formed */
        float empty = op == OP_COS ? kestrel_cosine_finish(0.0, 0.0, 0.0) : 0.0f;
        for (size_t r = 0; r < count; r++) out[r] = empty;
        return KESTREL_OK;
    }
    const uint8_t *q = (const uint8_t *)qp, *base = (const uint8_t *)basep;
    const size_t sb = stride * elem_bytes(k);
    const int R = op == OP_COS ? ROWS_COS : ROWS_DL;
    float qq = 0.0f, res[MAX_ROWS], res2[MAX_ROWS];
    if (op == OP_COS) block(k, op, 0, 1, q, NULL, 0, dim, NULL, res, res2, &qq);
    const size_t pass = (size_t)R * sb;
    const size_t ahead = pass >= PREFETCH_BYTES ? (size_t)R : (size_t)R * ((PREFETCH_BYTES + pass - 1) / pass);
    size_t r = 0;
    for (; r + (size_t)R <= count; r += (size_t)R) {
        const uint8_t *pf = r + ahead + (size_t)R <= count ? base + (r + ahead) * sb : NULL;
        block(k, op, R, 0, q, base + r * sb, sb, dim, pf, res, res2, NULL);
        UNROLL for (int j = 0; j < R; j++) {
            out[r + j] = op == OP_COS ? kestrel_cosine_finish(res[j], qq, res2[j]) : res[j];
        }
    }
    for (; r < count; r++) {
        block(k, op, 1, 0, q, base + r * sb, sb, dim, NULL, res, res2, NULL);
        out[r] = op == OP_COS ? kestrel_cosine_finish(res[0], qq, res2[0]) : res[0];
    }
    return KESTREL_OK;
}

/* The six kernels of one element type (kind, C type T, name part suffix) at one tier. */
#define KESTREL_FLOAT_KIND_KERNELS(kind, T, suffix, tier)                                                     \
    float kestrel_dot_##suffix##_##tier(const T *a, const T *b, size_t n) { return pair(kind, OP_DOT, a, b, n); } \
    float kestrel_l2sq_##suffix##_##tier(const T *a, const T *b, size_t n) { return pair(kind, OP_L2, a, b, n); } \
    float kestrel_cosine_##suffix##_##tier(const T *a, const T *b, size_t n) {                               \
        return pair(kind, OP_COS, a, b, n);                                                                  \
    }                                                                                                        \
    kestrel_status kestrel_dot_##suffix##_many_##tier(const T *q, const T *base, size_t dim, size_t count,   \
                                                      size_t stride, float *out) {                           \
        return many(kind, OP_DOT, q, base, dim, count, stride, out);                                         \
    }                                                                                                        \
    kestrel_status kestrel_l2sq_##suffix##_many_##tier(const T *q, const T *base, size_t dim, size_t count,  \
                                                       size_t stride, float *out) {                          \
        return many(kind, OP_L2, q, base, dim, count, stride, out);                                          \
    }                                                                                                        \
    kestrel_status kestrel_cosine_##suffix##_many_##tier(const T *q, const T *base, size_t dim, size_t count, \
                                                         size_t stride, float *out) {                        \
        return many(kind, OP_COS, q, base, dim, count, stride, out);                                         \
    }

/* Every exported kernel of the tier (the names declared by distance_float.h). */
#define KESTREL_FLOAT_TIER_KERNELS(tier)                   \
    KESTREL_FLOAT_KIND_KERNELS(K_F32, float, f32, tier)    \
    KESTREL_FLOAT_KIND_KERNELS(K_F16, uint16_t, f16, tier) \
    KESTREL_FLOAT_KIND_KERNELS(K_BF16, uint16_t, bf16, tier)

#endif
