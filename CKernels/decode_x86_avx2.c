/* AVX2 + FMA + F16C tier of KV-cache decode (kestrel_decode.h): the row operations; the loop is decode_driver.h. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

static inline const float *decode_row_f32(int dtype, const void *row, float *tmp, size_t d) {
    if (dtype == KESTREL_KV_F32) return (const float *)row;
    size_t t = 0;
    if (dtype == KESTREL_KV_F16) {
        const uint16_t *h = (const uint16_t *)row;
        for (; t + 8 <= d; t += 8) _mm256_storeu_ps(tmp + t, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + t))));
        for (; t < d; t++) tmp[t] = kestrel_f16_to_f32_1(h[t]);
    } else {
        const int8_t *c = (const int8_t *)row;
        for (; t + 8 <= d; t += 8)
            _mm256_storeu_ps(tmp + t, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(c + t)))));
        for (; t < d; t++) tmp[t] = (float)c[t];
    }
    return tmp;
}

static inline float decode_dot(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t t = 0;
    for (; t + 16 <= d; t += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t + 8), _mm256_loadu_ps(b + t + 8), s1);
    }
    for (; t + 8 <= d; t += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; t < d; t++) s += a[t] * b[t];
    return s;
}

static inline void decode_accumulate(const float *p, const float *v, size_t ld, size_t n, float *acc, size_t d) {
    size_t t = 0;
    for (; t + 32 <= d; t += 32) { /* four accumulators in registers across the chunk */
        __m256 a0 = _mm256_loadu_ps(acc + t), a1 = _mm256_loadu_ps(acc + t + 8);
        __m256 a2 = _mm256_loadu_ps(acc + t + 16), a3 = _mm256_loadu_ps(acc + t + 24);
        for (size_t c = 0; c < n; c++) {
            const __m256 pc = _mm256_set1_ps(p[c]);
            const float *vr = v + c * ld + t;
            a0 = _mm256_fmadd_ps(pc, _mm256_loadu_ps(vr), a0);
            a1 = _mm256_fmadd_ps(pc, _mm256_loadu_ps(vr + 8), a1);
            a2 = _mm256_fmadd_ps(pc, _mm256_loadu_ps(vr + 16), a2);
            a3 = _mm256_fmadd_ps(pc, _mm256_loadu_ps(vr + 24), a3);
        }
        _mm256_storeu_ps(acc + t, a0);
        _mm256_storeu_ps(acc + t + 8, a1);
        _mm256_storeu_ps(acc + t + 16, a2);
        _mm256_storeu_ps(acc + t + 24, a3);
    }
    for (; t + 8 <= d; t += 8) {
        __m256 a0 = _mm256_loadu_ps(acc + t);
        for (size_t c = 0; c < n; c++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[c]), _mm256_loadu_ps(v + c * ld + t), a0);
        _mm256_storeu_ps(acc + t, a0);
    }
    for (; t < d; t++) {
        float x = acc[t];
        for (size_t c = 0; c < n; c++) x += p[c] * v[c * ld + t];
        acc[t] = x;
    }
}

#define DECODE_NAME kestrel_decode_partial_avx2
#define DECODE_EXP kestrel_exp_f32_avx2
#include "internal/decode_driver.h"

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
