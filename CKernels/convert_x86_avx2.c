/*
 * AVX2 (+F16C) tier of f32 <-> f16 / bf16 conversion, bit-identical to the scalar helpers.
 *
 * f16: vcvtps2ph with an explicit round-to-nearest-even immediate (independent of MXCSR)
 * and vcvtph2ps. Both match the scalar helpers on every input, NaN included: vcvtps2ph keeps
 * the sign and the top 10 payload bits and sets the quiet bit, vcvtph2ps quiets a signalling
 * NaN and keeps its payload (checked exhaustively over all 2^32 and 2^16 inputs).
 * bf16: integer round-to-nearest-even (add 0x7fff plus the lowest kept bit), NaN lanes
 * replaced by the quieted truncation.
 * Tails go through a small stack buffer, so every element takes the vector path and nothing
 * past either end is accessed.
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

#define F16_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

void kestrel_f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m128i h0 = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), F16_ROUND);
        __m128i h1 = _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 8), F16_ROUND);
        __m128i h2 = _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 16), F16_ROUND);
        __m128i h3 = _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 24), F16_ROUND);
        _mm_storeu_si128((__m128i *)(dst + i), h0);
        _mm_storeu_si128((__m128i *)(dst + i + 8), h1);
        _mm_storeu_si128((__m128i *)(dst + i + 16), h2);
        _mm_storeu_si128((__m128i *)(dst + i + 24), h3);
    }
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), F16_ROUND));
    if (i < n) {
        float in[8] = {0};
        uint16_t out[8];
        memcpy(in, src + i, (n - i) * sizeof(float));
        _mm_storeu_si128((__m128i *)out, _mm256_cvtps_ph(_mm256_loadu_ps(in), F16_ROUND));
        memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
    }
}

void kestrel_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 f0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
        __m256 f1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8)));
        __m256 f2 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 16)));
        __m256 f3 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 24)));
        _mm256_storeu_ps(dst + i, f0);
        _mm256_storeu_ps(dst + i + 8, f1);
        _mm256_storeu_ps(dst + i + 16, f2);
        _mm256_storeu_ps(dst + i + 24, f3);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    if (i < n) {
        uint16_t in[8] = {0};
        float out[8];
        memcpy(in, src + i, (n - i) * sizeof(uint16_t));
        _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)in)));
        memcpy(dst + i, out, (n - i) * sizeof(float));
    }
}

/* Eight f32 -> bf16, each in the low half of its 32-bit lane. */
static inline __m256i bf16_round8(__m256 f) {
    __m256i x = _mm256_castps_si256(f);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q));
    __m256i quiet = _mm256_or_si256(x, _mm256_set1_epi32(0x00400000));
    return _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet, nan), 16);
}

/* Sixteen f32 -> sixteen bf16 in order (vpackusdw works per 128-bit lane, vpermq restores order;
 * the values are <= 0xffff so the unsigned saturation never triggers). */
static inline __m256i bf16_round16(__m256 a, __m256 b) {
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(bf16_round8(a), bf16_round8(b)), 0xd8);
}

void kestrel_f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i h0 = bf16_round16(_mm256_loadu_ps(src + i), _mm256_loadu_ps(src + i + 8));
        __m256i h1 = bf16_round16(_mm256_loadu_ps(src + i + 16), _mm256_loadu_ps(src + i + 24));
        _mm256_storeu_si256((__m256i *)(dst + i), h0);
        _mm256_storeu_si256((__m256i *)(dst + i + 16), h1);
    }
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), bf16_round16(_mm256_loadu_ps(src + i), _mm256_loadu_ps(src + i + 8)));
    if (i < n) {
        float in[16] = {0};
        uint16_t out[16];
        memcpy(in, src + i, (n - i) * sizeof(float));
        _mm256_storeu_si256((__m256i *)out, bf16_round16(_mm256_loadu_ps(in), _mm256_loadu_ps(in + 8)));
        memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
    }
}

static inline __m256 bf16_widen8(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

void kestrel_bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 f0 = bf16_widen8(src + i), f1 = bf16_widen8(src + i + 8);
        __m256 f2 = bf16_widen8(src + i + 16), f3 = bf16_widen8(src + i + 24);
        _mm256_storeu_ps(dst + i, f0);
        _mm256_storeu_ps(dst + i + 8, f1);
        _mm256_storeu_ps(dst + i + 16, f2);
        _mm256_storeu_ps(dst + i + 24, f3);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, bf16_widen8(src + i));
    if (i < n) {
        uint16_t in[8] = {0};
        float out[8];
        memcpy(in, src + i, (n - i) * sizeof(uint16_t));
        _mm256_storeu_ps(out, bf16_widen8(in));
        memcpy(dst + i, out, (n - i) * sizeof(float));
    }
}

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
