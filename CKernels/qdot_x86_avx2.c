/*
 * AVX2 quantized dots (maddubs with the sign trick, see internal/qdot_x86_body.h), int8
 * GEMV/GEMM, and the Q4_K / Q6_K x Q8_K dots (also used by avx512 and avx512vnni).
 *
 * K-quants: the weight codes are unsigned (Q4_K nibbles 0..15, Q6_K 6-bit codes 0..63), so
 * maddubs(code, x) is exact for any int8 x (a pair is at most 2 * 63 * 128 = 16128 < 2^15); Q6_K's
 * offset of 32 is taken out through x.bsums. madd with the 6-bit / int8 sub-block scale gives
 * int32 lanes; each super-block's integer sum is reduced exactly and converted once, as in the
 * scalar reference, and the f32 total is kept in block order (only FMA contraction may differ).
 */
#include "internal/qdot.h"

#if KESTREL_X86

KESTREL_TARGET_AVX2_BEGIN

#define QD_TIER avx2
#define QD_DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define QD_DOT_I8 kestrel_dot_i8_avx2
#include "internal/qdot_x86_body.h"

/*
 * The 6-bit scales and mins of a Q4_K super-block as int16 lanes, unpacked in vector registers:
 * *sc gets sc0..sc7 in both 128-bit halves, the return value mn0..mn7. Three 32-bit words of the
 * packed bytes give four words [sc0-3, sc4-7, mn0-3, mn4-7] (the byte layout of kestrel_q4_K_scales).
 */
static inline __m128i qk4_scales_mins(const uint8_t s[12], __m256i *sc) {
    uint32_t u[3];
    memcpy(u, s, 12);
    const uint32_t m6 = 0x3f3f3f3fu, m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    const __m128i b = _mm_setr_epi32((int)(u[0] & m6), (int)((u[2] & m4) | (((u[0] >> 6) & m2) << 4)), (int)(u[1] & m6),
                                     (int)(((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4)));
    const __m256i w = _mm256_cvtepu8_epi16(b); /* low half sc0..7, high half mn0..7 */
    *sc = _mm256_permute2x128_si256(w, w, 0x00);
    return _mm256_extracti128_si256(w, 1);
}

/*
 * Per super-block: integer lanes sum_j sc_j * (nibbles . x) (eight int32 lanes, each below 2^22, so
 * exact in f32) are scaled by f16(d) * x.d into an f32 vector; the mins' term m_j * (pair sums of
 * x.bsums) goes the same way by f16(dmin) * x.d. One horizontal sum per row, not per super-block.
 */
float kestrel_vec_dot_q4_K_q8_K_avx2(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    /* pick[j]: int16 element j broadcast to every lane (byte pairs 2j, 2j + 1) */
    const __m256i pick[8] = {_mm256_set1_epi16(0x0100), _mm256_set1_epi16(0x0302), _mm256_set1_epi16(0x0504),
                             _mm256_set1_epi16(0x0706), _mm256_set1_epi16(0x0908), _mm256_set1_epi16(0x0B0A),
                             _mm256_set1_epi16(0x0D0C), _mm256_set1_epi16(0x0F0E)};
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (size_t b = 0; b < nblocks; b++) {
        __m256i sc;
        const __m128i mn = qk4_scales_mins(w[b].scales, &sc);
        const __m256i bs = qd_load(x[b].bsums);
        const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
        const __m128 xd = _mm_set1_ps(x[b].d);
        accm = _mm_fmadd_ps(_mm_mul_ps(_mm_cvtph_ps(_mm_set1_epi16((short)w[b].dmin)), xd),
                            _mm_cvtepi32_ps(_mm_madd_epi16(mn, pairs)), accm);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q = qd_load(w[b].qs + 32 * c);
            const __m256i lo = _mm256_and_si256(q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            const __m256i p0 = _mm256_maddubs_epi16(lo, qd_load(x[b].qs + 64 * c));
            const __m256i p1 = _mm256_maddubs_epi16(hi, qd_load(x[b].qs + 64 * c + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_shuffle_epi8(sc, pick[2 * c])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sc, pick[2 * c + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_mul_ps(qd_f16x8(&w[b].d), _mm256_set1_ps(x[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    const __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    return qd_hsum_ps(acc) - _mm_cvtss_f32(_mm_add_ss(m, _mm_movehdup_ps(m)));
}

float kestrel_vec_dot_q6_K_q8_K_avx2(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i m03 = _mm256_set1_epi8(0x03), m0c = _mm256_set1_epi8(0x0C), m30 = _mm256_set1_epi8(0x30);
    const __m256i mc0 = _mm256_set1_epi8((char)0xC0);
    /* pick[t]: int16 element 2t in the low 128 bits, 2t + 1 in the high 128 bits (of a broadcast half) */
    const __m256i pick[4] = {
        _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3),
        _mm256_setr_epi8(4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7),
        _mm256_setr_epi8(8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
                         10, 11, 10, 11),
        _mm256_setr_epi8(12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15,
                         14, 15, 14, 15, 14, 15, 14, 15)};
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < nblocks; b++) {
        /* the 16 sub-block scales as int16; the -32 offset through bsums: sum_k sc_k * bsums_k (pairs < 2^19) */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[b].scales));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, qd_load(x[b].bsums)), 5));
        for (int h = 0; h < 2; h++) {
            const __m256i half = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11) : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i l0 = qd_load(w[b].ql + 64 * h), l1 = qd_load(w[b].ql + 64 * h + 32);
            const __m256i hh = qd_load(w[b].qh + 32 * h);
            /* Masks come before the 16-bit shifts, so no bit crosses into the neighbouring byte. */
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(hh, m03), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_slli_epi16(_mm256_and_si256(hh, m0c), 2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hh, m30));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                   _mm256_srli_epi16(_mm256_and_si256(hh, mc0), 2));
            for (int t = 0; t < 4; t++) {
                /* sub-blocks 8h + 2t (lanes 0..15) and 8h + 2t + 1 (lanes 16..31) */
                const __m256i p = _mm256_maddubs_epi16(q[t], qd_load(x[b].qs + 128 * h + 32 * t));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(half, pick[t])));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_mul_ps(qd_f16x8(&w[b].d), _mm256_set1_ps(x[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return qd_hsum_ps(acc);
}

KESTREL_TARGET_END

#endif
