/*
 * Quantized dot products, int8 GEMV/GEMM: the scalar reference of every tier, the block GEMV
 * drivers, the active-tier entry points and the table registration.
 *
 * Integer sums are exact in int32 (bounds in kestrel_kernels.h); each block's term is
 * f32(f16(dw) * dx) * f32(isum) added into an f32 total in block order.
 */
#include "internal/qdot.h"

float kestrel_vec_dot_q8_0_q8_0_scalar(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x, size_t nblocks) {
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += (int32_t)w[b].qs[j] * x[b].qs[j];
        acc += (kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d)) * (float)s;
    }
    return acc;
}

float kestrel_vec_dot_q4_0_q8_0_scalar(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x, size_t nblocks) {
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        int32_t s = 0;
        for (int j = 0; j < 16; j++) {
            s += ((int32_t)(w[b].qs[j] & 0xF) - 8) * x[b].qs[j];
            s += ((int32_t)(w[b].qs[j] >> 4) - 8) * x[b].qs[j + 16];
        }
        acc += (kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d)) * (float)s;
    }
    return acc;
}

float kestrel_vec_dot_q4_K_q8_K_scalar(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t sc[8], mn[8];
        kestrel_q4_K_scales(w[b].scales, sc, mn);
        int32_t sumi = 0;
        for (int c = 0; c < 4; c++) {
            int32_t lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                lo += (int32_t)(w[b].qs[32 * c + l] & 0xF) * x[b].qs[64 * c + l];
                hi += (int32_t)(w[b].qs[32 * c + l] >> 4) * x[b].qs[64 * c + 32 + l];
            }
            sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        const int32_t summ = kestrel_q4_K_min_term(mn, x[b].bsums);
        acc += (kestrel_f16_to_f32_1(w[b].d) * x[b].d) * (float)sumi -
               (kestrel_f16_to_f32_1(w[b].dmin) * x[b].d) * (float)summ;
    }
    return acc;
}

float kestrel_vec_dot_q6_K_q8_K_scalar(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        int32_t sub[16] = {0}; /* sum of code * x (code unsigned, 0..63) per 16-element sub-block */
        for (int h = 0; h < 2; h++) {
            const uint8_t *L = w[b].ql + 64 * h, *H = w[b].qh + 32 * h;
            const int8_t *q = x[b].qs + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int c0 = (L[l] & 0xF) | (((H[l] >> 0) & 3) << 4);
                const int c1 = (L[l + 32] & 0xF) | (((H[l] >> 2) & 3) << 4);
                const int c2 = (L[l] >> 4) | (((H[l] >> 4) & 3) << 4);
                const int c3 = (L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4);
                sub[8 * h + 0 + l / 16] += c0 * q[l];
                sub[8 * h + 2 + l / 16] += c1 * q[l + 32];
                sub[8 * h + 4 + l / 16] += c2 * q[l + 64];
                sub[8 * h + 6 + l / 16] += c3 * q[l + 96];
            }
        }
        int32_t sumi = 0;
        for (int k = 0; k < 16; k++) sumi += (int32_t)w[b].scales[k] * sub[k];
        sumi -= 32 * kestrel_q6_K_offset_term(w[b].scales, x[b].bsums);
        acc += (kestrel_f16_to_f32_1(w[b].d) * x[b].d) * (float)sumi;
    }
    return acc;
}

static int32_t dot_i8_exact(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

kestrel_status kestrel_gemv_i8_scalar(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                                      const int8_t *x, float x_scale, float *y) {
    kestrel_status st = kestrel_check_gemv_i8(w, rows, cols, stride, row_scales, x, y);
    if (st != KESTREL_OK) return st;
    for (size_t r = 0; r < rows; r++)
        y[r] = (row_scales[r] * x_scale) * (float)(cols ? dot_i8_exact(w + r * stride, x, cols) : 0);
    return KESTREL_OK;
}

kestrel_status kestrel_gemm_i8_scalar(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n,
                                      size_t ldb, const float *row_scales, const float *col_scales, float *c,
                                      size_t ldc) {
    kestrel_status st = kestrel_check_gemm_i8(a, m, k, lda, b, n, ldb, row_scales, col_scales, c, ldc);
    if (st != KESTREL_OK) return st;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] = (row_scales[i] * col_scales[j]) * (float)(k ? dot_i8_exact(a + i * lda, b + j * ldb, k) : 0);
    return KESTREL_OK;
}

/* ---- active tier ---- */

float kestrel_vec_dot_q8_0_q8_0(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x, size_t nblocks) {
    return kestrel_kernels()->vec_dot_q8_0_q8_0(w, x, nblocks);
}
float kestrel_vec_dot_q4_0_q8_0(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x, size_t nblocks) {
    return kestrel_kernels()->vec_dot_q4_0_q8_0(w, x, nblocks);
}
float kestrel_vec_dot_q4_K_q8_K(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    return kestrel_kernels()->vec_dot_q4_K_q8_K(w, x, nblocks);
}
float kestrel_vec_dot_q6_K_q8_K(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks) {
    return kestrel_kernels()->vec_dot_q6_K_q8_K(w, x, nblocks);
}
kestrel_status kestrel_gemv_i8(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                               const int8_t *x, float x_scale, float *y) {
    return kestrel_kernels()->gemv_i8(w, rows, cols, stride, row_scales, x, x_scale, y);
}
kestrel_status kestrel_gemm_i8(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n, size_t ldb,
                               const float *row_scales, const float *col_scales, float *c, size_t ldc) {
    return kestrel_kernels()->gemm_i8(a, m, k, lda, b, n, ldb, row_scales, col_scales, c, ldc);
}

KESTREL_DEFINE_GEMV_ROWS(kestrel_gemv_q8_0_q8_0_scalar, kestrel_block_q8_0, kestrel_block_q8_0,
                         kestrel_vec_dot_q8_0_q8_0_scalar)
KESTREL_DEFINE_GEMV_ROWS(kestrel_gemv_q4_0_q8_0_scalar, kestrel_block_q4_0, kestrel_block_q8_0,
                         kestrel_vec_dot_q4_0_q8_0_scalar)

kestrel_status kestrel_gemv_q8_0(const kestrel_block_q8_0 *w, size_t rows, size_t nblocks, const kestrel_block_q8_0 *x,
                                 float *y) {
    return kestrel_kernels()->gemv_q8_0_q8_0(w, rows, nblocks, x, y);
}
kestrel_status kestrel_gemv_q4_0(const kestrel_block_q4_0 *w, size_t rows, size_t nblocks, const kestrel_block_q8_0 *x,
                                 float *y) {
    return kestrel_kernels()->gemv_q4_0_q8_0(w, rows, nblocks, x, y);
}

/* K-quants: the active tier's block dot, read once per call, row by row. */
#define KESTREL_DEFINE_GEMV_ACTIVE(name, WT, XT, entry)                                            \
    kestrel_status name(const WT *w, size_t rows, size_t nblocks, const XT *x, float *y) {         \
        float (*dot)(const WT *, const XT *, size_t) = kestrel_kernels()->entry;                   \
        kestrel_status st = kestrel_check_gemv_blocks(w, rows, nblocks, x, y);                     \
        if (st != KESTREL_OK) return st;                                                           \
        for (size_t r = 0; r < rows; r++) y[r] = nblocks ? dot(w + r * nblocks, x, nblocks) : 0.0f; \
        return KESTREL_OK;                                                                         \
    }

KESTREL_DEFINE_GEMV_ACTIVE(kestrel_gemv_q4_K, kestrel_block_q4_K, kestrel_block_q8_K, vec_dot_q4_K_q8_K)
KESTREL_DEFINE_GEMV_ACTIVE(kestrel_gemv_q6_K, kestrel_block_q6_K, kestrel_block_q8_K, vec_dot_q6_K_q8_K)

/* ---- registration ---- */

#define SET_QDOT(t, tier)                                              \
    do {                                                               \
        (t)->vec_dot_q8_0_q8_0 = kestrel_vec_dot_q8_0_q8_0_##tier;     \
        (t)->vec_dot_q4_0_q8_0 = kestrel_vec_dot_q4_0_q8_0_##tier;     \
        (t)->vec_dot_q4_K_q8_K = kestrel_vec_dot_q4_K_q8_K_##tier;     \
        (t)->vec_dot_q6_K_q8_K = kestrel_vec_dot_q6_K_q8_K_##tier;     \
        (t)->gemv_i8 = kestrel_gemv_i8_##tier;                         \
        (t)->gemm_i8 = kestrel_gemm_i8_##tier;                         \
        (t)->gemv_q8_0_q8_0 = kestrel_gemv_q8_0_q8_0_##tier;           \
        (t)->gemv_q4_0_q8_0 = kestrel_gemv_q4_0_q8_0_##tier;           \
    } while (0)

void kestrel_register_qdot(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: SET_QDOT(t, scalar); break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: SET_QDOT(t, avx2); break;
    case KESTREL_ISA_AVX512VNNI:
        t->vec_dot_q8_0_q8_0 = kestrel_vec_dot_q8_0_q8_0_avx512vnni;
        t->vec_dot_q4_0_q8_0 = kestrel_vec_dot_q4_0_q8_0_avx512vnni;
        t->vec_dot_q4_K_q8_K = kestrel_vec_dot_q4_K_q8_K_avx512vnni;
        t->vec_dot_q6_K_q8_K = kestrel_vec_dot_q6_K_q8_K_avx512vnni;
        t->gemv_i8 = kestrel_gemv_i8_avx512vnni;
        t->gemm_i8 = kestrel_gemm_i8_avx512vnni;
        t->gemv_q8_0_q8_0 = kestrel_gemv_q8_0_q8_0_avx512vnni;
        t->gemv_q4_0_q8_0 = kestrel_gemv_q4_0_q8_0_avx512vnni;
        break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: SET_QDOT(t, neon); break;
    case KESTREL_ISA_NEONDOT: SET_QDOT(t, neondot); break;
#endif
    default: break;
    }
}
