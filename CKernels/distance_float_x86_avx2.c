/*
 * AVX2 + FMA + F16C tier of the f32 / f16 / bf16 distances.
 *
 * Every kernel walks its vectors in chunks of 32 elements with U = 4 independent
 * accumulators of 8 f32 lanes per quantity (one FMA chain each), reads the last partial
 * chunk with vmaskmovps (f32) or through a zero-padded stack copy (16-bit types, which have
 * no masked load before AVX-512), adds the accumulators as (0 + 1) + (2 + 3) and reduces the
 * lanes. f16 is widened exactly by vcvtph2ps; bf16 by a 16-bit shift / mask. The sequence of
 * floating-point operations a row goes through depends only on its data and n — never on
 * how many rows share a pass — so the one-to-many kernels return bit for bit what the
 * one-pair kernels return.
 */
#include "internal/distance_float_simd.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

enum { W = 8, U = 4, CHUNK = W * U };
/*
 * Rows per pass of a one-to-many scan, bounded by the 16 ymm registers: dot and l2sq keep
 * 2 rows x 4 accumulators plus the 4 query vectors (loaded and widened once per pass).
 * Cosine needs 8 accumulators per row, so it scans one row at a time (it is bound by the
 * row's own loads and FMAs, not by the query's).
 */
enum { ROWS_DL = 2, ROWS_COS = 1, MAX_ROWS = 2 };
/* The vector of f32 lanes the driver's accumulators use. */
typedef __m256 vfloat;

ALWAYS_INLINE __m256 bf16_even(__m256i x) { return _mm256_castsi256_ps(_mm256_slli_epi32(x, 16)); }
ALWAYS_INLINE __m256 bf16_odd(__m256i x) {
    return _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32((int)0xffff0000u)));
}

/*
 * Widens the CHUNK elements at p into U f32 vectors. bf16 pairs split into even and odd
 * elements (shift and mask instead of a lane shuffle): which lane holds which element does
 * not matter for a sum as long as both operands use the same layout.
 */
ALWAYS_INLINE void load_chunk(elem_kind k, const uint8_t *p, __m256 v[U]) {
    if (k == K_F32) {
        UNROLL for (int u = 0; u < U; u++) v[u] = _mm256_loadu_ps((const float *)(p + 32 * u));
    } else if (k == K_F16) {
        UNROLL for (int u = 0; u < U; u++) v[u] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * u)));
    } else {
        UNROLL for (int h = 0; h < U / 2; h++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(p + 32 * h));
            v[2 * h] = bf16_even(x);
            v[2 * h + 1] = bf16_odd(x);
        }
    }
}

/* As load_chunk for the last `left` (< CHUNK) elements; missing lanes read as +0. */
ALWAYS_INLINE void load_tail(elem_kind k, const uint8_t *p, size_t left, __m256 v[U]) {
    if (k == K_F32) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        UNROLL for (int u = 0; u < U; u++) {
            size_t at = (size_t)u * W;
            if (left <= at) {
                v[u] = _mm256_setzero_ps();
            } else {
                __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left - at)), lane);
                v[u] = _mm256_maskload_ps((const float *)(p + 32 * u), m);
            }
        }
    } else {
        /* vpmaskmovd moves whole pairs of 16-bit elements; an odd last element is inserted alone. */
        const size_t pairs = left / 2;
        const int last = (left & 1) ? *(const uint16_t *)(const void *)(p + 2 * (left - 1)) : 0;
        for (int h = 0; h < U / 2; h++) {
            const __m256i lane = _mm256_setr_epi32(8 * h, 8 * h + 1, 8 * h + 2, 8 * h + 3, 8 * h + 4, 8 * h + 5,
                                                   8 * h + 6, 8 * h + 7);
            __m256i x = _mm256_setzero_si256();
            if (left > (size_t)16 * h) {
                __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)pairs), lane);
                x = _mm256_maskload_epi32((const int *)(const void *)(p + 32 * h), m);
                __m256i at_last = _mm256_cmpeq_epi32(_mm256_set1_epi32((int)pairs), lane);
                x = _mm256_or_si256(x, _mm256_and_si256(_mm256_set1_epi32(last), at_last));
            }
            if (k == K_F16) {
                v[2 * h] = _mm256_cvtph_ps(_mm256_castsi256_si128(x));
                v[2 * h + 1] = _mm256_cvtph_ps(_mm256_extracti128_si256(x, 1));
            } else {
                v[2 * h] = bf16_even(x);
                v[2 * h + 1] = bf16_odd(x);
            }
        }
    }
}

ALWAYS_INLINE void accumulate(dist_op op, const __m256 qv[U], const __m256 rv[U], __m256 acc[U], __m256 acc2[U]) {
    UNROLL for (int u = 0; u < U; u++) {
        if (op == OP_DOT) {
            acc[u] = _mm256_fmadd_ps(qv[u], rv[u], acc[u]);
        } else if (op == OP_L2) {
            __m256 d = _mm256_sub_ps(qv[u], rv[u]);
            acc[u] = _mm256_fmadd_ps(d, d, acc[u]);
        } else {
            acc[u] = _mm256_fmadd_ps(qv[u], rv[u], acc[u]);
            acc2[u] = _mm256_fmadd_ps(rv[u], rv[u], acc2[u]);
        }
    }
}

ALWAYS_INLINE vfloat vzero(void) { return _mm256_setzero_ps(); }

ALWAYS_INLINE float reduce(const __m256 acc[U]) {
    __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

#include "internal/distance_float_driver.h"

KESTREL_FLOAT_TIER_KERNELS(avx2)

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
