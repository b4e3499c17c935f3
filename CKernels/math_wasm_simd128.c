/*
 * WebAssembly SIMD (simd128) tier of the math family, for the wasm32 module of
 * CKernels/wasm/build.sh: vector exp (method in internal/kestrel_math.h, with each product
 * rounded before its sum since simd128 has no FMA: lane for lane the operations of the scalar
 * twin kestrel_exp_poly1, so exp returns the scalar wasm module's bits), softmax and the
 * element-wise helpers. f32x4.min/max propagate NaN, which the exp clamp relies on; max_f32
 * uses f32x4.pmax (one instruction on x86) and tracks NaN itself. Tails go
 * through the scalar operations (the same single IEEE operation per element).
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_math.h"
#include "internal/kestrel_wasm_simd.h"

#if KESTREL_WASM_SIMD128

#define SPLAT wasm_f32x4_splat

/* exp(r) after Cody-Waite reduction; *t receives SHIFTER + k, whose low bits hold k + 127. */
static inline v128_t exp_reduced(v128_t x, v128_t *t) {
    const v128_t shifter = SPLAT(KESTREL_EXP_SHIFTER);
    const v128_t tt = wasm_f32x4_add(wasm_f32x4_mul(x, SPLAT(KESTREL_EXP_LOG2E)), shifter);
    const v128_t k = wasm_f32x4_sub(tt, shifter);
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(k, SPLAT(KESTREL_EXP_LN2_HI)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(k, SPLAT(KESTREL_EXP_LN2_LO)));
    v128_t q = wasm_f32x4_add(wasm_f32x4_mul(SPLAT(KESTREL_EXP_C6), r), SPLAT(KESTREL_EXP_C5));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, r), SPLAT(KESTREL_EXP_C4));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, r), SPLAT(KESTREL_EXP_C3));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, r), SPLAT(KESTREL_EXP_C2));
    const v128_t p = wasm_f32x4_add(wasm_f32x4_mul(q, wasm_f32x4_mul(r, r)), r);
    *t = tt;
    return wasm_f32x4_add(p, SPLAT(1.0f));
}

/* |x| <= KESTREL_EXP_FAST_LIMIT in every lane: 2^k is a normal number, one exact scale. */
static inline v128_t exp4_fast(v128_t x) {
    v128_t t;
    const v128_t p = exp_reduced(x, &t);
    return wasm_f32x4_mul(p, wasm_i32x4_shl(t, 23));
}

/* Any lane NaN, +-Inf or beyond the single-scale range: clamp, then scale in two exact steps. */
static v128_t exp4_wide(v128_t x) {
    x = wasm_f32x4_min(SPLAT(KESTREL_EXP_HI), x); /* NaN stays NaN */
    x = wasm_f32x4_max(SPLAT(KESTREL_EXP_LO), x);
    v128_t t;
    const v128_t p = exp_reduced(x, &t);
    const v128_t k = wasm_i32x4_sub(t, SPLAT(KESTREL_EXP_SHIFTER));
    const v128_t k1 = wasm_i32x4_shr(k, 1), k2 = wasm_i32x4_sub(k, k1);
    const v128_t bias = wasm_i32x4_splat(127);
    const v128_t y = wasm_f32x4_mul(p, wasm_i32x4_shl(wasm_i32x4_add(k1, bias), 23));
    return wasm_f32x4_mul(y, wasm_i32x4_shl(wasm_i32x4_add(k2, bias), 23));
}

/* All-ones in lanes the fast path cannot take (|x| > FAST_LIMIT, or NaN). */
static inline v128_t exp_outside(v128_t x) {
    return wasm_v128_not(wasm_f32x4_le(wasm_f32x4_abs(x), SPLAT(KESTREL_EXP_FAST_LIMIT)));
}

static inline v128_t exp4(v128_t x) {
    if (__builtin_expect(wasm_v128_any_true(exp_outside(x)), 0)) return exp4_wide(x);
    return exp4_fast(x);
}

void kestrel_exp_f32_wasm_simd128(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t v[4];
        for (int j = 0; j < 4; j++) v[j] = wasm_v128_load(x + i + 4 * j);
        const v128_t out = wasm_v128_or(wasm_v128_or(exp_outside(v[0]), exp_outside(v[1])),
                                        wasm_v128_or(exp_outside(v[2]), exp_outside(v[3])));
        if (__builtin_expect(!wasm_v128_any_true(out), 1)) {
            for (int j = 0; j < 4; j++) v[j] = exp4_fast(v[j]);
        } else {
            for (int j = 0; j < 4; j++) v[j] = exp4(v[j]);
        }
        for (int j = 0; j < 4; j++) wasm_v128_store(y + i + 4 * j, v[j]);
    }
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, exp4(wasm_v128_load(x + i)));
    for (; i < n; i++) y[i] = kestrel_exp_poly1(x[i]);
}

float kestrel_max_f32_wasm_simd128(const float *x, size_t n) {
    v128_t m0 = SPLAT(-INFINITY), m1 = m0, nan = wasm_i32x4_splat(0);
    size_t i = 0;
    /* f32x4.pmax (m < v ? v : m: one maxps) ignores a NaN v, so NaN is tracked on the side and
     * the reference's NaN returned, as the other tiers do; f32x4.max's NaN rules cost engines
     * several instructions on x86 */
    for (; i + 8 <= n; i += 8) {
        const v128_t v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4);
        m0 = wasm_f32x4_pmax(m0, v0);
        m1 = wasm_f32x4_pmax(m1, v1);
        nan = wasm_v128_or(nan, wasm_v128_or(wasm_f32x4_ne(v0, v0), wasm_f32x4_ne(v1, v1)));
    }
    float m = -INFINITY;
    for (; i < n; i++) {
        if (x[i] != x[i]) return x[i];
        if (x[i] > m) m = x[i];
    }
    if (wasm_v128_any_true(nan)) return kestrel_max_f32_scalar(x, n);
    const v128_t v = wasm_f32x4_pmax(m0, m1);
    const v128_t s = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    const float r = wasm_f32x4_extract_lane(wasm_f32x4_pmax(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2)), 0);
    return r > m ? r : m;
}

void kestrel_scale_f32_wasm_simd128(float alpha, const float *x, float *y, size_t n) {
    const v128_t a = SPLAT(alpha);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(a, wasm_v128_load(x + i)));
    for (; i < n; i++) y[i] = alpha * x[i];
}

void kestrel_softmax_f32_wasm_simd128(const float *x, float *y, size_t n) {
    if (n == 0) return;
    float m = kestrel_max_f32_wasm_simd128(x, n), v;
    if (kestrel_softmax_fill(m, &v)) {
        for (size_t i = 0; i < n; i++) y[i] = v;
        return;
    }
    const v128_t vm = SPLAT(m);
    /* d = x - max <= 0 (or -Inf), so the fast-path test is one compare: d < -FAST_LIMIT. */
    const v128_t lim = SPLAT(-KESTREL_EXP_FAST_LIMIT);
    v128_t s0 = SPLAT(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t e[4];
        for (int j = 0; j < 4; j++) e[j] = wasm_f32x4_sub(wasm_v128_load(x + i + 4 * j), vm);
        const v128_t out = wasm_v128_or(wasm_v128_or(wasm_f32x4_lt(e[0], lim), wasm_f32x4_lt(e[1], lim)),
                                        wasm_v128_or(wasm_f32x4_lt(e[2], lim), wasm_f32x4_lt(e[3], lim)));
        if (__builtin_expect(!wasm_v128_any_true(out), 1)) {
            for (int j = 0; j < 4; j++) e[j] = exp4_fast(e[j]);
        } else {
            for (int j = 0; j < 4; j++) e[j] = exp4(e[j]);
        }
        for (int j = 0; j < 4; j++) wasm_v128_store(y + i + 4 * j, e[j]);
        s0 = wasm_f32x4_add(s0, e[0]);
        s1 = wasm_f32x4_add(s1, e[1]);
        s2 = wasm_f32x4_add(s2, e[2]);
        s3 = wasm_f32x4_add(s3, e[3]);
    }
    for (; i + 4 <= n; i += 4) {
        const v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), vm));
        wasm_v128_store(y + i, e);
        s0 = wasm_f32x4_add(s0, e);
    }
    float s = kestrel_wasm_hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    for (; i < n; i++) {
        y[i] = kestrel_exp_poly1(x[i] - m);
        s += y[i];
    }
    kestrel_scale_f32_wasm_simd128(1.0f / s, y, y, n); /* s >= 1: the max element contributes exp(0) */
}

void kestrel_axpy_f32_wasm_simd128(float alpha, const float *x, float *y, size_t n) {
    const v128_t a = SPLAT(alpha);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(a, wasm_v128_load(x + i))));
    for (; i < n; i++) y[i] += alpha * x[i];
}

void kestrel_add_f32_wasm_simd128(const float *a, const float *b, float *out, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

void kestrel_mul_f32_wasm_simd128(const float *a, const float *b, float *out, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    for (; i < n; i++) out[i] = a[i] * b[i];
}

/* Sum of x_i (square = 0) or x_i^2 (square = 1) with four partial sums of four lanes. */
static inline float reduce_sum(const float *x, size_t n, int square) {
    v128_t s0 = SPLAT(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t v[4];
        for (int j = 0; j < 4; j++) {
            v[j] = wasm_v128_load(x + i + 4 * j);
            if (square) v[j] = wasm_f32x4_mul(v[j], v[j]);
        }
        s0 = wasm_f32x4_add(s0, v[0]);
        s1 = wasm_f32x4_add(s1, v[1]);
        s2 = wasm_f32x4_add(s2, v[2]);
        s3 = wasm_f32x4_add(s3, v[3]);
    }
    for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_v128_load(x + i);
        s0 = wasm_f32x4_add(s0, square ? wasm_f32x4_mul(v, v) : v);
    }
    float s = kestrel_wasm_hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    for (; i < n; i++) s += square ? x[i] * x[i] : x[i];
    return s;
}

float kestrel_sum_f32_wasm_simd128(const float *x, size_t n) { return reduce_sum(x, n, 0); }
float kestrel_sumsq_f32_wasm_simd128(const float *x, size_t n) { return reduce_sum(x, n, 1); }

#endif /* KESTREL_WASM_SIMD128 */
