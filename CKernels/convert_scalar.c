/* Scalar reference for f32 <-> f16/bf16 conversion (round-to-nearest-even, bit-exact). */
#include "internal/kestrel_internal.h"

void kestrel_f32_to_f16_scalar(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = kestrel_f32_to_f16_1(src[i]);
}

void kestrel_f16_to_f32_scalar(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = kestrel_f16_to_f32_1(src[i]);
}

void kestrel_f32_to_bf16_scalar(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = kestrel_f32_to_bf16_1(src[i]);
}

void kestrel_bf16_to_f32_scalar(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = kestrel_bf16_to_f32_1(src[i]);
}

void kestrel_register_convert(kestrel_kernel_table *t, kestrel_isa isa) {
    if (isa == KESTREL_ISA_SCALAR) {
        t->f32_to_f16 = kestrel_f32_to_f16_scalar;
        t->f16_to_f32 = kestrel_f16_to_f32_scalar;
        t->f32_to_bf16 = kestrel_f32_to_bf16_scalar;
        t->bf16_to_f32 = kestrel_bf16_to_f32_scalar;
    }
    /* SIMD tiers register here. */
}
