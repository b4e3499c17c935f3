/*
 * WebAssembly SIMD (simd128) tier of f32 <-> f16 / bf16 conversion, for the wasm32 module of
 * CKernels/wasm/build.sh: 8 elements a step with the exact lane conversions of
 * kestrel_wasm_simd.h, the last n % 8 through the scalar functions every tier matches. Every
 * result is bit-identical to the scalar tier (NaN payloads included).
 */
#include "internal/kestrel_tiers.h"
#include "internal/kestrel_wasm_simd.h"

#if KESTREL_WASM_SIMD128

void kestrel_f32_to_f16_wasm_simd128(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t lo = kestrel_wasm_f32_to_f16(wasm_v128_load(src + i));
        const v128_t hi = kestrel_wasm_f32_to_f16(wasm_v128_load(src + i + 4));
        wasm_v128_store(dst + i, wasm_u16x8_narrow_i32x4(lo, hi)); /* lanes are < 2^16: no saturation */
    }
    for (; i < n; i++) dst[i] = kestrel_f32_to_f16_1(src[i]);
}

void kestrel_f16_to_f32_wasm_simd128(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(src + i);
        wasm_v128_store(dst + i, kestrel_wasm_f16_to_f32(wasm_u32x4_extend_low_u16x8(h)));
        wasm_v128_store(dst + i + 4, kestrel_wasm_f16_to_f32(wasm_u32x4_extend_high_u16x8(h)));
    }
    for (; i < n; i++) dst[i] = kestrel_f16_to_f32_1(src[i]);
}

/* Round to nearest even on the dropped 16 bits; NaN -> its top half with the quiet bit set. */
static inline v128_t f32_to_bf16_lanes(v128_t x) {
    const v128_t odd = wasm_v128_and(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(1));
    const v128_t r = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(x, wasm_i32x4_splat(0x7fff)), odd), 16);
    const v128_t nan = wasm_i32x4_gt(wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff)), wasm_i32x4_splat(0x7f800000));
    const v128_t q = wasm_v128_or(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(0x40));
    return wasm_v128_bitselect(q, r, nan);
}

void kestrel_f32_to_bf16_wasm_simd128(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t lo = f32_to_bf16_lanes(wasm_v128_load(src + i));
        const v128_t hi = f32_to_bf16_lanes(wasm_v128_load(src + i + 4));
        wasm_v128_store(dst + i, wasm_i8x16_shuffle(lo, hi, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29));
    }
    for (; i < n; i++) dst[i] = kestrel_f32_to_bf16_1(src[i]);
}

void kestrel_bf16_to_f32_wasm_simd128(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(src + i);
        wasm_v128_store(dst + i, wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16));
        wasm_v128_store(dst + i + 4, wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16));
    }
    for (; i < n; i++) dst[i] = kestrel_bf16_to_f32_1(src[i]);
}

#endif /* KESTREL_WASM_SIMD128 */
