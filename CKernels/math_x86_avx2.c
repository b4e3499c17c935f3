/*
 * AVX2 + FMA tier of the math family: vector exp (see internal/kestrel_math.h for the method),
 * softmax and the element-wise helpers. Tails use masked loads/stores (vmaskmovps never
 * touches the masked-off elements, so nothing past the end is read or written).
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_math.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

/* Eight -1 followed by eight 0: loading 8 lanes at tail_mask_src + 8 - rem enables rem lanes. */
static const int32_t tail_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i tail_mask(size_t rem) {
    return _mm256_loadu_si256((const __m256i *)(tail_mask_src + 8 - rem));
}

/* exp(r) after Cody-Waite reduction; *t receives SHIFTER + k, whose low bits hold k + 127. */
static inline __m256 exp_reduced(__m256 x, __m256 *t) {
    const __m256 shifter = _mm256_set1_ps(KESTREL_EXP_SHIFTER);
    __m256 tt = _mm256_fmadd_ps(x, _mm256_set1_ps(KESTREL_EXP_LOG2E), shifter);
    __m256 k = _mm256_sub_ps(tt, shifter);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(KESTREL_EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(KESTREL_EXP_LN2_LO), r);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(KESTREL_EXP_C6), r, _mm256_set1_ps(KESTREL_EXP_C5));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(KESTREL_EXP_C4));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(KESTREL_EXP_C3));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(KESTREL_EXP_C2));
    __m256 p = _mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r);
    *t = tt;
    return _mm256_add_ps(p, _mm256_set1_ps(1.0f));
}

/* exp for lanes with |x| <= KESTREL_EXP_FAST_LIMIT: 2^k is a normal number, one exact scale. */
static inline __m256 exp8_fast(__m256 x) {
    __m256 t;
    __m256 p = exp_reduced(x, &t);
    /* (SHIFTER + k) << 23 keeps (k + 127) << 23: the shifter's own bits all leave the word. */
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)));
}

/* 2^k as f32 bits from the integer exponent e = k + 127 (1 <= e <= 254). */
static inline __m256 pow2_biased(__m256i e) { return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)); }

/* Any lane NaN, +-Inf or beyond the single-scale range: clamp, then scale in two exact steps. */
static __m256 exp8_wide(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(KESTREL_EXP_HI), x); /* vminps returns its 2nd operand for NaN */
    x = _mm256_max_ps(_mm256_set1_ps(KESTREL_EXP_LO), x);
    __m256 t;
    __m256 p = exp_reduced(x, &t);
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(_mm256_set1_ps(KESTREL_EXP_SHIFTER)));
    __m256i k1 = _mm256_srai_epi32(k, 1); /* k in [-150, 128]: both halves give normal powers */
    __m256i k2 = _mm256_sub_epi32(k, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 y = _mm256_mul_ps(p, pow2_biased(_mm256_add_epi32(k1, bias)));
    return _mm256_mul_ps(y, pow2_biased(_mm256_add_epi32(k2, bias)));
}

/* All-ones in lanes the fast path cannot take (|x| > FAST_LIMIT, or NaN). */
static inline __m256 exp_outside(__m256 x) {
    __m256 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
    return _mm256_cmp_ps(ax, _mm256_set1_ps(KESTREL_EXP_FAST_LIMIT), _CMP_NLE_UQ);
}

static inline __m256 exp8(__m256 x) {
    __m256 outside = exp_outside(x);
    if (__builtin_expect(!_mm256_testz_ps(outside, outside), 0)) return exp8_wide(x);
    return exp8_fast(x);
}

/* Four vectors at once: one range test for all of them, and four independent dependency
 * chains the scheduler can interleave. `outside` is the OR of the lanes' range tests. */
static inline void exp8x4(__m256 v[4], __m256 outside) {
    if (__builtin_expect(_mm256_testz_ps(outside, outside), 1)) {
        v[0] = exp8_fast(v[0]);
        v[1] = exp8_fast(v[1]);
        v[2] = exp8_fast(v[2]);
        v[3] = exp8_fast(v[3]);
    } else {
        v[0] = exp8(v[0]);
        v[1] = exp8(v[1]);
        v[2] = exp8(v[2]);
        v[3] = exp8(v[3]);
    }
}

void kestrel_exp_f32_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v[4];
        for (int j = 0; j < 4; j++) v[j] = _mm256_loadu_ps(x + i + 8 * j);
        __m256 outside = _mm256_or_ps(_mm256_or_ps(exp_outside(v[0]), exp_outside(v[1])),
                                      _mm256_or_ps(exp_outside(v[2]), exp_outside(v[3])));
        exp8x4(v, outside);
        for (int j = 0; j < 4; j++) _mm256_storeu_ps(y + i + 8 * j, v[j]);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, exp8(_mm256_maskload_ps(x + i, m)));
    }
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

float kestrel_max_f32_avx2(const float *x, size_t n) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    __m256 nan = _mm256_setzero_ps();
    size_t i = 0;
    /* vmaxps(v, m) returns m when v is NaN, so NaN is tracked on the side (one unordered
     * compare covers two vectors) and the maxima stay NaN-free. */
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        m0 = _mm256_max_ps(v0, m0);
        m1 = _mm256_max_ps(v1, m1);
        m2 = _mm256_max_ps(v2, m2);
        m3 = _mm256_max_ps(v3, m3);
        nan = _mm256_or_ps(nan, _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q)));
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        m0 = _mm256_max_ps(v, m0);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    if (i < n) {
        __m256i mk = tail_mask(n - i);
        __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, mk), _mm256_castsi256_ps(mk));
        m1 = _mm256_max_ps(v, m1);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan) != 0) return kestrel_max_f32_scalar(x, n); /* the same NaN as the reference */
    return hmax8(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
}

static void fill(float *y, size_t n, float v) {
    __m256 vv = _mm256_set1_ps(v);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vv);
    if (i < n) _mm256_maskstore_ps(y + i, tail_mask(n - i), vv);
}

void kestrel_softmax_f32_avx2(const float *x, float *y, size_t n) {
    if (n == 0) return;
    float m = kestrel_max_f32_avx2(x, n), v;
    if (kestrel_softmax_fill(m, &v)) {
        fill(y, n, v);
        return;
    }
    const __m256 vm = _mm256_set1_ps(m);
    /* d = x - max <= 0 (or -Inf), so the fast-path test is one compare: d < -FAST_LIMIT. */
    const __m256 lim = _mm256_set1_ps(-KESTREL_EXP_FAST_LIMIT);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v[4];
        for (int j = 0; j < 4; j++) v[j] = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * j), vm);
        __m256 outside = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(v[0], lim, _CMP_LT_OQ), _mm256_cmp_ps(v[1], lim, _CMP_LT_OQ)),
                                      _mm256_or_ps(_mm256_cmp_ps(v[2], lim, _CMP_LT_OQ), _mm256_cmp_ps(v[3], lim, _CMP_LT_OQ)));
        exp8x4(v, outside);
        for (int j = 0; j < 4; j++) _mm256_storeu_ps(y + i + 8 * j, v[j]);
        s0 = _mm256_add_ps(s0, v[0]);
        s1 = _mm256_add_ps(s1, v[1]);
        s2 = _mm256_add_ps(s2, v[2]);
        s3 = _mm256_add_ps(s3, v[3]);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(y + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < n) {
        __m256i mk = tail_mask(n - i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mk), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mk)); /* lanes past the end must not count */
        _mm256_maskstore_ps(y + i, mk, e);
        s1 = _mm256_add_ps(s1, e);
    }
    s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    float s = hsum8(s0); /* >= 1: the max element contributes exp(0) = 1 */
    kestrel_scale_f32_avx2(1.0f / s, y, y, n);
}

void kestrel_axpy_f32_avx2(float alpha, const float *x, float *y, size_t n) {
    const __m256 va = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 b = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, a);
        _mm256_storeu_ps(y + i + 8, b);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m)));
    }
}

void kestrel_scale_f32_avx2(float alpha, const float *x, float *y, size_t n) {
    const __m256 va = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_mul_ps(va, _mm256_loadu_ps(x + i));
        __m256 b = _mm256_mul_ps(va, _mm256_loadu_ps(x + i + 8));
        _mm256_storeu_ps(y + i, a);
        _mm256_storeu_ps(y + i + 8, b);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(va, _mm256_maskload_ps(x + i, m)));
    }
}

/* Element-wise out = a OP b; out may equal a or b (each block is loaded before it is stored). */
#define BINARY_KERNEL(name, op)                                                                    \
    void name(const float *a, const float *b, float *out, size_t n) {                             \
        size_t i = 0;                                                                              \
        for (; i + 16 <= n; i += 16) {                                                             \
            __m256 r0 = op(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));                        \
            __m256 r1 = op(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));                \
            _mm256_storeu_ps(out + i, r0);                                                         \
            _mm256_storeu_ps(out + i + 8, r1);                                                     \
        }                                                                                          \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, op(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))); \
        if (i < n) {                                                                               \
            __m256i m = tail_mask(n - i);                                                          \
            _mm256_maskstore_ps(out + i, m, op(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m))); \
        }                                                                                          \
    }

BINARY_KERNEL(kestrel_add_f32_avx2, _mm256_add_ps)
BINARY_KERNEL(kestrel_mul_f32_avx2, _mm256_mul_ps)

float kestrel_sum_f32_avx2(const float *x, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    if (i < n) s1 = _mm256_add_ps(s1, _mm256_maskload_ps(x + i, tail_mask(n - i)));
    return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

float kestrel_sumsq_f32_avx2(const float *x, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        s0 = _mm256_fmadd_ps(v0, v0, s0);
        s1 = _mm256_fmadd_ps(v1, v1, s1);
        s2 = _mm256_fmadd_ps(v2, v2, s2);
        s3 = _mm256_fmadd_ps(v3, v3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(v, v, s0);
    }
    if (i < n) {
        __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
        s1 = _mm256_fmadd_ps(v, v, s1);
    }
    return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
