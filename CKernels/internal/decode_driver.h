/*
 * decode_driver.h — the body of a decode_partial tier (kestrel_decode.h), shared by every tier.
 *
 * A tier file defines, inside its target region and before including this header:
 *   DECODE_NAME                       the function to define (kestrel_decode_partial_<tier>)
 *   DECODE_EXP(x, y, n)               the tier's vector exp
 *   static inline const float *decode_row_f32(int dtype, const void *row, float *tmp, size_t d)
 *                                     the row as f32: the row itself (f32) or widened into tmp
 *   static inline float decode_dot(const float *a, const float *b, size_t d)
 *   static inline void decode_accumulate(const float *p, const float *v, size_t ld, size_t n, float *acc, size_t d)
 *                                     acc[t] += Σ_c p[c] · v[c · ld + t]: a slice of acc stays in
 *                                     registers while the chunk's n value rows stream through it
 * The tier-specific parts are these row operations; the loop over chunks, the masks and the
 * online softmax are here once, so every tier applies identical rules.
 */
#include "kestrel_decode.h"

/* Visible part [*lo, *hi) ∪ [*lo2, *hi2) of chunk [t0, t1) for the query token at `pos`. */
static inline int decode_visible(const kestrel_decode_args *a, ptrdiff_t pos, ptrdiff_t t0, ptrdiff_t t1,
                                 ptrdiff_t *lo, ptrdiff_t *hi, ptrdiff_t *lo2, ptrdiff_t *hi2) {
    ptrdiff_t upper = a->causal && pos + 1 < t1 ? pos + 1 : t1;
    ptrdiff_t sink_hi = 0, win_lo = t0;
    if (a->window_left >= 0) {
        sink_hi = (ptrdiff_t)a->sink < upper ? (ptrdiff_t)a->sink : upper;
        if (pos - a->window_left > win_lo) win_lo = pos - a->window_left;
    }
    *lo = t0;
    *hi = sink_hi > t0 ? sink_hi : t0; /* sink part */
    *lo2 = win_lo > *hi ? win_lo : *hi;
    *hi2 = upper > *lo2 ? upper : *lo2;
    return *hi > *lo || *hi2 > *lo2;
}

kestrel_status DECODE_NAME(const kestrel_decode_args *a) {
    kestrel_status st = kestrel_decode_check(a);
    if (st != KESTREL_OK) return st;
    const size_t d = a->d, nq = a->nq, rows = a->group * nq, ch = KESTREL_DECODE_CHUNK;
    float *acc = a->acc, *m = a->m, *l = a->l, *s = a->scratch, *tmp = a->scratch + rows * ch;
    const size_t esize = a->dtype == KESTREL_KV_F32 ? 4 : a->dtype == KESTREL_KV_F16 ? 2 : 1;
    for (size_t r = 0; r < rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        for (size_t t = 0; t < d; t++) acc[r * d + t] = 0.0f;
    }
    size_t t = a->lo;
    while (t < a->hi) {
        const size_t b = t / a->block_tokens, in = t % a->block_tokens;
        size_t end = (b + 1) * a->block_tokens;
        if (end > a->hi) end = a->hi;
        if (end > t + ch) end = t + ch;
        const size_t n = end - t;
        ptrdiff_t lo[KESTREL_DECODE_MAX_QUERIES], hi[KESTREL_DECODE_MAX_QUERIES];
        ptrdiff_t lo2[KESTREL_DECODE_MAX_QUERIES], hi2[KESTREL_DECODE_MAX_QUERIES];
        int any = 0;
        for (size_t i = 0; i < nq; i++)
            any |= decode_visible(a, a->diag + (ptrdiff_t)i, (ptrdiff_t)t, (ptrdiff_t)end, &lo[i], &hi[i], &lo2[i], &hi2[i]);
        if (!any) { /* nothing here for any row: the rows are not even read */
            t = end;
            continue;
        }
        const unsigned char *kb = (const unsigned char *)a->k_blocks[b];
        const unsigned char *vb = (const unsigned char *)a->v_blocks[b];
        if (kb == NULL || vb == NULL) return KESTREL_ERR_INVALID_ARGUMENT; /* needed token was evicted */
        const float *ksc = a->dtype == KESTREL_KV_I8 ? a->k_scales[b] : NULL;
        const float *vsc = a->dtype == KESTREL_KV_I8 ? a->v_scales[b] : NULL;
        if (a->dtype == KESTREL_KV_I8 && (ksc == NULL || vsc == NULL)) return KESTREL_ERR_NULL_POINTER;

        /* Scores: each K row once, against every row of the group. */
        for (size_t c = 0; c < n; c++) {
            const size_t row = in + c;
            const float *kf = decode_row_f32(a->dtype, kb + row * a->row_stride * esize, tmp, d);
            const float f = a->scale * (ksc ? ksc[row * a->scale_stride] : 1.0f);
            for (size_t r = 0; r < rows; r++) s[r * ch + c] = f * decode_dot(a->q + r * a->q_stride, kf, d);
        }
        /* Masks and the online softmax. */
        for (size_t r = 0; r < rows; r++) {
            const size_t i = r % nq;
            float *sr = s + r * ch;
            float row_max = -INFINITY;
            for (size_t c = 0; c < n; c++) {
                const ptrdiff_t j = (ptrdiff_t)(t + c);
                const int vis = (j >= lo[i] && j < hi[i]) || (j >= lo2[i] && j < hi2[i]);
                const float x = vis ? sr[c] : -INFINITY;
                sr[c] = x;
                if (x > row_max) row_max = x;
            }
            const float m_new = row_max > m[r] ? row_max : m[r];
            if (m_new == -INFINITY) {
                for (size_t c = 0; c < n; c++) sr[c] = 0.0f;
                continue;
            }
            for (size_t c = 0; c < n; c++) sr[c] -= m_new;
            DECODE_EXP(sr, sr, n);
            float sum = 0.0f;
            for (size_t c = 0; c < n; c++) sum += sr[c];
            const float alpha = expf(m[r] - m_new);
            if (alpha != 1.0f)
                for (size_t u = 0; u < d; u++) acc[r * d + u] *= alpha;
            l[r] = l[r] * alpha + sum;
            m[r] = m_new;
        }
        /* Values: the chunk's V rows as f32 (in place for f32, else widened once into an L1
         * buffer of n rows), added into every row's accumulator; int8 scales fold into p. */
        const float *vf;
        size_t ld;
        if (a->dtype == KESTREL_KV_F32) {
            vf = (const float *)(const void *)(vb + in * a->row_stride * esize);
            ld = a->row_stride;
        } else {
            for (size_t c = 0; c < n; c++) (void)decode_row_f32(a->dtype, vb + (in + c) * a->row_stride * esize, tmp + c * d, d);
            vf = tmp;
            ld = d;
        }
        for (size_t r = 0; r < rows; r++) {
            float *sr = s + r * ch;
            if (vsc)
                for (size_t c = 0; c < n; c++) sr[c] *= vsc[(in + c) * a->scale_stride];
            decode_accumulate(sr, vf, ld, n, acc + r * d, d);
        }
        t = end;
    }
    return KESTREL_OK;
}
