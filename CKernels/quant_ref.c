/* Reference ggml block quantizers: these decide the bits (fixture README, "Conventions"). */
/* clang honours the STDC pragma; GCC (the aarch64 cross-check) rejects it and needs its own. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "include/kestrel_quant.h"
#include "internal/kestrel_internal.h"
#include <math.h>

void kestrel_quantize_row_q8_0_ref(const float *x, kestrel_block_q8_0 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        float amax = 0.0f;
        for (int j = 0; j < KESTREL_QK32; j++) {
            float v = fabsf(xb[j]);
            if (v > amax) amax = v;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = kestrel_f32_to_f16_1(d);
        for (int j = 0; j < KESTREL_QK32; j++) dst[b].qs[j] = (int8_t)roundf(xb[j] * id);
    }
}

void kestrel_dequantize_row_q8_0_ref(const kestrel_block_q8_0 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        for (int j = 0; j < KESTREL_QK32; j++) y[b * KESTREL_QK32 + j] = d * (float)src[b].qs[j];
    }
}
