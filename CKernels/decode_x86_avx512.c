/* AVX-512 tier of KV-cache decode (kestrel_decode.h): the row operations; the loop is decode_driver.h. */
#include <math.h>

#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

#define DECODE_ALWAYS static inline __attribute__((always_inline))

/* Query rows scored per pass and V rows added per pass (registers: 4 × 4 accumulators). */
#define RB 4

/* Masked tails: the masked-off lanes are neither read nor written. */
static inline __mmask16 tail16(size_t rem) { return rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1u); }

/* 16 elements of a stored row from element t, widened to f32 (dtype a constant after inlining). */
DECODE_ALWAYS __m512 load16(int dtype, const unsigned char *p, size_t t) {
    if (dtype == KESTREL_KV_F32) return _mm512_loadu_ps((const float *)(const void *)p + t);
    if (dtype == KESTREL_KV_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)(const void *)p + t)));
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p + t))));
}

DECODE_ALWAYS __m512 load16_mask(int dtype, const unsigned char *p, size_t t, __mmask16 k) {
    if (dtype == KESTREL_KV_F32) return _mm512_maskz_loadu_ps(k, (const float *)(const void *)p + t);
    if (dtype == KESTREL_KV_F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, (const uint16_t *)(const void *)p + t));
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, p + t)));
}

/* 128-bit lane j of the result: 4 partial sums of argument j. */
DECODE_ALWAYS __m512 fold4(__m512 x, __m512 y, __m512 z, __m512 w) {
    const __m512 xy = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 zw = _mm512_add_ps(_mm512_shuffle_f32x4(z, w, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(z, w, _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(xy, zw, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(xy, zw, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Element e of 128-bit lane j of the result: the sum of lane j of u_e. */
DECODE_ALWAYS __m512 fold16(__m512 u0, __m512 u1, __m512 u2, __m512 u3) {
    const __m512 p01 = _mm512_add_ps(_mm512_unpacklo_ps(u0, u1), _mm512_unpackhi_ps(u0, u1));
    const __m512 p23 = _mm512_add_ps(_mm512_unpacklo_ps(u2, u3), _mm512_unpackhi_ps(u2, u3));
    return _mm512_add_ps(_mm512_shuffle_ps(p01, p23, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(p01, p23, _MM_SHUFFLE(3, 2, 3, 2)));
}

/*
 * Scores of `nr` (1…4) query rows against 4 K rows (the caller repeats the last row when fewer
 * remain, `nc` of the results are stored): 16 accumulators, each K vector widened once for all
 * rows and each query vector loaded once for all K rows, folded into one vector at the end.
 */
DECODE_ALWAYS void score_4x4(int dtype, size_t nr, const float *q, size_t q_stride, const unsigned char *k0,
                             const unsigned char *k1, const unsigned char *k2, const unsigned char *k3, size_t d,
                             float *s, size_t ld, size_t nc) {
    __m512 a[RB][4];
    for (size_t i = 0; i < RB; i++)
        for (size_t j = 0; j < 4; j++) a[i][j] = _mm512_setzero_ps();
    size_t t = 0;
    for (; t + 16 <= d; t += 16) {
        const __m512 x0 = load16(dtype, k0, t), x1 = load16(dtype, k1, t), x2 = load16(dtype, k2, t), x3 = load16(dtype, k3, t);
        for (size_t i = 0; i < RB; i++) {
            if (i >= nr) break;
            const __m512 y = _mm512_loadu_ps(q + i * q_stride + t);
            a[i][0] = _mm512_fmadd_ps(y, x0, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(y, x1, a[i][1]);
            a[i][2] = _mm512_fmadd_ps(y, x2, a[i][2]);
            a[i][3] = _mm512_fmadd_ps(y, x3, a[i][3]);
        }
    }
    if (t < d) {
        const __mmask16 km = tail16(d - t);
        const __m512 x0 = load16_mask(dtype, k0, t, km), x1 = load16_mask(dtype, k1, t, km);
        const __m512 x2 = load16_mask(dtype, k2, t, km), x3 = load16_mask(dtype, k3, t, km);
        for (size_t i = 0; i < RB; i++) {
            if (i >= nr) break;
            const __m512 y = _mm512_maskz_loadu_ps(km, q + i * q_stride + t);
            a[i][0] = _mm512_fmadd_ps(y, x0, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(y, x1, a[i][1]);
            a[i][2] = _mm512_fmadd_ps(y, x2, a[i][2]);
            a[i][3] = _mm512_fmadd_ps(y, x3, a[i][3]);
        }
    }
    const __m512 w = fold16(fold4(a[0][0], a[1][0], a[2][0], a[3][0]), fold4(a[0][1], a[1][1], a[2][1], a[3][1]),
                            fold4(a[0][2], a[1][2], a[2][2], a[3][2]), fold4(a[0][3], a[1][3], a[2][3], a[3][3]));
    const __mmask16 cm = (__mmask16)((1u << nc) - 1u);
    for (size_t i = 0; i < RB; i++) {
        if (i >= nr) break;
        /* lane i holds row i's 4 scores; shift it to the bottom and store nc of them */
        const __m512 li = _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_set1_epi32((int)(4 * i)), _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)), w);
        _mm512_mask_storeu_ps(s + i * ld, cm, li);
    }
}

DECODE_ALWAYS void scores_rows(int dtype, const float *q, size_t q_stride, size_t nr, const unsigned char *const *k,
                               size_t n, size_t d, float *s, size_t ld) {
    for (size_t c = 0; c < n; c += 4) {
        const size_t nc = n - c < 4 ? n - c : 4;
        const unsigned char *k0 = k[c], *k1 = k[c + (nc > 1)], *k2 = k[c + (nc > 2 ? 2 : nc - 1)], *k3 = k[c + nc - 1];
        switch (nr) {
        case 1: score_4x4(dtype, 1, q, q_stride, k0, k1, k2, k3, d, s + c, ld, nc); break;
        case 2: score_4x4(dtype, 2, q, q_stride, k0, k1, k2, k3, d, s + c, ld, nc); break;
        case 3: score_4x4(dtype, 3, q, q_stride, k0, k1, k2, k3, d, s + c, ld, nc); break;
        default: score_4x4(dtype, 4, q, q_stride, k0, k1, k2, k3, d, s + c, ld, nc); break;
        }
    }
}

/* Widens n stored rows into tmp (row c at tmp + c · d) and points w at them. */
DECODE_ALWAYS void widen_rows(int dtype, const unsigned char *const *src, size_t n, size_t d, float *tmp,
                              const unsigned char **w) {
    for (size_t c = 0; c < n; c++) {
        float *o = tmp + c * d;
        size_t t = 0;
        for (; t + 16 <= d; t += 16) _mm512_storeu_ps(o + t, load16(dtype, src[c], t));
        if (t < d) _mm512_mask_storeu_ps(o + t, tail16(d - t), load16_mask(dtype, src[c], t, tail16(d - t)));
        w[c] = (const unsigned char *)(const void *)o;
    }
}

/*
 * acc rows += Σ_c p[c] v_c for `nr` (1…4) rows over columns [t0, t0 + 64) ∩ [0, d): 4 × 4
 * accumulators stay in registers while the chunk's V rows stream through, each V vector widened
 * once for all rows.
 */
DECODE_ALWAYS void values_slice(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                                size_t d, float *acc, size_t t0) {
    __m512 a[RB][4];
    if (t0 + 64 <= d) {
        for (size_t i = 0; i < RB && i < nr; i++)
            for (size_t j = 0; j < 4; j++) a[i][j] = _mm512_loadu_ps(acc + i * d + t0 + 16 * j);
        for (size_t c = 0; c < n; c++) {
            const __m512 x0 = load16(dtype, v[c], t0), x1 = load16(dtype, v[c], t0 + 16);
            const __m512 x2 = load16(dtype, v[c], t0 + 32), x3 = load16(dtype, v[c], t0 + 48);
            for (size_t i = 0; i < RB && i < nr; i++) {
                const __m512 w = _mm512_set1_ps(p[i * ld + c]);
                a[i][0] = _mm512_fmadd_ps(w, x0, a[i][0]);
                a[i][1] = _mm512_fmadd_ps(w, x1, a[i][1]);
                a[i][2] = _mm512_fmadd_ps(w, x2, a[i][2]);
                a[i][3] = _mm512_fmadd_ps(w, x3, a[i][3]);
            }
        }
        for (size_t i = 0; i < RB && i < nr; i++)
            for (size_t j = 0; j < 4; j++) _mm512_storeu_ps(acc + i * d + t0 + 16 * j, a[i][j]);
        return;
    }
    __mmask16 km[4];
    for (size_t j = 0; j < 4; j++) km[j] = t0 + 16 * j < d ? tail16(d - t0 - 16 * j) : 0;
    for (size_t i = 0; i < RB && i < nr; i++)
        for (size_t j = 0; j < 4; j++) a[i][j] = _mm512_maskz_loadu_ps(km[j], acc + i * d + t0 + 16 * j);
    for (size_t c = 0; c < n; c++) {
        const __m512 x0 = load16_mask(dtype, v[c], t0, km[0]), x1 = load16_mask(dtype, v[c], t0 + 16, km[1]);
        const __m512 x2 = load16_mask(dtype, v[c], t0 + 32, km[2]), x3 = load16_mask(dtype, v[c], t0 + 48, km[3]);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const __m512 w = _mm512_set1_ps(p[i * ld + c]);
            a[i][0] = _mm512_fmadd_ps(w, x0, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(w, x1, a[i][1]);
            a[i][2] = _mm512_fmadd_ps(w, x2, a[i][2]);
            a[i][3] = _mm512_fmadd_ps(w, x3, a[i][3]);
        }
    }
    for (size_t i = 0; i < RB && i < nr; i++)
        for (size_t j = 0; j < 4; j++) _mm512_mask_storeu_ps(acc + i * d + t0 + 16 * j, km[j], a[i][j]);
}

DECODE_ALWAYS void values_rows(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                               size_t d, float *acc) {
    for (size_t t0 = 0; t0 < d; t0 += 64) {
        switch (nr) {
        case 1: values_slice(dtype, 1, p, ld, v, n, d, acc, t0); break;
        case 2: values_slice(dtype, 2, p, ld, v, n, d, acc, t0); break;
        case 3: values_slice(dtype, 3, p, ld, v, n, d, acc, t0); break;
        default: values_slice(dtype, 4, p, ld, v, n, d, acc, t0); break;
        }
    }
}

static inline float decode_max(const float *x, size_t n) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    size_t c = 0;
    for (; c + 16 <= n; c += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + c));
    if (c < n) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail16(n - c), x + c));
    return _mm512_reduce_max_ps(mx);
}

static inline float decode_sum(const float *x, size_t n) {
    __m512 sum = _mm512_setzero_ps();
    size_t c = 0;
    for (; c + 16 <= n; c += 16) sum = _mm512_add_ps(sum, _mm512_loadu_ps(x + c));
    if (c < n) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(tail16(n - c), x + c));
    return _mm512_reduce_add_ps(sum);
}

#define DECODE_NAME kestrel_decode_partial_avx512
#define DECODE_EXP kestrel_exp_f32_avx512
#define DECODE_ROW_BLOCKS 1
#include "internal/decode_driver.h"

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
