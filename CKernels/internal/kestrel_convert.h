/*
 * Conversion family (f32 <-> f16, f32 <-> bf16): per-tier prototypes. Every tier is
 * bit-identical to the scalar helpers of kestrel_internal.h. Not part of the public API.
 */
#ifndef KESTREL_INTERNAL_CONVERT_H
#define KESTREL_INTERNAL_CONVERT_H

#include "kestrel_internal.h"

#define KESTREL_CONVERT_TIER_PROTOTYPES(tier)                                        \
    void kestrel_f32_to_f16_##tier(const float *src, uint16_t *dst, size_t n);      \
    void kestrel_f16_to_f32_##tier(const uint16_t *src, float *dst, size_t n);      \
    void kestrel_f32_to_bf16_##tier(const float *src, uint16_t *dst, size_t n);     \
    void kestrel_bf16_to_f32_##tier(const uint16_t *src, float *dst, size_t n);

KESTREL_CONVERT_TIER_PROTOTYPES(scalar)
#if KESTREL_X86
KESTREL_CONVERT_TIER_PROTOTYPES(avx2)
KESTREL_CONVERT_TIER_PROTOTYPES(avx512)
#endif
#if KESTREL_ARM64
KESTREL_CONVERT_TIER_PROTOTYPES(neon)
#endif

#endif
