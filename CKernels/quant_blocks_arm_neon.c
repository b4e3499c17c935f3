/*
 * NEON tier (baseline AArch64) of the ggml block kernels: every dequantizer and the Q8_0 / Q8_1
 * quantizers, bit-identical to the reference (quant_ref.c). Codes are unpacked with byte
 * operations into int8 lanes in element order, widened to int32, converted exactly to float and
 * scaled with the reference's float32 operations in its order. Where a product feeds an add
 * (Q4_1, Q5_1, Q4_K) the product is exact (an fp16 scale has 11 significant bits, times a 6-bit
 * sub-scale and a 5-bit code), so FMA contraction could not change a bit; `separate()` (an empty
 * asm the compiler cannot see through) keeps the two operations literal all the same, so the
 * code does not rely on that argument under any compiler's contraction setting.
 * Quantizers: vrndaq_f32 (FRINTA) is roundf exactly (nearest, ties away from zero).
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include "include/kestrel_quant.h"
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_ARM64
#include <arm_neon.h>

static inline float32x4_t separate(float32x4_t v) {
    __asm__("" : "+w"(v));
    return v;
}

/* Four float32x4 from sixteen int8 codes. */
static inline void widen16(int8x16_t q, float32x4_t f[4]) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_s8(vget_high_s8(q));
    f[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    f[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
    f[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    f[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
}

/* y[0..15] = q_j * d. */
static inline void emit_scaled16(int8x16_t q, float32x4_t d, float *y) {
    float32x4_t f[4];
    widen16(q, f);
    for (int k = 0; k < 4; k++) vst1q_f32(y + 4 * k, vmulq_f32(f[k], d));
}

/* y[0..15] = q_j * d + m (two roundings). */
static inline void emit_add16(int8x16_t q, float32x4_t d, float32x4_t m, float *y) {
    float32x4_t f[4];
    widen16(q, f);
    for (int k = 0; k < 4; k++) vst1q_f32(y + 4 * k, vaddq_f32(separate(vmulq_f32(f[k], d)), m));
}

/* y[0..15] = d * q_j - m (two roundings). */
static inline void emit_sub16(int8x16_t q, float32x4_t d, float32x4_t m, float *y) {
    float32x4_t f[4];
    widen16(q, f);
    for (int k = 0; k < 4; k++) vst1q_f32(y + 4 * k, vsubq_f32(separate(vmulq_f32(d, f[k])), m));
}

/* 16 bytes of nibble pairs: low nibbles (elements 0-15) and high nibbles (16-31). */
static inline void nibbles(const uint8_t *qs, uint8x16_t *lo, uint8x16_t *hi) {
    const uint8x16_t v = vld1q_u8(qs);
    *lo = vandq_u8(v, vdupq_n_u8(0x0F));
    *hi = vshrq_n_u8(v, 4);
}

/* Bits 0-15 (lo) and 16-31 (hi) of a little-endian 32-bit mask as bytes 0x10 / 0. */
static inline void bit4_of(const uint8_t *qh, uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t k_bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bit = vld1q_u8(k_bits), ten = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bit), ten);
    *hi = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bit), ten);
}

static inline int8x16_t minus(uint8x16_t v, uint8_t off) { return vreinterpretq_s8_u8(vsubq_u8(v, vdupq_n_u8(off))); }
static inline int8x16_t as_s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

void kestrel_dequantize_q8_0_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q8_0 *b = (const kestrel_block_q8_0 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++, y += KESTREL_QK32) {
        const float32x4_t d = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].d));
        emit_scaled16(vld1q_s8(b[i].qs), d, y);
        emit_scaled16(vld1q_s8(b[i].qs + 16), d, y + 16);
    }
}

void kestrel_dequantize_q8_1_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q8_1 *b = (const kestrel_block_q8_1 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++, y += KESTREL_QK32) {
        const float32x4_t d = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].d));
        emit_scaled16(vld1q_s8(b[i].qs), d, y);
        emit_scaled16(vld1q_s8(b[i].qs + 16), d, y + 16);
    }
}

void kestrel_dequantize_q4_0_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q4_0 *b = (const kestrel_block_q4_0 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++, y += KESTREL_QK32) {
        const float32x4_t d = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].d));
        uint8x16_t lo, hi;
        nibbles(b[i].qs, &lo, &hi);
        emit_scaled16(minus(lo, 8), d, y);
        emit_scaled16(minus(hi, 8), d, y + 16);
    }
}

void kestrel_dequantize_q4_1_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q4_1 *b = (const kestrel_block_q4_1 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++, y += KESTREL_QK32) {
        const float32x4_t d = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].d)), m = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].m));
        uint8x16_t lo, hi;
        nibbles(b[i].qs, &lo, &hi);
        emit_add16(as_s8(lo), d, m, y);
        emit_add16(as_s8(hi), d, m, y + 16);
    }
}

void kestrel_dequantize_q5_0_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q5_0 *b = (const kestrel_block_q5_0 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++, y += KESTREL_QK32) {
        const float32x4_t d = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].d));
        uint8x16_t lo, hi, blo, bhi;
        nibbles(b[i].qs, &lo, &hi);
        bit4_of(b[i].qh, &blo, &bhi);
        emit_scaled16(minus(vorrq_u8(lo, blo), 16), d, y);
        emit_scaled16(minus(vorrq_u8(hi, bhi), 16), d, y + 16);
    }
}

void kestrel_dequantize_q5_1_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q5_1 *b = (const kestrel_block_q5_1 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++, y += KESTREL_QK32) {
        const float32x4_t d = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].d)), m = vdupq_n_f32(kestrel_f16_to_f32_1(b[i].m));
        uint8x16_t lo, hi, blo, bhi;
        nibbles(b[i].qs, &lo, &hi);
        bit4_of(b[i].qh, &blo, &bhi);
        emit_add16(as_s8(vorrq_u8(lo, blo)), d, m, y);
        emit_add16(as_s8(vorrq_u8(hi, bhi)), d, m, y + 16);
    }
}

static inline void q4k_scale_min(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void kestrel_dequantize_q4_K_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q4_K *b = (const kestrel_block_q4_K *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK_K; i++, y += KESTREL_QK_K) {
        const float d = kestrel_f16_to_f32_1(b[i].d), dmin = kestrel_f16_to_f32_1(b[i].dmin);
        for (int c = 0; c < 4; c++) {
            int sc1, m1, sc2, m2;
            q4k_scale_min(2 * c, b[i].scales, &sc1, &m1);
            q4k_scale_min(2 * c + 1, b[i].scales, &sc2, &m2);
            const float32x4_t d1 = vdupq_n_f32(d * (float)sc1), n1 = vdupq_n_f32(dmin * (float)m1);
            const float32x4_t d2 = vdupq_n_f32(d * (float)sc2), n2 = vdupq_n_f32(dmin * (float)m2);
            const uint8x16_t v0 = vld1q_u8(b[i].qs + 32 * c), v1 = vld1q_u8(b[i].qs + 32 * c + 16);
            const uint8x16_t m4 = vdupq_n_u8(0x0F);
            float *yc = y + 64 * c;
            emit_sub16(as_s8(vandq_u8(v0, m4)), d1, n1, yc);
            emit_sub16(as_s8(vandq_u8(v1, m4)), d1, n1, yc + 16);
            emit_sub16(as_s8(vshrq_n_u8(v0, 4)), d2, n2, yc + 32);
            emit_sub16(as_s8(vshrq_n_u8(v1, 4)), d2, n2, yc + 48);
        }
    }
}

void kestrel_dequantize_q6_K_neon(const void *blocks, float *y, size_t n) {
    const kestrel_block_q6_K *b = (const kestrel_block_q6_K *)blocks;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x03);
    for (size_t i = 0; i < n / KESTREL_QK_K; i++, y += KESTREL_QK_K) {
        const float d = kestrel_f16_to_f32_1(b[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            float *yh = y + 128 * h;
            for (int part = 0; part < 2; part++) { /* l = 16*part ... 16*part + 15 */
                const uint8x16_t a = vld1q_u8(ql + 16 * part), c = vld1q_u8(ql + 32 + 16 * part);
                const uint8x16_t hb = vld1q_u8(qh + 16 * part);
                const uint8x16_t q1 = vorrq_u8(vandq_u8(a, m4), vshlq_n_u8(vandq_u8(hb, m2), 4));
                const uint8x16_t q2 = vorrq_u8(vandq_u8(c, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m2), 4));
                const uint8x16_t q3 = vorrq_u8(vshrq_n_u8(a, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m2), 4));
                const uint8x16_t q4 = vorrq_u8(vshrq_n_u8(c, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                const int l0 = 16 * part;
                emit_scaled16(minus(q1, 32), vdupq_n_f32(d * (float)sc[part]), yh + l0);
                emit_scaled16(minus(q2, 32), vdupq_n_f32(d * (float)sc[part + 2]), yh + l0 + 32);
                emit_scaled16(minus(q3, 32), vdupq_n_f32(d * (float)sc[part + 4]), yh + l0 + 64);
                emit_scaled16(minus(q4, 32), vdupq_n_f32(d * (float)sc[part + 6]), yh + l0 + 96);
            }
        }
    }
}

/* roundf as int32 lanes; 0 where |r| is not below 128 or r is NaN (reference code_of). */
static inline int32x4_t round_away(float32x4_t v) {
    const float32x4_t r = vrndaq_f32(v);
    const uint32x4_t ok = vcltq_f32(vabsq_f32(r), vdupq_n_f32(128.0f));
    return vreinterpretq_s32_u32(vandq_u32(vreinterpretq_u32_s32(vcvtq_s32_f32(r)), ok));
}

/* One block of 32 floats -> 32 codes at qs; returns the float32 d and the sum of the codes. */
static inline float quantize_q8_block(const float *x, int8_t *qs, int *sum) {
    float32x4_t v[8], a = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) {
        v[k] = vld1q_f32(x + 4 * k);
        a = vmaxq_f32(a, vabsq_f32(v[k]));
    }
    const float amax = vmaxvq_f32(a);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32x4_t s = vdupq_n_s32(0);
    for (int k = 0; k < 8; k += 4) {
        const int32x4_t q0 = round_away(vmulq_n_f32(v[k], id)), q1 = round_away(vmulq_n_f32(v[k + 1], id));
        const int32x4_t q2 = round_away(vmulq_n_f32(v[k + 2], id)), q3 = round_away(vmulq_n_f32(v[k + 3], id));
        s = vaddq_s32(s, vaddq_s32(vaddq_s32(q0, q1), vaddq_s32(q2, q3)));
        const int16x8_t h0 = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1)), h1 = vcombine_s16(vmovn_s32(q2), vmovn_s32(q3));
        vst1q_s8(qs + 4 * k, vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
    }
    *sum = vaddvq_s32(s);
    return d;
}

void kestrel_quantize_q8_0_neon(const float *x, void *blocks, size_t n) {
    kestrel_block_q8_0 *b = (kestrel_block_q8_0 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++) {
        int sum;
        const float d = quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum);
        b[i].d = kestrel_f32_to_f16_1(d);
    }
}

void kestrel_quantize_q8_1_neon(const float *x, void *blocks, size_t n) {
    kestrel_block_q8_1 *b = (kestrel_block_q8_1 *)blocks;
    for (size_t i = 0; i < n / KESTREL_QK32; i++) {
        int sum;
        const float d = quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum);
        b[i].d = kestrel_f32_to_f16_1(d);
        b[i].s = kestrel_f32_to_f16_1((float)sum * d);
    }
}

#endif /* KESTREL_ARM64 */
