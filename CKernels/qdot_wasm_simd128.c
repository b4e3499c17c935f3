/*
 * WebAssembly SIMD (simd128) tier of the quantized dot products and the int8 GEMV/GEMM, for the
 * wasm32 module of CKernels/wasm/build.sh. Integer sums: codes split into sign-extended even and odd
 * i16 lanes (kestrel_wasm_dot16_i8) and multiplied pairwise with i32x4.dot_i16x8_s (exact: bounds in kestrel_kernels.h; any code, -128
 * included, since no sign trick is needed). The f32 block terms are added one block after the
 * other in the scalar reference's order, so Q8_0 / Q4_0 dots and GEMVs return the scalar tier's
 * bits, and int8 GEMV/GEMM are bit-identical as at every tier. Q4_K / Q6_K use the scalar dots.
 */
#include "internal/qdot.h"
#include "internal/kestrel_wasm_simd.h"

#if KESTREL_WASM_SIMD128

float kestrel_vec_dot_q8_0_q8_0_wasm_simd128(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x,
                                             size_t nblocks) {
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        const v128_t s = wasm_i32x4_add(kestrel_wasm_dot16_i8(wasm_v128_load(w[b].qs), wasm_v128_load(x[b].qs)),
                                        kestrel_wasm_dot16_i8(wasm_v128_load(w[b].qs + 16), wasm_v128_load(x[b].qs + 16)));
        acc += (kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d)) * (float)kestrel_wasm_hsum_i32(s);
    }
    return acc;
}

float kestrel_vec_dot_q4_0_q8_0_wasm_simd128(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x,
                                             size_t nblocks) {
    const v128_t mask = wasm_i8x16_splat(0x0F), eight = wasm_i8x16_splat(8);
    float acc = 0.0f;
    for (size_t b = 0; b < nblocks; b++) {
        const v128_t q = wasm_v128_load(w[b].qs);
        const v128_t lo = wasm_i8x16_sub(wasm_v128_and(q, mask), eight); /* elements 0..15 */
        const v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight);   /* elements 16..31 */
        const v128_t s = wasm_i32x4_add(kestrel_wasm_dot16_i8(lo, wasm_v128_load(x[b].qs)), kestrel_wasm_dot16_i8(hi, wasm_v128_load(x[b].qs + 16)));
        acc += (kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d)) * (float)kestrel_wasm_hsum_i32(s);
    }
    return acc;
}

/* Exact int8 dot of n <= KESTREL_QGEMV_MAX_COLS elements (|sum| <= 2^30). */
static int32_t dot_i8_exact(const int8_t *a, const int8_t *b, size_t n) {
    v128_t s0 = wasm_i32x4_splat(0), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = wasm_i32x4_add(s0, kestrel_wasm_dot16_i8(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        s1 = wasm_i32x4_add(s1, kestrel_wasm_dot16_i8(wasm_v128_load(a + i + 16), wasm_v128_load(b + i + 16)));
    }
    for (; i + 16 <= n; i += 16) s0 = wasm_i32x4_add(s0, kestrel_wasm_dot16_i8(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    int32_t s = kestrel_wasm_hsum_i32(wasm_i32x4_add(s0, s1));
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

kestrel_status kestrel_gemv_i8_wasm_simd128(const int8_t *w, size_t rows, size_t cols, size_t stride,
                                            const float *row_scales, const int8_t *x, float x_scale, float *y) {
    kestrel_status st = kestrel_check_gemv_i8(w, rows, cols, stride, row_scales, x, y);
    if (st != KESTREL_OK) return st;
    for (size_t r = 0; r < rows; r++)
        y[r] = (row_scales[r] * x_scale) * (float)(cols ? dot_i8_exact(w + r * stride, x, cols) : 0);
    return KESTREL_OK;
}

kestrel_status kestrel_gemm_i8_wasm_simd128(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n,
                                            size_t ldb, const float *row_scales, const float *col_scales, float *c,
                                            size_t ldc) {
    kestrel_status st = kestrel_check_gemm_i8(a, m, k, lda, b, n, ldb, row_scales, col_scales, c, ldc);
    if (st != KESTREL_OK) return st;
    /* Panels of B rows that stay in cache while every row of A passes over them. */
    const size_t panel = kestrel_gemm_panel_rows(k);
    for (size_t j0 = 0; j0 < n; j0 += panel) {
        const size_t j1 = n - j0 > panel ? j0 + panel : n;
        for (size_t i = 0; i < m; i++)
            for (size_t j = j0; j < j1; j++)
                c[i * ldc + j] =
                    (row_scales[i] * col_scales[j]) * (float)(k ? dot_i8_exact(a + i * lda, b + j * ldb, k) : 0);
    }
    return KESTREL_OK;
}

KESTREL_DEFINE_GEMV_ROWS(kestrel_gemv_q8_0_q8_0_wasm_simd128, kestrel_block_q8_0, kestrel_block_q8_0,
                         kestrel_vec_dot_q8_0_q8_0_wasm_simd128)
KESTREL_DEFINE_GEMV_ROWS(kestrel_gemv_q4_0_q8_0_wasm_simd128, kestrel_block_q4_0, kestrel_block_q8_0,
                         kestrel_vec_dot_q4_0_q8_0_wasm_simd128)

#endif /* KESTREL_WASM_SIMD128 */
