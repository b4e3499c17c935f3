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

#define DEQUANT_SCALED(t)                                                                        \
    void kestrel_dequantize_##t##_avx512(const void *blocks, float *y, size_t n) {               \
        const kestrel_block_##t *b = (const kestrel_block_##t *)blocks;                          \
        for (size_t i = 0; i < n / KESTREL_QK32; i++)                                            \
            emit_scaled(qb_codes_##t(b + i), _mm512_set1_ps(kestrel_f16_to_f32_1(b[i].d)),       \
                        y + i * KESTREL_QK32);                                                   \
    }

#define DEQUANT_AFFINE(t)                                                                        \
    void kestrel_dequantize_##t##_avx512(const void *blocks, float *y, size_t n) {               \
        const kestrel_block_##t *b = (const kestrel_block_##t *)blocks;                          \
        for (size_t i = 0; i < n / KESTREL_QK32; i++)                                            \
            emit_affine_add(qb_codes_##t(b + i), _mm512_set1_ps(kestrel_f16_to_f32_1(b[i].d)),   \
                            _mm512_set1_ps(kestrel_f16_to_f32_1(b[i].m)), y + i * KESTREL_QK32); \
    }

DEQUANT_SCALED(q8_0)
DEQUANT_SCALED(q8_1)
DEQUANT_SCALED(q4_0)
DEQUANT_SCALED(q5_0)
DEQUANT_AFFINE(q4_1)
DEQUANT_AFFINE(q5_1)

void kestrel_dequantize_q4_K_avx512(const void *blocks, float *y, size_t n) {
    const kestrel_block_q4_K *b = (const kestrel_block_q4_K *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK_K; i++, y += KESTREL_QK_K) {
        const float d = kestrel_f16_to_f32_1(b[i].d), dmin = kestrel_f16_to_f32_1(b[i].dmin);
        for (int c = 0; c < 4; c++) {
            int sc1, m1, sc2, m2;
            qb_q4k_scale_min(2 * c, b[i].scales, &sc1, &m1);
            qb_q4k_scale_min(2 * c + 1, b[i].scales, &sc2, &m2);
            __m256i lo, hi;
            qb_nibbles32(b[i].qs + 32 * c, &lo, &hi);
            emit_affine_sub(lo, _mm512_set1_ps(d * (float)sc1), _mm512_set1_ps(dmin * (float)m1), y + 64 * c);
            emit_affine_sub(hi, _mm512_set1_ps(d * (float)sc2), _mm512_set1_ps(dmin * (float)m2), y + 64 * c + 32);
        }
    }
}

void kestrel_dequantize_q6_K_avx512(const void *blocks, float *y, size_t n) {
    const kestrel_block_q6_K *b = (const kestrel_block_q6_K *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK_K; i++, y += KESTREL_QK_K) {
        const float d = kestrel_f16_to_f32_1(b[i].d);
        for (int h = 0; h < 2; h++) {
            __m256i q[4];
            qb_codes_q6_K_half(b[i].ql + 64 * h, b[i].qh + 32 * h, q);
            const int8_t *sc = b[i].scales + 8 * h;
            float *yr = y + 128 * h;
            for (int r = 0; r < 4; r++) {
                const __m512 a = _mm512_set1_ps(d * (float)sc[2 * r]), c = _mm512_set1_ps(d * (float)sc[2 * r + 1]);
                _mm512_storeu_ps(yr + 32 * r, _mm512_mul_ps(a, c16_ps(_mm256_castsi256_si128(q[r]))));
                _mm512_storeu_ps(yr + 32 * r + 16, _mm512_mul_ps(c, c16_ps(_mm256_extracti128_si256(q[r], 1))));
            }
        }
    }
}

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

void kestrel_quantize_q8_0_avx512(const float *x, void *blocks, size_t n) {
    kestrel_block_q8_0 *b = (kestrel_block_q8_0 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++) {
        int sum;
        const float d = quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum);
        b[i].d = kestrel_f32_to_f16_1(d);
    }
}

void kestrel_quantize_q8_1_avx512(const float *x, void *blocks, size_t n) {
    kestrel_block_q8_1 *b = (kestrel_block_q8_1 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++) {
        int sum;
        const float d = quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum);
        b[i].d = kestrel_f32_to_f16_1(d);
        b[i].s = kestrel_f32_to_f16_1((float)sum * d);
    }
}

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
