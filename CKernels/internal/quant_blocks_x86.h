/*
 * quant_blocks_x86.h — code unpacking shared by the AVX2 and AVX-512 block kernels
 * (quant_blocks_x86_avx2.c, quant_blocks_x86_avx512.c). Each helper turns one block's packed
 * codes into 32 int8 lanes in element order (lane j = element j), with the format's offset
 * already removed where it has one, so that the tiers only differ in how they widen and scale.
 * Include after KESTREL_TARGET_*_BEGIN: the helpers take the including file's target.
 * Pure integer work: the float arithmetic (which decides bits) stays in the tier files.
 */
#ifndef KESTREL_QUANT_BLOCKS_X86_H
#define KESTREL_QUANT_BLOCKS_X86_H

#include <immintrin.h>

/* 16 bytes of nibble pairs -> 32 codes: lanes 0-15 the low nibbles, 16-31 the high nibbles. */
static inline __m256i qb_nibbles16(const uint8_t *qs) {
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    const __m128i m = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

/* 32 bytes of nibble pairs -> low nibbles (32 codes) and high nibbles (32 codes). */
static inline void qb_nibbles32(const uint8_t *qs, __m256i *lo, __m256i *hi) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)qs);
    const __m256i m = _mm256_set1_epi8(0x0F);
    *lo = _mm256_and_si256(v, m);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
}

/* A little-endian 32-bit mask -> 32 bytes, byte j = 0x10 when bit j is set, else 0. */
static inline __m256i qb_bit4_of(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits); /* x86 is little-endian, as the format */
    const __m256i v = _mm256_set1_epi32((int)bits);
    const __m256i which = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, which), bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

static inline __m256i qb_codes_q8_0(const kestrel_block_q8_0 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }
static inline __m256i qb_codes_q8_1(const kestrel_block_q8_1 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }
static inline __m256i qb_codes_q4_0(const kestrel_block_q4_0 *b) {
    return _mm256_sub_epi8(qb_nibbles16(b->qs), _mm256_set1_epi8(8));
}
/* Unsigned 0...15 (no offset: y = q * d + m). */
static inline __m256i qb_codes_q4_1(const kestrel_block_q4_1 *b) { return qb_nibbles16(b->qs); }
static inline __m256i qb_codes_q5_0(const kestrel_block_q5_0 *b) {
    return _mm256_sub_epi8(_mm256_or_si256(qb_nibbles16(b->qs), qb_bit4_of(b->qh)), _mm256_set1_epi8(16));
}
/* Unsigned 0...31. */
static inline __m256i qb_codes_q5_1(const kestrel_block_q5_1 *b) {
    return _mm256_or_si256(qb_nibbles16(b->qs), qb_bit4_of(b->qh));
}

/*
 * One Q6_K half (128 elements): four runs of 32 signed codes (-32...31), run r covering
 * elements 32r...32r+31 of the half. ql: 64 bytes, qh: 32 bytes.
 */
static inline void qb_codes_q6_K_half(const uint8_t *ql, const uint8_t *qh, __m256i out[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03), off = _mm256_set1_epi8(32);
    const __m256i a = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(ql + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    /* 16-bit shifts move bits across byte borders; the masks drop them again. */
    const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(h, m2), 4);
    const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4);
    const __m256i h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4);
    const __m256i h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4);
    out[0] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(a, m4), h0), off);
    out[1] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(b, m4), h1), off);
    out[2] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), h2), off);
    out[3] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), h3), off);
}

/* Q4_K 6-bit (scale, min) of sub-block j (fixture README, "Q4_K"). */
static inline void qb_q4k_scale_min(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

#endif
