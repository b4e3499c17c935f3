/* Scalar reference for exp, softmax and the element-wise helpers of the tensor core. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_math.h"

void kestrel_exp_f32_scalar(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

float kestrel_max_f32_scalar(const float *x, size_t n) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != x[i]) return x[i]; /* NaN */
        if (x[i] > m) m = x[i];
    }
    return m;
}

void kestrel_softmax_f32_scalar(const float *x, float *y, size_t n) {
    if (n == 0) return;
    float m = kestrel_max_f32_scalar(x, n), v;
    if (kestrel_softmax_fill(m, &v)) {
        for (size_t i = 0; i < n; i++) y[i] = v;
        return;
    }
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - m);
        s += y[i];
    }
    float inv = 1.0f / s; /* s >= 1: the max element contributes exp(0) */
    for (size_t i = 0; i < n; i++) y[i] *= inv;
}

void kestrel_axpy_f32_scalar(float alpha, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void kestrel_scale_f32_scalar(float alpha, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = alpha * x[i];
}

void kestrel_add_f32_scalar(const float *a, const float *b, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void kestrel_mul_f32_scalar(const float *a, const float *b, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

float kestrel_sum_f32_scalar(const float *x, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

float kestrel_sumsq_f32_scalar(const float *x, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

/* Points every math entry of table t at the kernels of one tier. */
#define SET_MATH(t, tier)                              \
    do {                                               \
        (t)->exp_f32 = kestrel_exp_f32_##tier;         \
        (t)->softmax_f32 = kestrel_softmax_f32_##tier; \
        (t)->axpy_f32 = kestrel_axpy_f32_##tier;       \
        (t)->scale_f32 = kestrel_scale_f32_##tier;     \
        (t)->add_f32 = kestrel_add_f32_##tier;         \
        (t)->mul_f32 = kestrel_mul_f32_##tier;         \
        (t)->sum_f32 = kestrel_sum_f32_##tier;         \
        (t)->max_f32 = kestrel_max_f32_##tier;         \
        (t)->sumsq_f32 = kestrel_sumsq_f32_##tier;     \
    } while (0)

/*
 * Fills the math entries of one tier's table. Tiers without kernels of their own here
 * (avx512vnni, neondot) keep what they copied from their parent tier.
 */
void kestrel_register_math(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: SET_MATH(t, scalar); break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: SET_MATH(t, avx2); break;
    case KESTREL_ISA_AVX512: SET_MATH(t, avx512); break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: SET_MATH(t, neon); break;
#endif
    default: break;
    }
}
