/* AVX2 + FMA + F16C tier of KV-cache decode (kestrel_decode.h): the row operations; the loop is decode_driver.h. */
#include <math.h>

#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

#define DECODE_ALWAYS static inline __attribute__((always_inline))

/* Query rows per pass: 4 rows × 2 K rows of accumulators (16 ymm registers in all). */
#define RB 4

/* 8 elements of a stored row from element t, widened to f32 (dtype a constant after inlining). */
DECODE_ALWAYS __m256 load8(int dtype, const unsigned char *p, size_t t) {
    if (dtype == KESTREL_KV_F32) return _mm256_loadu_ps((const float *)(const void *)p + t);
    if (dtype == KESTREL_KV_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)(const void *)p + t)));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + t))));
}

/* The same for the last rem < 8 elements (lanes past rem are 0; nothing past the row is read). */
DECODE_ALWAYS __m256 load8_tail(int dtype, const unsigned char *p, size_t t, size_t rem) {
    float b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t u = 0; u < rem; u++) {
        if (dtype == KESTREL_KV_F32)
            b[u] = ((const float *)(const void *)p)[t + u];
        else if (dtype == KESTREL_KV_F16)
            b[u] = kestrel_f16_to_f32_1(((const uint16_t *)(const void *)p)[t + u]);
        else
            b[u] = (float)((const int8_t *)(const void *)p)[t + u];
    }
    return _mm256_loadu_ps(b);
}

DECODE_ALWAYS __m256 loadq_tail(const float *q, size_t rem) {
    float b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t u = 0; u < rem; u++) b[u] = q[u];
    return _mm256_loadu_ps(b);
}

/*
 * Scores of `nr` (1…4) query rows against 2 K rows (`nc` of them stored): 8 accumulators, each
 * K vector widened once for all rows, folded with horizontal adds at the end.
 */
DECODE_ALWAYS void score_4x2(int dtype, size_t nr, const float *q, size_t q_stride, const unsigned char *k0,
                             const unsigned char *k1, size_t d, float *s, size_t ld, size_t nc) {
    __m256 a[RB][2];
    for (size_t i = 0; i < RB; i++) a[i][0] = a[i][1] = _mm256_setzero_ps();
    size_t t = 0;
    for (; t + 8 <= d; t += 8) {
        const __m256 x0 = load8(dtype, k0, t), x1 = load8(dtype, k1, t);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const __m256 y = _mm256_loadu_ps(q + i * q_stride + t);
            a[i][0] = _mm256_fmadd_ps(y, x0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(y, x1, a[i][1]);
        }
    }
    if (t < d) {
        const __m256 x0 = load8_tail(dtype, k0, t, d - t), x1 = load8_tail(dtype, k1, t, d - t);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const __m256 y = loadq_tail(q + i * q_stride + t, d - t);
            a[i][0] = _mm256_fmadd_ps(y, x0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(y, x1, a[i][1]);
        }
    }
    const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0][0], a[0][1]), _mm256_hadd_ps(a[1][0], a[1][1]));
    const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(a[2][0], a[2][1]), _mm256_hadd_ps(a[3][0], a[3][1]));
    /* [row 0: k0, k1, row 1: k0, k1] and the same for rows 2, 3 */
    const __m128 f[2] = {_mm_add_ps(_mm256_castps256_ps128(g0), _mm256_extractf128_ps(g0, 1)),
                         _mm_add_ps(_mm256_castps256_ps128(g1), _mm256_extractf128_ps(g1, 1))};
    for (size_t i = 0; i < RB && i < nr; i++) {
        const __m128 v = (i & 1) ? _mm_movehl_ps(f[i / 2], f[i / 2]) : f[i / 2];
        if (nc == 2)
            _mm_storel_pi((__m64 *)(void *)(s + i * ld), v);
        else
            _mm_store_ss(s + i * ld, v);
    }
}

DECODE_ALWAYS void scores_rows(int dtype, const float *q, size_t q_stride, size_t nr, const unsigned char *const *k,
                               size_t n, size_t d, float *s, size_t ld) {
    for (size_t c = 0; c < n; c += 2) {
        const size_t nc = n - c < 2 ? 1 : 2;
        const unsigned char *k0 = k[c], *k1 = k[c + nc - 1];
        switch (nr) {
        case 1: score_4x2(dtype, 1, q, q_stride, k0, k1, d, s + c, ld, nc); break;
        case 2: score_4x2(dtype, 2, q, q_stride, k0, k1, d, s + c, ld, nc); break;
        case 3: score_4x2(dtype, 3, q, q_stride, k0, k1, d, s + c, ld, nc); break;
        default: score_4x2(dtype, 4, q, q_stride, k0, k1, d, s + c, ld, nc); break;
        }
    }
}

/* Widens n stored rows into tmp (row c at tmp + c · d) and points w at them. */
DECODE_ALWAYS void widen_rows(int dtype, const unsigned char *const *src, size_t n, size_t d, float *tmp,
                              const unsigned char **w) {
    for (size_t c = 0; c < n; c++) {
        float *o = tmp + c * d;
        size_t t = 0;
        for (; t + 8 <= d; t += 8) _mm256_storeu_ps(o + t, load8(dtype, src[c], t));
        for (; t < d; t++)
            o[t] = dtype == KESTREL_KV_F16 ? kestrel_f16_to_f32_1(((const uint16_t *)(const void *)src[c])[t])
                                           : (float)((const int8_t *)(const void *)src[c])[t];
        w[c] = (const unsigned char *)(const void *)o;
    }
}

/* acc rows += Σ_c p[c] v_c for `nr` (1…4) rows over columns [t0, t0 + 16): 4 × 2 accumulators in registers. */
DECODE_ALWAYS void values_slice(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                                size_t d, float *acc, size_t t0) {
    __m256 a[RB][2];
    for (size_t i = 0; i < RB && i < nr; i++) {
        a[i][0] = _mm256_loadu_ps(acc + i * d + t0);
        a[i][1] = _mm256_loadu_ps(acc + i * d + t0 + 8);
    }
    for (size_t c = 0; c < n; c++) {
        const __m256 x0 = load8(dtype, v[c], t0), x1 = load8(dtype, v[c], t0 + 8);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const __m256 w = _mm256_broadcast_ss(p + i * ld + c);
            a[i][0] = _mm256_fmadd_ps(w, x0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(w, x1, a[i][1]);
        }
    }
    for (size_t i = 0; i < RB && i < nr; i++) {
        _mm256_storeu_ps(acc + i * d + t0, a[i][0]);
        _mm256_storeu_ps(acc + i * d + t0 + 8, a[i][1]);
    }
}

/* The same over one vector of 8 columns, or the last rem < 8 columns. */
DECODE_ALWAYS void values_tail(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                               size_t d, float *acc, size_t t0) {
    const size_t rem = d - t0 < 8 ? d - t0 : 8;
    for (size_t i = 0; i < RB && i < nr; i++) {
        if (rem == 8) {
            __m256 x = _mm256_loadu_ps(acc + i * d + t0);
            for (size_t c = 0; c < n; c++) x = _mm256_fmadd_ps(_mm256_broadcast_ss(p + i * ld + c), load8(dtype, v[c], t0), x);
            _mm256_storeu_ps(acc + i * d + t0, x);
        } else {
            for (size_t u = 0; u < rem; u++) {
                float x = acc[i * d + t0 + u];
                for (size_t c = 0; c < n; c++) {
                    const unsigned char *row = v[c];
                    const float e = dtype == KESTREL_KV_F32   ? ((const float *)(const void *)row)[t0 + u]
                                    : dtype == KESTREL_KV_F16 ? kestrel_f16_to_f32_1(((const uint16_t *)(const void *)row)[t0 + u])
                                                              : (float)((const int8_t *)(const void *)row)[t0 + u];
                    x += p[i * ld + c] * e;
                }
                acc[i * d + t0 + u] = x;
            }
        }
    }
}

DECODE_ALWAYS void values_rows(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                               size_t d, float *acc) {
    size_t t0 = 0;
    for (; t0 + 16 <= d; t0 += 16) {
        switch (nr) {
        case 1: values_slice(dtype, 1, p, ld, v, n, d, acc, t0); break;
        case 2: values_slice(dtype, 2, p, ld, v, n, d, acc, t0); break;
        case 3: values_slice(dtype, 3, p, ld, v, n, d, acc, t0); break;
        default: values_slice(dtype, 4, p, ld, v, n, d, acc, t0); break;
        }
    }
    for (; t0 < d; t0 += 8) values_tail(dtype, nr, p, ld, v, n, d, acc, t0);
}

static inline float hmax8(__m256 x) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

static inline float hsum8(__m256 x) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

static inline float decode_max(const float *x, size_t n) {
    __m256 mx = _mm256_set1_ps(-INFINITY);
    size_t c = 0;
    for (; c + 8 <= n; c += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + c));
    float r = hmax8(mx);
    for (; c < n; c++)
        if (x[c] > r) r = x[c];
    return r;
}

static inline float decode_sum(const float *x, size_t n) {
    __m256 sum = _mm256_setzero_ps();
    size_t c = 0;
    for (; c + 8 <= n; c += 8) sum = _mm256_add_ps(sum, _mm256_loadu_ps(x + c));
    float r = hsum8(sum);
    for (; c < n; c++) r += x[c];
    return r;
}

#define DECODE_NAME kestrel_decode_partial_avx2
#define DECODE_EXP kestrel_exp_f32_avx2
#define DECODE_ROW_BLOCKS 1
#include "internal/decode_driver.h"

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
