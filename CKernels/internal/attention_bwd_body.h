/*
 * attention_bwd_body.h — the SIMD backward tile (kestrel_attention_bwd_tile_f32), written once over
 * the vector macros of attention_tile_body.h and included right after it by each tier file
 * (attention_x86_avx2.c, attention_x86_avx512.c, attention_arm_neon.c), which also defines
 * ATB_NAME (function name) and ATB_NZ(p, x) (x where p != 0 or p is NaN, else +0), and may define
 * ATB_RP × ATB_DV (the accumulating micro-kernel's output rows × vectors of d; default the forward's
 * AT_RP × AT_DV; with ATB_RP above 4 a 4-row kernel takes the rows a multiple of ATB_RP leaves) and
 * ATB_TRANSPOSE8(src, ss, dst, ds, scale) (dst[t·ds + r] = scale · src[r·ss + t] for r, t < 8, in
 * registers; without it the transposes are scalar loops).
 *
 * Layout (P = rows rounded up to 16, queries in vector lanes, padding lanes inert):
 *   qt  [d][P]     scale · Qᵀ          dot [d][P]   dOᵀ
 *   st  [cols][P]  Sᵀ, then Pᵀ          dpt [cols][P] dPᵀ, then dSᵀ (scale folded in)
 *   ll, dl [P]     lse and D per lane (+inf lse on padding lanes and on rows that see no key)
 * Sᵀ = K·qt and dPᵀ = V·dot come from the forward tile's scores micro-kernel (at_scores). The
 * three accumulating products out[i][:] += Σ_k A(i, k) · B[k][:] share one micro-kernel
 * (atb_acc) of ATB_RP output rows × AT_DV vectors of d that takes A with any row and column
 * stride, so Pᵀ and dSᵀ are read in place both ways:
 *   dV[c] += Σ_r Pᵀ[c][r] · dO[r]   (A rows = st rows)       dK[c] += Σ_r dSᵀ[c][r] · Q[r]
 *   dQ[r] += Σ_c dSᵀ[c][r] · K[c]   (A rows = st columns)
 * The k loops of dV and dK run over the real rows only, so padding lanes are never read.
 */

#ifndef ATB_RP
#define ATB_RP AT_RP
#endif
#ifndef ATB_DV
#define ATB_DV AT_DV
#endif

/* out[i][0..DV·W) += Σ_k a[i·ars + k·aks] · b[k·bs + 0..DV·W) for i < RP, k < n. */
#define ATB_KERNEL(NAME, RP, DV)                                                                       \
    static inline void NAME(const float *a, size_t ars, size_t aks, const float *b, size_t bs, size_t n, \
                            float *out, size_t os) {                                                   \
        AT_V acc[RP][DV];                                                                              \
        for (int i = 0; i < (RP); i++)                                                                 \
            for (int j = 0; j < (DV); j++) acc[i][j] = AT_LOAD(out + (size_t)i * os + (size_t)j * AT_W); \
        for (size_t k = 0; k < n; k++) {                                                               \
            AT_V bv[DV];                                                                               \
            for (int j = 0; j < (DV); j++) bv[j] = AT_LOAD(b + k * bs + (size_t)j * AT_W);            \
            const float *ak = a + k * aks;                                                             \
            for (int i = 0; i < (RP); i++) {                                                           \
                const AT_V ab = AT_SET1(ak[(size_t)i * ars]);                                          \
                for (int j = 0; j < (DV); j++) acc[i][j] = AT_FMA(ab, bv[j], acc[i][j]);               \
            }                                                                                          \
        }                                                                                              \
        for (int i = 0; i < (RP); i++)                                                                 \
            for (int j = 0; j < (DV); j++) AT_STORE(out + (size_t)i * os + (size_t)j * AT_W, acc[i][j]); \
    }

/* As ATB_KERNEL with one vector of which only the first m < W lanes exist (d's tail). */
#define ATB_TAIL(NAME, RP)                                                                             \
    static inline void NAME(const float *a, size_t ars, size_t aks, const float *b, size_t bs, size_t n, \
                            float *out, size_t os, size_t m) {                                         \
        AT_V acc[RP];                                                                                  \
        for (int i = 0; i < (RP); i++) acc[i] = AT_LOADN(out + (size_t)i * os, m);                     \
        for (size_t k = 0; k < n; k++) {                                                               \
            const AT_V bv = AT_LOADN(b + k * bs, m);                                                   \
            const float *ak = a + k * aks;                                                             \
            for (int i = 0; i < (RP); i++) acc[i] = AT_FMA(AT_SET1(ak[(size_t)i * ars]), bv, acc[i]);  \
        }                                                                                              \
        for (int i = 0; i < (RP); i++) AT_STOREN(out + (size_t)i * os, acc[i], m);                     \
    }

ATB_KERNEL(atb_full, ATB_RP, ATB_DV)
ATB_KERNEL(atb_d1, ATB_RP, 1)
ATB_KERNEL(atb_r1, 1, ATB_DV)
ATB_KERNEL(atb_11, 1, 1)
ATB_TAIL(atb_tail, ATB_RP)
ATB_TAIL(atb_tail1, 1)
#if ATB_RP > 4
ATB_KERNEL(atb_full4, 4, ATB_DV)
ATB_KERNEL(atb_d14, 4, 1)
ATB_TAIL(atb_tail4, 4)
#endif

#define ATB_ROWS(FULL, D1, TAIL)                                                                       \
    do {                                                                                               \
        size_t t0 = 0;                                                                                 \
        for (; t0 + ATB_DV * AT_W <= d; t0 += ATB_DV * AT_W) FULL(ai, ars, aks, b + t0, bs, n, oi + t0, os); \
        for (; t0 + AT_W <= d; t0 += AT_W) D1(ai, ars, aks, b + t0, bs, n, oi + t0, os);               \
        if (t0 < d) TAIL(ai, ars, aks, b + t0, bs, n, oi + t0, os, d - t0);                            \
    } while (0)

/* out[i][0..d) += Σ_{k<n} a[i·ars + k·aks] · b[k·bs + 0..d) for i < m. */
static void atb_acc(const float *a, size_t ars, size_t aks, const float *b, size_t bs, size_t n, float *out, size_t os,
                    size_t m, size_t d) {
    size_t i0 = 0;
#if ATB_RP > 4
    /* Groups of ATB_RP rows, leaving a remainder the 4-row kernel covers when one exists (32 rows
     * at ATB_RP = 6: 6+6+6+6+4+4, not 6·5 and two single rows at a quarter of the FMA rate). */
    for (; i0 + ATB_RP <= m && !(m - i0 < 2 * ATB_RP && (m - i0) % 4 == 0); i0 += ATB_RP) {
        const float *ai = a + i0 * ars;
        float *oi = out + i0 * os;
        ATB_ROWS(atb_full, atb_d1, atb_tail);
    }
    for (; i0 + 4 <= m; i0 += 4) {
        const float *ai = a + i0 * ars;
        float *oi = out + i0 * os;
        ATB_ROWS(atb_full4, atb_d14, atb_tail4);
    }
#else
    for (; i0 + ATB_RP <= m; i0 += ATB_RP) {
        const float *ai = a + i0 * ars;
        float *oi = out + i0 * os;
        ATB_ROWS(atb_full, atb_d1, atb_tail);
    }
#endif
    for (; i0 < m; i0++) {
        const float *ai = a + i0 * ars;
        float *oi = out + i0 * os;
        ATB_ROWS(atb_r1, atb_11, atb_tail1);
    }
}

kestrel_status ATB_NAME(const kestrel_attention_bwd_args *a) {
    kestrel_status status = kestrel_attention_bwd_check(a);
    if (status != KESTREL_OK || a->rows == 0 || a->cols == 0) return status;
    const size_t rows = a->rows, cols = a->cols, d = a->d;
    const size_t nv = (rows + AT_W - 1) / AT_W, ls = nv * AT_W, p = kestrel_att_qpad(rows);
    float *qt = a->scratch, *dot = qt + p * d, *st = dot + p * d, *dpt = st + cols * p;
    float *ll = dpt + cols * p, *dl = ll + p;

    /* Transposes: scale · Qᵀ and dOᵀ, padding lanes 0. Redone for every key block the query block
     * meets, so they are vectorised where the tier can (a scalar loop took 6 % of the tile at D = 128). */
    const float scale = a->scale;
    size_t r0 = 0;
#ifdef ATB_TRANSPOSE8
    for (; r0 + 8 <= rows; r0 += 8) {
        const float *qr = a->q + r0 * a->q_stride, *gr = a->dout + r0 * a->dout_stride;
        size_t t = 0;
        for (; t + 8 <= d; t += 8) {
            ATB_TRANSPOSE8(qr + t, a->q_stride, qt + t * p + r0, p, scale);
            ATB_TRANSPOSE8(gr + t, a->dout_stride, dot + t * p + r0, p, 1.0f);
        }
        for (size_t r = 0; r < 8; r++)
            for (size_t u = t; u < d; u++) {
                qt[u * p + r0 + r] = scale * qr[r * a->q_stride + u];
                dot[u * p + r0 + r] = gr[r * a->dout_stride + u];
            }
    }
#endif
    for (size_t r = r0; r < rows; r++) {
        const float *qr = a->q + r * a->q_stride, *gr = a->dout + r * a->dout_stride;
        for (size_t t = 0; t < d; t++) {
            qt[t * p + r] = scale * qr[t];
            dot[t * p + r] = gr[t];
        }
    }
    for (size_t t = 0; t < d; t++)
        for (size_t r = rows; r < ls; r++) qt[t * p + r] = dot[t * p + r] = 0.0f;
    int any_empty = 0;
    for (size_t r = 0; r < ls; r++) {
        const int real = r < rows;
        const float l = real ? a->lse[r] : INFINITY;
        any_empty |= real && l == -INFINITY;
        ll[r] = l == -INFINITY ? INFINITY : l; /* exp(s − inf) = 0 for finite s */
        dl[r] = real ? a->delta[r] : 0.0f;
    }

    /* Pᵀ = exp(Sᵀ + bias − lse), masked. */
    at_scores(a->k, a->k_stride, cols, qt, p, nv, d, st, ls);
    const kestrel_attention_args mask = kestrel_att_bwd_mask(a);
    at_bias_mask(&mask, rows, a->j0, cols, st, ls);
    for (size_t c = 0; c < cols; c++)
        for (size_t v = 0; v < nv; v++)
            AT_STORE(st + c * ls + v * AT_W, AT_SUB(AT_LOAD(st + c * ls + v * AT_W), AT_LOAD(ll + v * AT_W)));
    AT_EXP(st, st, cols * ls);
    if (any_empty) /* exactly 0 even when a score is NaN or +inf */
        for (size_t r = 0; r < rows; r++)
            if (a->lse[r] == -INFINITY)
                for (size_t c = 0; c < cols; c++) st[c * ls + r] = 0.0f;

    /* dV += Pᵀ·dO; dPᵀ = V·dOᵀ; dSᵀ = scale · Pᵀ ∘ (dPᵀ − D), exactly 0 where P = 0. */
    atb_acc(st, ls, 1, a->dout, a->dout_stride, rows, a->dv, a->dv_stride, cols, d);
    at_scores(a->v, a->v_stride, cols, dot, p, nv, d, dpt, ls);
    const AT_V sc = AT_SET1(a->scale);
    for (size_t c = 0; c < cols; c++)
        for (size_t v = 0; v < nv; v++) {
            const AT_V pv = AT_LOAD(st + c * ls + v * AT_W);
            const AT_V g = AT_SUB(AT_LOAD(dpt + c * ls + v * AT_W), AT_LOAD(dl + v * AT_W));
            AT_STORE(dpt + c * ls + v * AT_W, ATB_NZ(pv, AT_MUL(sc, AT_MUL(pv, g))));
        }

    /* dK += dSᵀ·Q; dQ += dS·K. */
    atb_acc(dpt, ls, 1, a->q, a->q_stride, rows, a->dk, a->dk_stride, cols, d);
    atb_acc(dpt, 1, ls, a->k, a->k_stride, cols, a->dq, a->dq_stride, rows, d);
    return KESTREL_OK;
}
