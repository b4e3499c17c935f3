/*
 * The attention backward pass's pieces (kestrel_attention_backward.h): the elementwise steps
 * (portable C), and the scalar reference tier of the whole backward tile with its argument rules
 * and registration; the SIMD tiles are in attention_<tier>.c (internal/attention_bwd_body.h).
 */
#include <math.h>

#include "include/kestrel_attention_backward.h"
#include "internal/kestrel_internal.h"
#include "internal/attention.h"

void kestrel_attention_bwd_delta_f32(size_t rows, size_t d, const float *dout, size_t dout_stride, const float *out,
                                     size_t out_stride, float *delta) {
    for (size_t r = 0; r < rows; r++) {
        const float *g = dout + r * dout_stride, *o = out + r * out_stride;
        double sum = 0.0; /* one value per row: double costs nothing here and keeps D exact to f32 */
        for (size_t t = 0; t < d; t++) sum += (double)g[t] * (double)o[t];
        delta[r] = (float)sum;
    }
}

void kestrel_attention_bwd_probs_f32(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols, float *s,
                                     size_t lds, const float *lse) {
    for (size_t r = 0; r < rows; r++) {
        float *sr = s + r * lds;
        const float l = lse[r];
        if (l == -INFINITY) { /* the row sees no key: P = 0 (not exp(-inf + inf) = NaN) */
            for (size_t c = 0; c < cols; c++) sr[c] = 0.0f;
            continue;
        }
        const ptrdiff_t pos = a->diag + (ptrdiff_t)r;
        ptrdiff_t hi = (ptrdiff_t)a->kv_len, lo = 0;
        if (a->causal && pos + 1 < hi) hi = pos + 1;
        if (a->window_left >= 0 && pos - a->window_left > lo) lo = pos - a->window_left;
        /* visible columns [c0, c1) of this block */
        ptrdiff_t c0 = lo - j0, c1 = hi - j0;
        if (c0 < 0) c0 = 0;
        if (c1 > (ptrdiff_t)cols) c1 = (ptrdiff_t)cols;
        if (c1 < c0) c1 = c0;
        const float *br = a->bias ? a->bias + r * a->bias_stride + j0 : NULL;
        for (ptrdiff_t c = 0; c < c0; c++) sr[c] = -INFINITY;
        if (br)
            for (ptrdiff_t c = c0; c < c1; c++) sr[c] = sr[c] + br[c] - l;
        else
            for (ptrdiff_t c = c0; c < c1; c++) sr[c] -= l;
        for (ptrdiff_t c = c1; c < (ptrdiff_t)cols; c++) sr[c] = -INFINITY;
        kestrel_exp_f32(sr, sr, cols); /* exp(-inf) = 0 for masked keys */
    }
}

void kestrel_attention_bwd_dscores_f32(size_t rows, size_t cols, const float *p, size_t ldp, float *dp, size_t lddp,
                                       const float *delta) {
    for (size_t r = 0; r < rows; r++) {
        const float *pr = p + r * ldp;
        float *gr = dp + r * lddp;
        const float dr = delta[r];
        for (size_t c = 0; c < cols; c++) {
            const float x = pr[c] * (gr[c] - dr);
            gr[c] = pr[c] == 0.0f ? 0.0f : x;
        }
    }
}

size_t kestrel_attention_bwd_scratch_floats(size_t rows, size_t cols, size_t d) {
    if (rows > SIZE_MAX - KESTREL_ATT_QPAD) return 0;
    const size_t p = kestrel_att_qpad(rows ? rows : 1); /* at least one lane group: 0 means overflow */
    /* 2·p·d + 2·cols·p + 2·p = 2·p·(d + cols + 1), each step checked */
    if (d > SIZE_MAX - 1 || cols > SIZE_MAX - 1 - d) return 0;
    const size_t w = d + cols + 1;
    if (p != 0 && w > SIZE_MAX / 2 / p) return 0;
    return 2 * p * w;
}

kestrel_status kestrel_attention_bwd_check(const kestrel_attention_bwd_args *a) {
    if (a == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->d == 0 || kestrel_attention_bwd_scratch_floats(a->rows, a->cols, a->d) == 0) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->rows == 0 || a->cols == 0) return KESTREL_OK;
    if (a->q == NULL || a->k == NULL || a->v == NULL || a->dout == NULL || a->lse == NULL || a->delta == NULL ||
        a->dq == NULL || a->dk == NULL || a->dv == NULL || a->scratch == NULL)
        return KESTREL_ERR_NULL_POINTER;
    const size_t d = a->d;
    if (a->q_stride < d || a->k_stride < d || a->v_stride < d || a->dout_stride < d || a->dq_stride < d ||
        a->dk_stride < d || a->dv_stride < d)
        return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->bias != NULL && (a->j0 < 0 || a->bias_stride < (size_t)a->j0 + a->cols)) return KESTREL_ERR_INVALID_ARGUMENT;
    return KESTREL_OK;
}

kestrel_status kestrel_attention_bwd_tile_f32(const kestrel_attention_bwd_args *a) {
    return kestrel_kernels()->attention_bwd_tile_f32(a);
}

kestrel_status kestrel_attention_bwd_tile_f32_scalar(const kestrel_attention_bwd_args *a) {
    kestrel_status st = kestrel_attention_bwd_check(a);
    if (st != KESTREL_OK || a->rows == 0 || a->cols == 0) return st;
    const size_t rows = a->rows, cols = a->cols, d = a->d;
    float *p = a->scratch, *ds = p + rows * cols; /* [rows][cols] each, row-major */
    const kestrel_attention_args mask = kestrel_att_bwd_mask(a);
    for (size_t r = 0; r < rows; r++) {
        float *pr = p + r * cols;
        const float l = a->lse[r];
        const float *qr = a->q + r * a->q_stride;
        ptrdiff_t lo, hi;
        kestrel_att_visible(&mask, a->diag + (ptrdiff_t)r, &lo, &hi);
        for (size_t c = 0; c < cols; c++) {
            const ptrdiff_t j = a->j0 + (ptrdiff_t)c;
            if (l == -INFINITY || j < lo || j >= hi) { /* masked, or the row sees no key */
                pr[c] = -INFINITY;
                continue;
            }
            const float *kc = a->k + c * a->k_stride;
            float dot = 0.0f;
            for (size_t t = 0; t < d; t++) dot += qr[t] * kc[t];
            float s = a->scale * dot;
            if (a->bias) s += a->bias[r * a->bias_stride + (size_t)j];
            pr[c] = s - l;
        }
        kestrel_exp_f32_scalar(pr, pr, cols); /* exp(-inf) = 0 */
    }
    for (size_t r = 0; r < rows; r++) {
        const float *pr = p + r * cols, *gr = a->dout + r * a->dout_stride;
        float *dsr = ds + r * cols;
        for (size_t c = 0; c < cols; c++) {
            const float *vc = a->v + c * a->v_stride;
            float *dvc = a->dv + c * a->dv_stride;
            float dot = 0.0f;
            for (size_t t = 0; t < d; t++) dot += gr[t] * vc[t];
            if (pr[c] == 0.0f) { /* contributes nothing, even when dO is NaN */
                dsr[c] = 0.0f;
                continue;
            }
            for (size_t t = 0; t < d; t++) dvc[t] += pr[c] * gr[t];
            dsr[c] = a->scale * (pr[c] * (dot - a->delta[r]));
        }
    }
    for (size_t r = 0; r < rows; r++) {
        const float *dsr = ds + r * cols, *qr = a->q + r * a->q_stride;
        float *dqr = a->dq + r * a->dq_stride;
        for (size_t c = 0; c < cols; c++) {
            if (dsr[c] == 0.0f) continue;
            const float *kc = a->k + c * a->k_stride;
            float *dkc = a->dk + c * a->dk_stride;
            for (size_t t = 0; t < d; t++) {
                dqr[t] += dsr[c] * kc[t];
                dkc[t] += dsr[c] * qr[t];
            }
        }
    }
    return KESTREL_OK;
}

void kestrel_register_attention_backward(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: t->attention_bwd_tile_f32 = kestrel_attention_bwd_tile_f32_scalar; break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: t->attention_bwd_tile_f32 = kestrel_attention_bwd_tile_f32_avx2; break;
    case KESTREL_ISA_AVX512: t->attention_bwd_tile_f32 = kestrel_attention_bwd_tile_f32_avx512; break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: t->attention_bwd_tile_f32 = kestrel_attention_bwd_tile_f32_neon; break;
#endif
    default: break;
    }
}
