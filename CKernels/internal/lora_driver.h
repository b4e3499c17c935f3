/*
 * lora_driver.h — the low-rank adapter kernels (kestrel_lora.h) written once over a small vector
 * vocabulary that each tier file defines before including this header:
 *
 *   LV            vector type of LW floats     LLOAD(p) LSTORE(p, v) LSET1(x) LZERO()
 *   LADD LSUB LMUL LDIV (a, b)  LFMA(a, b, c) = a·b + c   LSQRT(a)   LHSUM(v) -> float
 *   LORA_NAME(base)             the tier's exported name of `base`
 *
 * Loops run over whole vectors; the last n % LW elements go through the same vector code on
 * zero-padded copies (load_tail / store_tail), so the tail computes the same formulas as the body.
 */
#include <math.h>
#include <string.h>

#include "kestrel_lora.h"

static inline LV lora_load_tail(const float *p, size_t n) {
    float t[LW] = {0};
    memcpy(t, p, n * sizeof(float));
    return LLOAD(t);
}

static inline void lora_store_tail(float *p, LV v, size_t n) {
    float t[LW];
    LSTORE(t, v);
    memcpy(p, t, n * sizeof(float));
}

/* Σ a_i b_i with four vector accumulators. */
static inline float lora_dot(const float *a, const float *b, size_t n) {
    LV s0 = LZERO(), s1 = LZERO(), s2 = LZERO(), s3 = LZERO();
    size_t i = 0;
    for (; i + 4 * LW <= n; i += 4 * LW) {
        s0 = LFMA(LLOAD(a + i), LLOAD(b + i), s0);
        s1 = LFMA(LLOAD(a + i + LW), LLOAD(b + i + LW), s1);
        s2 = LFMA(LLOAD(a + i + 2 * LW), LLOAD(b + i + 2 * LW), s2);
        s3 = LFMA(LLOAD(a + i + 3 * LW), LLOAD(b + i + 3 * LW), s3);
    }
    for (; i + LW <= n; i += LW) s0 = LFMA(LLOAD(a + i), LLOAD(b + i), s0);
    if (i < n) s1 = LFMA(lora_load_tail(a + i, n - i), lora_load_tail(b + i, n - i), s1);
    return LHSUM(LADD(LADD(s0, s1), LADD(s2, s3)));
}

/* y += alpha · x */
static inline void lora_axpy(float alpha, const float *x, float *y, size_t n) {
    const LV a = LSET1(alpha);
    size_t i = 0;
    for (; i + 2 * LW <= n; i += 2 * LW) {
        LSTORE(y + i, LFMA(a, LLOAD(x + i), LLOAD(y + i)));
        LSTORE(y + i + LW, LFMA(a, LLOAD(x + i + LW), LLOAD(y + i + LW)));
    }
    for (; i + LW <= n; i += LW) LSTORE(y + i, LFMA(a, LLOAD(x + i), LLOAD(y + i)));
    if (i < n) lora_store_tail(y + i, LFMA(a, lora_load_tail(x + i, n - i), lora_load_tail(y + i, n - i)), n - i);
}

/* y += a0 · x0 + a1 · x1: two ranks in one pass over y. */
static inline void lora_axpy2(float a0, const float *x0, float a1, const float *x1, float *y, size_t n) {
    const LV v0 = LSET1(a0), v1 = LSET1(a1);
    size_t i = 0;
    for (; i + LW <= n; i += LW) LSTORE(y + i, LFMA(v1, LLOAD(x1 + i), LFMA(v0, LLOAD(x0 + i), LLOAD(y + i))));
    if (i < n) {
        const size_t r = n - i;
        LV t = LFMA(v0, lora_load_tail(x0 + i, r), lora_load_tail(y + i, r));
        lora_store_tail(y + i, LFMA(v1, lora_load_tail(x1 + i, r), t), r);
    }
}

/* 1 when every element is finite: 0 · x is ±0 for finite x and NaN for NaN or ±inf. */
static inline int lora_all_finite(const float *x, size_t n) {
    LV s = LZERO();
    const LV z = LZERO();
    size_t i = 0;
    for (; i + LW <= n; i += LW) s = LFMA(z, LLOAD(x + i), s);
    if (i < n) s = LFMA(z, lora_load_tail(x + i, n - i), s);
    return LHSUM(s) == 0.0f;
}

static inline int lora_shape_ok(const kestrel_lora_shape *s) {
    return s->d_in > 0 && s->d_out > 0 && s->rank > 0 && kestrel_lora_param_count(s) > 0;
}

/* y (d_out) = base, or 0 when base is NULL; a no-op when base == y. */
static inline void lora_init_out(const float *base, float *y, size_t d_out) {
    if (base == NULL) memset(y, 0, d_out * sizeof(float));
    else if (base != y) memcpy(y, base, d_out * sizeof(float));
}

/* y += s · Σ_k h_k Bt[k] for the scaled h already in `h` (two ranks per pass over y). */
static inline void lora_add_delta(const float *bt, const float *h, size_t rank, size_t d_out, float *y) {
    size_t k = 0;
    for (; k + 2 <= rank; k += 2) lora_axpy2(h[k], bt + k * d_out, h[k + 1], bt + (k + 1) * d_out, y, d_out);
    if (k < rank) lora_axpy(h[k], bt + k * d_out, y, d_out);
}

kestrel_status LORA_NAME(kestrel_lora_apply)(const kestrel_lora_shape *shape, const float *params, const float *x,
                                             const float *base, float *y) {
    if (shape == NULL || params == NULL || x == NULL || y == NULL) return KESTREL_ERR_NULL_POINTER;
    if (!lora_shape_ok(shape)) return KESTREL_ERR_INVALID_ARGUMENT;
    const size_t din = shape->d_in, dout = shape->d_out, r = shape->rank;
    const float *bt = params + r * din;
    lora_init_out(base, y, dout);
    /* Ranks in chunks of 16, so no scratch is needed whatever the rank. */
    for (size_t k0 = 0; k0 < r; k0 += 16) {
        const size_t kc = r - k0 < 16 ? r - k0 : 16;
        float h[16];
        for (size_t k = 0; k < kc; k++) h[k] = shape->scale * lora_dot(params + (k0 + k) * din, x, din);
        lora_add_delta(bt + k0 * dout, h, kc, dout, y);
    }
    return KESTREL_OK;
}

kestrel_status LORA_NAME(kestrel_lora_accumulate)(kestrel_lora_accumulate_args *a) {
    if (a == NULL) return KESTREL_ERR_NULL_POINTER;
    const kestrel_lora_shape *sh = &a->shape;
    if (a->params == NULL || a->grad == NULL || a->x == NULL || a->scratch == NULL) return KESTREL_ERR_NULL_POINTER;
    if (!lora_shape_ok(sh)) return KESTREL_ERR_INVALID_ARGUMENT;
    const size_t din = sh->d_in, dout = sh->d_out, r = sh->rank;
    const float s = sh->scale;
    switch (a->loss) {
    case KESTREL_LORA_LOSS_SQUARED: case KESTREL_LORA_LOSS_GRADIENT: case KESTREL_LORA_LOSS_BINARY:
        if (a->target == NULL) return KESTREL_ERR_NULL_POINTER;
        if (a->loss == KESTREL_LORA_LOSS_BINARY && a->label != 1.0f && a->label != -1.0f) return KESTREL_ERR_INVALID_ARGUMENT;
        break;
    case KESTREL_LORA_LOSS_INFONCE:
        if (a->target == NULL || (a->n_neg > 0 && a->negatives == NULL)) return KESTREL_ERR_NULL_POINTER;
        if (!(a->temperature > 0.0f) || !isfinite(a->temperature)) return KESTREL_ERR_INVALID_ARGUMENT;
        if (a->n_neg > 0 && a->neg_stride < dout) return KESTREL_ERR_INVALID_ARGUMENT;
        break;
    default: return KESTREL_ERR_INVALID_ARGUMENT;
    }
    if (kestrel_lora_scratch_floats(sh, a->n_neg) == 0 || !isfinite(a->weight)) return KESTREL_ERR_INVALID_ARGUMENT;
    /* The residual form passes x as base: one check covers both. */
    if (!lora_all_finite(a->x, din) || (a->base != NULL && a->base != a->x && !lora_all_finite(a->base, dout)))
        return KESTREL_ERR_INVALID_ARGUMENT;

    const float *A = a->params, *bt = a->params + r * din;
    float *h = a->scratch, *g = h + r, *yv = g + dout, *u = yv + dout;
    for (size_t k = 0; k < r; k++) h[k] = s * lora_dot(A + k * din, a->x, din);
    lora_init_out(a->base, yv, dout);
    lora_add_delta(bt, h, r, dout, yv);

    double loss = 0.0;
    switch (a->loss) {
    case KESTREL_LORA_LOSS_SQUARED: {
        size_t i = 0;
        for (; i + LW <= dout; i += LW) LSTORE(g + i, LSUB(LLOAD(yv + i), LLOAD(a->target + i)));
        if (i < dout) lora_store_tail(g + i, LSUB(lora_load_tail(yv + i, dout - i), lora_load_tail(a->target + i, dout - i)), dout - i);
        loss = 0.5 * (double)lora_dot(g, g, dout);
        break;
    }
    case KESTREL_LORA_LOSS_BINARY: {
        const double score = lora_dot(yv, a->target, dout), z = -(double)a->label * score;
        /* softplus(z) = max(z, 0) + log1p(exp(−|z|)); σ(z) without overflow either way. */
        loss = (z > 0 ? z : 0.0) + log1p(exp(-fabs(z)));
        const double sig = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
        memset(g, 0, dout * sizeof(float));
        lora_axpy((float)(-(double)a->label * sig), a->target, g, dout);
        break;
    }
    case KESTREL_LORA_LOSS_INFONCE: {
        const size_t n = a->n_neg + 1;
        const double inv_t = 1.0 / (double)a->temperature;
        double mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            const float *k = i == 0 ? a->target : a->negatives + (i - 1) * a->neg_stride;
            const double ui = (double)lora_dot(yv, k, dout) * inv_t;
            u[i] = (float)ui;
            if (ui > mx) mx = ui;
        }
        double z = 0.0;
        for (size_t i = 0; i < n; i++) z += exp((double)u[i] - mx);
        loss = mx + log(z) - (double)u[0];
        memset(g, 0, dout * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            const float *k = i == 0 ? a->target : a->negatives + (i - 1) * a->neg_stride;
            const double p = exp((double)u[i] - mx) / z;
            lora_axpy((float)((p - (i == 0 ? 1.0 : 0.0)) * inv_t), k, g, dout);
        }
        break;
    }
    default: /* GRADIENT */
        memcpy(g, a->target, dout * sizeof(float));
        break;
    }
    if (!isfinite(loss) || !lora_all_finite(g, dout)) return KESTREL_ERR_INVALID_ARGUMENT;

    /* Backward: gh_k = s · Bt[k]·g before anything is written (the gradient may alias nothing read). */
    const float w = a->weight;
    float *gA = a->grad, *gB = a->grad + r * din;
    for (size_t k = 0; k < r; k++) {
        const float ghk = s * lora_dot(bt + k * dout, g, dout);
        lora_axpy(w * ghk, a->x, gA + k * din, din);
        lora_axpy(w * h[k], g, gB + k * dout, dout); /* h already carries s */
    }
    if (a->y != NULL) memcpy(a->y, yv, dout * sizeof(float));
    a->loss_out = loss;
    return KESTREL_OK;
}

/* The settings of one update, broadcast once. Stores through the float arrays may alias the
 * argument struct's float fields as far as the compiler knows, so reading them from `a` inside
 * the loop reloads and re-broadcasts them every vector (that, and testing the optimizer and the
 * NULL arrays per vector, was most of the update's instructions). */
typedef struct {
    LV gs, lr, nlr, b1, b2, omb1, omb2, eps, c1, c2, fd, omfd, twol, f;
} lora_upd_consts;

/* The total gradient of one vector: scaled loss gradient `raw` plus the EWC++ pull. */
static inline LV lora_total_grad(const lora_upd_consts *k, int ewc, LV raw, LV th, LV fs, LV an) {
    return ewc ? LFMA(LMUL(k->twol, fs), LSUB(th, an), raw) : raw;
}

/* One vector of the update: Fisher, optimizer. The same operations in the same order as the
 * float64 reference's formulas (the header); `opt`, `ewc` and `updf` are constants at every call
 * site, so each combination compiles to its own branch-free loop. */
static inline __attribute__((always_inline)) LV lora_update_vec(const lora_upd_consts *k, int opt, int ewc, int updf,
                                                                LV th, LV g, LV *m, LV *v, LV *fi, LV fs, LV an) {
    const LV raw = LMUL(k->gs, g);
    if (updf) *fi = LFMA(k->fd, *fi, LMUL(k->omfd, LMUL(raw, raw)));
    const LV G = LMUL(k->f, lora_total_grad(k, ewc, raw, th, fs, an));
    switch (opt) {
    case KESTREL_LORA_SGD: return LFMA(k->nlr, G, th);
    case KESTREL_LORA_MOMENTUM:
        *m = LFMA(k->b1, *m, G);
        return LFMA(k->nlr, *m, th);
    default: /* ADAM */
        *m = LFMA(k->b1, *m, LMUL(k->omb1, G));
        *v = LFMA(k->b2, *v, LMUL(k->omb2, LMUL(G, G)));
        {
            const LV mh = LMUL(*m, k->c1);
            const LV den = LADD(LSQRT(LMUL(*v, k->c2)), k->eps);
            return LSUB(th, LMUL(k->lr, LDIV(mh, den))); /* not an FMA: the reference rounds lr·q first */
        }
    }
}

/* Pass 2 over all n parameters: reads θ from `p`, writes θ' to `out` (which may be `p`). */
static inline __attribute__((always_inline)) void lora_update_pass(const lora_upd_consts *k, int opt, int ewc, int updf,
                                                                   size_t n, const float *p, float *out, float *gr,
                                                                   float *mp, float *vp, float *fp, const float *fsp,
                                                                   const float *anp) {
    size_t i = 0;
    for (; i + LW <= n; i += LW) {
        LV m = opt != KESTREL_LORA_SGD ? LLOAD(mp + i) : LZERO(), v = opt == KESTREL_LORA_ADAM ? LLOAD(vp + i) : LZERO();
        LV fi = updf ? LLOAD(fp + i) : LZERO();
        const LV th = lora_update_vec(k, opt, ewc, updf, LLOAD(p + i), LLOAD(gr + i), &m, &v, &fi,
                                      ewc ? LLOAD(fsp + i) : LZERO(), ewc ? LLOAD(anp + i) : LZERO());
        LSTORE(out + i, th);
        LSTORE(gr + i, LZERO());
        if (opt != KESTREL_LORA_SGD) LSTORE(mp + i, m);
        if (opt == KESTREL_LORA_ADAM) LSTORE(vp + i, v);
        if (updf) LSTORE(fp + i, fi);
    }
    if (i < n) {
        const size_t t = n - i;
        LV m = opt != KESTREL_LORA_SGD ? lora_load_tail(mp + i, t) : LZERO();
        LV v = opt == KESTREL_LORA_ADAM ? lora_load_tail(vp + i, t) : LZERO();
        LV fi = updf ? lora_load_tail(fp + i, t) : LZERO();
        const LV th = lora_update_vec(k, opt, ewc, updf, lora_load_tail(p + i, t), lora_load_tail(gr + i, t), &m, &v, &fi,
                                      ewc ? lora_load_tail(fsp + i, t) : LZERO(), ewc ? lora_load_tail(anp + i, t) : LZERO());
        lora_store_tail(out + i, th, t);
        lora_store_tail(gr + i, LZERO(), t);
        if (opt != KESTREL_LORA_SGD) lora_store_tail(mp + i, m, t);
        if (opt == KESTREL_LORA_ADAM) lora_store_tail(vp + i, v, t);
        if (updf) lora_store_tail(fp + i, fi, t);
    }
}

/* Pass 1 reads only: Σ G² of the total gradient, in two accumulators taking alternate vectors. */
static inline __attribute__((always_inline)) double lora_update_norm(const lora_upd_consts *k, int ewc, size_t n,
                                                                     const float *p, const float *gr, const float *fsp,
                                                                     const float *anp) {
    LV acc0 = LZERO(), acc1 = LZERO();
    size_t i = 0;
    for (; i + 2 * LW <= n; i += 2 * LW) {
        const LV G0 = lora_total_grad(k, ewc, LMUL(k->gs, LLOAD(gr + i)), LLOAD(p + i), ewc ? LLOAD(fsp + i) : LZERO(),
                                      ewc ? LLOAD(anp + i) : LZERO());
        const LV G1 = lora_total_grad(k, ewc, LMUL(k->gs, LLOAD(gr + i + LW)), LLOAD(p + i + LW),
                                      ewc ? LLOAD(fsp + i + LW) : LZERO(), ewc ? LLOAD(anp + i + LW) : LZERO());
        acc0 = LFMA(G0, G0, acc0);
        acc1 = LFMA(G1, G1, acc1);
    }
    if (i + LW <= n) {
        const LV G = lora_total_grad(k, ewc, LMUL(k->gs, LLOAD(gr + i)), LLOAD(p + i), ewc ? LLOAD(fsp + i) : LZERO(),
                                     ewc ? LLOAD(anp + i) : LZERO());
        acc0 = LFMA(G, G, acc0);
        i += LW;
    }
    if (i < n) {
        const size_t t = n - i;
        const LV G = lora_total_grad(k, ewc, LMUL(k->gs, lora_load_tail(gr + i, t)), lora_load_tail(p + i, t),
                                     ewc ? lora_load_tail(fsp + i, t) : LZERO(), ewc ? lora_load_tail(anp + i, t) : LZERO());
        acc1 = LFMA(G, G, acc1);
    }
    return (double)LHSUM(acc0) + (double)LHSUM(acc1);
}

kestrel_status LORA_NAME(kestrel_lora_update)(kestrel_lora_update_args *a) {
    if (a == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->n == 0) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->params == NULL || a->grad == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->optimizer < KESTREL_LORA_SGD || a->optimizer > KESTREL_LORA_ADAM) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->optimizer != KESTREL_LORA_SGD && a->m == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->optimizer == KESTREL_LORA_ADAM && a->v == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->fisher_star != NULL && a->anchor == NULL) return KESTREL_ERR_NULL_POINTER;
    if (!(a->lr >= 0.0f) || !isfinite(a->lr) || !isfinite(a->grad_scale) || !(a->ewc_lambda >= 0.0f) ||
        !isfinite(a->ewc_lambda) || a->fisher_decay > 1.0f || isnan(a->clip_norm) || a->clip_norm < 0.0f)
        return KESTREL_ERR_INVALID_ARGUMENT;
    const size_t n = a->n;
    const int ewc = a->fisher_star != NULL, opt = a->optimizer;
    const int updf = a->fisher != NULL && a->fisher_decay >= 0.0f;
    const float *p = a->params, *fsp = a->fisher_star, *anp = a->anchor;
    float *out = a->params_out != NULL ? a->params_out : a->params, *gr = a->grad;
    lora_upd_consts k;
    k.gs = LSET1(a->grad_scale);
    k.lr = LSET1(a->lr);
    k.nlr = LSET1(-a->lr);
    k.b1 = LSET1(a->beta1);
    k.b2 = LSET1(a->beta2);
    k.omb1 = LSET1(1.0f - a->beta1);
    k.omb2 = LSET1(1.0f - a->beta2);
    k.eps = LSET1(a->eps);
    k.c1 = LSET1(a->c1);
    k.c2 = LSET1(a->c2);
    k.fd = LSET1(a->fisher_decay);
    k.omfd = LSET1(1.0f - a->fisher_decay);
    k.twol = LSET1(2.0f * a->ewc_lambda);

    /* Pass 1 reads only, so a rejected update writes nothing. */
    const double norm = sqrt(ewc ? lora_update_norm(&k, 1, n, p, gr, fsp, anp) : lora_update_norm(&k, 0, n, p, gr, fsp, anp));
    if (!isfinite(norm)) return KESTREL_ERR_INVALID_ARGUMENT;
    const int clip = a->clip_norm > 0.0f && isfinite(a->clip_norm) && norm > (double)a->clip_norm;
    k.f = LSET1(clip ? (float)((double)a->clip_norm / norm) : 1.0f);

    float *mp = a->m, *vp = a->v, *fp = a->fisher;
#define LORA_PASS(O, E, F) lora_update_pass(&k, O, E, F, n, p, out, gr, mp, vp, fp, fsp, anp)
#define LORA_PASS_EF(O)                                                                                                 \
    do {                                                                                                                \
        if (ewc) { if (updf) LORA_PASS(O, 1, 1); else LORA_PASS(O, 1, 0); }                                             \
        else { if (updf) LORA_PASS(O, 0, 1); else LORA_PASS(O, 0, 0); }                                                 \
    } while (0)
    switch (opt) {
    case KESTREL_LORA_SGD: LORA_PASS_EF(KESTREL_LORA_SGD); break;
    case KESTREL_LORA_MOMENTUM: LORA_PASS_EF(KESTREL_LORA_MOMENTUM); break;
    default: LORA_PASS_EF(KESTREL_LORA_ADAM); break;
    }
#undef LORA_PASS_EF
#undef LORA_PASS
    a->grad_norm_out = norm;
    a->clipped_out = clip;
    return KESTREL_OK;
}
