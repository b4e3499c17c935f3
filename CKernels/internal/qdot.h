/*
 * Helpers shared by the quantized dot-product files (qdot_*.c): argument checks of the int8
 * GEMV/GEMM, the Q4_K scale unpacking, and the per-tier registration macro. Not public.
 */
#ifndef KESTREL_QDOT_H
#define KESTREL_QDOT_H

#include "kestrel_tiers.h"

static inline kestrel_status kestrel_check_gemv_i8(const int8_t *w, size_t rows, size_t cols, size_t stride,
                                                   const float *row_scales, const int8_t *x, const float *y) {
    if (rows == 0) return KESTREL_OK;
    if (stride < cols || cols > KESTREL_QGEMV_MAX_COLS) return KESTREL_ERR_INVALID_ARGUMENT;
    if (y == NULL || row_scales == NULL) return KESTREL_ERR_NULL_POINTER;
    if (cols > 0 && (w == NULL || x == NULL)) return KESTREL_ERR_NULL_POINTER;
    return KESTREL_OK;
}

static inline kestrel_status kestrel_check_gemm_i8(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b,
                                                   size_t n, size_t ldb, const float *rs, const float *cs,
                                                   const float *c, size_t ldc) {
    if (m == 0 || n == 0) return KESTREL_OK;
    if (lda < k || ldb < k || ldc < n || k > KESTREL_QGEMV_MAX_COLS) return KESTREL_ERR_INVALID_ARGUMENT;
    if (c == NULL || rs == NULL || cs == NULL) return KESTREL_ERR_NULL_POINTER;
    if (k > 0 && (a == NULL || b == NULL)) return KESTREL_ERR_NULL_POINTER;
    return KESTREL_OK;
}

/* Argument check of the block GEMVs (kestrel_gemv_q8_0 ...). */
static inline kestrel_status kestrel_check_gemv_blocks(const void *w, size_t rows, size_t nblocks, const void *x,
                                                       const float *y) {
    if (rows == 0) return KESTREL_OK;
    if (y == NULL) return KESTREL_ERR_NULL_POINTER;
    if (nblocks > 0 && (w == NULL || x == NULL)) return KESTREL_ERR_NULL_POINTER;
    return KESTREL_OK;
}

/* Defines a block GEMV `name` that applies the block dot `dot` to every row. */
#define KESTREL_DEFINE_GEMV_ROWS(name, WT, XT, dot)                                                \
    kestrel_status name(const WT *w, size_t rows, size_t nblocks, const XT *x, float *y) {         \
        kestrel_status st = kestrel_check_gemv_blocks(w, rows, nblocks, x, y);                     \
        if (st != KESTREL_OK) return st;                                                           \
        for (size_t r = 0; r < rows; r++) y[r] = nblocks ? dot(w + r * nblocks, x, nblocks) : 0.0f; \
        return KESTREL_OK;                                                                         \
    }

/* The eight 6-bit (scale, min) pairs of a Q4_K super-block (layout: kestrel_quant.h / the README). */
static inline void kestrel_q4_K_scales(const uint8_t s[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        mn[j] = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* sum_j m_j * (bsums[2j] + bsums[2j+1]): the Q4_K mins' term (|value| <= 8 * 63 * 4096 < 2^22). */
static inline int32_t kestrel_q4_K_min_term(const uint8_t mn[8], const int16_t bsums[16]) {
    int32_t s = 0;
    for (int j = 0; j < 8; j++) s += (int32_t)mn[j] * ((int32_t)bsums[2 * j] + bsums[2 * j + 1]);
    return s;
}

/* sum_k scales[k] * bsums[k]: Q6_K's -32 offset term, before the factor 32 (|value| < 2^19). */
static inline int32_t kestrel_q6_K_offset_term(const int8_t scales[16], const int16_t bsums[16]) {
    int32_t s = 0;
    for (int k = 0; k < 16; k++) s += (int32_t)scales[k] * bsums[k];
    return s;
}

/* Panel of B rows the int8 GEMM keeps in cache while it sweeps A: about 128 KiB, at least 4 rows. */
static inline size_t kestrel_gemm_panel_rows(size_t k) {
    size_t r = k ? (size_t)131072 / k : 64;
    return r < 4 ? 4 : r;
}

#endif
