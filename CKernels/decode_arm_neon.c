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

static inline void decode_axpy(float c, const float *x, float *y, size_t d) {
    size_t t = 0;
    for (; t + 4 <= d; t += 4) vst1q_f32(y + t, vfmaq_n_f32(vld1q_f32(y + t), vld1q_f32(x + t), c));
    for (; t < d; t++) y[t] += c * x[t];
}

#define DECODE_NAME kestrel_decode_partial_neon
#define DECODE_EXP kestrel_exp_f32_neon
#include "internal/decode_driver.h"

#endif /* KESTREL_ARM64 */
