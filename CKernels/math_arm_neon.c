/*
 * NEON tier (baseline AArch64) of the math family: vector exp (method in internal/kestrel_math.h),
 * softmax and the element-wise helpers. FMIN/FMAX propagate NaN, which the exp clamp and
 * max_f32 rely on. Tails go through a 4-element stack buffer (exp, softmax) or a short
 * scalar loop doing the same single IEEE operation as the vector lanes.
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_math.h"

#if KESTREL_ARM64
#include <arm_neon.h>

/* exp(r) after Cody-Waite reduction; *t receives SHIFTER + k, whose low bits hold k + 127. */
static inline float32x4_t exp_reduced(float32x4_t x, float32x4_t *t) {
    const float32x4_t shifter = vdupq_n_f32(KESTREL_EXP_SHIFTER);
    float32x4_t tt = vfmaq_f32(shifter, x, vdupq_n_f32(KESTREL_EXP_LOG2E));
    float32x4_t k = vsubq_f32(tt, shifter);
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(KESTREL_EXP_LN2_HI));
    r = vfmsq_f32(r, k, vdupq_n_f32(KESTREL_EXP_LN2_LO));
    float32x4_t q = vfmaq_f32(vdupq_n_f32(KESTREL_EXP_C5), vdupq_n_f32(KESTREL_EXP_C6), r);
    q = vfmaq_f32(vdupq_n_f32(KESTREL_EXP_C4), q, r);
    q = vfmaq_f32(vdupq_n_f32(KESTREL_EXP_C3), q, r);
    q = vfmaq_f32(vdupq_n_f32(KESTREL_EXP_C2), q, r);
    float32x4_t p = vfmaq_f32(r, q, vmulq_f32(r, r));
    *t = tt;
    return vaddq_f32(p, vdupq_n_f32(1.0f));
}

/* exp for lanes with |x| <= KESTREL_EXP_FAST_LIMIT: 2^k is a normal number, one exact scale. */
static inline float32x4_t exp4_fast(float32x4_t x) {
    float32x4_t t;
    float32x4_t p = exp_reduced(x, &t);
    /* (SHIFTER + k) << 23 keeps (k + 127) << 23: the shifter's own bits all leave the word. */
    return vmulq_f32(p, vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23)));
}

/* 2^k from the integer exponent e = k + 127 (1 <= e <= 254). */
static inline float32x4_t pow2_biased(int32x4_t e) {
    return vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_s32(e), 23));
}

/* Any lane NaN, +-Inf or beyond the single-scale range: clamp, then scale in two exact steps. */
static float32x4_t exp4_wide(float32x4_t x) {
    x = vminq_f32(vdupq_n_f32(KESTREL_EXP_HI), x); /* FMIN/FMAX return NaN for a NaN input */
    x = vmaxq_f32(vdupq_n_f32(KESTREL_EXP_LO), x);
    float32x4_t t;
    float32x4_t p = exp_reduced(x, &t);
    int32x4_t k = vsubq_s32(vreinterpretq_s32_f32(t), vreinterpretq_s32_f32(vdupq_n_f32(KESTREL_EXP_SHIFTER)));
    int32x4_t k1 = vshrq_n_s32(k, 1); /* k in [-150, 128]: both halves give normal powers */
    int32x4_t k2 = vsubq_s32(k, k1);
    const int32x4_t bias = vdupq_n_s32(127);
    float32x4_t y = vmulq_f32(p, pow2_biased(vaddq_s32(k1, bias)));
    return vmulq_f32(y, pow2_biased(vaddq_s32(k2, bias)));
}

/* All-ones in lanes the fast path can take (|x| <= FAST_LIMIT; false for NaN). */
static inline uint32x4_t exp_inside(float32x4_t x) { return vcaleq_f32(x, vdupq_n_f32(KESTREL_EXP_FAST_LIMIT)); }

static inline float32x4_t exp4(float32x4_t x) {
    if (__builtin_expect(vminvq_u32(exp_inside(x)) == 0, 0)) return exp4_wide(x);
    return exp4_fast(x);
}

/* Four vectors at once: one range test for all of them, and four independent dependency
 * chains to interleave. `inside` is the AND of the lanes' range tests. */
static inline void exp4x4(float32x4_t v[4], uint32x4_t inside) {
    if (__builtin_expect(vminvq_u32(inside) != 0, 1)) {
        v[0] = exp4_fast(v[0]);
        v[1] = exp4_fast(v[1]);
        v[2] = exp4_fast(v[2]);
        v[3] = exp4_fast(v[3]);
    } else {
        v[0] = exp4(v[0]);
        v[1] = exp4(v[1]);
        v[2] = exp4(v[2]);
        v[3] = exp4(v[3]);
    }
}

void kestrel_exp_f32_neon(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t v[4];
        for (int j = 0; j < 4; j++) v[j] = vld1q_f32(x + i + 4 * j);
        uint32x4_t inside = vandq_u32(vandq_u32(exp_inside(v[0]), exp_inside(v[1])),
                                      vandq_u32(exp_inside(v[2]), exp_inside(v[3])));
        exp4x4(v, inside);
        for (int j = 0; j < 4; j++) vst1q_f32(y + i + 4 * j, v[j]);
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, exp4(vld1q_f32(x + i)));
    if (i < n) {
        float buf[4] = {0};
        memcpy(buf, x + i, (n - i) * sizeof(float));
        vst1q_f32(buf, exp4(vld1q_f32(buf)));
        memcpy(y + i, buf, (n - i) * sizeof(float));
    }
}

float kestrel_max_f32_neon(const float *x, size_t n) {
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    float32x4_t m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { /* FMAX returns NaN when either input is NaN: it sticks */
        m0 = vmaxq_f32(m0, vld1q_f32(x + i));
        m1 = vmaxq_f32(m1, vld1q_f32(x + i + 4));
        m2 = vmaxq_f32(m2, vld1q_f32(x + i + 8));
        m3 = vmaxq_f32(m3, vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= n; i += 4) m0 = vmaxq_f32(m0, vld1q_f32(x + i));
    float m = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3)));
    for (; i < n; i++) m = x[i] > m || x[i] != x[i] ? x[i] : m;
    if (m != m) return kestrel_max_f32_scalar(x, n); /* the same NaN as the reference */
    return m;
}

static void fill(float *y, size_t n, float v) {
    float32x4_t vv = vdupq_n_f32(v);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vv);
    for (; i < n; i++) y[i] = v;
}

void kestrel_softmax_f32_neon(const float *x, float *y, size_t n) {
    if (n == 0) return;
    float m = kestrel_max_f32_neon(x, n), v;
    if (kestrel_softmax_fill(m, &v)) {
        fill(y, n, v);
        return;
    }
    const float32x4_t vm = vdupq_n_f32(m);
    /* d = x - max <= 0 (or -Inf), so the fast-path test is one compare: d >= -FAST_LIMIT. */
    const float32x4_t lim = vdupq_n_f32(-KESTREL_EXP_FAST_LIMIT);
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t v[4];
        for (int j = 0; j < 4; j++) v[j] = vsubq_f32(vld1q_f32(x + i + 4 * j), vm);
        uint32x4_t inside = vandq_u32(vandq_u32(vcgeq_f32(v[0], lim), vcgeq_f32(v[1], lim)),
                                      vandq_u32(vcgeq_f32(v[2], lim), vcgeq_f32(v[3], lim)));
        exp4x4(v, inside);
        for (int j = 0; j < 4; j++) vst1q_f32(y + i + 4 * j, v[j]);
        s0 = vaddq_f32(s0, v[0]);
        s1 = vaddq_f32(s1, v[1]);
        s2 = vaddq_f32(s2, v[2]);
        s3 = vaddq_f32(s3, v[3]);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(y + i, e);
        s0 = vaddq_f32(s0, e);
    }
    if (i < n) {
        float buf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}; /* exp(-Inf - m) = 0 adds nothing */
        memcpy(buf, x + i, (n - i) * sizeof(float));
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(buf), vm));
        vst1q_f32(buf, e);
        memcpy(y + i, buf, (n - i) * sizeof(float));
        s1 = vaddq_f32(s1, e);
    }
    s0 = vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3));
    float s = vaddvq_f32(s0); /* >= 1: the max element contributes exp(0) = 1 */
    kestrel_scale_f32_neon(1.0f / s, y, y, n);
}

void kestrel_axpy_f32_neon(float alpha, const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t a = vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha);
        float32x4_t b = vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), alpha);
        float32x4_t c = vfmaq_n_f32(vld1q_f32(y + i + 8), vld1q_f32(x + i + 8), alpha);
        float32x4_t d = vfmaq_n_f32(vld1q_f32(y + i + 12), vld1q_f32(x + i + 12), alpha);
        vst1q_f32(y + i, a);
        vst1q_f32(y + i + 4, b);
        vst1q_f32(y + i + 8, c);
        vst1q_f32(y + i + 12, d);
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
    for (; i < n; i++) y[i] = fmaf(alpha, x[i], y[i]); /* one rounding, like the vector lanes */
}

void kestrel_scale_f32_neon(float alpha, const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t a = vmulq_n_f32(vld1q_f32(x + i), alpha);
        float32x4_t b = vmulq_n_f32(vld1q_f32(x + i + 4), alpha);
        float32x4_t c = vmulq_n_f32(vld1q_f32(x + i + 8), alpha);
        float32x4_t d = vmulq_n_f32(vld1q_f32(x + i + 12), alpha);
        vst1q_f32(y + i, a);
        vst1q_f32(y + i + 4, b);
        vst1q_f32(y + i + 8, c);
        vst1q_f32(y + i + 12, d);
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(x + i), alpha));
    for (; i < n; i++) y[i] = alpha * x[i];
}

/* Element-wise out = a OP b; out may equal a or b (each block is loaded before it is stored). */
#define BINARY_KERNEL(name, vop, sop)                                                \
    void name(const float *a, const float *b, float *out, size_t n) {               \
        size_t i = 0;                                                                \
        for (; i + 8 <= n; i += 8) {                                                 \
            float32x4_t r0 = vop(vld1q_f32(a + i), vld1q_f32(b + i));                \
            float32x4_t r1 = vop(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));        \
            vst1q_f32(out + i, r0);                                                  \
            vst1q_f32(out + i + 4, r1);                                              \
        }                                                                            \
        for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vop(vld1q_f32(a + i), vld1q_f32(b + i))); \
        for (; i < n; i++) out[i] = a[i] sop b[i];                                   \
    }

BINARY_KERNEL(kestrel_add_f32_neon, vaddq_f32, +)
BINARY_KERNEL(kestrel_mul_f32_neon, vmulq_f32, *)

float kestrel_sum_f32_neon(const float *x, size_t n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vaddq_f32(s0, vld1q_f32(x + i));
        s1 = vaddq_f32(s1, vld1q_f32(x + i + 4));
        s2 = vaddq_f32(s2, vld1q_f32(x + i + 8));
        s3 = vaddq_f32(s3, vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vaddq_f32(s0, vld1q_f32(x + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += x[i];
    return s;
}

float kestrel_sumsq_f32_neon(const float *x, size_t n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
        float32x4_t v2 = vld1q_f32(x + i + 8), v3 = vld1q_f32(x + i + 12);
        s0 = vfmaq_f32(s0, v0, v0);
        s1 = vfmaq_f32(s1, v1, v1);
        s2 = vfmaq_f32(s2, v2, v2);
        s3 = vfmaq_f32(s3, v3, v3);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        s0 = vfmaq_f32(s0, v, v);
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s = fmaf(x[i], x[i], s);
    return s;
}

#endif /* KESTREL_ARM64 */
