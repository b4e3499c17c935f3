/*
 * AVX-512 VNNI quantized dots and int8 GEMV/GEMM: the x86 body (internal/qdot_x86_body.h) with
 * vpdpbusd (256-bit, AVX512VL) adding four u8 * s8 products into each int32 lane without
 * saturation, and 512-bit Q4_K / Q6_K dots (below).
 */
#include "internal/qdot.h"

#if KESTREL_X86

KESTREL_TARGET_AVX512VNNI_BEGIN

#define QD_TIER avx512vnni
#define QD_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define QD_DOT_I8 kestrel_dot_i8_avx512vnni
#include "internal/qdot_x86_body.h"

/*
 * Q4_K x Q8_K with 512-bit registers: each 32-byte group of nibbles is broadcast to both halves
 * and shifted per half (vpsrlvw by 0 / 4), so one register holds the 64 codes of elements
 * 64c .. 64c + 63 in element order against one 64-byte load of x. maddubs gives int16 pairs
 * (<= 2 * 15 * 128), vpdpwssd multiplies them by the sub-block scale (int16 lanes picked by vpermw)
 * and adds into int32 lanes (each below 2^22: exact in f32). The f32 bookkeeping is avx2's.
 */
float kestrel_vec_dot_q4_K_q8_K_avx512vnni(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    /* pick[c]: int16 scale 2c in the low half, 2c + 1 in the high half */
    const __m512i pick[4] = {
        _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(1), 1),
        _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(3), 1),
        _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(5), 1),
        _mm512_inserti64x4(_mm512_set1_epi16(6), _mm256_set1_epi16(7), 1)};
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (size_t b = 0; b < nblocks; b++) {
        const __m128i sb = qk4_scale_bytes(w + b);
        const __m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sb)); /* vpermw reads int16 lanes 0..7 */
        const __m128 dd = qk4_dd(w + b, x[b].d);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(_mm_cvtss_f32(_mm_movehdup_ps(dd))), _mm256_cvtepi32_ps(qk4_min_lanes(sb, x[b].bsums)), accm);
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_broadcast_i64x4(qd_load(w[b].qs + 32 * c));
            const __m512i codes = _mm512_and_si512(_mm512_srlv_epi16(q, shift), low4);
            const __m512i p = _mm512_maddubs_epi16(codes, _mm512_loadu_si512(x[b].qs + 64 * c));
            sumi = _mm512_dpwssd_epi32(sumi, p, _mm512_permutexvar_epi16(pick[c], sc));
        }
        acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dd), _mm512_cvtepi32_ps(sumi), acc);
    }
    const __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
    return qd_hsum_ps(a8) - qd_hsum_ps(accm);
}

/*
 * Q6_K x Q8_K with 512-bit registers: per half h, the 64 bytes of ql give the low nibbles of
 * elements 128h .. 128h + 63 (& 15) and 128h + 64 .. 128h + 127 (>> 4) in element order; the 32
 * bytes of qh, broadcast to both halves, are shifted per half (vpsllvw / vpsrlvw) so that the
 * two high bits of each element land in bits 4-5 (masked before they can cross bytes). Codes are
 * unsigned 0..63: maddubs pairs <= 2 * 63 * 128, vpdpwssd by the int8 sub-block scales (int16,
 * picked by vpermw); the -32 offset is avx2's (x.bsums), subtracted in the integer lanes, which are
 * summed exactly per super-block before the one conversion (as in the scalar reference).
 */
float kestrel_vec_dot_q6_K_q8_K_avx512vnni(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i shl01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr23 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* pick[g]: int16 lane i takes scale 4g + i / 8 (g = 2h + {0: quarters 0-1, 1: quarters 2-3}) */
    __m512i pick[4];
    for (int g = 0; g < 4; g++) {
        int16_t idx[32];
        for (int i = 0; i < 32; i++) idx[i] = (int16_t)(4 * g + i / 8);
        pick[g] = _mm512_loadu_si512(idx);
    }
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < nblocks; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[b].scales));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, qd_load(x[b].bsums)), 5);
        __m512i sumi = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(off));
        for (int h = 0; h < 2; h++) {
            const __m512i l = _mm512_loadu_si512(w[b].ql + 64 * h);
            const __m512i hb = _mm512_broadcast_i64x4(qd_load(w[b].qh + 32 * h));
            const __m512i c01 = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_and_si512(_mm512_sllv_epi16(hb, shl01), m30));
            const __m512i c23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                                _mm512_and_si512(_mm512_srlv_epi16(hb, shr23), m30));
            const __m512i p01 = _mm512_maddubs_epi16(c01, _mm512_loadu_si512(x[b].qs + 128 * h));
            const __m512i p23 = _mm512_maddubs_epi16(c23, _mm512_loadu_si512(x[b].qs + 128 * h + 64));
            sumi = _mm512_dpwssd_epi32(sumi, p01, _mm512_permutexvar_epi16(pick[2 * h], sc));
            sumi = _mm512_dpwssd_epi32(sumi, p23, _mm512_permutexvar_epi16(pick[2 * h + 1], sc));
        }
        /* Lanes mix the products with the offset term of other elements: only their exact sum is small. */
        const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
        /* Eight equal lanes: a scalar f32 chain let the compiler insert the fp16 scale into the accumulator's register. */
        acc = _mm256_fmadd_ps(_mm256_mul_ps(qd_f16x8(&w[b].d), _mm256_set1_ps(x[b].d)), _mm256_set1_ps((float)qd_hsum_i32(s8)), acc);
    }
    return _mm256_cvtss_f32(acc);
}

KESTREL_TARGET_END

#endif
