/*
 * Internal helpers shared by the kernel files: target-attribute regions, scalar f16/bf16
 * conversion, argument checks and per-family registration. Not part of the public API.
 */
#ifndef KESTREL_INTERNAL_H
#define KESTREL_INTERNAL_H

#include <math.h>
#include <string.h>
#include "kestrel_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define KESTREL_X86 1
#else
#define KESTREL_X86 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define KESTREL_ARM64 1
#else
#define KESTREL_ARM64 0
#endif

/*
 * ISA regions: every function between BEGIN and END is compiled for that tier only and
 * must only be reached through the dispatch table after the CPU check.
 */
#if defined(__clang__)
#define KESTREL_TARGET_AVX2_BEGIN \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c,popcnt,bmi2\"))), apply_to = function)")
#define KESTREL_TARGET_AVX512_BEGIN \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512dq\"))), apply_to = function)")
#define KESTREL_TARGET_AVX512VNNI_BEGIN \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni\"))), apply_to = function)")
#define KESTREL_TARGET_NEONDOT_BEGIN \
    _Pragma("clang attribute push(__attribute__((target(\"dotprod\"))), apply_to = function)")
#define KESTREL_TARGET_END _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define KESTREL_TARGET_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c,popcnt,bmi2\")")
#define KESTREL_TARGET_AVX512_BEGIN _Pragma("GCC push_options") \
    _Pragma("GCC target(\"avx2,fma,f16c,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512dq\")")
#define KESTREL_TARGET_AVX512VNNI_BEGIN _Pragma("GCC push_options") \
    _Pragma("GCC target(\"avx2,fma,f16c,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni\")")
/* GCC only inlines its dotprod intrinsics (declared for armv8.2-a+dotprod) into a matching arch. */
#define KESTREL_TARGET_NEONDOT_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"arch=armv8.2-a+dotprod\")")
#define KESTREL_TARGET_END _Pragma("GCC pop_options")
#endif

/* ---- scalar conversions (the reference every tier must match bit for bit) ---- */

static inline uint32_t kestrel_f32_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

static inline float kestrel_bits_f32(uint32_t x) {
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* Round-to-nearest-even f32 -> binary16; NaN keeps its sign and top payload bits, made quiet. */
static inline uint16_t kestrel_f32_to_f16_1(float f) {
    uint32_t x = kestrel_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {
        if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((absx >> 13) & 0x3ffu));
        return (uint16_t)(sign | 0x7c00u);
    }
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to Inf */
    if (absx < 0x38800000u) {                                     /* below 2^-14: subnormal */
        if (absx < 0x33000000u) return (uint16_t)sign;            /* < 2^-25 (tie -> 0) */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* 14 ... 24 */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = absx - 0x38000000u; /* rebias 127 -> 15 */
    uint32_t q = r >> 13;
    uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

static inline float kestrel_f16_to_f32_1(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    uint32_t x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else {
            uint32_t shift = 0;
            while (!(m & 0x400u)) {
                m <<= 1;
                shift++;
            }
            x = sign | ((113u - shift) << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        /* Inf, or NaN made quiet with its payload kept (what F16C and AArch64 FCVT do). */
        x = sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u);
    } else {
        x = sign | ((e + 112u) << 23) | (m << 13);
    }
    return kestrel_bits_f32(x);
}

/* Round-to-nearest-even f32 -> bfloat16; NaN -> quiet NaN with the same sign. */
static inline uint16_t kestrel_f32_to_bf16_1(float f) {
    uint32_t x = kestrel_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

static inline float kestrel_bf16_to_f32_1(uint16_t h) { return kestrel_bits_f32((uint32_t)h << 16); }

/* ---- shared finishing rules ---- */

/* Cosine distance from dot and squared norms; the rules of the header, identical at every tier. */
static inline float kestrel_cosine_finish(double ab, double aa, double bb) {
    if (aa == 0.0 && bb == 0.0) return 0.0f;
    if (aa == 0.0 || bb == 0.0) return 1.0f;
    if (ab == aa && aa == bb) return 0.0f;
    double d = 1.0 - ab / sqrt(aa * bb);
    if (d < 0.0) d = 0.0; /* NaN falls through both tests and stays NaN */
    if (d > 2.0) d = 2.0;
    return (float)d;
}

static inline float kestrel_jaccard_finish(uint64_t inter, uint64_t uni) {
    if (uni == 0) return 0.0f;
    return (float)(1.0 - (double)inter / (double)uni);
}

/* Argument check shared by every one-to-many kernel. */
static inline kestrel_status kestrel_check_many(const void *q, const void *base, size_t dim, size_t count,
                                                size_t stride, const void *out) {
    if (count == 0) return KESTREL_OK;
    if (out == NULL) return KESTREL_ERR_NULL_POINTER;
    if (stride < dim) return KESTREL_ERR_INVALID_ARGUMENT;
    if (dim > 0 && (q == NULL || base == NULL)) return KESTREL_ERR_NULL_POINTER;
    return KESTREL_OK;
}

/*
 * Defines a one-to-many kernel `fn` that checks its arguments and applies the one-pair kernel
 * `pair` to every row (casting its result to O). Tiers with a faster blocked scan write their own.
 */
#define KESTREL_DEFINE_MANY(fn, T, O, pair)                                                          \
    kestrel_status fn(const T *q, const T *base, size_t dim, size_t count, size_t stride, O *out) { \
        kestrel_status st = kestrel_check_many(q, base, dim, count, stride, out);                  \
        if (st != KESTREL_OK) return st;                                                            \
        for (size_t r = 0; r < count; r++) out[r] = (O)pair(q, base + r * stride, dim);             \
        return KESTREL_OK;                                                                          \
    }

/* int32 lanes see at most this many int8 products before being flushed to 64 bits. */
#define KESTREL_I8_BLOCK ((size_t)16384)

/*
 * Software-prefetch distance of a one-to-many scan over rows of `elem_bytes`-byte elements,
 * `row_bytes` apart, in bytes, from the plan in force (system.c; 0 = no software prefetch).
 * Read once per scan.
 */
size_t kestrel_scan_prefetch_bytes(size_t elem_bytes, size_t row_bytes);

/* ---- registration: each family fills the entries it implements for one tier ---- */

void kestrel_register_distance_float(kestrel_kernel_table *t, kestrel_isa isa);
void kestrel_register_distance_int(kestrel_kernel_table *t, kestrel_isa isa);
void kestrel_register_convert(kestrel_kernel_table *t, kestrel_isa isa);
void kestrel_register_math(kestrel_kernel_table *t, kestrel_isa isa);

#endif
