/* Exact attention tiles, scalar reference tier, and the online-softmax pieces (kestrel_attention.h). */
#include <math.h>

#include "include/kestrel_attention.h"
#include "internal/kestrel_internal.h"
#include "internal/attention.h"

/* a * b + c, or SIZE_MAX on overflow (SIZE_MAX then poisons every later step). */
static size_t mul_add(size_t a, size_t b, size_t c) {
    if (a == SIZE_MAX || b == SIZE_MAX || c == SIZE_MAX) return SIZE_MAX;
    if (a != 0 && b > (SIZE_MAX - c) / a) return SIZE_MAX;
    return a * b + c;
}

size_t kestrel_attention_scratch_floats(size_t block_q, size_t block_k, size_t d) {
    if (block_q > SIZE_MAX - KESTREL_ATT_QPAD) return 0;
    const size_t p = kestrel_att_qpad(block_q);
    size_t n = mul_add(p, d, 0);          /* qt */
    n = mul_add(block_k, p, n);           /* st */
    n = mul_add(block_q, d, n);           /* acc */
    n = mul_add(4, p, n);                 /* m, l, al, ms */
    n = mul_add(2 * (block_k > SIZE_MAX / 2 ? SIZE_MAX : block_k), d, n); /* kc, vc */
    return n == SIZE_MAX ? 0 : n;
}

kestrel_status kestrel_attention_check(const kestrel_attention_args *a) {
    if (a == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->d == 0 || a->block_q == 0 || a->block_k == 0 || a->kv_len > a->nk) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->kv_format < KESTREL_ATTENTION_KV_F32 || a->kv_format > KESTREL_ATTENTION_KV_BF16) return KESTREL_ERR_INVALID_ARGUMENT;
    if (kestrel_attention_scratch_floats(a->block_q, a->block_k, a->d) == 0) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->nq == 0) return KESTREL_OK;
    if (a->q == NULL || a->o == NULL || a->scratch == NULL) return KESTREL_ERR_NULL_POINTER;
    const int f32 = a->kv_format == KESTREL_ATTENTION_KV_F32;
    if (a->nk > 0 && (f32 ? (a->k == NULL || a->v == NULL) : (a->k16 == NULL || a->v16 == NULL)))
        return KESTREL_ERR_NULL_POINTER;
    if (a->q_stride < a->d || a->o_stride < a->d || (a->nk > 0 && (a->k_stride < a->d || a->v_stride < a->d)))
        return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->bias != NULL && a->bias_stride < a->nk) return KESTREL_ERR_INVALID_ARGUMENT;
    return KESTREL_OK;
}

kestrel_status kestrel_attention_f32(const kestrel_attention_args *a) { return kestrel_kernels()->attention_f32(a); }

void kestrel_attention_key_range(const kestrel_attention_args *a, size_t rows, ptrdiff_t *lo, ptrdiff_t *hi) {
    ptrdiff_t lo_first, hi_first, lo_last, hi_last;
    /* Both ends grow with the row: the first row bounds the low end, the last the high end. */
    kestrel_att_visible(a, a->diag, &lo_first, &hi_first);
    kestrel_att_visible(a, a->diag + (ptrdiff_t)(rows ? rows - 1 : 0), &lo_last, &hi_last);
    *lo = lo_first;
    *hi = hi_last;
}

void kestrel_attention_block_update_f32(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols,
                                        float *s, size_t lds, float *acc, size_t d, float *m, float *l) {
    kestrel_attention_block_update_with(a, rows, j0, cols, s, lds, acc, d, m, l, kestrel_kernels()->exp_f32);
}

void kestrel_attention_block_update_with(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols,
                                         float *s, size_t lds, float *acc, size_t d, float *m, float *l,
                                         kestrel_unary_f32_fn expf_v) {
    for (size_t r = 0; r < rows; r++) {
        ptrdiff_t lo, hi;
        kestrel_att_visible(a, a->diag + (ptrdiff_t)r, &lo, &hi);
        float *sr = s + r * lds;
        const float *br = a->bias ? a->bias + r * a->bias_stride + j0 : NULL;
        float row_max = -INFINITY;
        for (size_t c = 0; c < cols; c++) {
            const ptrdiff_t j = j0 + (ptrdiff_t)c;
            float x = (j < lo || j >= hi) ? -INFINITY : sr[c] + (br ? br[c] : 0.0f);
            sr[c] = x;
            if (x > row_max) row_max = x;
        }
        const float m_new = row_max > m[r] ? row_max : m[r];
        float *ar = acc + r * d;
        if (m_new == -INFINITY) { /* nothing visible to this row yet: probabilities 0 */
            for (size_t c = 0; c < cols; c++) sr[c] = 0.0f;
            continue;
        }
        for (size_t c = 0; c < cols; c++) sr[c] -= m_new;
        expf_v(sr, sr, cols); /* exp(-inf) = 0 for masked keys */
        float sum = 0.0f;
        for (size_t c = 0; c < cols; c++) sum += sr[c];
        const float alpha = expf(m[r] - m_new); /* 0 when m[r] is -inf */
        if (alpha != 1.0f)
            for (size_t t = 0; t < d; t++) ar[t] *= alpha;
        l[r] = l[r] * alpha + sum;
        m[r] = m_new;
    }
}

void kestrel_attention_block_finish_f32(size_t rows, size_t d, const float *acc, const float *m, const float *l,
                                        float *o, size_t o_stride, float *lse) {
    for (size_t r = 0; r < rows; r++) {
        float *orow = o + r * o_stride;
        if (l[r] != 0.0f) { /* NaN propagates (the Swift layer refuses non-finite inputs by default) */
            const float inv = 1.0f / l[r];
            for (size_t t = 0; t < d; t++) orow[t] = acc[r * d + t] * inv;
            if (lse) lse[r] = m[r] + logf(l[r]);
        } else {
            for (size_t t = 0; t < d; t++) orow[t] = 0.0f;
            if (lse) lse[r] = -INFINITY;
        }
    }
}

kestrel_status kestrel_attention_f32_scalar(const kestrel_attention_args *a) {
    kestrel_status st = kestrel_attention_check(a);
    if (st != KESTREL_OK || a->nq == 0) return st;

    const size_t d = a->d, bq = a->block_q, bk = a->block_k;
    float *s = a->scratch;    /* [bq, bk] scores, then probabilities */
    float *acc = s + bq * bk; /* [bq, d] unnormalised output */
    float *m = acc + bq * d;  /* [bq] running max */
    float *l = m + bq;        /* [bq] running sum */
    float *kc = l + bq;       /* [bk, d] K block as f32 (f16/bf16 inputs) */
    float *vc = kc + bk * d;  /* [bk, d] V block as f32 */
    kestrel_u16_to_f32_fn conv = kestrel_att_kv_convert(kestrel_kernels_for(KESTREL_ISA_SCALAR), a->kv_format);

    for (size_t i0 = 0; i0 < a->nq; i0 += bq) {
        const size_t rows = a->nq - i0 < bq ? a->nq - i0 : bq;
        kestrel_attention_args blk = *a; /* the block's rows: shift the diagonal and the bias */
        blk.diag = a->diag + (ptrdiff_t)i0;
        if (a->bias) blk.bias = a->bias + i0 * a->bias_stride;
        ptrdiff_t lo, hi;
        kestrel_attention_key_range(&blk, rows, &lo, &hi);
        for (size_t r = 0; r < rows; r++) {
            m[r] = -INFINITY;
            l[r] = 0.0f;
            for (size_t t = 0; t < d; t++) acc[r * d + t] = 0.0f;
        }
        for (ptrdiff_t j0 = lo; j0 < hi; j0 += (ptrdiff_t)bk) {
            const size_t cols = (size_t)(hi - j0) < bk ? (size_t)(hi - j0) : bk;
            /* Key c of the block at kb + c * ks, its value at vb + c * vs. */
            const float *kb, *vb;
            size_t ks, vs;
            if (conv) {
                for (size_t c = 0; c < cols; c++) {
                    conv(a->k16 + (size_t)(j0 + (ptrdiff_t)c) * a->k_stride, kc + c * d, d);
                    conv(a->v16 + (size_t)(j0 + (ptrdiff_t)c) * a->v_stride, vc + c * d, d);
                }
                kb = kc, vb = vc, ks = vs = d;
            } else {
                kb = a->k + (size_t)j0 * a->k_stride, vb = a->v + (size_t)j0 * a->v_stride;
                ks = a->k_stride, vs = a->v_stride;
            }
            for (size_t r = 0; r < rows; r++) {
                const float *qr = a->q + (i0 + r) * a->q_stride;
                for (size_t c = 0; c < cols; c++) {
                    const float *kj = kb + c * ks;
                    float dot = 0.0f;
                    for (size_t t = 0; t < d; t++) dot += qr[t] * kj[t];
                    s[r * bk + c] = a->scale * dot;
                }
            }
            kestrel_attention_block_update_with(&blk, rows, j0, cols, s, bk, acc, d, m, l, kestrel_exp_f32_scalar);
            for (size_t r = 0; r < rows; r++) {
                float *ar = acc + r * d;
                for (size_t c = 0; c < cols; c++) {
                    const float p = s[r * bk + c];
                    if (p == 0.0f) continue;
                    const float *vj = vb + c * vs;
                    for (size_t t = 0; t < d; t++) ar[t] += p * vj[t];
                }
            }
        }
        kestrel_attention_block_finish_f32(rows, d, acc, m, l, a->o + i0 * a->o_stride, a->o_stride,
                                           a->lse ? a->lse + i0 : NULL);
    }
    return KESTREL_OK;
}

void kestrel_register_attention(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: t->attention_f32 = kestrel_attention_f32_scalar; break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: t->attention_f32 = kestrel_attention_f32_avx2; break;
    case KESTREL_ISA_AVX512: t->attention_f32 = kestrel_attention_f32_avx512; break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: t->attention_f32 = kestrel_attention_f32_neon; break;
#endif
    default: break;
    }
}
