/* Scalar reference for f32 <-> f16/bf16 conversion (round-to-nearest-even, bit-exact). */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_convert.h"

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
#if KESTREL_X86
    if (isa == KESTREL_ISA_AVX2) {
        t->f32_to_f16 = kestrel_f32_to_f16_avx2;
        t->f16_to_f32 = kestrel_f16_to_f32_avx2;
        t->f32_to_bf16 = kestrel_f32_to_bf16_avx2;
        t->bf16_to_f32 = kestrel_bf16_to_f32_avx2;
    }
    if (isa == KESTREL_ISA_AVX512) {
        t->f32_to_f16 = kestrel_f32_to_f16_avx512;
        t->f16_to_f32 = kestrel_f16_to_f32_avx512;
        t->f32_to_bf16 = kestrel_f32_to_bf16_avx512;
        t->bf16_to_f32 = kestrel_bf16_to_f32_avx512;
    }
#endif
#if KESTREL_ARM64
    if (isa == KESTREL_ISA_NEON) {
        t->f32_to_f16 = kestrel_f32_to_f16_neon;
        t->f16_to_f32 = kestrel_f16_to_f32_neon;
        t->f32_to_bf16 = kestrel_f32_to_bf16_neon;
        t->bf16_to_f32 = kestrel_bf16_to_f32_neon;
    }
#endif
    /* avx512vnni and neondot inherit these from their parent tier's table. */
}
