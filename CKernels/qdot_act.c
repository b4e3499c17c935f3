/*
 * Activation quantizers of the quantized dot products: Q8_0 (the active tier's table entry) and
 * Q8_K (Kestrel's own rounding, documented in kestrel_kernels.h). Compiled without FP
 * contraction so that every build writes the same codes.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "include/kestrel_quant.h"
#include "internal/kestrel_internal.h"

void kestrel_quantize_act_q8_0(const float *x, kestrel_block_q8_0 *dst, size_t n) {
    /* The active tier's Q8_0 quantizer: bit-identical to the reference (check_quant.c), SIMD where it exists. */
    kestrel_kernels()->quantize_q8_0(x, dst, n);
}

/* Nearest integer, ties to even, for |v| < 2^22 (adding 1.5 * 2^23 leaves the integer in the low mantissa bits). */
static inline int nearest_even(float v) {
    float t = v + 12582912.0f;
    return (int)(kestrel_f32_bits(t) & 0x007fffff) - 0x00400000;
}

void kestrel_quantize_row_q8_K(const float *x, kestrel_block_q8_K *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK_K; b++) {
        const float *xb = x + b * KESTREL_QK_K;
        kestrel_block_q8_K *y = dst + b;
        float amax = 0.0f;
        for (int j = 0; j < KESTREL_QK_K; j++) {
            float v = fabsf(xb[j]);
            if (v > amax) amax = v;
        }
        /* 127 / amax overflows for amax < 127 / FLT_MAX (~3.7e-37): such a block is written as zeros. */
        if (amax == 0.0f || !(127.0f / amax <= 3.402823466e+38f)) {
            memset(y, 0, sizeof *y);
            continue;
        }
        const float id = 127.0f / amax;
        y->d = amax / 127.0f;
        for (int j = 0; j < KESTREL_QK_K; j++) {
            int q = nearest_even(xb[j] * id);
            y->qs[j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
        for (int k = 0; k < 16; k++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += y->qs[16 * k + j];
            y->bsums[k] = (int16_t)s;
        }
    }
}
