/* AVX-512 tier of KV-cache decode (kestrel_decode.h): the row operations; the loop is decode_driver.h. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

/* Masked tails: the masked-off lanes are neither read nor written. */
static inline __mmask16 tail16(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

static inline const float *decode_row_f32(int dtype, const void *row, float *tmp, size_t d) {
    if (dtype == KESTREL_KV_F32) return (const float *)row;
    size_t t = 0;
    if (dtype == KESTREL_KV_F16) {
        const uint16_t *h = (const uint16_t *)row;
        for (; t + 16 <= d; t += 16) _mm512_storeu_ps(tmp + t, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + t))));
        if (t < d) {
            const __mmask16 k = tail16(d - t);
            _mm512_mask_storeu_ps(tmp + t, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, h + t)));
        }
    } else {
        const int8_t *c = (const int8_t *)row;
        for (; t + 16 <= d; t += 16)
            _mm512_storeu_ps(tmp + t, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(c + t)))));
        if (t < d) {
            const __mmask16 k = tail16(d - t);
            _mm512_mask_storeu_ps(tmp + t, k, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, c + t))));
        }
    }
    return tmp;
}

static inline float decode_dot(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t t = 0;
    for (; t + 32 <= d; t += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + t), _mm512_loadu_ps(b + t), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + t + 16), _mm512_loadu_ps(b + t + 16), s1);
    }
    for (; t + 16 <= d; t += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + t), _mm512_loadu_ps(b + t), s0);
    if (t < d) {
        const __mmask16 k = tail16(d - t);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + t), _mm512_maskz_loadu_ps(k, b + t), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline void decode_accumulate(const float *p, const float *v, size_t ld, size_t n, float *acc, size_t d) {
    size_t t = 0;
    for (; t + 64 <= d; t += 64) { /* four accumulators in registers across the chunk */
        __m512 a0 = _mm512_loadu_ps(acc + t), a1 = _mm512_loadu_ps(acc + t + 16);
        __m512 a2 = _mm512_loadu_ps(acc + t + 32), a3 = _mm512_loadu_ps(acc + t + 48);
        for (size_t c = 0; c < n; c++) {
            const __m512 pc = _mm512_set1_ps(p[c]);
            const float *vr = v + c * ld + t;
            a0 = _mm512_fmadd_ps(pc, _mm512_loadu_ps(vr), a0);
            a1 = _mm512_fmadd_ps(pc, _mm512_loadu_ps(vr + 16), a1);
            a2 = _mm512_fmadd_ps(pc, _mm512_loadu_ps(vr + 32), a2);
            a3 = _mm512_fmadd_ps(pc, _mm512_loadu_ps(vr + 48), a3);
        }
        _mm512_storeu_ps(acc + t, a0);
        _mm512_storeu_ps(acc + t + 16, a1);
        _mm512_storeu_ps(acc + t + 32, a2);
        _mm512_storeu_ps(acc + t + 48, a3);
    }
    for (; t < d; t += 16) {
        const __mmask16 k = d - t >= 16 ? (__mmask16)0xffff : tail16(d - t);
        __m512 a0 = _mm512_maskz_loadu_ps(k, acc + t);
        for (size_t c = 0; c < n; c++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(p[c]), _mm512_maskz_loadu_ps(k, v + c * ld + t), a0);
        _mm512_mask_storeu_ps(acc + t, k, a0);
    }
}

#define DECODE_NAME kestrel_decode_partial_avx512
#define DECODE_EXP kestrel_exp_f32_avx512
#include "internal/decode_driver.h"

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
