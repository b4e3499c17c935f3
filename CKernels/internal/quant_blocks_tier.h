/*
 * quant_blocks_tier.h — what every SIMD tier of the block kernels defines the same way.
 * KESTREL_Q8_QUANTIZERS(tier) defines kestrel_quantize_q8_0_<tier> and kestrel_quantize_q8_1_<tier>
 * around the including file's
 *     static inline float quantize_q8_block(const float *x, int8_t *qs, int *sum)
 * (32 floats -> 32 codes at qs; returns the float32 d and stores the sum of the codes), so that
 * the fp16 rounding of d and Q8_1's s = fp16(float(sum) * d) are written once for all tiers.
 */
#ifndef KESTREL_QUANT_BLOCKS_TIER_H
#define KESTREL_QUANT_BLOCKS_TIER_H

#define KESTREL_Q8_QUANTIZERS(tier)                                                    \
    void kestrel_quantize_q8_0_##tier(const float *x, void *blocks, size_t n) {        \
        kestrel_block_q8_0 *b = (kestrel_block_q8_0 *)blocks;                          \
        for (size_t i = 0; i < n / KESTREL_QK32; i++) {                                \
            int sum;                                                                   \
            b[i].d = kestrel_f32_to_f16_1(quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum)); \
        }                                                                              \
    }                                                                                  \
    void kestrel_quantize_q8_1_##tier(const float *x, void *blocks, size_t n) {        \
        kestrel_block_q8_1 *b = (kestrel_block_q8_1 *)blocks;                          \
        for (size_t i = 0; i < n / KESTREL_QK32; i++) {                                \
            int sum;                                                                   \
            const float d = quantize_q8_block(x + i * KESTREL_QK32, b[i].qs, &sum);    \
            b[i].d = kestrel_f32_to_f16_1(d);                                          \
            b[i].s = kestrel_f32_to_f16_1((float)sum * d);                             \
        }                                                                              \
    }

#endif
