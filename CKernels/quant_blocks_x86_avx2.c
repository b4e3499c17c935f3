/*
 * AVX2 tier of the ggml block kernels: every dequantizer and the Q8_0 / Q8_1 quantizers,
 * bit-identical to the reference (quant_ref.c). Codes are unpacked with integer byte
 * operations (internal/quant_blocks_x86.h), widened to int32, converted exactly to float and
 * scaled with the same float32 operations, in the same order, as the reference: one multiply,
 * then the add or subtract of the min as a separate instruction (no FMA: it would change bits).
 * Quantizers: amax by max over |x| (order-free), d and 1/d computed in scalar exactly as the
 * reference, roundf reproduced as trunc plus a step away from zero when |frac| >= 0.5.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include "include/kestrel_quant.h"
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

#include "internal/quant_blocks_x86.h"

/* Eight int8 codes (the low 8 bytes of c) as floats. */
static inline __m256 lo8_ps(__m128i c) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)); }

/* y[0..31] = q_j * d. */
static inline void emit_scaled(__m256i q, __m256 d, float *y) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(y, _mm256_mul_ps(lo8_ps(lo), d));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(lo8_ps(_mm_srli_si128(lo, 8)), d));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(lo8_ps(hi), d));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(lo8_ps(_mm_srli_si128(hi, 8)), d));
}

/* y[0..31] = q_j * d + m (two roundings). */
static inline void emit_affine_add(__m256i q, __m256 d, __m256 m, float *y) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(lo8_ps(lo), d), m));
    _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(lo8_ps(_mm_srli_si128(lo, 8)), d), m));
    _mm256_storeu_ps(y + 16, _mm256_add_ps(_mm256_mul_ps(lo8_ps(hi), d), m));
    _mm256_storeu_ps(y + 24, _mm256_add_ps(_mm256_mul_ps(lo8_ps(_mm_srli_si128(hi, 8)), d), m));
}

/* y[0..31] = d * q_j - m (two roundings). */
static inline void emit_affine_sub(__m256i q, __m256 d, __m256 m, float *y) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(d, lo8_ps(lo)), m));
    _mm256_storeu_ps(y + 8, _mm256_sub_ps(_mm256_mul_ps(d, lo8_ps(_mm_srli_si128(lo, 8))), m));
    _mm256_storeu_ps(y + 16, _mm256_sub_ps(_mm256_mul_ps(d, lo8_ps(hi)), m));
    _mm256_storeu_ps(y + 24, _mm256_sub_ps(_mm256_mul_ps(d, lo8_ps(_mm_srli_si128(hi, 8))), m));
}

/* y[0..15] = q_j * a, y[16..31] = q_j * b (Q6_K: two 16-element sub-blocks per run). */
static inline void emit_two_scales(__m256i q, __m256 a, __m256 b, float *y) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(y, _mm256_mul_ps(a, lo8_ps(lo)));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(a, lo8_ps(_mm_srli_si128(lo, 8))));
    _mm256_storeu_ps(y + 16, _mm256_mul_ps(b, lo8_ps(hi)));
    _mm256_storeu_ps(y + 24, _mm256_mul_ps(b, lo8_ps(_mm_srli_si128(hi, 8))));
}

#define DEQUANT_SCALED(t)                                                                        \
    void kestrel_dequantize_##t##_avx2(const void *blocks, float *y, size_t n) {                 \
        const kestrel_block_##t *b = (const kestrel_block_##t *)blocks;                          \
        for (size_t i = 0; i < n / KESTREL_QK32; i++)                                            \
            emit_scaled(qb_codes_##t(b + i), _mm256_set1_ps(kestrel_f16_to_f32_1(b[i].d)),       \
                        y + i * KESTREL_QK32);                                                   \
    }

#define DEQUANT_AFFINE(t)                                                                        \
    void kestrel_dequantize_##t##_avx2(const void *blocks, float *y, size_t n) {                 \
        const kestrel_block_##t *b = (const kestrel_block_##t *)blocks;                          \
        for (size_t i = 0; i < n / KESTREL_QK32; i++)                                            \
            emit_affine_add(qb_codes_##t(b + i), _mm256_set1_ps(kestrel_f16_to_f32_1(b[i].d)),   \
                            _mm256_set1_ps(kestrel_f16_to_f32_1(b[i].m)), y + i * KESTREL_QK32); \
    }

DEQUANT_SCALED(q8_0)
DEQUANT_SCALED(q8_1)
DEQUANT_SCALED(q4_0)
DEQUANT_SCALED(q5_0)
DEQUANT_AFFINE(q4_1)
DEQUANT_AFFINE(q5_1)

void kestrel_dequantize_q4_K_avx2(const void *blocks, float *y, size_t n) {
    const kestrel_block_q4_K *b = (const kestrel_block_q4_K *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK_K; i++, y += KESTREL_QK_K) {
        const float d = kestrel_f16_to_f32_1(b[i].d), dmin = kestrel_f16_to_f32_1(b[i].dmin);
        for (int c = 0; c < 4; c++) {
            int sc1, m1, sc2, m2;
            qb_q4k_scale_min(2 * c, b[i].scales, &sc1, &m1);
            qb_q4k_scale_min(2 * c + 1, b[i].scales, &sc2, &m2);
            __m256i lo, hi;
            qb_nibbles32(b[i].qs + 32 * c, &lo, &hi);
            emit_affine_sub(lo, _mm256_set1_ps(d * (float)sc1), _mm256_set1_ps(dmin * (float)m1), y + 64 * c);
            emit_affine_sub(hi, _mm256_set1_ps(d * (float)sc2), _mm256_set1_ps(dmin * (float)m2), y + 64 * c + 32);
        }
    }
}

void kestrel_dequantize_q6_K_avx2(const void *blocks, float *y, size_t n) {
    const kestrel_block_q6_K *b = (const kestrel_block_q6_K *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK_K; i++, y += KESTREL_QK_K) {
        const float d = kestrel_f16_to_f32_1(b[i].d);
        for (int h = 0; h < 2; h++) {
            __m256i q[4];
            qb_codes_q6_K_half(b[i].ql + 64 * h, b[i].qh + 32 * h, q);
            const int8_t *sc = b[i].scales + 8 * h;
            for (int r = 0; r < 4; r++)
                emit_two_scales(q[r], _mm256_set1_ps(d * (float)sc[2 * r]), _mm256_set1_ps(d * (float)sc[2 * r + 1]),
                                y + 128 * h + 32 * r);
        }
    }
}

/* roundf(v) as int32 lanes, 0 where |v| is not below 128 or v is NaN (reference code_of). */
static inline __m256i round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                      _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f)));
    const __m256 r = _mm256_add_ps(t, step);
    const __m256 ok = _mm256_cmp_ps(_mm256_andnot_ps(sign, r), _mm256_set1_ps(128.0f), _CMP_LT_OQ);
    return _mm256_and_si256(_mm256_cvttps_epi32(r), _mm256_castps_si256(ok));
}

/*
 * One block of 32 floats -> 32 int8 codes at qs; returns the float32 d (before fp16 rounding)
 * and the sum of the codes.
 */
static inline float quantize_q8_block(const float *x, int8_t *qs, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    /* max is order-free for finite lanes (NaN inputs are outside the contract) */
    __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i q0 = round_away(_mm256_mul_ps(v0, vid)), q1 = round_away(_mm256_mul_ps(v1, vid));
    const __m256i q2 = round_away(_mm256_mul_ps(v2, vid)), q3 = round_away(_mm256_mul_ps(v3, vid));
    /* packs work per 128-bit lane: the permute restores element order */
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    _mm256_storeu_si256((__m256i *)qs, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    *sum = _mm_cvtsi128_si32(s4);
    return d;
}

void kestrel_quantize_q8_0_avx2(const float *x, void *blocks, size_t n) {
    kestrel_block_q8_0 *b = (kestrel_block_q8_0 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++) {
        int sum;
        const float d = quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum);
        b[i].d = kestrel_f32_to_f16_1(d);
    }
}

void kestrel_quantize_q8_1_avx2(const float *x, void *blocks, size_t n) {
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
