/*
 * ISA-independent part of the SIMD f32 / f16 / bf16 distance tiers: the blocked walk over
 * q and up to MAX_ROWS rows (block), the one-pair and one-to-many drivers and the exported
 * kernels. Included once by each tier file, inside its target region, after
 * distance_float_simd.h and after the tier has defined its ISA primitives:
 *   vfloat                       a vector of W f32 lanes;
 *   U, CHUNK                     accumulators per quantity, and elements per step (W * U);
 *   ROWS_DL, ROWS_COS, MAX_ROWS  rows per pass of a dot / l2sq scan and of a cosine scan,
 *                                and the larger of the two;
 *   vzero()                      a vector of +0;
 *   load_chunk(k, p, v)          the CHUNK elements at p widened into v[0..U);
 *   load_tail(k, p, left, v)     the same for left < CHUNK elements, missing lanes +0,
 *                                reading nothing past p + left elements;
 *   accumulate(op, qv, rv, acc, acc2)
 *                                one step of op (OP_DOT: acc += qv * rv; OP_L2: acc += (qv - rv)^2;
 *                                OP_COS: acc += qv * rv, acc2 += rv * rv), one FMA chain per u;
 *   reduce(acc)                  the sum of the U accumulators' lanes, as (0 + 1) + (2 + 3).
 * Then KESTREL_FLOAT_TIER_KERNELS(tier) defines the tier's 18 exported kernels,
 * kestrel_{dot,l2sq,cosine}_{f32,f16,bf16}[_many]_<tier>, whose prototypes are written out in
 * kestrel_tiers.h (a tier must have its block there first, or the build fails on
 * -Wmissing-prototypes). A tier file is therefore, in order:
 *   1. #include "internal/distance_float_simd.h" (kestrel_tiers.h, elem_kind, dist_op, helpers);
 *   2. the target region (KESTREL_TARGET_<ISA>_BEGIN) and the primitives listed above;
 *   3. #include "internal/distance_float_driver.h", then KESTREL_FLOAT_TIER_KERNELS(<tier>);
 *   4. the end of the target region; registration in distance_float_scalar.c.
 * Not part of the public API.
 */
#ifndef KESTREL_DISTANCE_FLOAT_DRIVER_H
#define KESTREL_DISTANCE_FLOAT_DRIVER_H

/* A tier may ask for its chunk loop to be unrolled (a pragma); the sums keep their order. */
#ifndef CHUNK_LOOP_HINT
#define CHUNK_LOOP_HINT
#endif

/*
 * The software-prefetch distance of a scan is the start-up plan's (kestrel_scan_prefetch_bytes,
 * chosen per CPU in system.c; Documentation/Tuning.md, "Prefetch distance"): while a pass of R
 * rows is read, the rows that many bytes further on (rounded up to whole passes) are prefetched,
 * or none when the plan says 0.
 */

/*
 * Distances of q against R rows (row r at row0 + r * stride bytes), n elements each.
 * DOT / L2 write res[r]; COS writes the dot product to res[r] and the row's squared norm to
 * res2[r]. with_qq accumulates q's squared norm into *qq with exactly the operations the
 * one-pair cosine uses (R may be 0 to get only that). pf, when not NULL, is the first of R
 * rows (same stride) whose cache lines are prefetched while these are read.
 */
ALWAYS_INLINE void block(elem_kind k, dist_op op, int R, int with_qq, const uint8_t *q, const uint8_t *row0,
                         size_t stride, size_t n, const uint8_t *pf, float *res, float *res2, float *qq) {
    const size_t eb = elem_bytes(k);
    vfloat acc[MAX_ROWS][U], acc2[MAX_ROWS][U], qacc[U];
    UNROLL for (int u = 0; u < U; u++) {
        qacc[u] = vzero();
        UNROLL for (int r = 0; r < R; r++) acc[r][u] = acc2[r][u] = vzero();
    }
    size_t i = 0;
    CHUNK_LOOP_HINT
    for (; i + CHUNK <= n; i += CHUNK) {
        vfloat qv[U];
        load_chunk(k, q + i * eb, qv);
        if (with_qq) accumulate(OP_DOT, qv, qv, qacc, NULL);
        UNROLL for (int r = 0; r < R; r++) {
            if (pf) {
                UNROLL for (size_t line = 0; line < CHUNK * eb; line += 64)
                    __builtin_prefetch(pf + r * stride + i * eb + line, 0, 3);
            }
            vfloat rv[U];
            load_chunk(k, row0 + r * stride + i * eb, rv);
            accumulate(op, qv, rv, acc[r], acc2[r]);
        }
    }
    if (i < n) {
        vfloat qv[U];
        load_tail(k, q + i * eb, n - i, qv);
        if (with_qq) accumulate(OP_DOT, qv, qv, qacc, NULL);
        UNROLL for (int r = 0; r < R; r++) {
            if (pf) { /* the rest of the future row, including a last line the steps of 64 may miss */
                const uint8_t *p = pf + r * stride + i * eb;
                const size_t left = (n - i) * eb;
                for (size_t line = 0; line < left; line += 64) __builtin_prefetch(p + line, 0, 3);
                __builtin_prefetch(p + left - 1, 0, 3);
            }
            vfloat rv[U];
            load_tail(k, row0 + r * stride + i * eb, n - i, rv);
            accumulate(op, qv, rv, acc[r], acc2[r]);
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        res[r] = reduce(acc[r]);
        if (op == OP_COS) res2[r] = reduce(acc2[r]);
    }
    if (with_qq) *qq = reduce(qacc);
}

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
    const size_t pass = (size_t)R * sb, pf_bytes = kestrel_scan_prefetch_bytes(elem_bytes(k), sb);
    /* Rows between a pass and the one prefetched meanwhile: the distance in whole passes (0: none). */
    const size_t ahead = pf_bytes == 0 ? 0 : (size_t)R * (pass >= pf_bytes ? 1 : (pf_bytes + pass - 1) / pass);
    size_t r = 0;
    for (; r + (size_t)R <= count; r += (size_t)R) {
        const uint8_t *pf = ahead && r + ahead + (size_t)R <= count ? base + (r + ahead) * sb : NULL;
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

/* Every exported kernel of the tier (the names declared in kestrel_tiers.h). */
#define KESTREL_FLOAT_TIER_KERNELS(tier)                   \
    KESTREL_FLOAT_KIND_KERNELS(K_F32, float, f32, tier)    \
    KESTREL_FLOAT_KIND_KERNELS(K_F16, uint16_t, f16, tier) \
    KESTREL_FLOAT_KIND_KERNELS(K_BF16, uint16_t, bf16, tier)

#endif
