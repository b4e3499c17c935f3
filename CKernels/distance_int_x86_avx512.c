/*
 * AVX-512 (F/BW/VL/DQ) and AVX-512 VNNI int8 and packed-binary distances. Every result
 * equals the scalar reference exactly. Tails use masked loads (masked-off bytes read as 0 and
 * are never touched in memory), so there is no scalar path and nothing is read outside [a, a + n).
 *
 * AVX-512 BW: as the AVX2 file, on 64-byte vectors: int8 sign-extended to int16 (vpmovsxbw),
 * vpmaddwd into int32 (a pair of products is in [-32512, 32768]); l2sq squares the exact
 * unsigned |a - b| = max - min, zero-extended to int16.
 *
 * VNNI: vpdpbusd multiplies unsigned by signed bytes and adds four products into an int32 lane
 * without saturation. For signed x signed, one operand is biased: x ^ 0x80 = x + 128 in 0..255,
 * so dpbusd(x ^ 0x80, y) = x.y + 128 * sum(y), and the correction 128 * sum(y) is either
 * computed with a second vpdpbusd (one pair) or from the query's sum, once (one-to-many).
 * Masked-off tail bytes are 0 in y, so their biased partner (128) contributes nothing. l2sq and
 * cosine of one pair use vpdpwssd on int16-widened data.
 *
 * Bounds: int32 lanes see at most KESTREL_I8_BLOCK elements before being added into int64
 * totals; per element the largest term is 255 * 128 (biased dot) or 255^2 (l2sq), and
 * 16384 * 255^2 < 2^31, so no lane or partial sum wraps.
 */
#include "internal/distance_int_driver.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

/* Mask of the first r bytes, 0 <= r <= 64 (bzhi leaves all 64 bits for r = 64). */
static inline __mmask64 first_bytes(size_t r) { return (__mmask64)_bzhi_u64(~0ULL, (unsigned)r); }
static inline __m512i load64(const void *p) { return _mm512_loadu_si512(p); }
static inline __m512i load64_tail(__mmask64 m, const void *p) { return _mm512_maskz_loadu_epi8(m, p); }
static inline __m512i widen32(const int8_t *p) { return _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)p)); }
static inline __m512i widen32_tail(__mmask32 m, const int8_t *p) {
    return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

static inline __m512i absdiff_i8(__m512i a, __m512i b) {
    return _mm512_sub_epi8(_mm512_max_epi8(a, b), _mm512_min_epi8(a, b));
}

/* Sum of |d|^2 over the 64 unsigned bytes of d, as sixteen int32 lanes. */
static inline __m512i sq_u8(__m512i d) {
    const __m512i z = _mm512_setzero_si512();
    __m512i lo = _mm512_unpacklo_epi8(d, z), hi = _mm512_unpackhi_epi8(d, z);
    return _mm512_add_epi32(_mm512_madd_epi16(lo, lo), _mm512_madd_epi16(hi, hi));
}

/* [sum(v0), sum(v1), sum(v2), sum(v3)] of int32 lanes. */
static inline __m128i hsum4_i32(__m512i v0, __m512i v1, __m512i v2, __m512i v3) {
    __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(v0, v1), _mm512_unpackhi_epi32(v0, v1));
    __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(v2, v3), _mm512_unpackhi_epi32(v2, v3));
    __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
    __m256i y = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
}

/* [sum(v0), sum(v1)] and [sum(v2), sum(v3)] of uint64 lanes, stored to out[0..3]. */
static inline void hsum4_u64(__m512i v0, __m512i v1, __m512i v2, __m512i v3, uint64_t out[4]) {
    __m512i t0 = _mm512_add_epi64(_mm512_unpacklo_epi64(v0, v1), _mm512_unpackhi_epi64(v0, v1));
    __m512i t1 = _mm512_add_epi64(_mm512_unpacklo_epi64(v2, v3), _mm512_unpackhi_epi64(v2, v3));
    __m512i c = _mm512_add_epi64(_mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
    __m512i e = _mm512_add_epi64(c, _mm512_shuffle_i64x2(c, c, _MM_SHUFFLE(2, 3, 0, 1)));
    _mm_storeu_si128((__m128i *)out, _mm512_castsi512_si128(e));
    _mm_storeu_si128((__m128i *)(out + 2), _mm512_extracti64x2_epi64(e, 2));
}

static inline __m512i popcnt_u8(__m512i x) {
    const __m512i lut =
        _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(x, low));
    __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(x, 4), low));
    return _mm512_add_epi8(lo, hi);
}

static inline __m512i sad0(__m512i c) { return _mm512_sad_epu8(c, _mm512_setzero_si512()); }

/* ------------------------------------------------------------------------------------------ */
/* int8, one pair                                                                              */
/* ------------------------------------------------------------------------------------------ */

static int64_t dot_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (; i + 64 <= hi; i += 64) {
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(widen32(a + i), widen32(b + i)));
        acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(widen32(a + i + 32), widen32(b + i + 32)));
    }
    if (i < hi) {
        __mmask64 m = first_bytes(hi - i);
        __mmask32 m0 = (__mmask32)m, m1 = (__mmask32)(m >> 32);
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(widen32_tail(m0, a + i), widen32_tail(m0, b + i)));
        acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(widen32_tail(m1, a + i + 32), widen32_tail(m1, b + i + 32)));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}

static int64_t l2sq_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (; i + 128 <= hi; i += 128) {
        acc0 = _mm512_add_epi32(acc0, sq_u8(absdiff_i8(load64(a + i), load64(b + i))));
        acc1 = _mm512_add_epi32(acc1, sq_u8(absdiff_i8(load64(a + i + 64), load64(b + i + 64))));
    }
    for (; i < hi; i += 64) {
        __mmask64 m = first_bytes(hi - i);
        acc0 = _mm512_add_epi32(acc0, sq_u8(absdiff_i8(load64_tail(m, a + i), load64_tail(m, b + i))));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}

/* The 64 elements at a + i and b + i, as two int16 vectors each; elements from hi on read as 0. */
static inline void widen_step(const int8_t *a, const int8_t *b, size_t i, size_t hi, __m512i *a0, __m512i *a1,
                              __m512i *b0, __m512i *b1) {
    if (i + 64 <= hi) {
        *a0 = widen32(a + i), *a1 = widen32(a + i + 32), *b0 = widen32(b + i), *b1 = widen32(b + i + 32);
    } else {
        __mmask64 m = first_bytes(hi - i);
        __mmask32 m0 = (__mmask32)m, m1 = (__mmask32)(m >> 32);
        *a0 = widen32_tail(m0, a + i), *a1 = widen32_tail(m1, a + i + 32);
        *b0 = widen32_tail(m0, b + i), *b1 = widen32_tail(m1, b + i + 32);
    }
}

static void cos_block(const int8_t *a, const int8_t *b, size_t i, size_t hi, int64_t s[3]) {
    __m512i ab = _mm512_setzero_si512(), aa = _mm512_setzero_si512(), bb = _mm512_setzero_si512();
    for (; i < hi; i += 64) {
        __m512i a0, a1, b0, b1;
        widen_step(a, b, i, hi, &a0, &a1, &b0, &b1);
        ab = _mm512_add_epi32(ab, _mm512_add_epi32(_mm512_madd_epi16(a0, b0), _mm512_madd_epi16(a1, b1)));
        aa = _mm512_add_epi32(aa, _mm512_add_epi32(_mm512_madd_epi16(a0, a0), _mm512_madd_epi16(a1, a1)));
        bb = _mm512_add_epi32(bb, _mm512_add_epi32(_mm512_madd_epi16(b0, b0), _mm512_madd_epi16(b1, b1)));
    }
    s[0] += _mm512_reduce_add_epi32(ab);
    s[1] += _mm512_reduce_add_epi32(aa);
    s[2] += _mm512_reduce_add_epi32(bb);
}

KESTREL_I8_PAIR_KERNELS(avx512, 1, dot_block, l2sq_block, cos_block)

/* ------------------------------------------------------------------------------------------ */
/* int8, one query against many rows: four rows per pass share the query loads                */
/* ------------------------------------------------------------------------------------------ */

/*
 * One 64-element step of R (1 or 4) rows at offset i; m masks the valid bytes (all ones when
 * full). acc0[k] += q.r_k (K_DOT, K_COS) or |q - r_k|^2 (K_L2); acc1[k] += r_k.r_k (K_COS).
 */
static KESTREL_ALWAYS_INLINE void rows_step(int kind, int R, const int8_t *q, const int8_t *const r[4], size_t i,
                                            int full, __mmask64 m, __m512i acc0[4], __m512i acc1[4]) {
    __mmask32 m0 = (__mmask32)m, m1 = (__mmask32)(m >> 32);
    if (kind == K_L2) {
        __m512i vq = full ? load64(q + i) : load64_tail(m, q + i);
        for (int k = 0; k < R; k++) {
            __m512i vr = full ? load64(r[k] + i) : load64_tail(m, r[k] + i);
            acc0[k] = _mm512_add_epi32(acc0[k], sq_u8(absdiff_i8(vq, vr)));
        }
    } else {
        __m512i q0 = full ? widen32(q + i) : widen32_tail(m0, q + i);
        __m512i q1 = full ? widen32(q + i + 32) : widen32_tail(m1, q + i + 32);
        for (int k = 0; k < R; k++) {
            __m512i r0 = full ? widen32(r[k] + i) : widen32_tail(m0, r[k] + i);
            __m512i r1 = full ? widen32(r[k] + i + 32) : widen32_tail(m1, r[k] + i + 32);
            acc0[k] = _mm512_add_epi32(acc0[k], _mm512_add_epi32(_mm512_madd_epi16(q0, r0), _mm512_madd_epi16(q1, r1)));
            if (kind == K_COS)
                acc1[k] = _mm512_add_epi32(acc1[k], _mm512_add_epi32(_mm512_madd_epi16(r0, r0), _mm512_madd_epi16(r1, r1)));
        }
    }
}

/*
 * For R rows and the elements [i, hi) (at most KESTREL_I8_BLOCK of them): s0[k] and s1[k]
 * receive the sums of rows_step. The rows `ahead` bytes further on are prefetched, one cache
 * line per row and step.
 */
static KESTREL_ALWAYS_INLINE void rows_block(int kind, int R, const int8_t *q, const int8_t *const r[4],
                                             size_t ahead, size_t i, size_t hi, int64_t s0[4], int64_t s1[4]) {
    __m512i acc0[4], acc1[4];
    for (int k = 0; k < 4; k++) acc0[k] = acc1[k] = _mm512_setzero_si512();
    for (; i + 64 <= hi; i += 64) {
        if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
            for (int k = 0; k < R; k++) _mm_prefetch((const char *)(r[k] + ahead + i), _MM_HINT_T0);
        rows_step(kind, R, q, r, i, 1, ~(__mmask64)0, acc0, acc1);
    }
    if (i < hi) rows_step(kind, R, q, r, i, 0, first_bytes(hi - i), acc0, acc1);
    int32_t t[4];
    _mm_storeu_si128((__m128i *)t, hsum4_i32(acc0[0], acc0[1], acc0[2], acc0[3]));
    for (int k = 0; k < R; k++) s0[k] += t[k];
    if (kind == K_COS) {
        _mm_storeu_si128((__m128i *)t, hsum4_i32(acc1[0], acc1[1], acc1[2], acc1[3]));
        for (int k = 0; k < R; k++) s1[k] += t[k];
    }
}

/* rows_block as the BLOCK of KESTREL_I8_ROWS_SCAN (no third sum). */
#define BLOCK_DOT(R, r, ahead, lo, hi, s0, s1, s2) (rows_block(K_DOT, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))
#define BLOCK_L2(R, r, ahead, lo, hi, s0, s1, s2) (rows_block(K_L2, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))
#define BLOCK_COS(R, r, ahead, lo, hi, s0, s1, s2) (rows_block(K_COS, R, q, r, ahead, lo, hi, s0, s1), (void)(s2))

KESTREL_I8_MANY_KERNELS(avx512, 1, BLOCK_DOT, BLOCK_L2, BLOCK_COS)

/* ------------------------------------------------------------------------------------------ */
/* Packed binary                                                                               */
/* ------------------------------------------------------------------------------------------ */

uint64_t kestrel_hamming_b1_avx512(const uint8_t *a, const uint8_t *b, size_t n) {
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    while (i + 64 <= n) {
        size_t steps = (n - i) / 64;
        if (steps > 31) steps = 31; /* byte counters hold at most 31 * 8 */
        __m512i c = _mm512_setzero_si512();
        for (size_t e = i + steps * 64; i < e; i += 64)
            c = _mm512_add_epi8(c, popcnt_u8(_mm512_xor_si512(load64(a + i), load64(b + i))));
        acc = _mm512_add_epi64(acc, sad0(c));
    }
    if (i < n) {
        __mmask64 m = first_bytes(n - i);
        acc = _mm512_add_epi64(acc, sad0(popcnt_u8(_mm512_xor_si512(load64_tail(m, a + i), load64_tail(m, b + i)))));
    }
    return (uint64_t)_mm512_reduce_add_epi64(acc);
}

float kestrel_jaccard_b1_avx512(const uint8_t *a, const uint8_t *b, size_t n) {
    __m512i acc_i = _mm512_setzero_si512(), acc_u = _mm512_setzero_si512();
    size_t i = 0;
    while (i + 64 <= n) {
        size_t steps = (n - i) / 64;
        if (steps > 31) steps = 31;
        __m512i ci = _mm512_setzero_si512(), cu = _mm512_setzero_si512();
        for (size_t e = i + steps * 64; i < e; i += 64) {
            __m512i va = load64(a + i), vb = load64(b + i);
            ci = _mm512_add_epi8(ci, popcnt_u8(_mm512_and_si512(va, vb)));
            cu = _mm512_add_epi8(cu, popcnt_u8(_mm512_or_si512(va, vb)));
        }
        acc_i = _mm512_add_epi64(acc_i, sad0(ci));
        acc_u = _mm512_add_epi64(acc_u, sad0(cu));
    }
    if (i < n) {
        __mmask64 m = first_bytes(n - i);
        __m512i va = load64_tail(m, a + i), vb = load64_tail(m, b + i);
        acc_i = _mm512_add_epi64(acc_i, sad0(popcnt_u8(_mm512_and_si512(va, vb))));
        acc_u = _mm512_add_epi64(acc_u, sad0(popcnt_u8(_mm512_or_si512(va, vb))));
    }
    return kestrel_jaccard_finish((uint64_t)_mm512_reduce_add_epi64(acc_i), (uint64_t)_mm512_reduce_add_epi64(acc_u));
}

/* One 64-byte step of R rows at offset i: byte counts of q ^ r_k (or q & r_k and q | r_k). */
static KESTREL_ALWAYS_INLINE void bin_step(int jaccard, int R, const uint8_t *q, const uint8_t *const r[4], size_t i,
                                           int full, __mmask64 m, __m512i ch[4], __m512i cu[4]) {
    __m512i vq = full ? load64(q + i) : load64_tail(m, q + i);
    for (int k = 0; k < R; k++) {
        __m512i vr = full ? load64(r[k] + i) : load64_tail(m, r[k] + i);
        if (jaccard) {
            ch[k] = _mm512_add_epi8(ch[k], popcnt_u8(_mm512_and_si512(vq, vr)));
            cu[k] = _mm512_add_epi8(cu[k], popcnt_u8(_mm512_or_si512(vq, vr)));
        } else {
            ch[k] = _mm512_add_epi8(ch[k], popcnt_u8(_mm512_xor_si512(vq, vr)));
        }
    }
}

/*
 * R (1 or 4) rows of n >= 1 bytes against q: h[k] = popcount(q ^ r_k) (hamming) or
 * h[k] = popcount(q & r_k), u[k] = popcount(q | r_k) (jaccard). Rows `ahead` bytes further on
 * are prefetched.
 */
static KESTREL_ALWAYS_INLINE void bin_rows(int jaccard, int R, const uint8_t *q, const uint8_t *const r[4],
                                           size_t ahead, size_t n, uint64_t h[4], uint64_t u[4]) {
    __m512i acc_h[4], acc_u[4], ch[4], cu[4];
    for (int k = 0; k < 4; k++) acc_h[k] = acc_u[k] = _mm512_setzero_si512();
    size_t i = 0;
    for (;;) {
        size_t steps = (n - i) / 64;
        if (steps > 31) steps = 31; /* byte counters hold at most 31 * 8 */
        for (int k = 0; k < 4; k++) ch[k] = cu[k] = _mm512_setzero_si512();
        for (size_t e = i + steps * 64; i < e; i += 64) {
            if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
                for (int k = 0; k < R; k++) _mm_prefetch((const char *)(r[k] + ahead + i), _MM_HINT_T0);
            bin_step(jaccard, R, q, r, i, 1, ~(__mmask64)0, ch, cu);
        }
        int last = steps < 31;
        if (last && i < n) bin_step(jaccard, R, q, r, i, 0, first_bytes(n - i), ch, cu);
        for (int k = 0; k < R; k++) {
            acc_h[k] = _mm512_add_epi64(acc_h[k], sad0(ch[k]));
            if (jaccard) acc_u[k] = _mm512_add_epi64(acc_u[k], sad0(cu[k]));
        }
        if (last) break;
    }
    hsum4_u64(acc_h[0], acc_h[1], acc_h[2], acc_h[3], h);
    if (jaccard) hsum4_u64(acc_u[0], acc_u[1], acc_u[2], acc_u[3], u);
}

KESTREL_BIN_MANY_KERNELS(avx512, 1, bin_rows, 4, 4)

KESTREL_TARGET_END

/* ============================================================================================ */
/* AVX-512 VNNI                                                                                 */
/* ============================================================================================ */

KESTREL_TARGET_AVX512VNNI_BEGIN

static int64_t vnni_dot_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    /* x0/x1 accumulate (a + 128).b, c0/c1 accumulate 128.b; the difference is a.b. */
    __m512i x0 = _mm512_setzero_si512(), x1 = _mm512_setzero_si512();
    __m512i c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512();
    for (; i + 128 <= hi; i += 128) {
        __m512i b0 = load64(b + i), b1 = load64(b + i + 64);
        x0 = _mm512_dpbusd_epi32(x0, _mm512_xor_si512(load64(a + i), bias), b0);
        x1 = _mm512_dpbusd_epi32(x1, _mm512_xor_si512(load64(a + i + 64), bias), b1);
        c0 = _mm512_dpbusd_epi32(c0, bias, b0);
        c1 = _mm512_dpbusd_epi32(c1, bias, b1);
    }
    for (; i < hi; i += 64) {
        __mmask64 m = first_bytes(hi - i);
        __m512i b0 = load64_tail(m, b + i);
        x0 = _mm512_dpbusd_epi32(x0, _mm512_xor_si512(load64_tail(m, a + i), bias), b0);
        c0 = _mm512_dpbusd_epi32(c0, bias, b0);
    }
    return (int64_t)_mm512_reduce_add_epi32(_mm512_add_epi32(x0, x1)) -
           (int64_t)_mm512_reduce_add_epi32(_mm512_add_epi32(c0, c1));
}

static inline __m512i vnni_sq_u8(__m512i acc, __m512i d) {
    const __m512i z = _mm512_setzero_si512();
    __m512i lo = _mm512_unpacklo_epi8(d, z), hi = _mm512_unpackhi_epi8(d, z);
    return _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(acc, lo, lo), hi, hi);
}

static int64_t vnni_l2sq_block(const int8_t *a, const int8_t *b, size_t i, size_t hi) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (; i + 128 <= hi; i += 128) {
        acc0 = vnni_sq_u8(acc0, absdiff_i8(load64(a + i), load64(b + i)));
        acc1 = vnni_sq_u8(acc1, absdiff_i8(load64(a + i + 64), load64(b + i + 64)));
    }
    for (; i < hi; i += 64) {
        __mmask64 m = first_bytes(hi - i);
        acc0 = vnni_sq_u8(acc0, absdiff_i8(load64_tail(m, a + i), load64_tail(m, b + i)));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}

static void vnni_cos_block(const int8_t *a, const int8_t *b, size_t i, size_t hi, int64_t s[3]) {
    __m512i ab = _mm512_setzero_si512(), aa = _mm512_setzero_si512(), bb = _mm512_setzero_si512();
    for (; i < hi; i += 64) {
        __m512i a0, a1, b0, b1;
        widen_step(a, b, i, hi, &a0, &a1, &b0, &b1);
        ab = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(ab, a0, b0), a1, b1);
        aa = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(aa, a0, a0), a1, a1);
        bb = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(bb, b0, b0), b1, b1);
    }
    s[0] += _mm512_reduce_add_epi32(ab);
    s[1] += _mm512_reduce_add_epi32(aa);
    s[2] += _mm512_reduce_add_epi32(bb);
}

KESTREL_I8_PAIR_KERNELS(avx512vnni, 1, vnni_dot_block, vnni_l2sq_block, vnni_cos_block)

/*
 * One-to-many with the row as the biased (unsigned) operand, so the correction depends on the
 * query only. With r' = r ^ 0x80 = r + 128 and elements [i, hi):
 *   s0[k] += dpbusd(r', q) = q.r + 128 sum(q)
 *   s1[k] += dpbusd(r', r) = r.r + 128 sum(r)          (parts = 1)
 *   s2[k] += sum(r') over the 64-byte steps, masked-off tail bytes counting as 128 (parts = 1)
 * Masked-off bytes of r and q are 0, so they add nothing to s0 and s1.
 */
static KESTREL_ALWAYS_INLINE void vnni_rows_step(int parts, int R, const int8_t *q, const int8_t *const r[4],
                                                 size_t i, int full, __mmask64 m, __m512i acc0[4], __m512i acc1[4],
                                                 __m512i acc2[4]) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i vq = full ? load64(q + i) : load64_tail(m, q + i);
    for (int k = 0; k < R; k++) {
        __m512i vr = full ? load64(r[k] + i) : load64_tail(m, r[k] + i);
        __m512i ur = _mm512_xor_si512(vr, bias);
        acc0[k] = _mm512_dpbusd_epi32(acc0[k], ur, vq);
        if (parts) {
            acc1[k] = _mm512_dpbusd_epi32(acc1[k], ur, vr);
            acc2[k] = _mm512_add_epi64(acc2[k], sad0(ur));
        }
    }
}

static KESTREL_ALWAYS_INLINE void vnni_rows_block(int parts, int R, const int8_t *q, const int8_t *const r[4],
                                                  size_t ahead, size_t i, size_t hi, int64_t s0[4], int64_t s1[4],
                                                  int64_t s2[4]) {
    __m512i acc0[4], acc1[4], acc2[4];
    for (int k = 0; k < 4; k++) acc0[k] = acc1[k] = acc2[k] = _mm512_setzero_si512();
    for (; i + 64 <= hi; i += 64) {
        if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
            for (int k = 0; k < R; k++) _mm_prefetch((const char *)(r[k] + ahead + i), _MM_HINT_T0);
        vnni_rows_step(parts, R, q, r, i, 1, ~(__mmask64)0, acc0, acc1, acc2);
    }
    if (i < hi) vnni_rows_step(parts, R, q, r, i, 0, first_bytes(hi - i), acc0, acc1, acc2);
    int32_t t[4];
    _mm_storeu_si128((__m128i *)t, hsum4_i32(acc0[0], acc0[1], acc0[2], acc0[3]));
    for (int k = 0; k < R; k++) s0[k] += t[k];
    if (parts) {
        _mm_storeu_si128((__m128i *)t, hsum4_i32(acc1[0], acc1[1], acc1[2], acc1[3]));
        for (int k = 0; k < R; k++) s1[k] += t[k];
        /* 64-bit sad lanes below 2^32: summed as int32 halves (the upper halves are 0). */
        _mm_storeu_si128((__m128i *)t, hsum4_i32(acc2[0], acc2[1], acc2[2], acc2[3]));
        for (int k = 0; k < R; k++) s2[k] += t[k];
    }
}

/* sum(q) and, when qq is non-NULL, q.q, exactly. */
static void vnni_query_sums(const int8_t *q, size_t dim, int64_t *sum, int64_t *qq) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i < dim; i += 64) {
        __mmask64 m = first_bytes(dim - i < 64 ? dim - i : 64);
        acc = _mm512_add_epi64(acc, sad0(_mm512_maskz_mov_epi8(m, _mm512_xor_si512(load64_tail(m, q + i), bias))));
    }
    *sum = _mm512_reduce_add_epi64(acc) - 128 * (int64_t)dim;
    if (qq) *qq = kestrel_dot_i8_avx512vnni(q, q, dim);
}

#define VBLOCK_DOT(R, r, ahead, lo, hi, s0, s1, s2) vnni_rows_block(0, R, q, r, ahead, lo, hi, s0, s1, s2)
#define VBLOCK_PARTS(R, r, ahead, lo, hi, s0, s1, s2) vnni_rows_block(1, R, q, r, ahead, lo, hi, s0, s1, s2)
#define EMIT_VDOT(row, x, u1, u2) out[row] = (int32_t)((x) - 128 * qsum)
/* ab = x - 128 sum(q); sum(r) = s - 128 padded; r.r = y - 128 sum(r). */
#define PARTS(x, y, s, ab, bb)                                              \
    int64_t ab = (x) - 128 * qsum;                                          \
    int64_t bb = (y) - 128 * ((s) - 128 * (int64_t)padded)
#define EMIT_VL2(row, x, y, s)                                              \
    do {                                                                    \
        PARTS(x, y, s, ab, bb);                                             \
        out[row] = (int32_t)(qq + bb - 2 * ab);                             \
    } while (0)
#define EMIT_VCOS(row, x, y, s)                                             \
    do {                                                                    \
        PARTS(x, y, s, ab, bb);                                             \
        out[row] = kestrel_cosine_finish((double)ab, (double)qq, (double)bb); \
    } while (0)

kestrel_status kestrel_dot_i8_many_avx512vnni(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                              size_t stride, int32_t *out) {
    kestrel_status st = kestrel_check_i8_many(q, base, dim, count, stride, out);
    if (st != KESTREL_OK || count == 0) return st;
    KESTREL_MANY_EMPTY_DIM(dim, 0)
    int64_t qsum;
    vnni_query_sums(q, dim, &qsum, NULL);
    KESTREL_I8_ROWS_SCAN(VBLOCK_DOT, EMIT_VDOT);
    return KESTREL_OK;
}

kestrel_status kestrel_l2sq_i8_many_avx512vnni(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                               size_t stride, int32_t *out) {
    kestrel_status st = kestrel_check_i8_many(q, base, dim, count, stride, out);
    if (st != KESTREL_OK || count == 0) return st;
    KESTREL_MANY_EMPTY_DIM(dim, 0)
    int64_t qsum, qq;
    vnni_query_sums(q, dim, &qsum, &qq);
    const size_t padded = (dim + 63) & ~(size_t)63;
    KESTREL_I8_ROWS_SCAN(VBLOCK_PARTS, EMIT_VL2);
    return KESTREL_OK;
}

kestrel_status kestrel_cosine_i8_many_avx512vnni(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                                 size_t stride, float *out) {
    kestrel_status st = kestrel_check_many(q, base, dim, count, stride, out);
    if (st != KESTREL_OK || count == 0) return st;
    KESTREL_MANY_EMPTY_DIM(dim, 0.0f)
    int64_t qsum, qq;
    vnni_query_sums(q, dim, &qsum, &qq);
    const size_t padded = (dim + 63) & ~(size_t)63;
    KESTREL_I8_ROWS_SCAN(VBLOCK_PARTS, EMIT_VCOS);
    return KESTREL_OK;
}

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
