/*
 * NEON quantized dots and int8 GEMV/GEMM, written once and compiled per tier by
 * qdot_arm_neon.c: it defines QN_TIER (name suffix) and QN_DOT16(acc, a, b) (acc += the 16
 * products a_i * b_i of two int8x16 vectors, exact in int32 lanes), includes this, and undefines
 * both. Signed int8 arithmetic throughout, so there is no -128 special case.
 */
#define QN_CAT_(a, b) a##_##b
#define QN_CAT(a, b) QN_CAT_(a, b)
#define QN_FN(name) QN_CAT(name, QN_TIER)

static inline int32_t QN_FN(qn_dot32)(const int8_t *a, const int8_t *b) {
    int32x4_t acc = QN_DOT16(vdupq_n_s32(0), vld1q_s8(a), vld1q_s8(b));
    return vaddvq_s32(QN_DOT16(acc, vld1q_s8(a + 16), vld1q_s8(b + 16)));
}

static inline int32_t QN_FN(qn_dot)(const int8_t *a, const int8_t *b, size_t n) {
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = QN_DOT16(a0, vld1q_s8(a + i), vld1q_s8(b + i));
        a1 = QN_DOT16(a1, vld1q_s8(a + i + 16), vld1q_s8(b + i + 16));
    }
    for (; i + 16 <= n; i += 16) a0 = QN_DOT16(a0, vld1q_s8(a + i), vld1q_s8(b + i));
    int32_t s = vaddvq_s32(vaddq_s32(a0, a1));
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

float QN_FN(kestrel_vec_dot_q8_0_q8_0)(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x, size_t nblocks) {
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++)
        acc += (kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d)) * (float)QN_FN(qn_dot32)(w[b].qs, x[b].qs);
    return acc;
}

float QN_FN(kestrel_vec_dot_q4_0_q8_0)(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x, size_t nblocks) {
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8x16_t q = vld1q_u8(w[b].qs);
        const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low4)), eight);
        const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
        int32x4_t s = QN_DOT16(vdupq_n_s32(0), lo, vld1q_s8(x[b].qs));
        s = QN_DOT16(s, hi, vld1q_s8(x[b].qs + 16));
        acc += (kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d)) * (float)vaddvq_s32(s);
    }
    return acc;
}

float QN_FN(kestrel_vec_dot_q4_K_q8_K)(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t sc[8], mn[8];
        kestrel_q4_K_scales(w[b].scales, sc, mn);
        int32_t sumi = 0;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t q0 = vld1q_u8(w[b].qs + 32 * c), q1 = vld1q_u8(w[b].qs + 32 * c + 16);
            const int8_t *xq = x[b].qs + 64 * c;
            int32x4_t lo = QN_DOT16(vdupq_n_s32(0), vreinterpretq_s8_u8(vandq_u8(q0, low4)), vld1q_s8(xq));
            lo = QN_DOT16(lo, vreinterpretq_s8_u8(vandq_u8(q1, low4)), vld1q_s8(xq + 16));
            int32x4_t hi = QN_DOT16(vdupq_n_s32(0), vreinterpretq_s8_u8(vshrq_n_u8(q0, 4)), vld1q_s8(xq + 32));
            hi = QN_DOT16(hi, vreinterpretq_s8_u8(vshrq_n_u8(q1, 4)), vld1q_s8(xq + 48));
            sumi += sc[2 * c] * vaddvq_s32(lo) + sc[2 * c + 1] * vaddvq_s32(hi);
        }
        const int32_t summ = kestrel_q4_K_min_term(mn, x[b].bsums);
        acc += (kestrel_f16_to_f32_1(w[b].d) * x[b].d) * (float)sumi -
               (kestrel_f16_to_f32_1(w[b].dmin) * x[b].d) * (float)summ;
    }
    return acc;
}

float QN_FN(kestrel_vec_dot_q6_K_q8_K)(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    const uint8x16_t low4 = vdupq_n_u8(0x0F), m03 = vdupq_n_u8(0x03), m0c = vdupq_n_u8(0x0C);
    const uint8x16_t m30 = vdupq_n_u8(0x30), mc0 = vdupq_n_u8(0xC0);
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        const int8_t *sc = w[b].scales;
        int32_t sumi = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *L = w[b].ql + 64 * h, *H = w[b].qh + 32 * h;
            const int8_t *xq = x[b].qs + 128 * h;
            for (int half = 0; half < 2; half++) { /* l = 16 * half .. 16 * half + 15 */
                const int o = 16 * half;
                const uint8x16_t l0 = vld1q_u8(L + o), l1 = vld1q_u8(L + 32 + o), hh = vld1q_u8(H + o);
                uint8x16_t q[4];
                q[0] = vorrq_u8(vandq_u8(l0, low4), vshlq_n_u8(vandq_u8(hh, m03), 4));
                q[1] = vorrq_u8(vandq_u8(l1, low4), vshlq_n_u8(vandq_u8(hh, m0c), 2));
                q[2] = vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hh, m30));
                q[3] = vorrq_u8(vshrq_n_u8(l1, 4), vshrq_n_u8(vandq_u8(hh, mc0), 2));
                for (int t = 0; t < 4; t++) {
                    const int k = 8 * h + 2 * t + half; /* elements 128h + 32t + o .. +15 */
                    int32x4_t s = QN_DOT16(vdupq_n_s32(0), vreinterpretq_s8_u8(q[t]), vld1q_s8(xq + 32 * t + o));
                    sumi += (int32_t)sc[k] * vaddvq_s32(s);
                }
            }
        }
        sumi -= 32 * kestrel_q6_K_offset_term(sc, x[b].bsums);
        acc += (kestrel_f16_to_f32_1(w[b].d) * x[b].d) * (float)sumi;
    }
    return acc;
}

kestrel_status QN_FN(kestrel_gemv_i8)(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                                      const int8_t *x, float x_scale, float *y) {
    kestrel_status st = kestrel_check_gemv_i8(w, rows, cols, stride, row_scales, x, y);
    if (st != KESTREL_OK) return st;
    for (size_t r = 0; r < rows; r++)
        y[r] = (row_scales[r] * x_scale) * (float)(cols ? QN_FN(qn_dot)(w + r * stride, x, cols) : 0);
    return KESTREL_OK;
}

kestrel_status QN_FN(kestrel_gemm_i8)(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n,
                                      size_t ldb, const float *row_scales, const float *col_scales, float *c,
                                      size_t ldc) {
    kestrel_status st = kestrel_check_gemm_i8(a, m, k, lda, b, n, ldb, row_scales, col_scales, c, ldc);
    if (st != KESTREL_OK || m == 0 || n == 0) return st;
    const size_t panel = kestrel_gemm_panel_rows(k);
    for (size_t j0 = 0; j0 < n; j0 += panel) {
        const size_t j1 = n - j0 < panel ? n : j0 + panel;
        for (size_t i = 0; i < m; i++)
            for (size_t j = j0; j < j1; j++)
                c[i * ldc + j] = (row_scales[i] * col_scales[j]) * (float)(k ? QN_FN(qn_dot)(a + i * lda, b + j * ldb, k) : 0);
    }
    return KESTREL_OK;
}

KESTREL_DEFINE_GEMV_ROWS(QN_FN(kestrel_gemv_q8_0_q8_0), kestrel_block_q8_0, kestrel_block_q8_0,
                         QN_FN(kestrel_vec_dot_q8_0_q8_0))
KESTREL_DEFINE_GEMV_ROWS(QN_FN(kestrel_gemv_q4_0_q8_0), kestrel_block_q4_0, kestrel_block_q8_0,
                         QN_FN(kestrel_vec_dot_q4_0_q8_0))

#undef QN_FN
#undef QN_CAT
#undef QN_CAT_
