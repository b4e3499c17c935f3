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
    float m = kestrel_max_f32_scalar(x, n);
    if (m != m || m == INFINITY) {
        for (size_t i = 0; i < n; i++) y[i] = NAN;
        return;
    }
    if (m == -INFINITY) { /* fully masked row */
        for (size_t i = 0; i < n; i++) y[i] = 0.0f;
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

void kestrel_register_math(kestrel_kernel_table *t, kestrel_isa isa) {
    if (isa == KESTREL_ISA_SCALAR) {
        t->exp_f32 = kestrel_exp_f32_scalar;
        t->softmax_f32 = kestrel_softmax_f32_scalar;
        t->axpy_f32 = kestrel_axpy_f32_scalar;
        t->scale_f32 = kestrel_scale_f32_scalar;
        t->add_f32 = kestrel_add_f32_scalar;
        t->mul_f32 = kestrel_mul_f32_scalar;
        t->sum_f32 = kestrel_sum_f32_scalar;
        t->max_f32 = kestrel_max_f32_scalar;
        t->sumsq_f32 = kestrel_sumsq_f32_scalar;
    }
#if KESTREL_X86
    if (isa == KESTREL_ISA_AVX2) {
        t->exp_f32 = kestrel_exp_f32_avx2;
        t->softmax_f32 = kestrel_softmax_f32_avx2;
        t->axpy_f32 = kestrel_axpy_f32_avx2;
        t->scale_f32 = kestrel_scale_f32_avx2;
        t->add_f32 = kestrel_add_f32_avx2;
        t->mul_f32 = kestrel_mul_f32_avx2;
        t->sum_f32 = kestrel_sum_f32_avx2;
        t->max_f32 = kestrel_max_f32_avx2;
        t->sumsq_f32 = kestrel_sumsq_f32_avx2;
    }
    if (isa == KESTREL_ISA_AVX512) {
        t->exp_f32 = kestrel_exp_f32_avx512;
        t->softmax_f32 = kestrel_softmax_f32_avx512;
        t->axpy_f32 = kestrel_axpy_f32_avx512;
        t->scale_f32 = kestrel_scale_f32_avx512;
        t->add_f32 = kestrel_add_f32_avx512;
        t->mul_f32 = kestrel_mul_f32_avx512;
        t->sum_f32 = kestrel_sum_f32_avx512;
        t->max_f32 = kestrel_max_f32_avx512;
        t->sumsq_f32 = kestrel_sumsq_f32_avx512;
    }
#endif
#if KESTREL_ARM64
    if (isa == KESTREL_ISA_NEON) {
        t->exp_f32 = kestrel_exp_f32_neon;
        t->softmax_f32 = kestrel_softmax_f32_neon;
        t->axpy_f32 = kestrel_axpy_f32_neon;
        t->scale_f32 = kestrel_scale_f32_neon;
        t->add_f32 = kestrel_add_f32_neon;
        t->mul_f32 = kestrel_mul_f32_neon;
        t->sum_f32 = kestrel_sum_f32_neon;
        t->max_f32 = kestrel_max_f32_neon;
        t->sumsq_f32 = kestrel_sumsq_f32_neon;
    }
#endif
    /* avx512vnni and neondot inherit these from their parent tier's table. */
}
