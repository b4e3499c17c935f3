/*
 * ggml block quantize / dequantize: the scalar tier (the reference functions of quant_ref.c
 * behind the table's untyped signature) and the table registration of every tier.
 */
#include "include/kestrel_quant.h"
#include "internal/kestrel_tiers.h"

#define SCALAR_PAIR(t)                                                                   \
    void kestrel_quantize_##t##_scalar(const float *x, void *blocks, size_t n) {         \
        kestrel_quantize_row_##t##_ref(x, (kestrel_block_##t *)blocks, n);               \
    }                                                                                    \
    void kestrel_dequantize_##t##_scalar(const void *blocks, float *y, size_t n) {       \
        kestrel_dequantize_row_##t##_ref((const kestrel_block_##t *)blocks, y, n);       \
    }

SCALAR_PAIR(q8_0)
SCALAR_PAIR(q8_1)
SCALAR_PAIR(q4_0)
SCALAR_PAIR(q4_1)
SCALAR_PAIR(q5_0)
SCALAR_PAIR(q5_1)
SCALAR_PAIR(q4_K)
SCALAR_PAIR(q6_K)

/* Quantizers with a SIMD version (Q8_0, Q8_1) and every dequantizer, for one tier. */
#define SET_SIMD(t, tier)                                  \
    do {                                                   \
        (t)->quantize_q8_0 = kestrel_quantize_q8_0_##tier; \
        (t)->quantize_q8_1 = kestrel_quantize_q8_1_##tier; \
        (t)->dequantize_q8_0 = kestrel_dequantize_q8_0_##tier; \
        (t)->dequantize_q8_1 = kestrel_dequantize_q8_1_##tier; \
        (t)->dequantize_q4_0 = kestrel_dequantize_q4_0_##tier; \
        (t)->dequantize_q4_1 = kestrel_dequantize_q4_1_##tier; \
        (t)->dequantize_q5_0 = kestrel_dequantize_q5_0_##tier; \
        (t)->dequantize_q5_1 = kestrel_dequantize_q5_1_##tier; \
        (t)->dequantize_q4_K = kestrel_dequantize_q4_K_##tier; \
        (t)->dequantize_q6_K = kestrel_dequantize_q6_K_##tier; \
    } while (0)

/*
 * Fills the block entries of one tier's table. Scalar sets all sixteen; the quantizers without
 * a SIMD version (Q4_0 ... Q6_K, whose search loops are scalar by nature) stay the reference in
 * every tier, copied from the parent table. avx512vnni and neondot inherit their parent's.
 */
void kestrel_register_quant_blocks(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR:
        t->quantize_q4_0 = kestrel_quantize_q4_0_scalar;
        t->quantize_q4_1 = kestrel_quantize_q4_1_scalar;
        t->quantize_q5_0 = kestrel_quantize_q5_0_scalar;
        t->quantize_q5_1 = kestrel_quantize_q5_1_scalar;
        t->quantize_q4_K = kestrel_quantize_q4_K_scalar;
        t->quantize_q6_K = kestrel_quantize_q6_K_scalar;
        SET_SIMD(t, scalar);
        break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: SET_SIMD(t, avx2); break;
    case KESTREL_ISA_AVX512: SET_SIMD(t, avx512); break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: SET_SIMD(t, neon); break;
#endif
    default: break;
    }
}
