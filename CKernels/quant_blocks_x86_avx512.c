/*
 * AVX-512 (F/BW/VL/DQ) tier of the ggml block kernels: every dequantizer and the Q8_0 / Q8_1
 * quantizers, bit-identical to the reference (quant_ref.c). Same method as the AVX2 tier
 * (codes unpacked by internal/quant_blocks_x86.h at 256 bits, one block per step), widened and
 * scaled sixteen lanes at a time: one multiply, then a separate add / subtract (no FMA).
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include "include/kestrel_quant.h"
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

#include "internal/quant_blocks_tier.h"
#include "internal/quant_blocks_x86.h"

/* Sixteen int8 codes as floats. */
static inline __m512 c16_ps(__m128i c) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(c)); }

static inline void emit_scaled(__m256i q, __m512 d, float *y) {
    _mm512_storeu_ps(y, _mm512_mul_ps(c16_ps(_mm256_castsi256_si128(q)), d));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(c16_ps(_mm256_extracti128_si256(q, 1)), d));
}

static inline void emit_affine_add(__m256i q, __m512 d, __m512 m, float *y) {
    _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(c16_ps(_mm256_castsi256_si128(q)), d), m));
    _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(c16_ps(_mm256_extracti128_si256(q, 1)), d), m));
}

static inline void emit_affine_sub(__m256i q, __m512 d, __m512 m, float *y) {
    _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(d, c16_ps(_mm256_castsi256_si128(q))), m));
    _mm512_storeu_ps(y + 16, _mm512_sub_ps(_mm512_mul_ps(d, c16_ps(_mm256_extracti128_si256(q, 1))), m));
}

/* y[0..15] = q_j * a, y[16..31] = q_j * b (Q6_K: two 16-element sub-blocks per run). */
static inline void emit_two_scales(__m256i q, __m512 a, __m512 b, float *y) {
    _mm512_storeu_ps(y, _mm512_mul_ps(a, c16_ps(_mm256_castsi256_si128(q))));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(b, c16_ps(_mm256_extracti128_si256(q, 1))));
}

QB_X86_DEQUANTIZERS(avx512, _mm512_set1_ps)

/* roundf(v) as int32 lanes, 0 where |v| is not below 128 or v is NaN (reference code_of). */
static inline __m512i round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u)),
        _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    const __m512 r = _mm512_mask_add_ps(t, up, t, one);
    const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(r), _mm512_set1_ps(128.0f), _CMP_LT_OQ);
    return _mm512_maskz_cvttps_epi32(ok, r);
}

static inline float quantize_q8_block(const float *x, int8_t *qs, int *sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = round_away(_mm512_mul_ps(v0, vid)), q1 = round_away(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(q0)); /* every code is within int8 */
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(q1));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    return d;
}

KESTREL_Q8_QUANTIZERS(avx512)

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
