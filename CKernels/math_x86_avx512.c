/*
 * AVX-512 (F/BW/VL/DQ) tier of the math family: vector exp (method in internal/kestrel_math.h, with
 * vscalefps doing the 2^k scaling, overflow and gradual underflow in one instruction),
 * softmax and the element-wise helpers. Tails use masked loads/stores, which never touch
 * the masked-off elements.
 */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_math.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

static inline __mmask16 tail_mask(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

/* Branch-free: the clamp keeps k inside [-150, 128] and turns +-Inf into finite arguments
 * (vminps/vmaxps return their 2nd operand, x, when it is NaN, so NaN propagates); vscalefps
 * rounds p * 2^k once, giving +Inf above the range and correctly rounded subnormals below. */
static inline __m512 exp16(__m512 x) {
    const __m512 shifter = _mm512_set1_ps(KESTREL_EXP_SHIFTER);
    x = _mm512_min_ps(_mm512_set1_ps(KESTREL_EXP_HI), x);
    x = _mm512_max_ps(_mm512_set1_ps(KESTREL_EXP_LO), x);
    __m512 k = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(KESTREL_EXP_LOG2E), shifter), shifter);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(KESTREL_EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(KESTREL_EXP_LN2_LO), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(KESTREL_EXP_C6), r, _mm512_set1_ps(KESTREL_EXP_C5));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(KESTREL_EXP_C4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(KESTREL_EXP_C3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(KESTREL_EXP_C2));
    __m512 p = _mm512_add_ps(_mm512_fmadd_ps(q, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

void kestrel_exp_f32_avx512(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) { /* four independent chains per iteration */
        __m512 a = exp16(_mm512_loadu_ps(x + i));
        __m512 b = exp16(_mm512_loadu_ps(x + i + 16));
        __m512 c = exp16(_mm512_loadu_ps(x + i + 32));
        __m512 d = exp16(_mm512_loadu_ps(x + i + 48));
        _mm512_storeu_ps(y + i, a);
        _mm512_storeu_ps(y + i + 16, b);
        _mm512_storeu_ps(y + i + 32, c);
        _mm512_storeu_ps(y + i + 48, d);
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

float kestrel_max_f32_avx512(const float *x, size_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    __mmask16 nan = 0;
    size_t i = 0;
    /* vmaxps(v, m) returns m when v is NaN: NaN is tracked in a mask (one unordered compare
     * covers two vectors) and the maxima stay NaN-free. */
    for (; i + 64 <= n; i += 64) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        m0 = _mm512_max_ps(v0, m0);
        m1 = _mm512_max_ps(v1, m1);
        m2 = _mm512_max_ps(v2, m2);
        m3 = _mm512_max_ps(v3, m3);
        nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v2, v3, _CMP_UNORD_Q);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        m0 = _mm512_max_ps(v, m0);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (i < n) {
        __mmask16 mk = tail_mask(n - i);
        __m512 v = _mm512_mask_loadu_ps(ninf, mk, x + i);
        m1 = _mm512_max_ps(v, m1);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (nan) return kestrel_max_f32_scalar(x, n); /* the same NaN as the reference */
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

static void fill(float *y, size_t n, float v) {
    __m512 vv = _mm512_set1_ps(v);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, vv);
    if (i < n) _mm512_mask_storeu_ps(y + i, tail_mask(n - i), vv);
}

void kestrel_softmax_f32_avx512(const float *x, float *y, size_t n) {
    if (n == 0) return;
    float m = kestrel_max_f32_avx512(x, n), v;
    if (kestrel_softmax_fill(m, &v)) {
        fill(y, n, v);
        return;
    }
    const __m512 vm = _mm512_set1_ps(m);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
        __m512 e2 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 32), vm));
        __m512 e3 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 48), vm));
        _mm512_storeu_ps(y + i, e0);
        _mm512_storeu_ps(y + i + 16, e1);
        _mm512_storeu_ps(y + i + 32, e2);
        _mm512_storeu_ps(y + i + 48, e3);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
        s2 = _mm512_add_ps(s2, e2);
        s3 = _mm512_add_ps(s3, e3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(y + i, e);
        s0 = _mm512_add_ps(s0, e);
    }
    if (i < n) {
        __mmask16 mk = tail_mask(n - i);
        /* lanes past the end are zeroed so they do not count in the sum */
        __m512 e = _mm512_maskz_mov_ps(mk, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), vm)));
        _mm512_mask_storeu_ps(y + i, mk, e);
        s1 = _mm512_add_ps(s1, e);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))); /* >= 1: exp(0) */
    kestrel_scale_f32_avx512(1.0f / s, y, y, n);
}

void kestrel_axpy_f32_avx512(float alpha, const float *x, float *y, size_t n) {
    const __m512 va = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        __m512 b = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        _mm512_storeu_ps(y + i, a);
        _mm512_storeu_ps(y + i + 16, b);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

void kestrel_scale_f32_avx512(float alpha, const float *x, float *y, size_t n) {
    const __m512 va = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_mul_ps(va, _mm512_loadu_ps(x + i));
        __m512 b = _mm512_mul_ps(va, _mm512_loadu_ps(x + i + 16));
        _mm512_storeu_ps(y + i, a);
        _mm512_storeu_ps(y + i + 16, b);
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* Element-wise out = a OP b; out may equal a or b (each block is loaded before it is stored). */
#define BINARY_KERNEL(name, op)                                                                    \
    void name(const float *a, const float *b, float *out, size_t n) {                             \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m512 r0 = op(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));                        \
            __m512 r1 = op(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));              \
            _mm512_storeu_ps(out + i, r0);                                                         \
            _mm512_storeu_ps(out + i + 16, r1);                                                    \
        }                                                                                          \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, op(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))); \
        if (i < n) {                                                                               \
            __mmask16 m = tail_mask(n - i);                                                        \
            _mm512_mask_storeu_ps(out + i, m, op(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))); \
        }                                                                                          \
    }

BINARY_KERNEL(kestrel_add_f32_avx512, _mm512_add_ps)
BINARY_KERNEL(kestrel_mul_f32_avx512, _mm512_mul_ps)

float kestrel_sum_f32_avx512(const float *x, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + i + 48));
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    if (i < n) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float kestrel_sumsq_f32_avx512(const float *x, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        s0 = _mm512_fmadd_ps(v0, v0, s0);
        s1 = _mm512_fmadd_ps(v1, v1, s1);
        s2 = _mm512_fmadd_ps(v2, v2, s2);
        s3 = _mm512_fmadd_ps(v3, v3, s3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        s0 = _mm512_fmadd_ps(v, v, s0);
    }
    if (i < n) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        s1 = _mm512_fmadd_ps(v, v, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
