/*
 * WebAssembly SIMD (simd128) tier of the f32 / f16 / bf16 distances, for the wasm32 module of
 * CKernels/wasm/build.sh. simd128 has no FMA, so each step is a rounded multiply then a rounded
 * add (the order of the other tiers' drivers otherwise: U = 4 accumulators of 4 lanes, summed
 * as (0 + 1) + (2 + 3), lanes as (l0 + l2) + (l1 + l3)). f16 is widened exactly with integer
 * operations and one scale (kestrel_wasm_f16_to_f32); bf16 by a 16-bit shift or a mask; halves
 * are split into even and odd elements rather than shuffled into order. The last partial
 * chunk is read through a zero-padded copy. Results agree with the scalar tier within the
 * bound of kestrel_kernels.h (n * 2^-24 of sum |a_i b_i|); the one-to-many kernels return the
 * one-pair kernels' bits.
 */
#include "internal/distance_float_simd.h"
#include "internal/kestrel_wasm_simd.h"

#if KESTREL_WASM_SIMD128

enum { W = 4, U = 4, CHUNK = W * U };
/* Engines map v128 onto 16 SSE registers on x86-64: 2 rows x 4 accumulators + 4 query vectors. */
enum { ROWS_DL = 2, ROWS_COS = 1, MAX_ROWS = 2 };
typedef v128_t vfloat;

/*
 * Half-precision chunks are widened without shuffles: u32 lane j of a 16-byte load holds
 * elements 2j (low half) and 2j + 1 (high half), so the even elements go to one vector and the
 * odd ones to the next. Both operands go through the same permutation, so products still pair
 * element with element; only the order of the sums changes.
 */
ALWAYS_INLINE void load_chunk(elem_kind k, const uint8_t *p, v128_t v[U]) {
    if (k == K_F32) {
        UNROLL for (int u = 0; u < U; u++) v[u] = kestrel_wasm_load_at(p, 16 * u);
    } else {
        UNROLL for (int h = 0; h < U / 2; h++) {
            const v128_t x = kestrel_wasm_load_at(p, 16 * h);
            if (k == K_F16) {
                v[2 * h] = kestrel_wasm_f16_to_f32(wasm_v128_and(x, wasm_i32x4_splat(0xffff)));
                v[2 * h + 1] = kestrel_wasm_f16_to_f32(wasm_u32x4_shr(x, 16));
            } else {
                v[2 * h] = wasm_i32x4_shl(x, 16);
                v[2 * h + 1] = wasm_v128_and(x, wasm_i32x4_splat((int32_t)0xffff0000u));
            }
        }
    }
}

ALWAYS_INLINE void load_tail(elem_kind k, const uint8_t *p, size_t left, v128_t v[U]) {
    uint8_t buf[64] __attribute__((aligned(16)));
    kestrel_wasm_copy_tail(buf, p, left * elem_bytes(k));
    load_chunk(k, buf, v);
}

ALWAYS_INLINE void accumulate(dist_op op, const v128_t qv[U], const v128_t rv[U], v128_t acc[U], v128_t acc2[U]) {
    UNROLL for (int u = 0; u < U; u++) {
        if (op == OP_DOT) {
            acc[u] = wasm_f32x4_add(acc[u], wasm_f32x4_mul(qv[u], rv[u]));
        } else if (op == OP_L2) {
            const v128_t d = wasm_f32x4_sub(qv[u], rv[u]);
            acc[u] = wasm_f32x4_add(acc[u], wasm_f32x4_mul(d, d));
        } else {
            acc[u] = wasm_f32x4_add(acc[u], wasm_f32x4_mul(qv[u], rv[u]));
            acc2[u] = wasm_f32x4_add(acc2[u], wasm_f32x4_mul(rv[u], rv[u]));
        }
    }
}

ALWAYS_INLINE vfloat vzero(void) { return wasm_f32x4_splat(0.0f); }

ALWAYS_INLINE float reduce(const v128_t acc[U]) {
    return kestrel_wasm_hsum(wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[1]), wasm_f32x4_add(acc[2], acc[3])));
}

#define CHUNK_LOOP_HINT _Pragma("clang loop unroll_count(2)")
#include "internal/distance_float_driver.h"

KESTREL_FLOAT_TIER_KERNELS(wasm_simd128)

#endif /* KESTREL_WASM_SIMD128 */
