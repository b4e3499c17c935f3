/* Exact attention tiles, scalar reference tier (kestrel_attention.h). */
#include <math.h>

#include "include/kestrel_attention.h"
#include "internal/kestrel_internal.h"

size_t kestrel_attention_scratch_floats(size_t block_q, size_t block_k, size_t d) {
    size_t per_row = block_k + d;
    if (per_row < block_k || per_row + 2 < per_row) return 0;
    per_row += 2;
    if (block_q != 0 && per_row > SIZE_MAX / block_q) return 0;
    return block_q * per_row;
}

/* Visible keys of the row at key-position `pos` (= diag + r): [lo, hi). */
static inline void visible_range(const kestrel_attention_args *a, ptrdiff_t pos, ptrdiff_t *lo, ptrdiff_t *hi) {
    ptrdiff_t h = (ptrdiff_t)a->kv_len;
    if (a->causal && pos + 1 < h) h = pos + 1;
    ptrdiff_t l = 0;
    if (a->window_left >= 0 && pos - a->window_left > l) l = pos - a->window_left;
    *lo = l;
    *hi = h;
}

kestrel_status kestrel_attention_f32_scalar(const kestrel_attention_args *a) {
    if (a == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->d == 0 || a->block_q == 0 || a->block_k == 0 || a->kv_len > a->nk) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->nq == 0) return KESTREL_OK;
    if (a->q == NULL || a->o == NULL || a->scratch == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->nk > 0 && (a->k == NULL || a->v == NULL)) return KESTREL_ERR_NULL_POINTER;
    if (a->q_stride < a->d || a->o_stride < a->d || (a->nk > 0 && (a->k_stride < a->d || a->v_stride < a->d)))
        return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->bias != NULL && a->bias_stride < a->nk) return KESTREL_ERR_INVALID_ARGUMENT;

    const size_t d = a->d, bq = a->block_q, bk = a->block_k;
    float *s = a->scratch;    /* [bq, bk] scores, then probabilities */
    float *acc = s + bq * bk; /* [bq, d] unnormalised output */
    float *m = acc + bq * d;  /* [bq] running max */
    float *l = m + bq;        /* [bq] running sum */

    for (size_t i0 = 0; i0 < a->nq; i0 += bq) {
        const size_t rows = a->nq - i0 < bq ? a->nq - i0 : bq;
        /* Keys any row of this block can see: the first row's low end, the last row's high end. */
        ptrdiff_t lo_first, hi_first, lo_last, hi_last;
        visible_range(a, a->diag + (ptrdiff_t)i0, &lo_first, &hi_first);
        visible_range(a, a->diag + (ptrdiff_t)(i0 + rows - 1), &lo_last, &hi_last);
        const ptrdiff_t block_lo = lo_first, block_hi = hi_last;

        for (size_t r = 0; r < rows; r++) {
            m[r] = -INFINITY;
            l[r] = 0.0f;
            for (size_t c = 0; c < d; c++) acc[r * d + c] = 0.0f;
        }
        for (ptrdiff_t j0 = block_lo; j0 < block_hi; j0 += (ptrdiff_t)bk) {
            const size_t cols = (size_t)(block_hi - j0) < bk ? (size_t)(block_hi - j0) : bk;
            for (size_t r = 0; r < rows; r++) {
                const float *qr = a->q + (i0 + r) * a->q_stride;
                ptrdiff_t lo, hi;
                visible_range(a, a->diag + (ptrdiff_t)(i0 + r), &lo, &hi);
                float *sr = s + r * bk;
                float row_max = -INFINITY;
                for (size_t c = 0; c < cols; c++) {
                    const ptrdiff_t j = j0 + (ptrdiff_t)c;
                    if (j < lo || j >= hi) {
                        sr[c] = -INFINITY;
                        continue;
                    }
                    const float *kj = a->k + (size_t)j * a->k_stride;
                    float dot = 0.0f;
                    for (size_t t = 0; t < d; t++) dot += qr[t] * kj[t];
                    float x = a->scale * dot;
                    if (a->bias != NULL) x += a->bias[(i0 + r) * a->bias_stride + (size_t)j];
                    sr[c] = x;
                    if (x > row_max) row_max = x;
                }
                const float m_new = row_max > m[r] ? row_max : m[r];
                if (m_new == -INFINITY) continue; /* nothing visible to this row yet */
                const float alpha = expf(m[r] - m_new); /* 0 when m[r] is -inf */
                float sum = 0.0f;
                float *ar = acc + r * d;
                for (size_t t = 0; t < d; t++) ar[t] *= alpha;
                for (size_t c = 0; c < cols; c++) {
                    const float p = expf(sr[c] - m_new); /* exp(-inf) = 0 for masked keys */
                    sum += p;
                    if (p == 0.0f) continue;
                    const float *vj = a->v + (size_t)(j0 + (ptrdiff_t)c) * a->v_stride;
                    for (size_t t = 0; t < d; t++) ar[t] += p * vj[t];
                }
                l[r] = l[r] * alpha + sum;
                m[r] = m_new;
            }
        }
        for (size_t r = 0; r < rows; r++) {
            float *orow = a->o + (i0 + r) * a->o_stride;
            if (l[r] != 0.0f) { /* NaN propagates (the Swift layer refuses non-finite inputs) */
                const float inv = 1.0f / l[r];
                for (size_t t = 0; t < d; t++) orow[t] = acc[r * d + t] * inv;
                if (a->lse) a->lse[i0 + r] = m[r] + logf(l[r]);
            } else {
                for (size_t t = 0; t < d; t++) orow[t] = 0.0f;
                if (a->lse) a->lse[i0 + r] = -INFINITY;
            }
        }
    }
    return KESTREL_OK;
}
