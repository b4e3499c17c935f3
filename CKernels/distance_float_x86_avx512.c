/*
 * AVX-512 (F/BW/VL/DQ) tier of the f32 / f16 / bf16 distances.
 *
 * Every kernel walks its vectors in chunks of 64 elements with U = 4 independent
 * accumulators of 16 f32 lanes per quantity (one FMA chain each), reads the last partial
 * chunk with masked loads (no byte past the end is touched, any alignment), adds the
 * accumulators as (0 + 1) + (2 + 3) and reduces the lanes. f16 is widened exactly by
 * vcvtph2ps; bf16 by a 16-bit shift / mask. The sequence of floating-point operations a
 * row goes through depends only on its data and n — never on how many rows share a pass —
 * so the one-to-many kernels return bit for bit what the one-pair kernels return.
 */
#include "internal/distance_float_simd.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

enum { W = 16, U = 4, CHUNK = W * U };
/*
 * Rows per pass of a one-to-many scan. Dot and l2sq keep 4 rows x 4 accumulators (16 zmm)
 * plus the 4 query vectors, which are loaded (and for f16/bf16, widened) once per pass;
 * cosine keeps two quantities per row, hence 2 rows.
 */
enum { ROWS_DL = 4, ROWS_COS = 2, MAX_ROWS = 4 };
/* The vector of f32 lanes the driver's accumulators use. */
typedef __m512 vfloat;

/* Mask of the first min(left, 16) / min(left, 32) lanes (bzhi keeps everything for index >= 32). */
ALWAYS_INLINE __mmask16 mask16(size_t left) { return (__mmask16)_bzhi_u32(0xffffu, (unsigned)(left < W ? left : W)); }
ALWAYS_INLINE __mmask32 mask32(size_t left) {
    return (__mmask32)_bzhi_u32(0xffffffffu, (unsigned)(left < 2 * W ? left : 2 * W));
}

ALWAYS_INLINE __m512 bf16_even(__m512i x) { return _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)); }
ALWAYS_INLINE __m512 bf16_odd(__m512i x) {
    return _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32((int)0xffff0000u)));
}

/*
 * Widens the CHUNK elements at p into U f32 vectors. bf16 pairs split into even and odd
 * elements (shift and mask instead of a lane shuffle): which lane holds which element does
 * not matter for a sum as long as both operands use the same layout.
 */
ALWAYS_INLINE void load_chunk(elem_kind k, const uint8_t *p, __m512 v[U]) {
    if (k == K_F32) {
        UNROLL for (int u = 0; u < U; u++) v[u] = _mm512_loadu_ps(p + 64 * u);
    } else if (k == K_F16) {
        UNROLL for (int u = 0; u < U; u++) v[u] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32 * u)));
    } else {
        UNROLL for (int h = 0; h < U / 2; h++) {
            __m512i x = _mm512_loadu_si512(p + 64 * h);
            v[2 * h] = bf16_even(x);
            v[2 * h + 1] = bf16_odd(x);
        }
    }
}

/* As load_chunk for the last `left` (< CHUNK) elements; missing lanes read as +0. */
ALWAYS_INLINE void load_tail(elem_kind k, const uint8_t *p, size_t left, __m512 v[U]) {
    if (k == K_BF16) {
        UNROLL for (int h = 0; h < U / 2; h++) {
            size_t at = (size_t)h * 2 * W;
            __m512i x = left > at ? _mm512_maskz_loadu_epi16(mask32(left - at), p + 64 * h) : _mm512_setzero_si512();
            v[2 * h] = bf16_even(x);
            v[2 * h + 1] = bf16_odd(x);
        }
        return;
    }
    UNROLL for (int u = 0; u < U; u++) {
        size_t at = (size_t)u * W;
        if (left <= at) {
            v[u] = _mm512_setzero_ps();
        } else if (k == K_F32) {
            v[u] = _mm512_maskz_loadu_ps(mask16(left - at), p + 64 * u);
        } else {
            v[u] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask16(left - at), p + 32 * u));
        }
    }
}

ALWAYS_INLINE void accumulate(dist_op op, const __m512 qv[U], const __m512 rv[U], __m512 acc[U], __m512 acc2[U]) {
    UNROLL for (int u = 0; u < U; u++) {
        if (op == OP_DOT) {
            acc[u] = _mm512_fmadd_ps(qv[u], rv[u], acc[u]);
        } else if (op == OP_L2) {
            __m512 d = _mm512_sub_ps(qv[u], rv[u]);
            acc[u] = _mm512_fmadd_ps(d, d, acc[u]);
        } else {
            acc[u] = _mm512_fmadd_ps(qv[u], rv[u], acc[u]);
            acc2[u] = _mm512_fmadd_ps(rv[u], rv[u], acc2[u]);
        }
    }
}

ALWAYS_INLINE vfloat vzero(void) { return _mm512_setzero_ps(); }

ALWAYS_INLINE float reduce(const __m512 acc[U]) {
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

#include "internal/distance_float_driver.h"

KESTREL_FLOAT_TIER_KERNELS(avx512)

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
