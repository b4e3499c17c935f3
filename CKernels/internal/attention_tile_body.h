/*
 * attention_tile_body.h — the SIMD tile run of kestrel_attention_f32, written once over a few
 * vector macros and included by each tier file inside its target region (attention_x86_avx2.c,
 * attention_x86_avx512.c, attention_arm_neon.c). Method (see kestrel_attention.h):
 *
 *  - Per query block, qt = scale · Qᵀ ([d][P], queries in lanes, padding lanes 0): one strided
 *    pass over the block's Q, reused by every key block.
 *  - Scores transposed, st[c][r] = Σ_t K[c][t] · qt[t][r]: a micro-kernel of AT_CK keys × AT_QV
 *    query vectors (AT_CK · AT_QV accumulators in registers; per t one K element broadcast per key
 *    and AT_QV vector loads of qt), so K is read in place, once per query-vector group.
 *  - Online softmax down the key axis, queries in lanes: bias and mask by scalar loops only on
 *    blocks that need them, vector max over keys, the tier's vector exp over the whole block at
 *    once, vector sums; per-lane scalar bookkeeping of the running max and rescale factor.
 *  - acc[r][:] += Σ_c st[c][r] · V[c][:]: a micro-kernel of AT_RP rows × AT_DV vectors of the head
 *    dimension (accumulators in registers across the key loop), masked loads/stores for d's tail.
 *
 * The including file defines: AT_NAME (function name), AT_V (vector type), AT_W (lanes), AT_LOAD,
 * AT_STORE, AT_LOADN(p, n) / AT_STOREN(p, v, n) (first n < AT_W lanes, nothing else touched),
 * AT_SET1, AT_FMA(a, b, c) = a·b + c, AT_ADD, AT_SUB, AT_MUL, AT_MAXNUM(x, m) (max, returning m
 * when x is NaN), AT_EXP (the tier's array exp), AT_F16 / AT_BF16 (its u16 -> f32 conversions),
 * and the register blocking AT_CK, AT_QV, AT_RP, AT_DV.
 */

/* V rows the P·V kernels prefetch ahead of the one they read (0: none): the first row group
 * of a strip takes every V line from L2 or L3, one per key, at a stride of the row pitch. */
#ifndef AT_PV_AHEAD
#define AT_PV_AHEAD 0
#endif
/* Vectors per 64-byte line: one prefetch per line of the strip. */
#define AT_PV_PF_STEP (AT_W * 4 >= 64 ? 1 : (int)(64 / (AT_W * 4)))

/* st[c][0..QV·W) for c < CK: keys at k (row stride ks), queries at qt (row stride p). */
#define AT_ST_KERNEL(NAME, CK, QV)                                                                     \
    static inline void NAME(const float *k, size_t ks, const float *qt, size_t p, size_t d, float *st, \
                            size_t ls) {                                                               \
        AT_V acc[CK][QV];                                                                              \
        for (int i = 0; i < (CK); i++)                                                                 \
            for (int v = 0; v < (QV); v++) acc[i][v] = AT_SET1(0.0f);                                  \
        for (size_t t = 0; t < d; t++) {                                                               \
            AT_V q[QV];                                                                                \
            for (int v = 0; v < (QV); v++) q[v] = AT_LOAD(qt + t * p + (size_t)v * AT_W);             \
            for (int i = 0; i < (CK); i++) {                                                           \
                const AT_V kb = AT_SET1(k[(size_t)i * ks + t]);                                        \
                for (int v = 0; v < (QV); v++) acc[i][v] = AT_FMA(kb, q[v], acc[i][v]);                \
            }                                                                                          \
        }                                                                                              \
        for (int i = 0; i < (CK); i++)                                                                 \
            for (int v = 0; v < (QV); v++) AT_STORE(st + (size_t)i * ls + (size_t)v * AT_W, acc[i][v]); \
    }

AT_ST_KERNEL(at_st_full, AT_CK, AT_QV)
AT_ST_KERNEL(at_st_k1, 1, AT_QV)
AT_ST_KERNEL(at_st_q1, AT_CK, 1)
AT_ST_KERNEL(at_st_11, 1, 1)

/* acc[r][0..DV·W) += Σ_c pt[c][r] · v[c][0..DV·W) for r < RP. */
#define AT_PV_KERNEL(NAME, RP, DV)                                                                     \
    static inline void NAME(const float *pt, size_t ls, const float *v, size_t vs, size_t cols,       \
                            float *acc, size_t d) {                                                    \
        AT_V a[RP][DV];                                                                                \
        for (int r = 0; r < (RP); r++)                                                                 \
            for (int j = 0; j < (DV); j++) a[r][j] = AT_LOAD(acc + (size_t)r * d + (size_t)j * AT_W);  \
        for (size_t c = 0; c < cols; c++) {                                                            \
            if (AT_PV_AHEAD)                                                                           \
                for (int j = 0; j < (DV); j += AT_PV_PF_STEP)                                          \
                    __builtin_prefetch(v + (c + AT_PV_AHEAD) * vs + (size_t)j * AT_W, 0, 3);           \
            AT_V vv[DV];                                                                               \
            for (int j = 0; j < (DV); j++) vv[j] = AT_LOAD(v + c * vs + (size_t)j * AT_W);            \
            const float *pc = pt + c * ls;                                                             \
            for (int r = 0; r < (RP); r++) {                                                           \
                const AT_V pb = AT_SET1(pc[r]);                                                        \
                for (int j = 0; j < (DV); j++) a[r][j] = AT_FMA(pb, vv[j], a[r][j]);                   \
            }                                                                                          \
        }                                                                                              \
        for (int r = 0; r < (RP); r++)                                                                 \
            for (int j = 0; j < (DV); j++) AT_STORE(acc + (size_t)r * d + (size_t)j * AT_W, a[r][j]);  \
    }

/* As AT_PV_KERNEL with one vector of which only the first n < W lanes exist (d's tail). */
#define AT_PV_TAIL(NAME, RP)                                                                           \
    static inline void NAME(const float *pt, size_t ls, const float *v, size_t vs, size_t cols,       \
                            float *acc, size_t d, size_t n) {                                          \
        AT_V a[RP];                                                                                    \
        for (int r = 0; r < (RP); r++) a[r] = AT_LOADN(acc + (size_t)r * d, n);                        \
        for (size_t c = 0; c < cols; c++) {                                                            \
            const AT_V vv = AT_LOADN(v + c * vs, n);                                                   \
            const float *pc = pt + c * ls;                                                             \
            for (int r = 0; r < (RP); r++) a[r] = AT_FMA(AT_SET1(pc[r]), vv, a[r]);                    \
        }                                                                                              \
        for (int r = 0; r < (RP); r++) AT_STOREN(acc + (size_t)r * d, a[r], n);                        \
    }

/* Kernels for AT_RP rows and for the 4-, 2- and 1-row remainders of a block, each over AT_DV
 * vectors, one vector, or d's tail. */
AT_PV_KERNEL(at_pv_full, AT_RP, AT_DV)
AT_PV_KERNEL(at_pv_d1, AT_RP, 1)
AT_PV_TAIL(at_pv_tail, AT_RP)
AT_PV_KERNEL(at_pv_r4, 4, AT_DV)
AT_PV_KERNEL(at_pv_r4d1, 4, 1)
AT_PV_TAIL(at_pv_tail4, 4)
AT_PV_KERNEL(at_pv_r2, 2, AT_DV)
AT_PV_KERNEL(at_pv_r2d1, 2, 1)
AT_PV_TAIL(at_pv_tail2, 2)
AT_PV_KERNEL(at_pv_r1, 1, AT_DV)
AT_PV_KERNEL(at_pv_11, 1, 1)
AT_PV_TAIL(at_pv_tail1, 1)

/* st ([cols][ls]) = K block · qt over `nv` query vectors. */
static void at_scores(const float *k, size_t ks, size_t cols, const float *qt, size_t p, size_t nv, size_t d,
                      float *st, size_t ls) {
    size_t c = 0;
    for (; c + AT_CK <= cols; c += AT_CK) {
        size_t v = 0;
        for (; v + AT_QV <= nv; v += AT_QV) at_st_full(k + c * ks, ks, qt + v * AT_W, p, d, st + c * ls + v * AT_W, ls);
        for (; v < nv; v++) at_st_q1(k + c * ks, ks, qt + v * AT_W, p, d, st + c * ls + v * AT_W, ls);
    }
    for (; c < cols; c++) {
        size_t v = 0;
        for (; v + AT_QV <= nv; v += AT_QV) at_st_k1(k + c * ks, ks, qt + v * AT_W, p, d, st + c * ls + v * AT_W, ls);
        for (; v < nv; v++) at_st_11(k + c * ks, ks, qt + v * AT_W, p, d, st + c * ls + v * AT_W, ls);
    }
}

/* Every row group of a block for one strip of the head dimension: AT_RP rows at a time, then
 * the remainder by 4, 2 and 1 rows. Fewer rows keep fewer accumulator chains busy (2 rows × 2
 * vectors: 4 chains, half the FMA pipes' latency cover), so when AT_RP > 4 one AT_RP group is
 * given up if that leaves a multiple of 4 (32 rows by 6: 4 × 6 + 2 × 4 instead of 5 × 6 + 2). */
#define AT_PV_STRIP(FULL, R4, R2, R1, ...)                                                                   \
    do {                                                                                                     \
        size_t r0 = 0;                                                                                       \
        for (; r0 + AT_RP <= full_rows; r0 += AT_RP) FULL(st + r0, ls, v + t0, vs, cols, acc + r0 * d + t0, d __VA_ARGS__); \
        if (AT_RP > 4)                                                                                       \
            for (; r0 + 4 <= rows; r0 += 4) R4(st + r0, ls, v + t0, vs, cols, acc + r0 * d + t0, d __VA_ARGS__); \
        for (; r0 + 2 <= rows; r0 += 2) R2(st + r0, ls, v + t0, vs, cols, acc + r0 * d + t0, d __VA_ARGS__);   \
        if (r0 < rows) R1(st + r0, ls, v + t0, vs, cols, acc + r0 * d + t0, d __VA_ARGS__);                   \
    } while (0)

/* acc[0..rows)[:] += P·V over the whole head dimension. The head dimension is the outer loop:
 * one column strip of V (cols keys × AT_DV vectors) stays in L1 while every row group of the
 * block sweeps it, instead of each row group re-reading the whole V tile from L2. */
static void at_pv(const float *st, size_t ls, const float *v, size_t vs, size_t cols, float *acc, size_t d,
                  size_t rows) {
    size_t full_rows = rows / AT_RP * AT_RP;
    const size_t rem = rows - full_rows;
    if (AT_RP > 4 && full_rows > 0 && rem % 4 != 0 && (rem + AT_RP) % 4 == 0) full_rows -= AT_RP;
    size_t t0 = 0;
    for (; t0 + AT_DV * AT_W <= d; t0 += AT_DV * AT_W) AT_PV_STRIP(at_pv_full, at_pv_r4, at_pv_r2, at_pv_r1, );
    for (; t0 + AT_W <= d; t0 += AT_W) AT_PV_STRIP(at_pv_d1, at_pv_r4d1, at_pv_r2d1, at_pv_11, );
    if (t0 < d) {
        const size_t n = d - t0;
        AT_PV_STRIP(at_pv_tail, at_pv_tail4, at_pv_tail2, at_pv_tail1, , n);
    }
}

/* Adds the bias of the block's rows and masks keys a row cannot see (-inf), in st[c][r]. */
static void at_bias_mask(const kestrel_attention_args *blk, size_t rows, ptrdiff_t j0, size_t cols, float *st,
                         size_t ls) {
    if (blk->bias) {
        for (size_t r = 0; r < rows; r++) {
            const float *br = blk->bias + r * blk->bias_stride + j0;
            for (size_t c = 0; c < cols; c++) st[c * ls + r] += br[c];
        }
    }
    ptrdiff_t lo_first, hi_first, lo_last, hi_last;
    kestrel_att_visible(blk, blk->diag, &lo_first, &hi_first);
    kestrel_att_visible(blk, blk->diag + (ptrdiff_t)rows - 1, &lo_last, &hi_last);
    /* Both ends grow with the row: every row sees the whole block iff the last row's low end and
     * the first row's high end enclose it. */
    if (j0 >= lo_last && j0 + (ptrdiff_t)cols <= hi_first) return;
    for (size_t r = 0; r < rows; r++) {
        ptrdiff_t lo, hi;
        kestrel_att_visible(blk, blk->diag + (ptrdiff_t)r, &lo, &hi);
        for (size_t c = 0; c < cols; c++) {
            const ptrdiff_t j = j0 + (ptrdiff_t)c;
            if (j < lo || j >= hi) st[c * ls + r] = -INFINITY;
        }
    }
}

/* The online-softmax update of one key block over `nv` query vectors (lanes = nv · W). */
static void at_update(float *st, size_t ls, size_t cols, size_t nv, float *acc, size_t d, size_t rows,
                      float *m, float *l, float *al, float *ms) {
    const size_t lanes = nv * AT_W;
    for (size_t v = 0; v < nv; v++) { /* block max per query (NaN scores ignored, as in the scalar tier) */
        AT_V mx = AT_SET1(-INFINITY);
        for (size_t c = 0; c < cols; c++) mx = AT_MAXNUM(AT_LOAD(st + c * ls + v * AT_W), mx);
        AT_STORE(al + v * AT_W, mx);
    }
    int any_empty = 0;
    for (size_t r = 0; r < lanes; r++) {
        const float m_new = al[r] > m[r] ? al[r] : m[r];
        const int empty = m_new == -INFINITY; /* nothing visible to this row yet */
        any_empty |= empty;
        ms[r] = empty ? 0.0f : m_new;
        al[r] = m[r] - ms[r]; /* -inf when m was -inf: the factor is 0 */
        m[r] = m_new;
    }
    AT_EXP(al, al, lanes);
    for (size_t c = 0; c < cols; c++)
        for (size_t v = 0; v < nv; v++)
            AT_STORE(st + c * ls + v * AT_W, AT_SUB(AT_LOAD(st + c * ls + v * AT_W), AT_LOAD(ms + v * AT_W)));
    AT_EXP(st, st, cols * ls); /* ls == lanes: the block is contiguous; exp(-inf) = 0 for masked keys */
    if (any_empty)
        for (size_t r = 0; r < lanes; r++)
            if (m[r] == -INFINITY)
                for (size_t c = 0; c < cols; c++) st[c * ls + r] = 0.0f;
    for (size_t v = 0; v < nv; v++) {
        AT_V sum = AT_MUL(AT_LOAD(l + v * AT_W), AT_LOAD(al + v * AT_W));
        for (size_t c = 0; c < cols; c++) sum = AT_ADD(sum, AT_LOAD(st + c * ls + v * AT_W));
        AT_STORE(l + v * AT_W, sum);
    }
    for (size_t r = 0; r < rows; r++) {
        if (al[r] == 1.0f) continue;
        const AT_V f = AT_SET1(al[r]);
        float *ar = acc + r * d;
        size_t t = 0;
        for (; t + AT_W <= d; t += AT_W) AT_STORE(ar + t, AT_MUL(AT_LOAD(ar + t), f));
        if (t < d) AT_STOREN(ar + t, AT_MUL(AT_LOADN(ar + t, d - t), f), d - t);
    }
}

kestrel_status AT_NAME(const kestrel_attention_args *a) {
    kestrel_status status = kestrel_attention_check(a);
    if (status != KESTREL_OK || a->nq == 0) return status;
    const size_t d = a->d, bq = a->block_q, bk = a->block_k;
    const kestrel_att_scratch sc = kestrel_att_layout(a);
    const size_t p = sc.p;
    kestrel_u16_to_f32_fn conv = a->kv_format == KESTREL_ATTENTION_KV_F16    ? AT_F16
                                 : a->kv_format == KESTREL_ATTENTION_KV_BF16 ? AT_BF16
                                                                             : NULL;

    for (size_t i0 = 0; i0 < a->nq; i0 += bq) {
        const size_t rows = a->nq - i0 < bq ? a->nq - i0 : bq;
        const size_t nv = (rows + AT_W - 1) / AT_W, lanes = nv * AT_W, ls = lanes;
        kestrel_attention_args blk = *a; /* the block's rows: shift the diagonal and the bias */
        blk.diag = a->diag + (ptrdiff_t)i0;
        if (a->bias) blk.bias = a->bias + i0 * a->bias_stride;
        ptrdiff_t lo, hi;
        kestrel_attention_key_range(&blk, rows, &lo, &hi);

        for (size_t r = 0; r < rows; r++) {
            const float *qr = a->q + (i0 + r) * a->q_stride;
            for (size_t t = 0; t < d; t++) sc.qt[t * p + r] = a->scale * qr[t];
        }
        for (size_t t = 0; t < d; t++)
            for (size_t r = rows; r < lanes; r++) sc.qt[t * p + r] = 0.0f;
        for (size_t r = 0; r < lanes; r++) {
            sc.m[r] = -INFINITY;
            sc.l[r] = 0.0f;
        }
        memset(sc.acc, 0, rows * d * sizeof(float));

        for (ptrdiff_t j0 = lo; j0 < hi; j0 += (ptrdiff_t)bk) {
            const size_t cols = (size_t)(hi - j0) < bk ? (size_t)(hi - j0) : bk;
            const float *kb, *vb;
            size_t ks, vs;
            if (conv) {
                for (size_t c = 0; c < cols; c++) {
                    conv(a->k16 + (size_t)(j0 + (ptrdiff_t)c) * a->k_stride, sc.kc + c * d, d);
                    conv(a->v16 + (size_t)(j0 + (ptrdiff_t)c) * a->v_stride, sc.vc + c * d, d);
                }
                kb = sc.kc, vb = sc.vc, ks = vs = d;
            } else {
                kb = a->k + (size_t)j0 * a->k_stride, vb = a->v + (size_t)j0 * a->v_stride;
                ks = a->k_stride, vs = a->v_stride;
            }
            at_scores(kb, ks, cols, sc.qt, p, nv, d, sc.st, ls);
            at_bias_mask(&blk, rows, j0, cols, sc.st, ls);
            at_update(sc.st, ls, cols, nv, sc.acc, d, rows, sc.m, sc.l, sc.al, sc.ms);
            at_pv(sc.st, ls, vb, vs, cols, sc.acc, d, rows);
        }
        kestrel_attention_block_finish_f32(rows, d, sc.acc, sc.m, sc.l, a->o + i0 * a->o_stride, a->o_stride,
                                           a->lse ? a->lse + i0 : NULL);
    }
    return KESTREL_OK;
}
