/*
 * WebAssembly SIMD (simd128) tier of the int8 and packed-binary distances, for the wasm32 module
 * of CKernels/wasm/build.sh. int8: each 16-byte step splits into even and odd elements in i16
 * lanes (shifts and ANDs, no shuffles; dot and l2sq below say how) and uses i32x4.dot_i16x8_s;
 * the bounds given with each block function keep every int32 lane from wrapping, so every
 * result equals the scalar reference. Binary: i8x16.popcnt, byte counts widened pairwise
 * into u16 lanes and flushed into u32 lanes before they can wrap. One-to-many kernels apply the
 * one-pair kernel row by row (no prefetch in WebAssembly).
 */
#include "internal/distance_int_driver.h"
#include "internal/kestrel_wasm_simd.h"

#if KESTREL_WASM_SIMD128

/* Scalar remainder of a block after its whole 16-byte steps. */
static inline void tail_i8(const int8_t *a, const int8_t *b, size_t i, size_t hi, int64_t *ab, int64_t *aa,
                           int64_t *bb, int64_t *l2) {
    for (; i < hi; i++) {
        const int32_t x = a[i], y = b[i], d = x - y;
        *ab += x * y;
        *aa += x * x;
        *bb += y * y;
        *l2 += d * d;
    }
}

/*
 * dot: one operand keeps its bytes in the high half of each i16 lane (a << 8: even element
 * times 256; a & 0xff00: odd element times 256, one AND), the other is sign-extended (b << 8
 * >> 8 even, b >> 8 odd), so i32x4.dot_i16x8_s yields 256 * (sum of two products): 5 widening
 * operations per 16 pairs instead of 6 shifts, and the ALU ports that do not shift take the
 * AND. A lane gains at most 256 * 2 * 128 * 128 = 2^23 per step: after I8_STEPS_256 = 128
 * steps each accumulator is below 2^30 and is divided by 256 (exact, a multiple of 256).
 */
enum { I8_STEPS_256 = 128 };

static inline int64_t dot_block(const int8_t *a, const int8_t *b, size_t lo, size_t hi) {
    const v128_t high = wasm_i16x8_splat((int16_t)0xff00);
    int64_t ab = 0;
    size_t i = lo;
    while (i + 16 <= hi) {
        const size_t end = hi - i > 16 * I8_STEPS_256 ? i + 16 * I8_STEPS_256 : hi;
        v128_t s0 = wasm_i32x4_splat(0), s1 = wasm_i32x4_splat(0);
        for (; i + 16 <= end; i += 16) {
            const v128_t x = kestrel_wasm_load_at(a + i, 0), y = kestrel_wasm_load_at(b + i, 0);
            s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(wasm_i16x8_shl(x, 8), kestrel_wasm_i8_even(y)));
            s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(wasm_v128_and(x, high), kestrel_wasm_i8_odd(y)));
        }
        ab += kestrel_wasm_hsum_i32(wasm_i32x4_add(wasm_i32x4_shr(s0, 8), wasm_i32x4_shr(s1, 8)));
    }
    int64_t aa = 0, bb = 0, l2 = 0;
    tail_i8(a, b, i, hi, &ab, &aa, &bb, &l2);
    return ab;
}

/*
 * l2sq: |a - b| <= 255 fits a byte: max_s - min_s wraps to exactly that (ALU operations, no
 * widening of a and b). Its even / odd bytes zero-extended (an AND, one shift) square and pair
 * in i32x4.dot_i16x8_s: a lane gains at most 2 * 255^2 per step, KESTREL_I8_BLOCK / 16 steps
 * keep each accumulator below 2^28 and their lane sum below 2^31.
 */
static inline int64_t l2sq_block(const int8_t *a, const int8_t *b, size_t lo, size_t hi) {
    const v128_t low = wasm_i16x8_splat(0xff);
    v128_t s0 = wasm_i32x4_splat(0), s1 = wasm_i32x4_splat(0);
    size_t i = lo;
    for (; i + 16 <= hi; i += 16) {
        const v128_t x = kestrel_wasm_load_at(a + i, 0), y = kestrel_wasm_load_at(b + i, 0);
        const v128_t d = wasm_i8x16_sub(wasm_i8x16_max(x, y), wasm_i8x16_min(x, y));
        const v128_t d0 = wasm_v128_and(d, low), d1 = wasm_u16x8_shr(d, 8);
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(d0, d0));
        s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(d1, d1));
    }
    int64_t l2 = (int64_t)(uint32_t)kestrel_wasm_hsum_i32(wasm_i32x4_add(s0, s1)), ab = 0, aa = 0, bb = 0;
    tail_i8(a, b, i, hi, &ab, &aa, &bb, &l2);
    return l2;
}

static inline void cos_block(const int8_t *a, const int8_t *b, size_t lo, size_t hi, int64_t s[3]) {
    v128_t ab = wasm_i32x4_splat(0), aa = wasm_i32x4_splat(0), bb = wasm_i32x4_splat(0);
    size_t i = lo;
    for (; i + 16 <= hi; i += 16) {
        const v128_t x = wasm_v128_load(a + i), y = wasm_v128_load(b + i);
        const v128_t x0 = kestrel_wasm_i8_even(x), x1 = kestrel_wasm_i8_odd(x);
        const v128_t y0 = kestrel_wasm_i8_even(y), y1 = kestrel_wasm_i8_odd(y);
        ab = wasm_i32x4_add(ab, wasm_i32x4_add(wasm_i32x4_dot_i16x8(x0, y0), wasm_i32x4_dot_i16x8(x1, y1)));
        aa = wasm_i32x4_add(aa, wasm_i32x4_add(wasm_i32x4_dot_i16x8(x0, x0), wasm_i32x4_dot_i16x8(x1, x1)));
        bb = wasm_i32x4_add(bb, wasm_i32x4_add(wasm_i32x4_dot_i16x8(y0, y0), wasm_i32x4_dot_i16x8(y1, y1)));
    }
    int64_t l2 = 0;
    s[0] += kestrel_wasm_hsum_i32(ab);
    s[1] += kestrel_wasm_hsum_i32(aa);
    s[2] += kestrel_wasm_hsum_i32(bb);
    tail_i8(a, b, i, hi, &s[0], &s[1], &s[2], &l2);
}

KESTREL_I8_PAIR_KERNELS(wasm_simd128, 1, dot_block, l2sq_block, cos_block)

KESTREL_DEFINE_I8_MANY(kestrel_dot_i8_many_wasm_simd128, kestrel_dot_i8_wasm_simd128)

KESTREL_DEFINE_I8_MANY(kestrel_l2sq_i8_many_wasm_simd128, kestrel_l2sq_i8_wasm_simd128)

KESTREL_DEFINE_MANY(kestrel_cosine_i8_many_wasm_simd128, int8_t, float, kestrel_cosine_i8_wasm_simd128)

/* ---- packed binary ---- */

/* Popcounts of (a op b) over [0, n): op 0 = xor (into h), op 1 = and (into h) and or (into u). */
static inline void popcounts(int jaccard, const uint8_t *a, const uint8_t *b, size_t n, uint64_t *h, uint64_t *u) {
    size_t i = 0;
    while (i + 16 <= n) {
        /* u16 lanes gain at most 2 * 8 per step: 2048 steps stay below 2^16 */
        const size_t end = n - i > 2048 * 16 ? i + 2048 * 16 : n;
        v128_t c0 = wasm_i16x8_splat(0), c1 = wasm_i16x8_splat(0);
        for (; i + 16 <= end; i += 16) {
            const v128_t x = wasm_v128_load(a + i), y = wasm_v128_load(b + i);
            if (jaccard) {
                c0 = wasm_i16x8_add(c0, wasm_u16x8_extadd_pairwise_u8x16(wasm_i8x16_popcnt(wasm_v128_and(x, y))));
                c1 = wasm_i16x8_add(c1, wasm_u16x8_extadd_pairwise_u8x16(wasm_i8x16_popcnt(wasm_v128_or(x, y))));
            } else {
                c0 = wasm_i16x8_add(c0, wasm_u16x8_extadd_pairwise_u8x16(wasm_i8x16_popcnt(wasm_v128_xor(x, y))));
            }
        }
        *h += (uint32_t)kestrel_wasm_hsum_i32(wasm_u32x4_extadd_pairwise_u16x8(c0));
        if (jaccard) *u += (uint32_t)kestrel_wasm_hsum_i32(wasm_u32x4_extadd_pairwise_u16x8(c1));
    }
    if (jaccard) {
        kestrel_b1_and_or_popcount(a + i, b + i, n - i, h, u);
    } else {
        *h += kestrel_b1_xor_popcount(a + i, b + i, n - i);
    }
}

uint64_t kestrel_hamming_b1_wasm_simd128(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    uint64_t h = 0;
    popcounts(0, a, b, nbytes, &h, NULL);
    return h;
}

float kestrel_jaccard_b1_wasm_simd128(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    uint64_t inter = 0, uni = 0;
    popcounts(1, a, b, nbytes, &inter, &uni);
    return kestrel_jaccard_finish(inter, uni);
}

KESTREL_DEFINE_MANY(kestrel_hamming_b1_many_wasm_simd128, uint8_t, uint32_t, kestrel_hamming_b1_wasm_simd128)
KESTREL_DEFINE_MANY(kestrel_jaccard_b1_many_wasm_simd128, uint8_t, float, kestrel_jaccard_b1_wasm_simd128)

#endif /* KESTREL_WASM_SIMD128 */
