/* NEON tier of KV-cache decode (kestrel_decode.h): the row operations; the loop is decode_driver.h. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_ARM64
#include <arm_neon.h>

static inline const float *decode_row_f32(int dtype, const void *row, float *tmp, size_t d) {
    if (dtype == KESTREL_KV_F32) return (const float *)row;
    size_t t = 0;
    if (dtype == KESTREL_KV_F16) {
        const uint16_t *h = (const uint16_t *)row;
        for (; t + 4 <= d; t += 4) vst1q_f32(tmp + t, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + t))));
        for (; t < d; t++) tmp[t] = kestrel_f16_to_f32_1(h[t]);
    } else {
        const int8_t *c = (const int8_t *)row;
        for (; t + 8 <= d; t += 8) {
            const int16x8_t w = vmovl_s8(vld1_s8(c + t));
            vst1q_f32(tmp + t, vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))));
            vst1q_f32(tmp + t + 4, vcvtq_f32_s32(vmovl_s16(vget_high_s16(w))));
        }
        for (; t < d; t++) tmp[t] = (float)c[t];
    }
    return tmp;
}

static inline float decode_dot(const float *a, const float *b, size_t d) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    size_t t = 0;
    for (; t + 8 <= d; t += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + t), vld1q_f32(b + t));
        s1 = vfmaq_f32(s1, vld1q_f32(a + t + 4), vld1q_f32(b + t + 4));
    }
    for (; t + 4 <= d; t += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + t), vld1q_f32(b + t));
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; t < d; t++) s += a[t] * b[t];
    return s;
}

static inline void decode_accumulate(const float *p, const float *v, size_t ld, size_t n, float *acc, size_t d) {
    size_t t = 0;
    for (; t + 16 <= d; t += 16) { /* four accumulators in registers across the chunk */
        float32x4_t a0 = vld1q_f32(acc + t), a1 = vld1q_f32(acc + t + 4);
        float32x4_t a2 = vld1q_f32(acc + t + 8), a3 = vld1q_f32(acc + t + 12);
        for (size_t c = 0; c < n; c++) {
            const float *vr = v + c * ld + t;
            a0 = vfmaq_n_f32(a0, vld1q_f32(vr), p[c]);
            a1 = vfmaq_n_f32(a1, vld1q_f32(vr + 4), p[c]);
            a2 = vfmaq_n_f32(a2, vld1q_f32(vr + 8), p[c]);
            a3 = vfmaq_n_f32(a3, vld1q_f32(vr + 12), p[c]);
        }
        vst1q_f32(acc + t, a0);
        vst1q_f32(acc + t + 4, a1);
        vst1q_f32(acc + t + 8, a2);
        vst1q_f32(acc + t + 12, a3);
    }
    for (; t + 4 <= d; t += 4) {
        float32x4_t a0 = vld1q_f32(acc + t);
        for (size_t c = 0; c < n; c++) a0 = vfmaq_n_f32(a0, vld1q_f32(v + c * ld + t), p[c]);
        vst1q_f32(acc + t, a0);
    }
    for (; t < d; t++) {
        float x = acc[t];
        for (size_t c = 0; c < n; c++) x += p[c] * v[c * ld + t];
        acc[t] = x;
    }
}

#define DECODE_NAME kestrel_decode_partial_neon
#define DECODE_EXP kestrel_exp_f32_neon
#include "internal/decode_driver.h"

#endif /* KESTREL_ARM64 */
