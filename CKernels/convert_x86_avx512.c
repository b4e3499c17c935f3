/*
 * AVX-512 (F/BW/VL/DQ) tier of f32 <-> f16 / bf16 conversion, bit-identical to the scalar
 * helpers. Same methods as the AVX2 tier at 512 bits (vcvtps2ph/vcvtph2ps have the same NaN
 * and rounding behaviour as their 256-bit forms); tails use masked loads and stores.
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

#define F16_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline __mmask16 tail_mask(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

void kestrel_f32_to_f16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256i h0 = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), F16_ROUND);
        __m256i h1 = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 16), F16_ROUND);
        __m256i h2 = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 32), F16_ROUND);
        __m256i h3 = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 48), F16_ROUND);
        _mm256_storeu_si256((__m256i *)(dst + i), h0);
        _mm256_storeu_si256((__m256i *)(dst + i + 16), h1);
        _mm256_storeu_si256((__m256i *)(dst + i + 32), h2);
        _mm256_storeu_si256((__m256i *)(dst + i + 48), h3);
    }
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), F16_ROUND));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), F16_ROUND));
    }
}

void kestrel_f16_to_f32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 f0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i)));
        __m512 f1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i + 16)));
        __m512 f2 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i + 32)));
        __m512 f3 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i + 48)));
        _mm512_storeu_ps(dst + i, f0);
        _mm512_storeu_ps(dst + i + 16, f1);
        _mm512_storeu_ps(dst + i + 32, f2);
        _mm512_storeu_ps(dst + i + 48, f3);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
    }
}

/* Sixteen f32 -> bf16 (round-to-nearest-even, NaN quieted), each in the low half of its lane. */
static inline __m512i bf16_round16(__m512 f) {
    __m512i x = _mm512_castps_si512(f);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    __mmask16 nan = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q);
    rounded = _mm512_mask_or_epi32(rounded, nan, x, _mm512_set1_epi32(0x00400000));
    return _mm512_srli_epi32(rounded, 16);
}

void kestrel_f32_to_bf16_avx512(const float *src, uint16_t *dst, size_t n) {
    /* vpackusdw interleaves per 128-bit lane; vpermq with this index restores element order. */
    const __m512i order = _mm512_set_epi64(7, 5, 3, 1, 6, 4, 2, 0);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i a = bf16_round16(_mm512_loadu_ps(src + i));
        __m512i b = bf16_round16(_mm512_loadu_ps(src + i + 16));
        _mm512_storeu_si512(dst + i, _mm512_permutexvar_epi64(order, _mm512_packus_epi32(a, b)));
    }
    for (; i < n; i += 16) { /* at most two passes; the last one masked */
        size_t rem = n - i < 16 ? n - i : 16;
        __mmask16 m = tail_mask(rem);
        _mm512_mask_cvtepi32_storeu_epi16(dst + i, m, bf16_round16(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

static inline __m512 bf16_widen16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

void kestrel_bf16_to_f32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 f0 = bf16_widen16(_mm256_loadu_si256((const __m256i *)(src + i)));
        __m512 f1 = bf16_widen16(_mm256_loadu_si256((const __m256i *)(src + i + 16)));
        __m512 f2 = bf16_widen16(_mm256_loadu_si256((const __m256i *)(src + i + 32)));
        __m512 f3 = bf16_widen16(_mm256_loadu_si256((const __m256i *)(src + i + 48)));
        _mm512_storeu_ps(dst + i, f0);
        _mm512_storeu_ps(dst + i + 16, f1);
        _mm512_storeu_ps(dst + i + 32, f2);
        _mm512_storeu_ps(dst + i + 48, f3);
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, bf16_widen16(_mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, bf16_widen16(_mm256_maskz_loadu_epi16(m, src + i)));
    }
}

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
