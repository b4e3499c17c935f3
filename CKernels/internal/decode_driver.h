/*
 * decode_driver.h — the body of a decode_partial tier (kestrel_decode.h), shared by every tier.
 *
 * A tier file defines, inside its target region and before including this header:
 *   DECODE_NAME                       the function to define (kestrel_decode_partial_<tier>)
 *   DECODE_EXP(x, y, n)               the tier's vector exp
 *   static inline void decode_scores(int dtype, const float *q, size_t q_stride, size_t rows,
 *                                    const unsigned char *const *k, size_t n, size_t d,
 *                                    float *s, size_t ld, float *tmp)
 *       s[r · ld + c] = q_r · k_c for r < rows, c < n, k_c the stored row at k[c] (dtype);
 *       tmp: n · d floats the tier may widen rows into
 *   static inline void decode_values(int dtype, const float *p, size_t ld, size_t rows,
 *                                    const unsigned char *const *v, size_t n, size_t d,
 *                                    float *acc, float *tmp)
 *       acc[r · d + t] += Σ_c p[r · ld + c] · v_c[t]
 *   static inline float decode_max(const float *x, size_t n)     largest of x[0..n), -inf for n = 0
 *   static inline float decode_sum(const float *x, size_t n)
 * A SIMD tier may instead define DECODE_ROW_BLOCKS and its row-block kernels — RB (rows per block),
 * scores_rows, widen_rows and values_rows (see decode_x86_avx2.c) — and get decode_scores and
 * decode_values from the section below, which is the same for every such tier.
 * The tier-specific parts are these row operations; the walk over the block table, the masks and
 * the online softmax are here once, so every tier applies identical rules.
 */
#include "kestrel_decode.h"

#ifdef DECODE_ROW_BLOCKS
/* Row-block glue shared by the SIMD tiers. */
DECODE_ALWAYS void scores_typed(int dtype, const float *q, size_t q_stride, size_t rows, const unsigned char *const *k,
                                size_t n, size_t d, float *s, size_t ld, float *tmp) {
    if (dtype != KESTREL_KV_F32 && rows > RB) { /* widen once rather than once per block of rows */
        const unsigned char *w[KESTREL_DECODE_CHUNK];
        widen_rows(dtype, k, n, d, tmp, w);
        for (size_t r = 0; r < rows; r += RB)
            scores_rows(KESTREL_KV_F32, q + r * q_stride, q_stride, rows - r < RB ? rows - r : RB, w, n, d, s + r * ld, ld);
        return;
    }
    for (size_t r = 0; r < rows; r += RB)
        scores_rows(dtype, q + r * q_stride, q_stride, rows - r < RB ? rows - r : RB, k, n, d, s + r * ld, ld);
}

static inline void decode_scores(int dtype, const float *q, size_t q_stride, size_t rows, const unsigned char *const *k,
                                 size_t n, size_t d, float *s, size_t ld, float *tmp) {
    if (dtype == KESTREL_KV_F32)
        scores_typed(KESTREL_KV_F32, q, q_stride, rows, k, n, d, s, ld, tmp);
    else if (dtype == KESTREL_KV_F16)
        scores_typed(KESTREL_KV_F16, q, q_stride, rows, k, n, d, s, ld, tmp);
    else
        scores_typed(KESTREL_KV_I8, q, q_stride, rows, k, n, d, s, ld, tmp);
}

DECODE_ALWAYS void values_typed(int dtype, const float *p, size_t ld, size_t rows, const unsigned char *const *v, size_t n,
                                size_t d, float *acc, float *tmp) {
    if (dtype != KESTREL_KV_F32 && rows > RB) {
        const unsigned char *w[KESTREL_DECODE_CHUNK];
        widen_rows(dtype, v, n, d, tmp, w);
        for (size_t r = 0; r < rows; r += RB)
            values_rows(KESTREL_KV_F32, rows - r < RB ? rows - r : RB, p + r * ld, ld, w, n, d, acc + r * d);
        return;
    }
    for (size_t r = 0; r < rows; r += RB) values_rows(dtype, rows - r < RB ? rows - r : RB, p + r * ld, ld, v, n, d, acc + r * d);
}

static inline void decode_values(int dtype, const float *p, size_t ld, size_t rows, const unsigned char *const *v,
                                 size_t n, size_t d, float *acc, float *tmp) {
    if (dtype == KESTREL_KV_F32)
        values_typed(KESTREL_KV_F32, p, ld, rows, v, n, d, acc, tmp);
    else if (dtype == KESTREL_KV_F16)
        values_typed(KESTREL_KV_F16, p, ld, rows, v, n, d, acc, tmp);
    else
        values_typed(KESTREL_KV_I8, p, ld, rows, v, n, d, acc, tmp);
}
#endif /* DECODE_ROW_BLOCKS */

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

/* Whether any query token sees a position in [t0, t1). */
static inline int decode_any_visible(const kestrel_decode_args *a, size_t t0, size_t t1) {
    ptrdiff_t lo, hi, lo2, hi2;
    int any = 0;
    for (size_t i = 0; i < a->nq; i++)
        any |= decode_visible(a, a->diag + (ptrdiff_t)i, (ptrdiff_t)t0, (ptrdiff_t)t1, &lo, &hi, &lo2, &hi2);
    return any;
}

static inline void decode_scale_f32(float *x, size_t n, float f) {
    for (size_t c = 0; c < n; c++) x[c] *= f;
}

static inline void decode_mul_f32(float *x, const float *f, size_t n) {
    for (size_t c = 0; c < n; c++) x[c] *= f[c];
}

static inline void decode_add_f32(float *x, size_t n, float f) {
    for (size_t c = 0; c < n; c++) x[c] += f;
}

kestrel_status DECODE_NAME(const kestrel_decode_args *a) {
    kestrel_status st = kestrel_decode_check(a);
    if (st != KESTREL_OK) return st;
    const size_t d = a->d, nq = a->nq, hrows = a->group * nq, rows = a->kv_heads * hrows, ch = KESTREL_DECODE_CHUNK;
    float *acc = a->acc, *m = a->m, *l = a->l;
    float *s = a->scratch, *tmp = s + hrows * ch, *fk = tmp + d * ch, *fv = fk + ch;
    const int i8 = a->dtype == KESTREL_KV_I8;
    const size_t esize = a->dtype == KESTREL_KV_F32 ? 4 : a->dtype == KESTREL_KV_F16 ? 2 : 1;
    const size_t row_bytes = a->row_stride * esize, head_bytes = a->head_stride * esize;
    for (size_t r = 0; r < rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        for (size_t t = 0; t < d; t++) acc[r * d + t] = 0.0f;
    }
    const unsigned char *kp[KESTREL_DECODE_CHUNK], *vp[KESTREL_DECODE_CHUNK], *kh[KESTREL_DECODE_CHUNK], *vh[KESTREL_DECODE_CHUNK];
    const float *ksp[KESTREL_DECODE_CHUNK], *vsp[KESTREL_DECODE_CHUNK];
    size_t t = a->lo;
    while (t < a->hi) {
        /* A chunk of up to `ch` tokens, across blocks, ending before an evicted block. */
        size_t n = 0;
        while (n < ch && t + n < a->hi) {
            const size_t pos = t + n, b = pos / a->block_tokens, in = pos % a->block_tokens;
            size_t run = a->block_tokens - in;
            if (run > a->hi - pos) run = a->hi - pos;
            const unsigned char *kb = (const unsigned char *)a->k_blocks[b];
            const unsigned char *vb = (const unsigned char *)a->v_blocks[b];
            if (kb == NULL || vb == NULL) {
                if (n > 0) break;
                if (decode_any_visible(a, pos, pos + run)) return KESTREL_ERR_INVALID_ARGUMENT; /* needed token was evicted */
                t += run; /* nothing here for any row: skipped unread */
                continue;
            }
            if (run > ch - n) run = ch - n;
            const float *ks = i8 ? a->k_scales[b] : NULL, *vs = i8 ? a->v_scales[b] : NULL;
            if (i8 && (ks == NULL || vs == NULL)) return KESTREL_ERR_NULL_POINTER;
            for (size_t j = 0; j < run; j++) {
                kp[n + j] = kb + (in + j) * row_bytes;
                vp[n + j] = vb + (in + j) * row_bytes;
                if (i8) {
                    ksp[n + j] = ks + (in + j) * a->scale_stride;
                    vsp[n + j] = vs + (in + j) * a->scale_stride;
                }
            }
            n += run;
        }
        if (n == 0) continue; /* only evicted blocks were skipped */
        const size_t end = t + n;
        ptrdiff_t lo[KESTREL_DECODE_MAX_QUERIES], hi[KESTREL_DECODE_MAX_QUERIES];
        ptrdiff_t lo2[KESTREL_DECODE_MAX_QUERIES], hi2[KESTREL_DECODE_MAX_QUERIES];
        int any = 0, full[KESTREL_DECODE_MAX_QUERIES];
        for (size_t i = 0; i < nq; i++) {
            any |= decode_visible(a, a->diag + (ptrdiff_t)i, (ptrdiff_t)t, (ptrdiff_t)end, &lo[i], &hi[i], &lo2[i], &hi2[i]);
            full[i] = hi[i] == (ptrdiff_t)end || (lo2[i] == hi[i] && hi2[i] == (ptrdiff_t)end);
        }
        if (!any) { /* nothing here for any row: the rows are not even read */
            t = end;
            continue;
        }
        for (size_t h = 0; h < a->kv_heads; h++) {
            const float *qh = a->q + h * hrows * a->q_stride;
            float *acc_h = acc + h * hrows * d, *m_h = m + h * hrows, *l_h = l + h * hrows;
            for (size_t c = 0; c < n; c++) {
                kh[c] = kp[c] + h * head_bytes;
                vh[c] = vp[c] + h * head_bytes;
            }
            /* Scores: each K row once, against every row of the head's group. */
            decode_scores(a->dtype, qh, a->q_stride, hrows, kh, n, d, s, ch, tmp);
            if (i8)
                for (size_t c = 0; c < n; c++) {
                    fk[c] = a->scale * ksp[c][h * a->head_scale_stride];
                    fv[c] = vsp[c][h * a->head_scale_stride];
                }
            /* Masks and the online softmax. */
            for (size_t r = 0; r < hrows; r++) {
                const size_t i = r % nq;
                float *sr = s + r * ch;
                if (i8)
                    decode_mul_f32(sr, fk, n);
                else
                    decode_scale_f32(sr, n, a->scale);
                if (!full[i])
                    for (size_t c = 0; c < n; c++) {
                        const ptrdiff_t j = (ptrdiff_t)(t + c);
                        if (!((j >= lo[i] && j < hi[i]) || (j >= lo2[i] && j < hi2[i]))) sr[c] = -INFINITY;
                    }
                const float row_max = decode_max(sr, n);
                const float m_new = row_max > m_h[r] ? row_max : m_h[r];
                if (m_new == -INFINITY) {
                    for (size_t c = 0; c < n; c++) sr[c] = 0.0f;
                    continue;
                }
                decode_add_f32(sr, n, -m_new);
                DECODE_EXP(sr, sr, n);
                const float sum = decode_sum(sr, n);
                const float alpha = expf(m_h[r] - m_new);
                if (alpha != 1.0f) decode_scale_f32(acc_h + r * d, d, alpha);
                l_h[r] = l_h[r] * alpha + sum;
                m_h[r] = m_new;
                if (i8) decode_mul_f32(sr, fv, n); /* int8 value scales fold into the weights */
            }
            /* Values: each V row once, into every row's accumulator. */
            decode_values(a->dtype, s, ch, hrows, vh, n, d, acc_h, tmp);
        }
        t = end;
    }
    return KESTREL_OK;
}
