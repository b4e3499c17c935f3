/*
 * The x86 block dots and int8 GEMV/GEMM, written once and compiled per tier: the including file
 * defines QD_TIER (the name suffix), QD_DPBUSD(acc, u8, s8) (four u8 * s8 products added into
 * each int32 lane) and QD_DOT_I8 (its tier's exact widening int8 dot), and includes this inside
 * its target region.
 *
 * Sign trick: for int8 w and x, |w| (as uint8, 0..128) times sign(w) * x (as int8) is w * x.
 * sign(w) * x wraps only for x = -128 and w < 0, so the kernels scan the x side for -128 and, when
 * it occurs, answer with the exact widening path (the scalar reference or QD_DOT_I8). Without -128,
 * AVX2's maddubs adds two products of at most 128 * 127, 32512 < 2^15: no saturation. vpdpbusd
 * sums into int32 without any saturation.
 */
#include <immintrin.h>

#define QD_CAT_(a, b) a##_##b
#define QD_CAT(a, b) QD_CAT_(a, b)
#define QD_FN(name) QD_CAT(name, QD_TIER)

static inline __m256i qd_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline float qd_f16(uint16_t h) { return _cvtsh_ss(h); }

/*
 * The fp16 scale at p broadcast to eight f32 lanes. A word broadcast from memory feeds vcvtph2ps
 * directly: _cvtsh_ss lets the compiler insert the word into whatever register it likes, and in
 * the GEMV loops that register was an accumulator, chaining every block behind the previous FMA.
 */
static inline __m256 qd_f16x8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_set1_epi16((short)*p));
}

static inline float qd_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int32_t qd_hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm_cvtsi128_si32(s);
}

/* acc += w * x over 32 bytes, by the sign trick (x must hold no -128). */
static inline __m256i qd_dot32(__m256i acc, __m256i w, __m256i x) {
    return QD_DPBUSD(acc, _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

static inline int qd_has_m128(const int8_t *x, size_t n) {
    const __m256i m = _mm256_set1_epi8(-128);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) bad = _mm256_or_si256(bad, _mm256_cmpeq_epi8(qd_load(x + i), m));
    int found = !_mm256_testz_si256(bad, bad);
    for (; i < n; i++) found |= x[i] == -128;
    return found;
}

/* The 32 weight codes of a block as int8 lanes in element order. */
static inline __m256i qd_codes_q8_0(const kestrel_block_q8_0 *b) { return qd_load(b->qs); }
/* Q4_0: nibble - 8 in [-8, 7]; lanes 0..15 the low nibbles (elements 0..15), 16..31 the high ones. */
static inline __m256i qd_codes_q4_0(const kestrel_block_q4_0 *b) {
    const __m128i q = _mm_loadu_si128((const __m128i *)b->qs);
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
}

/*
 * A block dot over Q8_0 activations: two f32 accumulators (blocks alternate), the -128 scan of the
 * activation codes, and the scalar reference as the exact answer when -128 occurs.
 */
#define QD_DOT_STEP(acc, b, codes)                                                                               \
    do {                                                                                                    \
        const __m256i xv = qd_load(x[b].qs);                                                                \
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi8(xv, m128));                                            \
        const __m256 d = _mm256_mul_ps(qd_f16x8(&w[b].d), qd_f16x8(&x[b].d));                              \
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(qd_dot32(zero, codes(w + (b)), xv)), acc);              \
    } while (0)
#define QD_DEFINE_Q8_DOT(name, WT, codes, reference)                                                       \
    float QD_FN(name)(const WT *w, const kestrel_block_q8_0 *x, size_t nblocks) {                          \
        const __m256i m128 = _mm256_set1_epi8(-128), zero = _mm256_setzero_si256();                         \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(); /* even and odd blocks */            \
        __m256i bad = zero;                                                                                 \
        size_t b = 0;                                                                                       \
        for (; b + 2 <= nblocks; b += 2) {                                                                  \
            QD_DOT_STEP(acc0, b, codes);                                                                           \
            QD_DOT_STEP(acc1, b + 1, codes);                                                                       \
        }                                                                                                   \
        if (b < nblocks) QD_DOT_STEP(acc0, b, codes);                                                              \
        if (!_mm256_testz_si256(bad, bad)) return reference(w, x, nblocks);                                 \
        return qd_hsum_ps(_mm256_add_ps(acc0, acc1));                                                       \
    }

QD_DEFINE_Q8_DOT(kestrel_vec_dot_q8_0_q8_0, kestrel_block_q8_0, qd_codes_q8_0, kestrel_vec_dot_q8_0_q8_0_scalar)
QD_DEFINE_Q8_DOT(kestrel_vec_dot_q4_0_q8_0, kestrel_block_q4_0, qd_codes_q4_0, kestrel_vec_dot_q4_0_q8_0_scalar)
#undef QD_DEFINE_Q8_DOT
#undef QD_DOT_STEP

/*
 * Block GEMV, four rows per pass over x: x is scanned for -128 once (if present every row takes
 * the tier's block dot, whose own guard answers exactly), then each block of x is loaded once and
 * its scale converted once for four rows. Leftover rows run the same operations one at a time, so
 * a row's result does not depend on the row count or on how a caller splits the rows. One f32
 * accumulator per row (a row's sum order differs from vec_dot's two accumulators, within the bound).
 *
 * `lanes(wb, xv, xaux)` gives a block's eight int32 lanes, each the exact sum of four products w * x
 * (the same lane values as vec_dot's); `xprep(xv)` is computed once per block of x for four rows.
 * Q8_0: the sign trick. Q4_0: the unsigned nibbles times x (pairs <= 2 * 15 * 128, no trick) plus
 * the lane offsets -8 * (sum of x over the lane's four elements), prepared once per block of x.
 */
static inline __m256i qd_xprep_none(__m256i xv) { (void)xv; return _mm256_setzero_si256(); }
static inline __m256i qd_lanes_q8_0(const kestrel_block_q8_0 *b, __m256i xv, __m256i xaux) {
    (void)xaux;
    return qd_dot32(_mm256_setzero_si256(), qd_load(b->qs), xv);
}
static inline __m256i qd_xprep_q4_0(__m256i xv) {
    return _mm256_sub_epi32(_mm256_setzero_si256(), QD_DPBUSD(_mm256_setzero_si256(), _mm256_set1_epi8(8), xv));
}
static inline __m256i qd_lanes_q4_0(const kestrel_block_q4_0 *b, __m256i xv, __m256i xaux) {
    const __m128i q = _mm_loadu_si128((const __m128i *)b->qs);
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
    return QD_DPBUSD(xaux, nib, xv);
}

#define QD_GEMV_STEP(acc, wr, lanes)                                                                           \
    acc = _mm256_fmadd_ps(_mm256_mul_ps(qd_f16x8(&(wr)[b].d), dx), _mm256_cvtepi32_ps(lanes((wr) + b, xv, xa)), acc)

#define QD_DEFINE_Q8_GEMV(name, WT, xprep, lanes, dot)                                                   \
    kestrel_status QD_FN(name)(const WT *w, size_t rows, size_t nblocks, const kestrel_block_q8_0 *x, float *y) { \
        kestrel_status st = kestrel_check_gemv_blocks(w, rows, nblocks, x, y);                            \
        if (st != KESTREL_OK || rows == 0) return st;                                                     \
        int xbad = 0;                                                                                     \
        for (size_t b = 0; b < nblocks && !xbad; b++) xbad = qd_has_m128(x[b].qs, 32);                    \
        size_t r = 0;                                                                                     \
        for (; !xbad && nblocks && r + 4 <= rows; r += 4) {                                               \
            const WT *w0 = w + r * nblocks, *w1 = w0 + nblocks, *w2 = w1 + nblocks, *w3 = w2 + nblocks;   \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                   \
            for (size_t b = 0; b < nblocks; b++) {                                                        \
                const __m256i xv = qd_load(x[b].qs), xa = xprep(xv);                                      \
                const __m256 dx = qd_f16x8(&x[b].d);                                                      \
                QD_GEMV_STEP(a0, w0, lanes);                                                                     \
                QD_GEMV_STEP(a1, w1, lanes);                                                                     \
                QD_GEMV_STEP(a2, w2, lanes);                                                                     \
                QD_GEMV_STEP(a3, w3, lanes);                                                                     \
            }                                                                                             \
            y[r] = qd_hsum_ps(a0), y[r + 1] = qd_hsum_ps(a1), y[r + 2] = qd_hsum_ps(a2), y[r + 3] = qd_hsum_ps(a3); \
        }                                                                                                 \
        for (; !xbad && nblocks && r < rows; r++) { /* the same operations as a row of the four */      \
            const WT *w0 = w + r * nblocks;                                                               \
            __m256 a0 = _mm256_setzero_ps();                                                              \
            for (size_t b = 0; b < nblocks; b++) {                                                        \
                const __m256i xv = qd_load(x[b].qs), xa = xprep(xv);                                      \
                const __m256 dx = qd_f16x8(&x[b].d);                                                      \
                QD_GEMV_STEP(a0, w0, lanes);                                                                     \
            }                                                                                             \
            y[r] = qd_hsum_ps(a0);                                                                        \
        }                                                                                                 \
        for (; r < rows; r++) y[r] = nblocks ? QD_FN(dot)(w + r * nblocks, x, nblocks) : 0.0f;           \
        return KESTREL_OK;                                                                                \
    }

QD_DEFINE_Q8_GEMV(kestrel_gemv_q8_0_q8_0, kestrel_block_q8_0, qd_xprep_none, qd_lanes_q8_0, kestrel_vec_dot_q8_0_q8_0)
QD_DEFINE_Q8_GEMV(kestrel_gemv_q4_0_q8_0, kestrel_block_q4_0, qd_xprep_q4_0, qd_lanes_q4_0, kestrel_vec_dot_q4_0_q8_0)
#undef QD_DEFINE_Q8_GEMV
#undef QD_GEMV_STEP

/* Exact int32 dots of four rows w0..w3 with x (no -128 in x), cols <= KESTREL_QGEMV_MAX_COLS. */
static inline void qd_dot4(const int8_t *w0, const int8_t *w1, const int8_t *w2, const int8_t *w3, const int8_t *x,
                           size_t cols, int32_t out[4]) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        const __m256i xv = qd_load(x + c);
        a0 = qd_dot32(a0, qd_load(w0 + c), xv);
        a1 = qd_dot32(a1, qd_load(w1 + c), xv);
        a2 = qd_dot32(a2, qd_load(w2 + c), xv);
        a3 = qd_dot32(a3, qd_load(w3 + c), xv);
    }
    int32_t s0 = qd_hsum_i32(a0), s1 = qd_hsum_i32(a1), s2 = qd_hsum_i32(a2), s3 = qd_hsum_i32(a3);
    for (; c < cols; c++) {
        s0 += (int32_t)w0[c] * x[c];
        s1 += (int32_t)w1[c] * x[c];
        s2 += (int32_t)w2[c] * x[c];
        s3 += (int32_t)w3[c] * x[c];
    }
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

static inline int32_t qd_dot1(const int8_t *w, const int8_t *x, size_t cols) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    size_t c = 0;
    for (; c + 64 <= cols; c += 64) {
        a0 = qd_dot32(a0, qd_load(w + c), qd_load(x + c));
        a1 = qd_dot32(a1, qd_load(w + c + 32), qd_load(x + c + 32));
    }
    for (; c + 32 <= cols; c += 32) a0 = qd_dot32(a0, qd_load(w + c), qd_load(x + c));
    int32_t s = qd_hsum_i32(_mm256_add_epi32(a0, a1));
    for (; c < cols; c++) s += (int32_t)w[c] * x[c];
    return s;
}

/* Exact dots of `rows` rows (stride apart) with x into out[]; the widening path when x holds -128. */
static inline void qd_rows_dot(const int8_t *w, size_t rows, size_t stride, const int8_t *x, size_t cols, int xbad,
                               int32_t *out) {
    size_t r = 0;
    if (xbad) {
        for (; r < rows; r++) out[r] = (int32_t)QD_DOT_I8(w + r * stride, x, cols);
        return;
    }
    for (; r + 4 <= rows; r += 4) {
        const int8_t *p = w + r * stride;
        qd_dot4(p, p + stride, p + 2 * stride, p + 3 * stride, x, cols, out + r);
    }
    for (; r < rows; r++) out[r] = qd_dot1(w + r * stride, x, cols);
}

kestrel_status QD_FN(kestrel_gemv_i8)(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                                      const int8_t *x, float x_scale, float *y) {
    kestrel_status st = kestrel_check_gemv_i8(w, rows, cols, stride, row_scales, x, y);
    if (st != KESTREL_OK || rows == 0) return st;
    const int xbad = cols ? qd_has_m128(x, cols) : 0;
    int32_t s[64];
    for (size_t r0 = 0; r0 < rows; r0 += 64) {
        const size_t nr = rows - r0 < 64 ? rows - r0 : 64;
        if (cols) qd_rows_dot(w + r0 * stride, nr, stride, x, cols, xbad, s);
        else memset(s, 0, sizeof s);
        for (size_t i = 0; i < nr; i++) y[r0 + i] = (row_scales[r0 + i] * x_scale) * (float)s[i];
    }
    return KESTREL_OK;
}

kestrel_status QD_FN(kestrel_gemm_i8)(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n,
                                      size_t ldb, const float *row_scales, const float *col_scales, float *c,
                                      size_t ldc) {
    kestrel_status st = kestrel_check_gemm_i8(a, m, k, lda, b, n, ldb, row_scales, col_scales, c, ldc);
    if (st != KESTREL_OK || m == 0 || n == 0) return st;
    /* Rows of A play x (the sign side), so A is scanned once for -128. */
    int abad = 0;
    for (size_t i = 0; i < m && !abad && k; i++) abad = qd_has_m128(a + i * lda, k);
    const size_t panel = kestrel_gemm_panel_rows(k);
    int32_t s[64];
    for (size_t j0 = 0; j0 < n; j0 += panel) {
        const size_t nj = n - j0 < panel ? n - j0 : panel;
        for (size_t i = 0; i < m; i++) {
            const float rs = row_scales[i];
            float *ci = c + i * ldc;
            for (size_t jj = 0; jj < nj; jj += 64) {
                const size_t nr = nj - jj < 64 ? nj - jj : 64;
                if (k) qd_rows_dot(b + (j0 + jj) * ldb, nr, ldb, a + i * lda, k, abad, s);
                else memset(s, 0, sizeof s);
                for (size_t q = 0; q < nr; q++) ci[j0 + jj + q] = (rs * col_scales[j0 + jj + q]) * (float)s[q];
            }
        }
    }
    return KESTREL_OK;
}
