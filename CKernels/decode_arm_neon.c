/* NEON tier of KV-cache decode (kestrel_decode.h): the row operations; the loop is decode_driver.h. */
#include <math.h>
#include <string.h>

#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_ARM64
#include <arm_neon.h>

#define DECODE_ALWAYS static inline __attribute__((always_inline))

/* Query rows per pass: 4 rows × 4 K rows of accumulators (and 4 × 4 for V). */
#define RB 4

/* 4 elements of a stored row from element t, widened to f32 (dtype a constant after inlining). */
DECODE_ALWAYS float32x4_t load4(int dtype, const unsigned char *p, size_t t) {
    if (dtype == KESTREL_KV_F32) return vld1q_f32((const float *)(const void *)p + t);
    if (dtype == KESTREL_KV_F16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)p + t)));
    int8_t b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(b, p + t, 4);
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8(b)))));
}

/* 8 elements from t (t + 8 <= row length), widened. */
DECODE_ALWAYS void load8(int dtype, const unsigned char *p, size_t t, float32x4_t x[2]) {
    if (dtype == KESTREL_KV_F32) {
        x[0] = vld1q_f32((const float *)(const void *)p + t);
        x[1] = vld1q_f32((const float *)(const void *)p + t + 4);
    } else if (dtype == KESTREL_KV_F16) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16((const uint16_t *)(const void *)p + t));
        x[0] = vcvt_f32_f16(vget_low_f16(h));
        x[1] = vcvt_high_f32_f16(h);
    } else {
        const int16x8_t w = vmovl_s8(vld1_s8((const int8_t *)(const void *)(p + t)));
        x[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
        x[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w)));
    }
}

/* 16 elements from t (t + 16 <= row length), widened. */
DECODE_ALWAYS void load16(int dtype, const unsigned char *p, size_t t, float32x4_t x[4]) {
    if (dtype == KESTREL_KV_I8) {
        const int8x16_t c = vld1q_s8((const int8_t *)(const void *)(p + t));
        const int16x8_t lo = vmovl_s8(vget_low_s8(c)), hi = vmovl_s8(vget_high_s8(c));
        x[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
        x[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
        x[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
        x[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
    } else {
        for (size_t j = 0; j < 4; j++) x[j] = load4(dtype, p, t + 4 * j);
    }
}

DECODE_ALWAYS float elem(int dtype, const unsigned char *p, size_t t) {
    if (dtype == KESTREL_KV_F32) return ((const float *)(const void *)p)[t];
    if (dtype == KESTREL_KV_F16) return kestrel_f16_to_f32_1(((const uint16_t *)(const void *)p)[t]);
    return (float)((const int8_t *)(const void *)p)[t];
}

/*
 * Scores of `nr` (1…4) query rows against 4 K rows (`nc` of them stored): 16 accumulators, each
 * K vector widened once for all rows, folded with pairwise adds; the d % 4 last elements are
 * added in scalar.
 */
DECODE_ALWAYS void score_4x4(int dtype, size_t nr, const float *q, size_t q_stride, const unsigned char *const k[4],
                             size_t d, float *s, size_t ld, size_t nc) {
    float32x4_t a[RB][4];
    for (size_t i = 0; i < RB; i++)
        for (size_t j = 0; j < 4; j++) a[i][j] = vdupq_n_f32(0.0f);
    size_t t = 0;
    for (; t + 8 <= d; t += 8) {
        float32x4_t x[4][2];
        for (size_t j = 0; j < 4; j++) load8(dtype, k[j], t, x[j]);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const float32x4_t y0 = vld1q_f32(q + i * q_stride + t), y1 = vld1q_f32(q + i * q_stride + t + 4);
            for (size_t j = 0; j < 4; j++) a[i][j] = vfmaq_f32(vfmaq_f32(a[i][j], y0, x[j][0]), y1, x[j][1]);
        }
    }
    if (t + 4 <= d) {
        float32x4_t x[4];
        for (size_t j = 0; j < 4; j++) x[j] = load4(dtype, k[j], t);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const float32x4_t y = vld1q_f32(q + i * q_stride + t);
            for (size_t j = 0; j < 4; j++) a[i][j] = vfmaq_f32(a[i][j], y, x[j]);
        }
        t += 4;
    }
    for (size_t i = 0; i < RB && i < nr; i++) {
        float32x4_t r = vpaddq_f32(vpaddq_f32(a[i][0], a[i][1]), vpaddq_f32(a[i][2], a[i][3]));
        if (t < d) {
            float tail[4] = {0, 0, 0, 0};
            for (size_t j = 0; j < 4; j++)
                for (size_t u = t; u < d; u++) tail[j] += q[i * q_stride + u] * elem(dtype, k[j], u);
            r = vaddq_f32(r, vld1q_f32(tail));
        }
        if (nc == 4) {
            vst1q_f32(s + i * ld, r);
        } else {
            float o[4];
            vst1q_f32(o, r);
            for (size_t j = 0; j < nc; j++) s[i * ld + j] = o[j];
        }
    }
}

DECODE_ALWAYS void scores_rows(int dtype, const float *q, size_t q_stride, size_t nr, const unsigned char *const *k,
                               size_t n, size_t d, float *s, size_t ld) {
    for (size_t c = 0; c < n; c += 4) {
        const size_t nc = n - c < 4 ? n - c : 4;
        const unsigned char *const kk[4] = {k[c], k[c + (nc > 1)], k[c + (nc > 2 ? 2 : nc - 1)], k[c + nc - 1]};
        switch (nr) {
        case 1: score_4x4(dtype, 1, q, q_stride, kk, d, s + c, ld, nc); break;
        case 2: score_4x4(dtype, 2, q, q_stride, kk, d, s + c, ld, nc); break;
        case 3: score_4x4(dtype, 3, q, q_stride, kk, d, s + c, ld, nc); break;
        default: score_4x4(dtype, 4, q, q_stride, kk, d, s + c, ld, nc); break;
        }
    }
}

/* Widens n stored rows into tmp (row c at tmp + c · d) and points w at them. */
DECODE_ALWAYS void widen_rows(int dtype, const unsigned char *const *src, size_t n, size_t d, float *tmp,
                              const unsigned char **w) {
    for (size_t c = 0; c < n; c++) {
        float *o = tmp + c * d;
        size_t t = 0;
        for (; t + 4 <= d; t += 4) vst1q_f32(o + t, load4(dtype, src[c], t));
        for (; t < d; t++) o[t] = elem(dtype, src[c], t);
        w[c] = (const unsigned char *)(const void *)o;
    }
}

/* acc rows += Σ_c p[c] v_c for `nr` (1…4) rows over columns [t0, t0 + 16): 4 × 4 accumulators in registers. */
DECODE_ALWAYS void values_slice(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                                size_t d, float *acc, size_t t0) {
    float32x4_t a[RB][4];
    for (size_t i = 0; i < RB && i < nr; i++)
        for (size_t j = 0; j < 4; j++) a[i][j] = vld1q_f32(acc + i * d + t0 + 4 * j);
    for (size_t c = 0; c < n; c++) {
        float32x4_t x[4];
        load16(dtype, v[c], t0, x);
        for (size_t i = 0; i < RB && i < nr; i++) {
            const float w = p[i * ld + c];
            for (size_t j = 0; j < 4; j++) a[i][j] = vfmaq_n_f32(a[i][j], x[j], w);
        }
    }
    for (size_t i = 0; i < RB && i < nr; i++)
        for (size_t j = 0; j < 4; j++) vst1q_f32(acc + i * d + t0 + 4 * j, a[i][j]);
}

DECODE_ALWAYS void values_rows(int dtype, size_t nr, const float *p, size_t ld, const unsigned char *const *v, size_t n,
                               size_t d, float *acc) {
    size_t t0 = 0;
    for (; t0 + 16 <= d; t0 += 16) {
        switch (nr) {
        case 1: values_slice(dtype, 1, p, ld, v, n, d, acc, t0); break;
        case 2: values_slice(dtype, 2, p, ld, v, n, d, acc, t0); break;
        case 3: values_slice(dtype, 3, p, ld, v, n, d, acc, t0); break;
        default: values_slice(dtype, 4, p, ld, v, n, d, acc, t0); break;
        }
    }
    for (; t0 + 4 <= d; t0 += 4)
        for (size_t i = 0; i < nr; i++) {
            float32x4_t x = vld1q_f32(acc + i * d + t0);
            for (size_t c = 0; c < n; c++) x = vfmaq_n_f32(x, load4(dtype, v[c], t0), p[i * ld + c]);
            vst1q_f32(acc + i * d + t0, x);
        }
    for (; t0 < d; t0++)
        for (size_t i = 0; i < nr; i++) {
            float x = acc[i * d + t0];
            for (size_t c = 0; c < n; c++) x += p[i * ld + c] * elem(dtype, v[c], t0);
            acc[i * d + t0] = x;
        }
}

static inline float decode_max(const float *x, size_t n) {
    float32x4_t mx = vdupq_n_f32(-INFINITY);
    size_t c = 0;
    for (; c + 4 <= n; c += 4) mx = vmaxq_f32(mx, vld1q_f32(x + c));
    float r = vmaxvq_f32(mx);
    for (; c < n; c++)
        if (x[c] > r) r = x[c];
    return r;
}

static inline float decode_sum(const float *x, size_t n) {
    float32x4_t sum = vdupq_n_f32(0.0f);
    size_t c = 0;
    for (; c + 4 <= n; c += 4) sum = vaddq_f32(sum, vld1q_f32(x + c));
    float r = vaddvq_f32(sum);
    for (; c < n; c++) r += x[c];
    return r;
}

#define DECODE_NAME kestrel_decode_partial_neon
#define DECODE_EXP kestrel_exp_f32_neon
#define DECODE_ROW_BLOCKS 1
#include "internal/decode_driver.h"

#endif /* KESTREL_ARM64 */
