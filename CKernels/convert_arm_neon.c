/*
 * NEON tier (baseline AArch64) of f32 <-> f16 / bf16 conversion, bit-identical to the scalar
 * helpers. f16 uses FCVTN/FCVTL (vcvt_f16_f32 / vcvt_f32_f16): they round to nearest even
 * under the default FPCR, keep the sign and top payload bits of a NaN and make it quiet, as
 * the scalar helpers do (FPCR.DN, "default NaN", is off on Linux, macOS and Windows).
 * bf16: integer round-to-nearest-even with NaN lanes replaced by the quieted truncation.
 * Tails go through a small stack buffer, so every element takes the vector path and nothing
 * past either end is accessed.
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_ARM64
#include <arm_neon.h>

static inline uint16x8_t f16_narrow8(const float *p) {
    float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(p)), vld1q_f32(p + 4));
    return vreinterpretq_u16_f16(h);
}

void kestrel_f32_to_f16_neon(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint16x8_t a = f16_narrow8(src + i), b = f16_narrow8(src + i + 8);
        vst1q_u16(dst + i, a);
        vst1q_u16(dst + i + 8, b);
    }
    for (; i + 8 <= n; i += 8) vst1q_u16(dst + i, f16_narrow8(src + i));
    if (i < n) {
        float in[8] = {0};
        uint16_t out[8];
        memcpy(in, src + i, (n - i) * sizeof(float));
        vst1q_u16(out, f16_narrow8(in));
        memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
    }
}

static inline void f16_widen8(const uint16_t *p, float *out) {
    float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
    vst1q_f32(out, vcvt_f32_f16(vget_low_f16(h)));
    vst1q_f32(out + 4, vcvt_high_f32_f16(h));
}

void kestrel_f16_to_f32_neon(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        f16_widen8(src + i, dst + i);
        f16_widen8(src + i + 8, dst + i + 8);
    }
    for (; i + 8 <= n; i += 8) f16_widen8(src + i, dst + i);
    if (i < n) {
        uint16_t in[8] = {0};
        float out[8];
        memcpy(in, src + i, (n - i) * sizeof(uint16_t));
        f16_widen8(in, out);
        memcpy(dst + i, out, (n - i) * sizeof(float));
    }
}

/* Four f32 -> bf16 in the high half of each 32-bit lane. */
static inline uint32x4_t bf16_round4(float32x4_t f) {
    uint32x4_t x = vreinterpretq_u32_f32(f);
    uint32x4_t lsb = vandq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(1));
    uint32x4_t rounded = vaddq_u32(x, vaddq_u32(lsb, vdupq_n_u32(0x7fff)));
    uint32x4_t quiet = vorrq_u32(x, vdupq_n_u32(0x00400000));
    return vbslq_u32(vceqq_f32(f, f), rounded, quiet); /* f == f is false only for NaN */
}

static inline uint16x8_t bf16_narrow8(const float *p) {
    /* the odd 16-bit halves (little-endian) are the high halves of the words */
    return vuzp2q_u16(vreinterpretq_u16_u32(bf16_round4(vld1q_f32(p))),
                      vreinterpretq_u16_u32(bf16_round4(vld1q_f32(p + 4))));
}

void kestrel_f32_to_bf16_neon(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint16x8_t a = bf16_narrow8(src + i), b = bf16_narrow8(src + i + 8);
        vst1q_u16(dst + i, a);
        vst1q_u16(dst + i + 8, b);
    }
    for (; i + 8 <= n; i += 8) vst1q_u16(dst + i, bf16_narrow8(src + i));
    if (i < n) {
        float in[8] = {0};
        uint16_t out[8];
        memcpy(in, src + i, (n - i) * sizeof(float));
        vst1q_u16(out, bf16_narrow8(in));
        memcpy(dst + i, out, (n - i) * sizeof(uint16_t));
    }
}

static inline void bf16_widen8(const uint16_t *p, float *out) {
    uint16x8_t h = vld1q_u16(p);
    vst1q_f32(out, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
    vst1q_f32(out + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
}

void kestrel_bf16_to_f32_neon(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        bf16_widen8(src + i, dst + i);
        bf16_widen8(src + i + 8, dst + i + 8);
    }
    for (; i + 8 <= n; i += 8) bf16_widen8(src + i, dst + i);
    if (i < n) {
        uint16_t in[8] = {0};
        float out[8];
        memcpy(in, src + i, (n - i) * sizeof(uint16_t));
        bf16_widen8(in, out);
        memcpy(dst + i, out, (n - i) * sizeof(float));
    }
}

#endif /* KESTREL_ARM64 */
