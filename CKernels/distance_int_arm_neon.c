/*
 * NEON and NEON dot-product int8 and packed-binary distances. Every result equals the scalar
 * reference exactly.
 *
 * NEON: vmull_s8 forms eight exact int16 products (each in [-16256, 16384]) and vpadalq_s16
 * adds them pairwise into int32 lanes. Two products are never summed in int16
 * (-128 * -128 * 2 = 32768 would wrap), so there is no vmlal_s8. l2sq: vabdq_s8 gives |a - b|,
 * exact as an unsigned byte (0..255); vmull_u8 squares it exactly in uint16 (<= 65025) and
 * vpadalq_u16 adds pairs into uint32 lanes.
 * NEON dotprod: vdotq_s32 (sdot) adds four exact int8 products into an int32 lane; l2sq uses
 * vdotq_u32 (udot) on |a - b|.
 * int32 lanes see at most KESTREL_I8_BLOCK elements before being added into 64-bit totals
 * (16384 * 255^2 < 2^31), so nothing wraps for any n.
 *
 * Popcounts: vcntq_u8 byte counts, summed for at most 31 steps (31 * 8 fits a byte), then
 * reduced with vaddlvq_u8.
 *
 * Tails: 16-byte steps, one 8-byte step, then at most 7 scalar elements; nothing is read
 * outside [a, a + n).
 */
#include "internal/distance_int_driver.h"

#if KESTREL_ARM64
#include <arm_neon.h>

static inline int32x4_t dot8_acc(int32x4_t acc, int8x8_t a, int8x8_t b) { return vpadalq_s16(acc, vmull_s8(a, b)); }
static inline int32x4_t dot16_lo(int32x4_t acc, int8x16_t a, int8x16_t b) {
    return vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
}
static inline int32x4_t dot16_hi(int32x4_t acc, int8x16_t a, int8x16_t b) { return vpadalq_s16(acc, vmull_high_s8(a, b)); }

static inline uint8x16_t absdiff16(int8x16_t a, int8x16_t b) { return vreinterpretq_u8_s8(vabdq_s8(a, b)); }
static inline uint32x4_t sq16_lo(uint32x4_t acc, uint8x16_t d) {
    return vpadalq_u16(acc, vmull_u8(vget_low_u8(d), vget_low_u8(d)));
}
static inline uint32x4_t sq16_hi(uint32x4_t acc, uint8x16_t d) { return vpadalq_u16(acc, vmull_high_u8(d, d)); }
static inline uint32x4_t sq8(uint32x4_t acc, int8x8_t a, int8x8_t b) {
    uint8x8_t d = vreinterpret_u8_s8(vabd_s8(a, b));
    return vpadalq_u16(acc, vmull_u8(d, d));
}

/* Scalar remainder [i, hi) (< 8 elements) of a one-pair cosine block: adds a.b, a.a, b.b to s[0..2]. */
static inline void cos_rest(const int8_t *a, const int8_t *b, size_t i, size_t hi, int64_t s[3]) {
    for (; i < hi; i++) {
        int32_t x = a[i], y = b[i];
        s[0] += x * y;
        s[1] += x * x;
        s[2] += y * y;
    }
}

/* Scalar remainder [i, hi) (< 8 elements) of one scanned row, added to *s0 / *s1 as the rows_block functions do. */
static inline void rows_rest(int kind, const int8_t *q, const int8_t *r, size_t i, size_t hi, int64_t *s0,
                             int64_t *s1) {
    for (; i < hi; i++) {
        int32_t x = q[i], y = r[i];
        if (kind == K_L2) {
            *s0 += (x - y) * (x - y);
        } else {
            *s0 += x * y;
            if (kind == K_COS) *s1 += y * y;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* NEON, one pair                                                                              */
/* ------------------------------------------------------------------------------------------ */

static int64_t dot_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (; i + 32 <= hi; i += 32) {
        int8x16_t a0 = vld1q_s8(a + i), b0 = vld1q_s8(b + i), a1 = vld1q_s8(a + i + 16), b1 = vld1q_s8(b + i + 16);
        acc0 = dot16_lo(acc0, a0, b0);
        acc1 = dot16_hi(acc1, a0, b0);
        acc2 = dot16_lo(acc2, a1, b1);
        acc3 = dot16_hi(acc3, a1, b1);
    }
    if (i + 16 <= hi) {
        int8x16_t a0 = vld1q_s8(a + i), b0 = vld1q_s8(b + i);
        acc0 = dot16_lo(acc0, a0, b0);
        acc1 = dot16_hi(acc1, a0, b0);
        i += 16;
    }
    if (i + 8 <= hi) {
        acc2 = dot8_acc(acc2, vld1_s8(a + i), vld1_s8(b + i));
        i += 8;
    }
    int64_t s = vaddlvq_s32(vaddq_s32(vaddq_s32(acc0, acc1), vaddq_s32(acc2, acc3)));
    for (; i < hi; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static int64_t l2sq_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    uint32x4_t acc0 = vdupq_n_u32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (; i + 32 <= hi; i += 32) {
        uint8x16_t d0 = absdiff16(vld1q_s8(a + i), vld1q_s8(b + i));
        uint8x16_t d1 = absdiff16(vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
        acc0 = sq16_lo(acc0, d0);
        acc1 = sq16_hi(acc1, d0);
        acc2 = sq16_lo(acc2, d1);
        acc3 = sq16_hi(acc3, d1);
    }
    if (i + 16 <= hi) {
        uint8x16_t d0 = absdiff16(vld1q_s8(a + i), vld1q_s8(b + i));
        acc0 = sq16_lo(acc0, d0);
        acc1 = sq16_hi(acc1, d0);
        i += 16;
    }
    if (i + 8 <= hi) {
        acc2 = sq8(acc2, vld1_s8(a + i), vld1_s8(b + i));
        i += 8;
    }
    int64_t s = (int64_t)vaddlvq_u32(vaddq_u32(vaddq_u32(acc0, acc1), vaddq_u32(acc2, acc3)));
    for (; i < hi; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

static void cos_block(const int8_t *a, const int8_t *b, size_t i, size_t hi, int64_t s[3]) {
    int32x4_t ab0 = vdupq_n_s32(0), ab1 = ab0, aa0 = ab0, aa1 = ab0, bb0 = ab0, bb1 = ab0;
    for (; i + 16 <= hi; i += 16) {
        int8x16_t va = vld1q_s8(a + i), vb = vld1q_s8(b + i);
        ab0 = dot16_lo(ab0, va, vb);
        ab1 = dot16_hi(ab1, va, vb);
        aa0 = dot16_lo(aa0, va, va);
        aa1 = dot16_hi(aa1, va, va);
        bb0 = dot16_lo(bb0, vb, vb);
        bb1 = dot16_hi(bb1, vb, vb);
    }
    if (i + 8 <= hi) {
        int8x8_t va = vld1_s8(a + i), vb = vld1_s8(b + i);
        ab0 = dot8_acc(ab0, va, vb);
        aa0 = dot8_acc(aa0, va, va);
        bb0 = dot8_acc(bb0, vb, vb);
        i += 8;
    }
    s[0] += vaddlvq_s32(vaddq_s32(ab0, ab1));
    s[1] += vaddlvq_s32(vaddq_s32(aa0, aa1));
    s[2] += vaddlvq_s32(vaddq_s32(bb0, bb1));
    cos_rest(a, b, i, hi, s);
}

KESTREL_I8_PAIR_KERNELS(neon, 1, dot_block, l2sq_block, cos_block)

/* ------------------------------------------------------------------------------------------ */
/* One query against many rows (both tiers): four rows per pass share the query loads          */
/* ------------------------------------------------------------------------------------------ */

/*
 * For R (1 or 4) rows and the elements [i, hi) (at most KESTREL_I8_BLOCK of them):
 * s0[k] += q.r_k (K_DOT, K_COS) or |q - r_k|^2 (K_L2); s1[k] += r_k.r_k (K_COS).
 * The rows `ahead` bytes further on are prefetched, one cache line per row per 64 elements.
 */
static KESTREL_ALWAYS_INLINE void neon_rows_block(int kind, int R, const int8_t *q,
                                                                  const int8_t *const r[4], size_t ahead,
                                                                  size_t i, size_t hi, int64_t s0[4], int64_t s1[4]) {
    int32x4_t x0[4], x1[4], y0[4], y1[4];
    uint32x4_t u0[4], u1[4];
    for (int k = 0; k < 4; k++) {
        x0[k] = x1[k] = y0[k] = y1[k] = vdupq_n_s32(0);
        u0[k] = u1[k] = vdupq_n_u32(0);
    }
    const size_t lo = i;
    for (; i + 16 <= hi; i += 16) {
        if (((i - lo) & 63) == 0)
            if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
                for (int k = 0; k < R; k++) __builtin_prefetch(r[k] + ahead + i, 0, 3);
        int8x16_t vq = vld1q_s8(q + i);
        for (int k = 0; k < R; k++) {
            int8x16_t vr = vld1q_s8(r[k] + i);
            if (kind == K_L2) {
                uint8x16_t d = absdiff16(vq, vr);
                u0[k] = sq16_lo(u0[k], d);
                u1[k] = sq16_hi(u1[k], d);
            } else {
                x0[k] = dot16_lo(x0[k], vq, vr);
                x1[k] = dot16_hi(x1[k], vq, vr);
                if (kind == K_COS) {
                    y0[k] = dot16_lo(y0[k], vr, vr);
                    y1[k] = dot16_hi(y1[k], vr, vr);
                }
            }
        }
    }
    if (i + 8 <= hi) {
        int8x8_t vq = vld1_s8(q + i);
        for (int k = 0; k < R; k++) {
            int8x8_t vr = vld1_s8(r[k] + i);
            if (kind == K_L2) {
                u0[k] = sq8(u0[k], vq, vr);
            } else {
                x0[k] = dot8_acc(x0[k], vq, vr);
                if (kind == K_COS) y0[k] = dot8_acc(y0[k], vr, vr);
            }
        }
        i += 8;
    }
    for (int k = 0; k < R; k++) {
        if (kind == K_L2) {
            s0[k] += (int64_t)vaddlvq_u32(vaddq_u32(u0[k], u1[k]));
        } else {
            s0[k] += vaddlvq_s32(vaddq_s32(x0[k], x1[k]));
            if (kind == K_COS) s1[k] += vaddlvq_s32(vaddq_s32(y0[k], y1[k]));
        }
        rows_rest(kind, q, r[k], i, hi, &s0[k], &s1[k]);
    }
}

#define NBLOCK_DOT(R, r, ahead, lo, hi, s0, s1, s2) (neon_rows_block(K_DOT, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))
#define NBLOCK_L2(R, r, ahead, lo, hi, s0, s1, s2) (neon_rows_block(K_L2, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))
#define NBLOCK_COS(R, r, ahead, lo, hi, s0, s1, s2) (neon_rows_block(K_COS, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))


KESTREL_I8_MANY_KERNELS(neon, 1, NBLOCK_DOT, NBLOCK_L2, NBLOCK_COS)

/* ------------------------------------------------------------------------------------------ */
/* Packed binary (NEON; the dotprod tier keeps these)                                          */
/* ------------------------------------------------------------------------------------------ */

uint64_t kestrel_hamming_b1_neon(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t s = 0;
    size_t i = 0;
    while (i + 16 <= n) {
        size_t steps = (n - i) / 16;
        if (steps > 31) steps = 31; /* byte counters hold at most 31 * 8 */
        uint8x16_t c = vdupq_n_u8(0);
        for (size_t e = i + steps * 16; i < e; i += 16) c = vaddq_u8(c, vcntq_u8(veorq_u8(vld1q_u8(a + i), vld1q_u8(b + i))));
        s += vaddlvq_u8(c);
    }
    if (i + 8 <= n) {
        s += vaddlv_u8(vcnt_u8(veor_u8(vld1_u8(a + i), vld1_u8(b + i))));
        i += 8;
    }
    for (; i < n; i++) s += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return s;
}

float kestrel_jaccard_b1_neon(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t inter = 0, uni = 0;
    size_t i = 0;
    while (i + 16 <= n) {
        size_t steps = (n - i) / 16;
        if (steps > 31) steps = 31;
        uint8x16_t ci = vdupq_n_u8(0), cu = vdupq_n_u8(0);
        for (size_t e = i + steps * 16; i < e; i += 16) {
            uint8x16_t va = vld1q_u8(a + i), vb = vld1q_u8(b + i);
            ci = vaddq_u8(ci, vcntq_u8(vandq_u8(va, vb)));
            cu = vaddq_u8(cu, vcntq_u8(vorrq_u8(va, vb)));
        }
        inter += vaddlvq_u8(ci);
        uni += vaddlvq_u8(cu);
    }
    if (i + 8 <= n) {
        uint8x8_t va = vld1_u8(a + i), vb = vld1_u8(b + i);
        inter += vaddlv_u8(vcnt_u8(vand_u8(va, vb)));
        uni += vaddlv_u8(vcnt_u8(vorr_u8(va, vb)));
        i += 8;
    }
    for (; i < n; i++) {
        inter += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        uni += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    return kestrel_jaccard_finish(inter, uni);
}

/*
 * R (1 or 4) rows of n bytes against q: h[k] = popcount(q ^ r_k) (hamming) or
 * h[k] = popcount(q & r_k), u[k] = popcount(q | r_k) (jaccard).
 */
static KESTREL_ALWAYS_INLINE void bin_rows(int jaccard, int R, const uint8_t *q,
                                                           const uint8_t *const r[4], size_t ahead,
                                                           size_t n, uint64_t h[4], uint64_t u[4]) {
    for (int k = 0; k < 4; k++) h[k] = u[k] = 0;
    size_t i = 0;
    while (i + 16 <= n) {
        size_t steps = (n - i) / 16;
        if (steps > 31) steps = 31;
        uint8x16_t ch[4], cu[4];
        for (int k = 0; k < 4; k++) ch[k] = cu[k] = vdupq_n_u8(0);
        for (size_t e = i + steps * 16; i < e; i += 16) {
            if ((i & 63) == 0)
                if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
                    for (int k = 0; k < R; k++) __builtin_prefetch(r[k] + ahead + i, 0, 3);
            uint8x16_t vq = vld1q_u8(q + i);
            for (int k = 0; k < R; k++) {
                uint8x16_t vr = vld1q_u8(r[k] + i);
                if (jaccard) {
                    ch[k] = vaddq_u8(ch[k], vcntq_u8(vandq_u8(vq, vr)));
                    cu[k] = vaddq_u8(cu[k], vcntq_u8(vorrq_u8(vq, vr)));
                } else {
                    ch[k] = vaddq_u8(ch[k], vcntq_u8(veorq_u8(vq, vr)));
                }
            }
        }
        for (int k = 0; k < R; k++) {
            h[k] += vaddlvq_u8(ch[k]);
            if (jaccard) u[k] += vaddlvq_u8(cu[k]);
        }
    }
    if (i + 8 <= n) {
        uint8x8_t vq = vld1_u8(q + i);
        for (int k = 0; k < R; k++) {
            uint8x8_t vr = vld1_u8(r[k] + i);
            if (jaccard) {
                h[k] += vaddlv_u8(vcnt_u8(vand_u8(vq, vr)));
                u[k] += vaddlv_u8(vcnt_u8(vorr_u8(vq, vr)));
            } else {
                h[k] += vaddlv_u8(vcnt_u8(veor_u8(vq, vr)));
            }
        }
        i += 8;
    }
    for (; i < n; i++)
        for (int k = 0; k < R; k++) {
            if (jaccard) {
                h[k] += (uint64_t)__builtin_popcount((unsigned)(q[i] & r[k][i]));
                u[k] += (uint64_t)__builtin_popcount((unsigned)(q[i] | r[k][i]));
            } else {
                h[k] += (uint64_t)__builtin_popcount((unsigned)(q[i] ^ r[k][i]));
            }
        }
}

KESTREL_BIN_MANY_KERNELS(neon, 1, bin_rows, 4, 4)

/* ============================================================================================ */
/* NEON dot product (sdot/udot)                                                                 */
/* ============================================================================================ */

KESTREL_TARGET_NEONDOT_BEGIN

static int64_t sdot_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (; i + 64 <= hi; i += 64) {
        acc0 = vdotq_s32(acc0, vld1q_s8(a + i), vld1q_s8(b + i));
        acc1 = vdotq_s32(acc1, vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
        acc2 = vdotq_s32(acc2, vld1q_s8(a + i + 32), vld1q_s8(b + i + 32));
        acc3 = vdotq_s32(acc3, vld1q_s8(a + i + 48), vld1q_s8(b + i + 48));
    }
    for (; i + 16 <= hi; i += 16) acc0 = vdotq_s32(acc0, vld1q_s8(a + i), vld1q_s8(b + i));
    int32x2_t acc8 = vdup_n_s32(0);
    if (i + 8 <= hi) {
        acc8 = vdot_s32(acc8, vld1_s8(a + i), vld1_s8(b + i));
        i += 8;
    }
    int64_t s = vaddlvq_s32(vaddq_s32(vaddq_s32(acc0, acc1), vaddq_s32(acc2, acc3))) + vaddlv_s32(acc8);
    for (; i < hi; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static int64_t udot_l2sq_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    uint32x4_t acc0 = vdupq_n_u32(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (; i + 64 <= hi; i += 64) {
        uint8x16_t d0 = absdiff16(vld1q_s8(a + i), vld1q_s8(b + i));
        uint8x16_t d1 = absdiff16(vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
        uint8x16_t d2 = absdiff16(vld1q_s8(a + i + 32), vld1q_s8(b + i + 32));
        uint8x16_t d3 = absdiff16(vld1q_s8(a + i + 48), vld1q_s8(b + i + 48));
        acc0 = vdotq_u32(acc0, d0, d0);
        acc1 = vdotq_u32(acc1, d1, d1);
        acc2 = vdotq_u32(acc2, d2, d2);
        acc3 = vdotq_u32(acc3, d3, d3);
    }
    for (; i + 16 <= hi; i += 16) {
        uint8x16_t d = absdiff16(vld1q_s8(a + i), vld1q_s8(b + i));
        acc0 = vdotq_u32(acc0, d, d);
    }
    uint32x2_t acc8 = vdup_n_u32(0);
    if (i + 8 <= hi) {
        uint8x8_t d = vreinterpret_u8_s8(vabd_s8(vld1_s8(a + i), vld1_s8(b + i)));
        acc8 = vdot_u32(acc8, d, d);
        i += 8;
    }
    int64_t s = (int64_t)(vaddlvq_u32(vaddq_u32(vaddq_u32(acc0, acc1), vaddq_u32(acc2, acc3))) + vaddlv_u32(acc8));
    for (; i < hi; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

static void sdot_cos_block(const int8_t *a, const int8_t *b, size_t i, size_t hi, int64_t s[3]) {
    int32x4_t ab0 = vdupq_n_s32(0), ab1 = ab0, aa0 = ab0, aa1 = ab0, bb0 = ab0, bb1 = ab0;
    for (; i + 32 <= hi; i += 32) {
        int8x16_t a0 = vld1q_s8(a + i), b0 = vld1q_s8(b + i), a1 = vld1q_s8(a + i + 16), b1 = vld1q_s8(b + i + 16);
        ab0 = vdotq_s32(ab0, a0, b0);
        aa0 = vdotq_s32(aa0, a0, a0);
        bb0 = vdotq_s32(bb0, b0, b0);
        ab1 = vdotq_s32(ab1, a1, b1);
        aa1 = vdotq_s32(aa1, a1, a1);
        bb1 = vdotq_s32(bb1, b1, b1);
    }
    if (i + 16 <= hi) {
        int8x16_t a0 = vld1q_s8(a + i), b0 = vld1q_s8(b + i);
        ab0 = vdotq_s32(ab0, a0, b0);
        aa0 = vdotq_s32(aa0, a0, a0);
        bb0 = vdotq_s32(bb0, b0, b0);
        i += 16;
    }
    int32x2_t ab8 = vdup_n_s32(0), aa8 = ab8, bb8 = ab8;
    if (i + 8 <= hi) {
        int8x8_t va = vld1_s8(a + i), vb = vld1_s8(b + i);
        ab8 = vdot_s32(ab8, va, vb);
        aa8 = vdot_s32(aa8, va, va);
        bb8 = vdot_s32(bb8, vb, vb);
        i += 8;
    }
    s[0] += vaddlvq_s32(vaddq_s32(ab0, ab1)) + vaddlv_s32(ab8);
    s[1] += vaddlvq_s32(vaddq_s32(aa0, aa1)) + vaddlv_s32(aa8);
    s[2] += vaddlvq_s32(vaddq_s32(bb0, bb1)) + vaddlv_s32(bb8);
    cos_rest(a, b, i, hi, s);
}

KESTREL_I8_PAIR_KERNELS(neondot, 1, sdot_block, udot_l2sq_block, sdot_cos_block)

/* As neon_rows_block, with sdot/udot. */
static KESTREL_ALWAYS_INLINE void sdot_rows_block(int kind, int R, const int8_t *q,
                                                                  const int8_t *const r[4], size_t ahead,
                                                                  size_t i, size_t hi, int64_t s0[4], int64_t s1[4]) {
    int32x4_t x[4], y[4];
    uint32x4_t u[4];
    for (int k = 0; k < 4; k++) {
        x[k] = y[k] = vdupq_n_s32(0);
        u[k] = vdupq_n_u32(0);
    }
    const size_t lo = i;
    for (; i + 16 <= hi; i += 16) {
        if (((i - lo) & 63) == 0)
            if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
                for (int k = 0; k < R; k++) __builtin_prefetch(r[k] + ahead + i, 0, 3);
        int8x16_t vq = vld1q_s8(q + i);
        for (int k = 0; k < R; k++) {
            int8x16_t vr = vld1q_s8(r[k] + i);
            if (kind == K_L2) {
                uint8x16_t d = absdiff16(vq, vr);
                u[k] = vdotq_u32(u[k], d, d);
            } else {
                x[k] = vdotq_s32(x[k], vq, vr);
                if (kind == K_COS) y[k] = vdotq_s32(y[k], vr, vr);
            }
        }
    }
    for (int k = 0; k < R; k++) {
        if (kind == K_L2) {
            s0[k] += (int64_t)vaddlvq_u32(u[k]);
        } else {
            s0[k] += vaddlvq_s32(x[k]);
            if (kind == K_COS) s1[k] += vaddlvq_s32(y[k]);
        }
    }
    if (i + 8 <= hi) {
        int8x8_t vq = vld1_s8(q + i);
        for (int k = 0; k < R; k++) {
            int8x8_t vr = vld1_s8(r[k] + i);
            if (kind == K_L2) {
                uint8x8_t d = vreinterpret_u8_s8(vabd_s8(vq, vr));
                s0[k] += (int64_t)vaddlv_u32(vdot_u32(vdup_n_u32(0), d, d));
            } else {
                s0[k] += vaddlv_s32(vdot_s32(vdup_n_s32(0), vq, vr));
                if (kind == K_COS) s1[k] += vaddlv_s32(vdot_s32(vdup_n_s32(0), vr, vr));
            }
        }
        i += 8;
    }
    for (int k = 0; k < R; k++) rows_rest(kind, q, r[k], i, hi, &s0[k], &s1[k]);
}

#define DBLOCK_DOT(R, r, ahead, lo, hi, s0, s1, s2) (sdot_rows_block(K_DOT, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))
#define DBLOCK_L2(R, r, ahead, lo, hi, s0, s1, s2) (sdot_rows_block(K_L2, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))
#define DBLOCK_COS(R, r, ahead, lo, hi, s0, s1, s2) (sdot_rows_block(K_COS, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))


KESTREL_I8_MANY_KERNELS(neondot, 1, DBLOCK_DOT, DBLOCK_L2, DBLOCK_COS)

KESTREL_TARGET_END

#endif /* KESTREL_ARM64 */
