/*
 * AVX2 int8 and packed-binary distances. Every result equals the scalar reference exactly.
 *
 * int8 products: both operands are sign-extended to int16 (vpmovsxbw) and multiplied with
 * vpmaddwd, which adds adjacent int16 products into int32. Every product lies in
 * [-16256, 16384], so a pair sum lies in [-32512, 32768] and fits int32 exactly (vpmaddubsw is
 * not used: it saturates at 16 bits). l2sq uses |a - b| = max(a, b) - min(a, b), which is exact
 * as an unsigned byte (0..255), zero-extends it to int16 and squares it with vpmaddwd (a pair
 * is at most 2 * 255^2). int32 lanes sum at most KESTREL_I8_BLOCK elements before being added
 * into a 64-bit total: 16384 * 255^2 < 2^31, so no lane and no partial sum can wrap.
 *
 * Popcounts: nibble lookup with vpshufb, byte counts summed for at most 31 steps of 32 bytes
 * (31 * 8 = 248 fits a byte) and then widened with vpsadbw into 64-bit lanes.
 *
 * Tails: for n >= 32 the last 32 bytes are loaded again (overlapping the previous step) and
 * the bytes already counted are masked off; shorter inputs take a scalar path. Nothing is
 * read outside [a, a + n).
 */
#include "internal/distance_int_driver.h"

#if KESTREL_X86
#include <immintrin.h>

#define Z8 0, 0, 0, 0, 0, 0, 0, 0
#define F8 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
/* loadu(k_keep_last + r), 0 < r < 32, keeps the last r bytes of a 32-byte vector. */
static const uint8_t k_keep_last[64] = {Z8, Z8, Z8, Z8, F8, F8, F8, F8};
#undef Z8
#undef F8

KESTREL_TARGET_AVX2_BEGIN

static inline __m256i keep_last(size_t r) { return _mm256_loadu_si256((const __m256i *)(k_keep_last + r)); }
static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m256i widen16(const int8_t *p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256i widen_lo(__m256i v) { return _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)); }
static inline __m256i widen_hi(__m256i v) { return _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)); }

/* Sum of |d|^2 over the 32 unsigned bytes of d, as eight int32 lanes. */
static inline __m256i sq_u8(__m256i d) {
    const __m256i z = _mm256_setzero_si256();
    __m256i lo = _mm256_unpacklo_epi8(d, z), hi = _mm256_unpackhi_epi8(d, z);
    return _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi));
}

static inline __m256i absdiff_i8(__m256i a, __m256i b) {
    return _mm256_sub_epi8(_mm256_max_epi8(a, b), _mm256_min_epi8(a, b));
}

static inline int64_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm_cvtsi128_si32(s);
}

/* [sum(v0), sum(v1), sum(v2), sum(v3)] of int32 lanes, for four rows at once. */
static inline __m128i hsum4_i32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    __m256i t0 = _mm256_add_epi32(_mm256_unpacklo_epi32(v0, v1), _mm256_unpackhi_epi32(v0, v1));
    __m256i t1 = _mm256_add_epi32(_mm256_unpacklo_epi32(v2, v3), _mm256_unpackhi_epi32(v2, v3));
    __m256i u = _mm256_add_epi32(_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1));
    return _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
}

static inline uint64_t hsum_u64(__m256i v) {
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s)));
}

/* [sum(v0), sum(v1), sum(v2), sum(v3)] of uint64 lanes. */
static inline __m256i hsum4_u64(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    __m256i t0 = _mm256_add_epi64(_mm256_unpacklo_epi64(v0, v1), _mm256_unpackhi_epi64(v0, v1));
    __m256i t1 = _mm256_add_epi64(_mm256_unpacklo_epi64(v2, v3), _mm256_unpackhi_epi64(v2, v3));
    return _mm256_add_epi64(_mm256_permute2x128_si256(t0, t1, 0x20), _mm256_permute2x128_si256(t0, t1, 0x31));
}

/* Per-byte popcount (0..8) by nibble lookup. */
static inline __m256i popcnt_u8(__m256i x) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                         2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low));
    __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low));
    return _mm256_add_epi8(lo, hi);
}

static inline __m256i sad0(__m256i c) { return _mm256_sad_epu8(c, _mm256_setzero_si256()); }

/* ------------------------------------------------------------------------------------------ */
/* int8, one pair                                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * One block [lo, hi) of at most KESTREL_I8_BLOCK elements, hi >= 32 (offsets from the vector
 * starts, so the overlapping tail load stays inside the vectors). Returns sums of int32 lanes.
 */
static int64_t dot_block(const int8_t *a, const int8_t *b, size_t lo, size_t hi) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    size_t i = lo;
    for (; i + 64 <= hi; i += 64) {
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(widen16(a + i), widen16(b + i)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(widen16(a + i + 16), widen16(b + i + 16)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(widen16(a + i + 32), widen16(b + i + 32)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(widen16(a + i + 48), widen16(b + i + 48)));
    }
    if (i + 32 <= hi) {
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(widen16(a + i), widen16(b + i)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(widen16(a + i + 16), widen16(b + i + 16)));
        i += 32;
    }
    if (i < hi) {
        __m256i va = _mm256_and_si256(load32(a + hi - 32), keep_last(hi - i)), vb = load32(b + hi - 32);
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(widen_lo(va), widen_lo(vb)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(widen_hi(va), widen_hi(vb)));
    }
    return hsum_i32(_mm256_add_epi32(acc0, acc1));
}

static int64_t l2sq_block(const int8_t *a, const int8_t *b, size_t lo, size_t hi) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    size_t i = lo;
    for (; i + 64 <= hi; i += 64) {
        acc0 = _mm256_add_epi32(acc0, sq_u8(absdiff_i8(load32(a + i), load32(b + i))));
        acc1 = _mm256_add_epi32(acc1, sq_u8(absdiff_i8(load32(a + i + 32), load32(b + i + 32))));
    }
    if (i + 32 <= hi) {
        acc0 = _mm256_add_epi32(acc0, sq_u8(absdiff_i8(load32(a + i), load32(b + i))));
        i += 32;
    }
    if (i < hi) {
        __m256i d = absdiff_i8(load32(a + hi - 32), load32(b + hi - 32));
        acc1 = _mm256_add_epi32(acc1, sq_u8(_mm256_and_si256(d, keep_last(hi - i))));
    }
    return hsum_i32(_mm256_add_epi32(acc0, acc1));
}

static void cos_block(const int8_t *a, const int8_t *b, size_t lo, size_t hi, int64_t s[3]) {
    __m256i ab = _mm256_setzero_si256(), aa = _mm256_setzero_si256(), bb = _mm256_setzero_si256();
    size_t i = lo;
    for (; i + 32 <= hi; i += 32) {
        __m256i a0 = widen16(a + i), a1 = widen16(a + i + 16), b0 = widen16(b + i), b1 = widen16(b + i + 16);
        ab = _mm256_add_epi32(ab, _mm256_add_epi32(_mm256_madd_epi16(a0, b0), _mm256_madd_epi16(a1, b1)));
        aa = _mm256_add_epi32(aa, _mm256_add_epi32(_mm256_madd_epi16(a0, a0), _mm256_madd_epi16(a1, a1)));
        bb = _mm256_add_epi32(bb, _mm256_add_epi32(_mm256_madd_epi16(b0, b0), _mm256_madd_epi16(b1, b1)));
    }
    if (i < hi) {
        __m256i keep = keep_last(hi - i);
        __m256i va = _mm256_and_si256(load32(a + hi - 32), keep), vb = _mm256_and_si256(load32(b + hi - 32), keep);
        __m256i a0 = widen_lo(va), a1 = widen_hi(va), b0 = widen_lo(vb), b1 = widen_hi(vb);
        ab = _mm256_add_epi32(ab, _mm256_add_epi32(_mm256_madd_epi16(a0, b0), _mm256_madd_epi16(a1, b1)));
        aa = _mm256_add_epi32(aa, _mm256_add_epi32(_mm256_madd_epi16(a0, a0), _mm256_madd_epi16(a1, a1)));
        bb = _mm256_add_epi32(bb, _mm256_add_epi32(_mm256_madd_epi16(b0, b0), _mm256_madd_epi16(b1, b1)));
    }
    s[0] += hsum_i32(ab);
    s[1] += hsum_i32(aa);
    s[2] += hsum_i32(bb);
}

/* Inputs shorter than one vector (n < 32) take the scalar helpers of distance_int_driver.h. */
KESTREL_I8_PAIR_KERNELS(avx2, 32, dot_block, l2sq_block, cos_block)

/* ------------------------------------------------------------------------------------------ */
/* int8, one query against many rows: four rows per pass share the query loads                */
/* ------------------------------------------------------------------------------------------ */

/*
 * One 32-element step of R (1 or 4) rows: the bytes at q + i and r_k + i, with `keep` masking
 * the bytes to count (all ones for a full step; the tail passes its overlapping load offset).
 * acc0[k] += q.r_k (K_DOT, K_COS) or |q - r_k|^2 (K_L2); acc1[k] += r_k.r_k (K_COS).
 */
static KESTREL_ALWAYS_INLINE void rows_step(int kind, int R, const int8_t *q, const int8_t *const r[4], size_t i,
                                            int full, __m256i keep, __m256i acc0[4], __m256i acc1[4]) {
    if (kind == K_L2) {
        __m256i vq = load32(q + i);
        for (int k = 0; k < R; k++) {
            __m256i d = absdiff_i8(vq, load32(r[k] + i));
            if (!full) d = _mm256_and_si256(d, keep);
            acc0[k] = _mm256_add_epi32(acc0[k], sq_u8(d));
        }
        return;
    }
    __m256i q0, q1;
    if (full) {
        q0 = widen16(q + i), q1 = widen16(q + i + 16);
    } else {
        __m256i vq = _mm256_and_si256(load32(q + i), keep);
        q0 = widen_lo(vq), q1 = widen_hi(vq);
    }
    for (int k = 0; k < R; k++) {
        __m256i r0, r1;
        if (full) {
            r0 = widen16(r[k] + i), r1 = widen16(r[k] + i + 16);
        } else {
            __m256i vr = load32(r[k] + i);
            if (kind == K_COS) vr = _mm256_and_si256(vr, keep);
            r0 = widen_lo(vr), r1 = widen_hi(vr);
        }
        acc0[k] = _mm256_add_epi32(acc0[k], _mm256_add_epi32(_mm256_madd_epi16(q0, r0), _mm256_madd_epi16(q1, r1)));
        if (kind == K_COS)
            acc1[k] = _mm256_add_epi32(acc1[k], _mm256_add_epi32(_mm256_madd_epi16(r0, r0), _mm256_madd_epi16(r1, r1)));
    }
}

/*
 * For R rows and the elements [i, hi) (hi - i <= KESTREL_I8_BLOCK, hi >= 32): s0[k] and s1[k]
 * receive the sums of rows_step. The rows `ahead` bytes further on are prefetched, one cache
 * line per row per 64 elements.
 */
static KESTREL_ALWAYS_INLINE void rows_block(int kind, int R, const int8_t *q, const int8_t *const r[4],
                                             size_t ahead, size_t i, size_t hi, int64_t s0[4], int64_t s1[4]) {
    const __m256i all = _mm256_set1_epi8(-1);
    __m256i acc0[4], acc1[4];
    for (int k = 0; k < 4; k++) acc0[k] = acc1[k] = _mm256_setzero_si256();
    for (; i + 64 <= hi; i += 64) {
        if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
            for (int k = 0; k < R; k++) _mm_prefetch((const char *)(r[k] + ahead + i), _MM_HINT_T0);
        rows_step(kind, R, q, r, i, 1, all, acc0, acc1);
        rows_step(kind, R, q, r, i + 32, 1, all, acc0, acc1);
    }
    if (i + 32 <= hi) {
        rows_step(kind, R, q, r, i, 1, all, acc0, acc1);
        i += 32;
    }
    if (i < hi) rows_step(kind, R, q, r, hi - 32, 0, keep_last(hi - i), acc0, acc1);
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

KESTREL_I8_MANY_KERNELS(avx2, 32, BLOCK_DOT, BLOCK_L2, BLOCK_COS)

/* ------------------------------------------------------------------------------------------ */
/* Packed binary                                                                               */
/* ------------------------------------------------------------------------------------------ */

uint64_t kestrel_hamming_b1_avx2(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n < 32) return n ? kestrel_b1_xor_popcount(a, b, n) : 0;
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    while (i + 32 <= n) {
        size_t steps = (n - i) / 32;
        if (steps > 31) steps = 31; /* byte counters hold at most 31 * 8 */
        __m256i c = _mm256_setzero_si256();
        for (size_t e = i + steps * 32; i < e; i += 32)
            c = _mm256_add_epi8(c, popcnt_u8(_mm256_xor_si256(load32(a + i), load32(b + i))));
        acc = _mm256_add_epi64(acc, sad0(c));
    }
    if (i < n) {
        __m256i x = _mm256_xor_si256(load32(a + n - 32), load32(b + n - 32));
        acc = _mm256_add_epi64(acc, sad0(popcnt_u8(_mm256_and_si256(x, keep_last(n - i)))));
    }
    return hsum_u64(acc);
}

float kestrel_jaccard_b1_avx2(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t inter = 0, uni = 0;
    if (n < 32) {
        if (n) kestrel_b1_and_or_popcount(a, b, n, &inter, &uni);
        return kestrel_jaccard_finish(inter, uni);
    }
    __m256i acc_i = _mm256_setzero_si256(), acc_u = _mm256_setzero_si256();
    size_t i = 0;
    while (i + 32 <= n) {
        size_t steps = (n - i) / 32;
        if (steps > 31) steps = 31;
        __m256i ci = _mm256_setzero_si256(), cu = _mm256_setzero_si256();
        for (size_t e = i + steps * 32; i < e; i += 32) {
            __m256i va = load32(a + i), vb = load32(b + i);
            ci = _mm256_add_epi8(ci, popcnt_u8(_mm256_and_si256(va, vb)));
            cu = _mm256_add_epi8(cu, popcnt_u8(_mm256_or_si256(va, vb)));
        }
        acc_i = _mm256_add_epi64(acc_i, sad0(ci));
        acc_u = _mm256_add_epi64(acc_u, sad0(cu));
    }
    if (i < n) {
        __m256i keep = keep_last(n - i);
        __m256i va = _mm256_and_si256(load32(a + n - 32), keep), vb = _mm256_and_si256(load32(b + n - 32), keep);
        acc_i = _mm256_add_epi64(acc_i, sad0(popcnt_u8(_mm256_and_si256(va, vb))));
        acc_u = _mm256_add_epi64(acc_u, sad0(popcnt_u8(_mm256_or_si256(va, vb))));
    }
    return kestrel_jaccard_finish(hsum_u64(acc_i), hsum_u64(acc_u));
}

/* One 32-byte step of R rows at offset i: byte counts of q ^ r_k (or q & r_k and q | r_k). */
static KESTREL_ALWAYS_INLINE void bin_step(int jaccard, int R, const uint8_t *q, const uint8_t *const r[4], size_t i,
                                           int full, __m256i keep, __m256i ch[4], __m256i cu[4]) {
    __m256i vq = load32(q + i);
    if (!full) vq = _mm256_and_si256(vq, keep);
    for (int k = 0; k < R; k++) {
        __m256i vr = load32(r[k] + i);
        if (jaccard) {
            if (!full) vr = _mm256_and_si256(vr, keep);
            ch[k] = _mm256_add_epi8(ch[k], popcnt_u8(_mm256_and_si256(vq, vr)));
            cu[k] = _mm256_add_epi8(cu[k], popcnt_u8(_mm256_or_si256(vq, vr)));
        } else {
            __m256i x = _mm256_xor_si256(vq, vr);
            if (!full) x = _mm256_and_si256(x, keep);
            ch[k] = _mm256_add_epi8(ch[k], popcnt_u8(x));
        }
    }
}

/*
 * R (1, 2 or 4) rows of n >= 32 bytes against q: h[k] = popcount(q ^ r_k) (hamming) or
 * h[k] = popcount(q & r_k), u[k] = popcount(q | r_k) (jaccard). Rows `ahead` bytes further on
 * are prefetched.
 */
static KESTREL_ALWAYS_INLINE void bin_rows(int jaccard, int R, const uint8_t *q, const uint8_t *const r[4],
                                           size_t ahead, size_t n, uint64_t h[4], uint64_t u[4]) {
    const __m256i all = _mm256_set1_epi8(-1);
    __m256i acc_h[4], acc_u[4], ch[4], cu[4];
    for (int k = 0; k < 4; k++) acc_h[k] = acc_u[k] = _mm256_setzero_si256();
    size_t i = 0;
    for (;;) {
        size_t steps = (n - i) / 32;
        if (steps > 30) steps = 30; /* byte counters hold at most 31 * 8: 30 steps and the tail */
        for (int k = 0; k < 4; k++) ch[k] = cu[k] = _mm256_setzero_si256();
        size_t e = i + steps * 32;
        for (; i + 64 <= e; i += 64) {
            if (ahead) /* 0: no software prefetch (kestrel_prefetch_rows) */
                for (int k = 0; k < R; k++) _mm_prefetch((const char *)(r[k] + ahead + i), _MM_HINT_T0);
            bin_step(jaccard, R, q, r, i, 1, all, ch, cu);
            bin_step(jaccard, R, q, r, i + 32, 1, all, ch, cu);
        }
        if (i < e) {
            bin_step(jaccard, R, q, r, i, 1, all, ch, cu);
            i += 32;
        }
        int last = steps < 30;
        if (last && i < n) bin_step(jaccard, R, q, r, n - 32, 0, keep_last(n - i), ch, cu);
        for (int k = 0; k < R; k++) {
            acc_h[k] = _mm256_add_epi64(acc_h[k], sad0(ch[k]));
            if (jaccard) acc_u[k] = _mm256_add_epi64(acc_u[k], sad0(cu[k]));
        }
        if (last) break;
    }
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, hsum4_u64(acc_h[0], acc_h[1], acc_h[2], acc_h[3]));
    for (int k = 0; k < R; k++) h[k] = t[k];
    if (jaccard) {
        _mm256_storeu_si256((__m256i *)t, hsum4_u64(acc_u[0], acc_u[1], acc_u[2], acc_u[3]));
        for (int k = 0; k < R; k++) u[k] = t[k];
    }
}

/* Hamming keeps four rows per pass; jaccard two (its byte and 64-bit counters fill the 16 registers). */
KESTREL_BIN_MANY_KERNELS(avx2, 32, bin_rows, 4, 2)

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
