/*
 * ISA-independent drivers of the SIMD int8 and packed-binary distance tiers
 * (distance_int_x86_avx2.c, distance_int_x86_avx512.c, distance_int_arm_neon.c): the walk over
 * KESTREL_I8_BLOCK-element blocks, the one-to-many scans (rows per pass, prefetch distance,
 * remainder rows) and the exported kernels built from a tier's block functions. Each tier
 * file includes this instead of distance_int.h. Not part of the public API.
 *
 * What a tier provides, per int8 form:
 *   DOT_BLOCK(a, b, lo, hi), L2SQ_BLOCK(a, b, lo, hi)   sum over the elements [lo, hi);
 *   COS_BLOCK(a, b, lo, hi, s)                          adds a.b, a.a, b.b to s[0], s[1], s[2];
 *   BLOCK(R, r, ahead, lo, hi, s0, s1, s2)              for the rows r[0..R) (R = 4 or 1) and
 *       the elements [lo, hi) adds the per-row sums to s0[k], s1[k] (and s2[k], VNNI only),
 *       prefetching the rows `ahead` bytes further on (none when ahead = 0);
 * and for the binary distances
 *   BIN_ROWS(jaccard, R, q, r, ahead, n, h, u)          h[k] = popcount(q ^ r_k) (hamming) or
 *       h[k] = popcount(q & r_k), u[k] = popcount(q | r_k) (jaccard) for the rows r[0..R).
 * These see only inputs of at least MIN_N >= 1 elements (so hi >= MIN_N, n >= MIN_N), and
 * [lo, hi) never longer than KESTREL_I8_BLOCK. A tier whose steps need a whole vector (AVX2's
 * overlapping tail loads) passes its vector length as MIN_N and shorter inputs take the scalar
 * helpers below; the other tiers pass 1.
 */
#ifndef KESTREL_DISTANCE_INT_DRIVER_H
#define KESTREL_DISTANCE_INT_DRIVER_H

#include "distance_int.h"

/* Upper end of the block that starts at lo. */
static inline size_t kestrel_i8_block_end(size_t lo, size_t n) {
    return n - lo > KESTREL_I8_BLOCK ? lo + KESTREL_I8_BLOCK : n;
}

/* What an int8 one-to-many pass accumulates: s0 = q.r (K_DOT, K_COS) or |q - r|^2 (K_L2); s1 = r.r (K_COS). */
enum { K_DOT, K_L2, K_COS };

/* ---- scalar paths ---- */

/* Scalar int8 dot / l2sq of an input shorter than a tier's MIN_N (small n: the sum fits int32). */
static inline int64_t kestrel_i8_dot_short(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static inline int64_t kestrel_i8_l2sq_short(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

/*
 * Popcounts of short byte ranges, 8 bytes at a time. Inlined into the calling tier, whose
 * target region turns __builtin_popcountll into one popcnt instruction.
 */
static inline uint64_t kestrel_b1_xor_popcount(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        s += (uint64_t)__builtin_popcountll(x ^ y);
    }
    for (; i < n; i++) s += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return s;
}

static inline void kestrel_b1_and_or_popcount(const uint8_t *a, const uint8_t *b, size_t n,
                                              uint64_t *inter, uint64_t *uni) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        *inter += (uint64_t)__builtin_popcountll(x & y);
        *uni += (uint64_t)__builtin_popcountll(x | y);
    }
    for (; i < n; i++) {
        *inter += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        *uni += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
}

static inline float kestrel_b1_jac_short(const uint8_t *q, const uint8_t *r, size_t n) {
    uint64_t inter = 0, uni = 0;
    kestrel_b1_and_or_popcount(q, r, n, &inter, &uni);
    return kestrel_jaccard_finish(inter, uni);
}

/* ---- one pair ---- */

/* kestrel_{dot,l2sq,cosine}_i8_<tier>: the block functions summed over the blocks of [0, n). */
#define KESTREL_I8_PAIR_KERNELS(tier, MIN_N, DOT_BLOCK, L2SQ_BLOCK, COS_BLOCK)                           \
    int64_t kestrel_dot_i8_##tier(const int8_t *a, const int8_t *b, size_t n) {                          \
        if ((MIN_N) > 1 && n < (MIN_N)) return kestrel_i8_dot_short(a, b, n);                            \
        int64_t s = 0;                                                                                   \
        for (size_t lo = 0; lo < n; lo += KESTREL_I8_BLOCK)                                              \
            s += DOT_BLOCK(a, b, lo, kestrel_i8_block_end(lo, n));                                       \
        return s;                                                                                        \
    }                                                                                                    \
    int64_t kestrel_l2sq_i8_##tier(const int8_t *a, const int8_t *b, size_t n) {                         \
        if ((MIN_N) > 1 && n < (MIN_N)) return kestrel_i8_l2sq_short(a, b, n);                           \
        int64_t s = 0;                                                                                   \
        for (size_t lo = 0; lo < n; lo += KESTREL_I8_BLOCK)                                              \
            s += L2SQ_BLOCK(a, b, lo, kestrel_i8_block_end(lo, n));                                      \
        return s;                                                                                        \
    }                                                                                                    \
    float kestrel_cosine_i8_##tier(const int8_t *a, const int8_t *b, size_t n) {                         \
        if ((MIN_N) > 1 && n < (MIN_N)) return kestrel_cosine_i8_scalar(a, b, n);                        \
        int64_t s[3] = {0, 0, 0};                                                                        \
        for (size_t lo = 0; lo < n; lo += KESTREL_I8_BLOCK)                                              \
            COS_BLOCK(a, b, lo, kestrel_i8_block_end(lo, n), s);                                         \
        return kestrel_cosine_finish((double)s[0], (double)s[1], (double)s[2]);                          \
    }

/* ---- one query against many rows (inside a kernel with q, base, dim, count, stride, out) ---- */

/*
 * The int8 scan (count >= 1, dim >= 1, arguments checked): four rows per pass share the query
 * loads, rows kestrel_prefetch_rows() further on are prefetched, the last count % 4 rows go one
 * at a time. BLOCK accumulates per-row sums block by block; EMIT(row, s0, s1, s2) writes out[row].
 */
#define KESTREL_I8_ROWS_SCAN(BLOCK, EMIT)                                                               \
    do {                                                                                                \
        const size_t pf_rows = kestrel_prefetch_rows(stride);                                           \
        size_t row = 0;                                                                                 \
        for (; row + 4 <= count; row += 4) {                                                            \
            const int8_t *r[4];                                                                         \
            for (int k = 0; k < 4; k++) r[k] = base + (row + (size_t)k) * stride;                       \
            size_t ahead = pf_rows && row + 3 + pf_rows < count ? pf_rows * stride : 0;                 \
            int64_t s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};                   \
            for (size_t lo = 0; lo < dim; lo += KESTREL_I8_BLOCK)                                       \
                BLOCK(4, r, ahead, lo, kestrel_i8_block_end(lo, dim), s0, s1, s2);                      \
            for (int k = 0; k < 4; k++) EMIT(row + (size_t)k, s0[k], s1[k], s2[k]);                     \
        }                                                                                               \
        for (; row < count; row++) {                                                                    \
            const int8_t *r[4] = {base + row * stride, NULL, NULL, NULL};                               \
            int64_t s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};                   \
            for (size_t lo = 0; lo < dim; lo += KESTREL_I8_BLOCK)                                       \
                BLOCK(1, r, 0, lo, kestrel_i8_block_end(lo, dim), s0, s1, s2);                          \
            EMIT(row, s0[0], s1[0], s2[0]);                                                             \
        }                                                                                               \
    } while (0)

#define KESTREL_EMIT_I32(row, s, unused1, unused2) out[row] = (int32_t)(s)
/* Needs the query's squared norm in `qq`. */
#define KESTREL_EMIT_COS(row, ab, bb, unused) out[row] = kestrel_cosine_finish((double)(ab), (double)qq, (double)(bb))

/* dim = 0: every distance is `zero` (no pointer is touched). */
#define KESTREL_MANY_EMPTY_DIM(dim, zero)                                                               \
    if ((dim) == 0) {                                                                                   \
        for (size_t row = 0; row < count; row++) out[row] = zero;                                       \
        return KESTREL_OK;                                                                              \
    }

/*
 * Rows of dim < MIN_N elements (dim = 0 included: then no pointer is touched) one at a time:
 * out[row] = SHORT(q, row, dim), or `zero` for dim = 0.
 */
#define KESTREL_MANY_SHORT_ROWS(MIN_N, dim, SHORT, zero)                                                \
    if ((dim) < (MIN_N)) {                                                                              \
        for (size_t row = 0; row < count; row++)                                                        \
            out[row] = (MIN_N) > 1 && (dim) ? SHORT(q, base + row * stride, dim) : zero;                \
        return KESTREL_OK;                                                                              \
    }

/* The SHORT rows of the kernels below. */
#define KESTREL_I32_DOT_SHORT(q, r, n) (int32_t)kestrel_i8_dot_short(q, r, n)
#define KESTREL_I32_L2SQ_SHORT(q, r, n) (int32_t)kestrel_i8_l2sq_short(q, r, n)
#define KESTREL_B1_HAM_SHORT(q, r, n) (uint32_t)kestrel_b1_xor_popcount(q, r, n)

/*
 * kestrel_{dot,l2sq,cosine}_i8_many_<tier> from BLOCK macros for K_DOT, K_L2 and K_COS
 * (kestrel_dot_i8_<tier> gives the cosine query's norm).
 */
#define KESTREL_I8_MANY_KERNELS(tier, MIN_N, BLOCK_DOT, BLOCK_L2, BLOCK_COS)                             \
    kestrel_status kestrel_dot_i8_many_##tier(const int8_t *q, const int8_t *base, size_t dim, size_t count, \
                                              size_t stride, int32_t *out) {                             \
        kestrel_status st = kestrel_check_i8_many(q, base, dim, count, stride, out);                    \
        if (st != KESTREL_OK || count == 0) return st;                                                   \
        KESTREL_MANY_SHORT_ROWS(MIN_N, dim, KESTREL_I32_DOT_SHORT, 0)                                    \
        KESTREL_I8_ROWS_SCAN(BLOCK_DOT, KESTREL_EMIT_I32);                                               \
        return KESTREL_OK;                                                                               \
    }                                                                                                    \
    kestrel_status kestrel_l2sq_i8_many_##tier(const int8_t *q, const int8_t *base, size_t dim, size_t count, \
                                               size_t stride, int32_t *out) {                            \
        kestrel_status st = kestrel_check_i8_many(q, base, dim, count, stride, out);                    \
        if (st != KESTREL_OK || count == 0) return st;                                                   \
        KESTREL_MANY_SHORT_ROWS(MIN_N, dim, KESTREL_I32_L2SQ_SHORT, 0)                                   \
        KESTREL_I8_ROWS_SCAN(BLOCK_L2, KESTREL_EMIT_I32);                                                \
        return KESTREL_OK;                                                                               \
    }                                                                                                    \
    kestrel_status kestrel_cosine_i8_many_##tier(const int8_t *q, const int8_t *base, size_t dim,        \
                                                 size_t count, size_t stride, float *out) {              \
        kestrel_status st = kestrel_check_many(q, base, dim, count, stride, out);                       \
        if (st != KESTREL_OK || count == 0) return st;                                                   \
        KESTREL_MANY_SHORT_ROWS(MIN_N, dim, kestrel_cosine_i8_scalar, 0.0f)                              \
        const int64_t qq = kestrel_dot_i8_##tier(q, q, dim); /* the query's norm, once */                \
        KESTREL_I8_ROWS_SCAN(BLOCK_COS, KESTREL_EMIT_COS);                                               \
        return KESTREL_OK;                                                                               \
    }

/*
 * The binary scan (count >= 1, nbytes >= 1, arguments checked): RB (4 or 2) rows per pass
 * share the query loads, rows kestrel_prefetch_rows() further on are prefetched, the last
 * count % RB rows go one at a time. EMIT(row, h, u) writes out[row].
 */
#define KESTREL_BIN_ROWS_SCAN(BIN_ROWS, jaccard, RB, EMIT)                                              \
    do {                                                                                                \
        const size_t pf_rows = kestrel_prefetch_rows(stride);                                           \
        size_t row = 0;                                                                                 \
        for (; row + RB <= count; row += RB) {                                                          \
            const uint8_t *r[4];                                                                        \
            for (int k = 0; k < 4; k++) r[k] = k < RB ? base + (row + (size_t)k) * stride : NULL;       \
            size_t ahead = pf_rows && row + RB - 1 + pf_rows < count ? pf_rows * stride : 0;            \
            uint64_t h[4], u[4];                                                                        \
            BIN_ROWS(jaccard, RB, q, r, ahead, nbytes, h, u);                                           \
            for (int k = 0; k < RB; k++) EMIT(row + (size_t)k, h[k], u[k]);                             \
        }                                                                                               \
        for (; row < count; row++) {                                                                    \
            const uint8_t *r[4] = {base + row * stride, NULL, NULL, NULL};                              \
            uint64_t h[4], u[4];                                                                        \
            BIN_ROWS(jaccard, 1, q, r, 0, nbytes, h, u);                                                \
            EMIT(row, h[0], u[0]);                                                                      \
        }                                                                                               \
    } while (0)

#define KESTREL_EMIT_HAM(row, h, unused) out[row] = (uint32_t)(h)
#define KESTREL_EMIT_JAC(row, h, u) out[row] = kestrel_jaccard_finish((h), (u))

/* kestrel_{hamming,jaccard}_b1_many_<tier>, scanning ROWS_HAM / ROWS_JAC rows per pass. */
#define KESTREL_BIN_MANY_KERNELS(tier, MIN_N, BIN_ROWS, ROWS_HAM, ROWS_JAC)                              \
    kestrel_status kestrel_hamming_b1_many_##tier(const uint8_t *q, const uint8_t *base, size_t nbytes,  \
                                                  size_t count, size_t stride, uint32_t *out) {          \
        kestrel_status st = kestrel_check_many(q, base, nbytes, count, stride, out);                    \
        if (st != KESTREL_OK || count == 0) return st;                                                   \
        KESTREL_MANY_SHORT_ROWS(MIN_N, nbytes, KESTREL_B1_HAM_SHORT, 0)                                  \
        KESTREL_BIN_ROWS_SCAN(BIN_ROWS, 0, ROWS_HAM, KESTREL_EMIT_HAM);                                  \
        return KESTREL_OK;                                                                               \
    }                                                                                                    \
    kestrel_status kestrel_jaccard_b1_many_##tier(const uint8_t *q, const uint8_t *base, size_t nbytes,  \
                                                  size_t count, size_t stride, float *out) {             \
        kestrel_status st = kestrel_check_many(q, base, nbytes, count, stride, out);                    \
        if (st != KESTREL_OK || count == 0) return st;                                                   \
        KESTREL_MANY_SHORT_ROWS(MIN_N, nbytes, kestrel_b1_jac_short, 0.0f)                               \
        KESTREL_BIN_ROWS_SCAN(BIN_ROWS, 1, ROWS_JAC, KESTREL_EMIT_JAC);                                  \
        return KESTREL_OK;                                                                               \
    }

#endif
