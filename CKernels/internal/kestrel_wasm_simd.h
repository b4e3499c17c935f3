/*
 * Helpers shared by the wasm_simd128 tier files (*_wasm_simd128.c): horizontal reductions,
 * exact f16 <-> f32 lane conversions (WebAssembly SIMD has no half-precision instructions, so
 * they are integer and f32 operations that reproduce kestrel_f16_to_f32_1 / kestrel_f32_to_f16_1
 * bit for bit) and a zero-padded tail copy. Only compiled for wasm32 + simd128
 * (CKernels/wasm/build.sh). Not part of the public API.
 */
#ifndef KESTREL_WASM_SIMD_H
#define KESTREL_WASM_SIMD_H

#include "kestrel_internal.h"

#if KESTREL_WASM_SIMD128
#include <wasm_simd128.h>

/*
 * v128.load of p + OFF with OFF in the instruction's offset immediate. Clang adds a constant
 * offset to the address with i32.add instead (it may not assume that p + OFF does not wrap at
 * 2^32, even for an inbounds pointer), and the engine then compiles every load to a 32-bit
 * add plus the load: 8 extra instructions per 16 floats in the dot loop under wasmtime
 * (Documentation/WebAssembly.md, Performance). An immediate offset is added without wrapping
 * and folds into the x86 / arm64 addressing mode. The "m" operand (not used in the text) tells
 * the compiler which bytes the asm reads, so the load stays ordered after stores to them (the
 * zero-padded tail buffers) and is never treated as reading nothing; a "memory" clobber would
 * also do that but makes every load of a step come first, and a cosine step's 20 live vectors
 * then spill in wasmtime.
 */
#define KESTREL_WASM_DEFINE_LOAD(OFF)                                                            \
    static inline v128_t kestrel_wasm_load_##OFF(const void *p) {                               \
        v128_t v;                                                                                \
        __asm__("local.get %1\n\tv128.load " #OFF ":p2align=0\n\tlocal.set %0"                   \
                : "=r"(v)                                                                        \
                : "r"(p), "m"(*(const struct { uint8_t b[(OFF) + 16]; } *)p));                 \
        return v;                                                                                \
    }
KESTREL_WASM_DEFINE_LOAD(0)
KESTREL_WASM_DEFINE_LOAD(16)
KESTREL_WASM_DEFINE_LOAD(32)
KESTREL_WASM_DEFINE_LOAD(48)
#undef KESTREL_WASM_DEFINE_LOAD

/* The 16 bytes at p + off for a constant off (one load once inlined). */
static inline __attribute__((always_inline)) v128_t kestrel_wasm_load_at(const void *p, int off) {
    switch (off) {
    case 0: return kestrel_wasm_load_0(p);
    case 16: return kestrel_wasm_load_16(p);
    case 32: return kestrel_wasm_load_32(p);
    case 48: return kestrel_wasm_load_48(p);
    default: return wasm_v128_load((const uint8_t *)p + off);
    }
}

/* Lane sum as (l0 + l2) + (l1 + l3). */
static inline float kestrel_wasm_hsum(v128_t v) {
    v128_t s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    s = wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(s, 0);
}

/* Lane sum of int32 lanes (exact as long as the caller's bounds hold). */
static inline int32_t kestrel_wasm_hsum_i32(v128_t v) {
    v128_t s = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
    return wasm_i32x4_extract_lane(s, 0);
}

/*
 * binary16 bits in the low 16 bits of each u32 lane -> f32, as kestrel_f16_to_f32_1: exponent
 * and mantissa shifted into place and scaled by 2^112 (exact for normal and subnormal halves;
 * Inf/NaN come out as 65536 * (1 + m) and OR-ing the all-ones exponent turns them back into
 * Inf / NaN with the payload kept), a NaN made quiet, then the sign.
 */
static inline v128_t kestrel_wasm_f16_to_f32(v128_t h) {
    const v128_t em = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    const v128_t special = wasm_i32x4_gt(em, wasm_i32x4_splat((0x7c00 << 13) - 1));
    const v128_t nan = wasm_i32x4_gt(em, wasm_i32x4_splat(0x7c00 << 13));
    v128_t f = wasm_f32x4_mul(em, wasm_f32x4_splat(0x1p112f));
    f = wasm_v128_or(f, wasm_v128_and(special, wasm_i32x4_splat(0x7f800000)));
    f = wasm_v128_or(f, wasm_v128_and(nan, wasm_i32x4_splat(0x400000)));
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

/*
 * f32 lanes -> binary16 bits in the low 16 bits of each u32 lane, as kestrel_f32_to_f16_1
 * (round to nearest even; NaN keeps sign and top payload bits, made quiet; >= 65520 -> Inf;
 * below 2^-14 the subnormal is rounded by one f32 addition of 2^-1 * 2^(-14+... ) magic).
 */
static inline v128_t kestrel_wasm_f32_to_f16(v128_t f) {
    const v128_t sign = wasm_u32x4_shr(wasm_v128_and(f, wasm_i32x4_splat((int32_t)0x80000000u)), 16);
    const v128_t a = wasm_v128_and(f, wasm_i32x4_splat(0x7fffffff));
    /* normal halves: rebias, add the rounding bias (0xfff plus the lowest kept bit), shift */
    const v128_t odd = wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(1));
    v128_t nrm = wasm_i32x4_add(a, wasm_i32x4_splat((int32_t)(0xfff - (112u << 23))));
    nrm = wasm_u32x4_shr(wasm_i32x4_add(nrm, odd), 13);
    /* subnormal halves (a < 2^-14): adding 0.5 (exponent 126) aligns the half ulp 2^-24 with
     * the f32 ulp, so the f32 addition rounds to nearest even; the low bits are the result */
    const v128_t magic = wasm_i32x4_splat(126 << 23);
    const v128_t sub = wasm_i32x4_sub(wasm_f32x4_add(a, magic), magic);
    v128_t r = wasm_v128_bitselect(sub, nrm, wasm_i32x4_lt(a, wasm_i32x4_splat(0x38800000)));
    /* overflow to Inf at 65520 and above; NaN quiet with its top payload bits */
    r = wasm_v128_bitselect(wasm_i32x4_splat(0x7c00), r, wasm_i32x4_ge(a, wasm_i32x4_splat(0x477ff000)));
    const v128_t qnan = wasm_v128_or(wasm_i32x4_splat(0x7e00), wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(0x3ff)));
    r = wasm_v128_bitselect(qnan, r, wasm_i32x4_gt(a, wasm_i32x4_splat(0x7f800000)));
    return wasm_v128_or(r, sign);
}

/*
 * The even / odd int8 elements of a 16-byte vector as sign-extended i16 lanes: two shifts and
 * one shift, which x86 engines run on the ALU ports, where extend_low/high_i8x16 are shuffles
 * that all compete for one port. Products of even with even and odd with odd elements cover
 * every pair once (the order of an exact integer sum does not matter).
 */
static inline v128_t kestrel_wasm_i8_even(v128_t x) { return wasm_i16x8_shr(wasm_i16x8_shl(x, 8), 8); }
static inline v128_t kestrel_wasm_i8_odd(v128_t x) { return wasm_i16x8_shr(x, 8); }

/* sum_j a_j * b_j of 16 int8 pairs, in four int32 lanes (|lane| <= 4 * 128 * 128). */
static inline v128_t kestrel_wasm_dot16_i8(v128_t a, v128_t b) {
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(kestrel_wasm_i8_even(a), kestrel_wasm_i8_even(b)),
                          wasm_i32x4_dot_i16x8(kestrel_wasm_i8_odd(a), kestrel_wasm_i8_odd(b)));
}

/* Copies `bytes` (< 64) bytes from p into a zeroed 64-byte buffer in fixed-size pieces. */
static inline void kestrel_wasm_copy_tail(uint8_t *buf, const uint8_t *p, size_t bytes) {
    for (int i = 0; i < 64; i += 16) wasm_v128_store(buf + i, wasm_i32x4_splat(0));
    uint8_t *d = buf;
    if (bytes & 32) { memcpy(d, p, 32); d += 32; p += 32; }
    if (bytes & 16) { memcpy(d, p, 16); d += 16; p += 16; }
    if (bytes & 8) { memcpy(d, p, 8); d += 8; p += 8; }
    if (bytes & 4) { memcpy(d, p, 4); d += 4; p += 4; }
    if (bytes & 2) { memcpy(d, p, 2); d += 2; p += 2; }
    if (bytes & 1) *d = *p;
}

#endif /* KESTREL_WASM_SIMD128 */
#endif
