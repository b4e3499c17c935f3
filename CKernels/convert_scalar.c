/* Scalar reference for f32 <-> f16/bf16 conversion (round-to-nearest-even, bit-exact). */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

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

/* Points every conversion entry of table t at the kernels of one tier. */
#define SET_CONVERT(t, tier)                           \
    do {                                               \
        (t)->f32_to_f16 = kestrel_f32_to_f16_##tier;   \
        (t)->f16_to_f32 = kestrel_f16_to_f32_##tier;   \
        (t)->f32_to_bf16 = kestrel_f32_to_bf16_##tier; \
        (t)->bf16_to_f32 = kestrel_bf16_to_f32_##tier; \
    } while (0)

/*
 * Fills the conversion entries of one tier's table. Tiers without kernels of their own here
 * (avx512vnni, neondot) keep what they copied from their parent tier.
 */
void kestrel_register_convert(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: SET_CONVERT(t, scalar); break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: SET_CONVERT(t, avx2); break;
    case KESTREL_ISA_AVX512: SET_CONVERT(t, avx512); break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: SET_CONVERT(t, neon); break;
#endif
    default: break;
    }
}
