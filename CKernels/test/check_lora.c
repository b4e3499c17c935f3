/*
 * check_lora.c — the low-rank adapter kernels (kestrel_lora.h): every tier, the scalar one
 * included, against a float64 reference written here from the header's formulas, over
 * dimensions 1…1024 (odd, multiples and non-multiples of every vector width), ranks 1, 2, 3, 8, 17
 * (apply's 16-rank chunks), every loss, every optimizer, EWC++ on and off, clipping on and off,
 * arrays starting 1…3 floats past an aligned address; plus the rejections (non-finite input,
 * target or key; bad label, temperature, sizes) that must leave every output untouched.
 */
#include "neon_check.h"
#include "kestrel_lora.h"

typedef kestrel_status (*apply_fn)(const kestrel_lora_shape *, const float *, const float *, const float *, float *);
typedef kestrel_status (*acc_fn)(kestrel_lora_accumulate_args *);
typedef kestrel_status (*upd_fn)(kestrel_lora_update_args *);

static const size_t k_dims[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 65, 127, 384, 768, 1000, 1024};
#define N_DIMS (sizeof k_dims / sizeof k_dims[0])
static const size_t k_ranks[] = {1, 2, 3, 8, 17};

/* Fills n floats U(-amp, amp). */
static void fill(float *p, size_t n, double amp) {
    for (size_t i = 0; i < n; i++) p[i] = rnd_range(-amp, amp);
}

/* malloc'ed floats `off` past a 64-byte boundary. */
static float *alloc_off(size_t n, size_t off, float **raw) {
    *raw = aligned_alloc(64, ((n + off + 16) * sizeof(float) + 63) / 64 * 64);
    return *raw + off;
}

/* ‖got − want‖ / (‖want‖ + floor): NaN counts as a failure through the caller's !(e <= tol). */
static double rel_err(const float *got, const double *want, size_t n, double floor) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = (double)got[i] - want[i];
        num += e * e;
        den += want[i] * want[i];
    }
    return sqrt(num) / (sqrt(den) + floor);
}

/* Reference forward: y = base + s Bt^T (A x), h_k = s A_k·x; yabs = the same sums over |terms|. */
static double *g_yabs;
static void ref_forward(const kestrel_lora_shape *sh, const float *p, const float *x, const float *base, double *h,
                        double *y) {
    const size_t din = sh->d_in, dout = sh->d_out, r = sh->rank;
    double *habs = malloc(r * sizeof(double));
    free(g_yabs);
    g_yabs = malloc(dout * sizeof(double));
    for (size_t k = 0; k < r; k++) {
        double d = 0, da = 0;
        for (size_t i = 0; i < din; i++) {
            d += (double)p[k * din + i] * x[i];
            da += fabs((double)p[k * din + i] * x[i]);
        }
        h[k] = (double)sh->scale * d;
        habs[k] = fabs((double)sh->scale) * da;
    }
    for (size_t j = 0; j < dout; j++) {
        double v = base ? base[j] : 0, va = base ? fabs(base[j]) : 0;
        for (size_t k = 0; k < r; k++) {
            v += h[k] * p[r * din + k * dout + j];
            va += habs[k] * fabs(p[r * din + k * dout + j]);
        }
        y[j] = v;
        g_yabs[j] = va;
    }
    free(habs);
}

/* Largest |got_j − want_j| / (the magnitude of the terms summed into it): the f32 rounding bound. */
static double y_err(const float *got, const double *want, size_t n) {
    double w = 0;
    for (size_t j = 0; j < n; j++) {
        const double e = fabs((double)got[j] - want[j]) / (g_yabs[j] + 1e-30);
        if (!(e <= w)) w = e;
    }
    return w;
}

static void test_apply(const entry_t *e, const kestrel_kernel_table *t) {
    apply_fn fn = (apply_fn)entry_ptr(t, e->off);
    for (size_t di = 0; di < N_DIMS; di++)
        for (size_t ri = 0; ri < 5; ri++)
            for (int form = 0; form < 3; form++) { /* residual, linear with base, linear without */
                const size_t din = k_dims[di], r = k_ranks[ri];
                const size_t dout = form == 0 ? din : k_dims[(di + 3) % N_DIMS];
                kestrel_lora_shape sh = {din, dout, r, 2.0f / (float)r};
                const size_t np = kestrel_lora_param_count(&sh), off = 1 + (di + ri) % 3;
                float *rp, *rx, *ry, *rb;
                float *p = alloc_off(np, off, &rp), *x = alloc_off(din, off + 1, &rx), *y = alloc_off(dout, off, &ry);
                float *b = alloc_off(dout, 3, &rb);
                fill(p, np, 1.0 / sqrt((double)din));
                fill(x, din, 1.0);
                fill(b, dout, 1.0);
                const float *base = form == 0 ? x : form == 1 ? b : NULL;
                double *h = malloc(r * sizeof(double)), *yr = malloc(dout * sizeof(double));
                ref_forward(&sh, p, x, base, h, yr);
                set_ctx("d_in=%zu d_out=%zu r=%zu form=%d", din, dout, r, form);
                kestrel_status st = fn(&sh, p, x, base, y);
                const double err = y_err(y, yr, dout);
                note_ratio(err, 2e-6);
                check(st == KESTREL_OK && err <= 2e-6, "status %d rel err %.3g", (int)st, err);
                if (form == 1) { /* in place: base == y */
                    memcpy(y, b, dout * sizeof(float));
                    st = fn(&sh, p, x, y, y);
                    const double e2 = y_err(y, yr, dout);
                    check(st == KESTREL_OK && e2 <= 2e-6, "in place: status %d rel err %.3g", (int)st, e2);
                }
                free(h); free(yr); free(rp); free(rx); free(ry); free(rb);
            }
    set_ctx("argument errors");
    kestrel_lora_shape bad = {4, 4, 0, 1.0f};
    float v[8] = {0};
    check(fn(&bad, v, v, NULL, v) == KESTREL_ERR_INVALID_ARGUMENT, "rank 0 accepted");
    kestrel_lora_shape huge = {SIZE_MAX / 2, SIZE_MAX / 2, 3, 1.0f};
    check(fn(&huge, v, v, NULL, v) == KESTREL_ERR_INVALID_ARGUMENT, "overflowing size accepted");
    kestrel_lora_shape ok = {4, 4, 1, 1.0f};
    check(fn(&ok, NULL, v, NULL, v) == KESTREL_ERR_NULL_POINTER, "NULL params accepted");
}

typedef struct {
    size_t din, dout, r, nneg;
    int loss;
} acase_t;

/* Reference loss and g = dL/dy for the forward y (double). */
static double ref_loss(const kestrel_lora_accumulate_args *a, const double *y, double *g) {
    const size_t dout = a->shape.d_out;
    double loss = 0;
    if (a->loss == KESTREL_LORA_LOSS_SQUARED) {
        for (size_t j = 0; j < dout; j++) {
            g[j] = y[j] - a->target[j];
            loss += 0.5 * g[j] * g[j];
        }
    } else if (a->loss == KESTREL_LORA_LOSS_BINARY) {
        double u = 0;
        for (size_t j = 0; j < dout; j++) u += y[j] * a->target[j];
        const double z = -(double)a->label * u;
        loss = log1p(exp(z));
        const double c = -(double)a->label / (1 + exp(-z));
        for (size_t j = 0; j < dout; j++) g[j] = c * a->target[j];
    } else if (a->loss == KESTREL_LORA_LOSS_INFONCE) {
        const size_t n = a->n_neg + 1;
        double *u = malloc(n * sizeof(double)), z = 0;
        for (size_t i = 0; i < n; i++) {
            const float *k = i == 0 ? a->target : a->negatives + (i - 1) * a->neg_stride;
            double d = 0;
            for (size_t j = 0; j < dout; j++) d += y[j] * k[j];
            u[i] = d / a->temperature;
            z += exp(u[i]);
        }
        loss = log(z) - u[0];
        for (size_t j = 0; j < dout; j++) g[j] = 0;
        for (size_t i = 0; i < n; i++) {
            const float *k = i == 0 ? a->target : a->negatives + (i - 1) * a->neg_stride;
            const double c = (exp(u[i]) / z - (i == 0)) / a->temperature;
            for (size_t j = 0; j < dout; j++) g[j] += c * k[j];
        }
        free(u);
    } else {
        for (size_t j = 0; j < dout; j++) g[j] = a->target[j];
    }
    return loss;
}

static void run_acc_case(const acase_t *c, acc_fn fn, size_t off) {
    kestrel_lora_shape sh = {c->din, c->dout, c->r, 1.0f / (float)c->r};
    const size_t np = kestrel_lora_param_count(&sh), din = c->din, dout = c->dout, r = c->r;
    const size_t stride = dout + 1;
    float *rp, *rg, *rx, *rt, *rn, *rs, *ry;
    float *p = alloc_off(np, off, &rp), *g = alloc_off(np, off + 1, &rg), *x = alloc_off(din, off + 2, &rx);
    float *tg = alloc_off(dout, off, &rt), *neg = alloc_off(c->nneg * stride + 1, off, &rn);
    float *scr = alloc_off(kestrel_lora_scratch_floats(&sh, c->nneg), off, &rs), *y = alloc_off(dout, off, &ry);
    fill(p, np, 1.0 / sqrt((double)din));
    fill(g, np, 0.1); /* accumulation adds to what is there */
    fill(x, din, 1.0);
    fill(tg, dout, c->loss == KESTREL_LORA_LOSS_SQUARED ? 1.0 : 1.0 / sqrt((double)dout));
    fill(neg, c->nneg * stride + 1, 1.0 / sqrt((double)dout));
    float *g0 = malloc(np * sizeof(float));
    memcpy(g0, g, np * sizeof(float));
    kestrel_lora_accumulate_args a = {0};
    a.shape = sh; a.params = p; a.grad = g; a.x = x; a.base = din == dout ? x : NULL; a.loss = c->loss;
    a.target = tg; a.negatives = neg; a.n_neg = c->nneg; a.neg_stride = stride; a.label = (c->din & 1) ? 1.0f : -1.0f;
    a.temperature = 0.5f; a.weight = 0.75f; a.scratch = scr; a.y = y;

    double *h = malloc(r * sizeof(double)), *yr = malloc(dout * sizeof(double)), *gy = malloc(dout * sizeof(double));
    double *gr = malloc(np * sizeof(double));
    ref_forward(&sh, p, x, a.base, h, yr);
    const double loss = ref_loss(&a, yr, gy);
    for (size_t k = 0; k < r; k++) {
        double gh = 0;
        for (size_t j = 0; j < dout; j++) gh += (double)p[r * din + k * dout + j] * gy[j];
        gh *= sh.scale;
        for (size_t i = 0; i < din; i++) gr[k * din + i] = g0[k * din + i] + 0.75 * gh * x[i];
        for (size_t j = 0; j < dout; j++) gr[r * din + k * dout + j] = g0[r * din + k * dout + j] + 0.75 * h[k] * gy[j];
    }
    set_ctx("d_in=%zu d_out=%zu r=%zu loss=%d neg=%zu off=%zu", din, dout, r, c->loss, c->nneg, off);
    kestrel_status st = fn(&a);
    const double eg = rel_err(g, gr, np, 1e-6), ey = y_err(y, yr, dout);
    const double el = fabs(a.loss_out - loss) / (fabs(loss) + 1e-6);
    note_ratio(eg, 1e-5);
    check(st == KESTREL_OK && eg <= 1e-5 && ey <= 2e-6 && el <= 1e-5, "status %d grad err %.3g y err %.3g loss %.9g vs %.9g",
          (int)st, eg, ey, a.loss_out, loss);

    /* Rejections: a NaN or Inf in x, the target or a key (or a bad label) writes nothing. */
    memcpy(g, g0, np * sizeof(float));
    for (int bad = 0; bad < 4; bad++) {
        float *where = bad == 0 ? x + din / 2 : bad == 1 ? tg + dout / 3 : neg;
        if (bad == 2 && c->nneg == 0) continue;
        kestrel_lora_accumulate_args b = a;
        const float saved = where[0], lab = b.label;
        if (bad == 3) b.label = 0.5f;
        else where[0] = bad == 1 ? INFINITY : NAN;
        memset(y, 0x7f, dout * sizeof(float));
        const float y0 = y[0];
        st = fn(&b);
        const int expect_reject = bad != 3 || c->loss == KESTREL_LORA_LOSS_BINARY;
        if (expect_reject)
            check(st != KESTREL_OK && memcmp(g, g0, np * sizeof(float)) == 0 && fbits(y[0]) == fbits(y0),
                  "bad=%d: status %d, outputs touched", bad, (int)st);
        where[0] = saved;
        b.label = lab;
        memcpy(g, g0, np * sizeof(float));
    }
    free(g0); free(h); free(yr); free(gy); free(gr);
    free(rp); free(rg); free(rx); free(rt); free(rn); free(rs); free(ry);
}

static void test_accumulate(const entry_t *e, const kestrel_kernel_table *t) {
    acc_fn fn = (acc_fn)entry_ptr(t, e->off);
    for (size_t di = 0; di < N_DIMS; di++)
        for (int loss = 0; loss < 4; loss++)
            for (size_t ri = 0; ri < 5; ri += (di > 12 ? 2 : 1)) {
                const size_t din = k_dims[di];
                acase_t c = {din, (loss + ri) % 2 ? din : k_dims[(di + 2) % N_DIMS], k_ranks[ri],
                             loss == KESTREL_LORA_LOSS_INFONCE ? (ri * 3) % 9 : 0, loss};
                run_acc_case(&c, fn, 1 + (di + ri) % 3);
            }
    set_ctx("argument errors");
    kestrel_lora_accumulate_args a = {0};
    float v[64] = {0};
    a.shape = (kestrel_lora_shape){4, 4, 1, 1.0f};
    a.params = v; a.grad = v + 8; a.x = v + 16; a.target = v + 20; a.scratch = v + 24; a.weight = 1;
    a.loss = 9;
    check(fn(&a) == KESTREL_ERR_INVALID_ARGUMENT, "unknown loss accepted");
    a.loss = KESTREL_LORA_LOSS_INFONCE;
    a.temperature = 0;
    check(fn(&a) == KESTREL_ERR_INVALID_ARGUMENT, "temperature 0 accepted");
    a.temperature = 1; a.n_neg = 2; a.negatives = v; a.neg_stride = 3;
    check(fn(&a) == KESTREL_ERR_INVALID_ARGUMENT, "neg_stride < d_out accepted");
    a.loss = KESTREL_LORA_LOSS_SQUARED; a.scratch = NULL;
    check(fn(&a) == KESTREL_ERR_NULL_POINTER, "NULL scratch accepted");
}

/* Reference update in double, same order of effects as the header. */
static void ref_update(const kestrel_lora_update_args *a, double *th, double *m, double *v, double *fi, double *norm,
                       int *clipped) {
    const size_t n = a->n;
    double *G = malloc(n * sizeof(double)), ss = 0;
    for (size_t i = 0; i < n; i++) {
        G[i] = (double)a->grad_scale * a->grad[i];
        if (a->fisher_star) G[i] += 2.0 * a->ewc_lambda * a->fisher_star[i] * ((double)a->params[i] - a->anchor[i]);
        ss += G[i] * G[i];
    }
    *norm = sqrt(ss);
    *clipped = a->clip_norm > 0 && isfinite(a->clip_norm) && *norm > a->clip_norm;
    const double f = *clipped ? a->clip_norm / *norm : 1;
    for (size_t i = 0; i < n; i++) {
        const double raw = (double)a->grad_scale * a->grad[i], g = f * G[i];
        th[i] = a->params[i];
        m[i] = a->m ? a->m[i] : 0;
        v[i] = a->v ? a->v[i] : 0;
        fi[i] = a->fisher ? a->fisher[i] : 0;
        if (a->fisher && a->fisher_decay >= 0) fi[i] = a->fisher_decay * fi[i] + (1 - (double)a->fisher_decay) * raw * raw;
        if (a->optimizer == KESTREL_LORA_SGD) th[i] -= a->lr * g;
        else if (a->optimizer == KESTREL_LORA_MOMENTUM) {
            m[i] = a->beta1 * m[i] + g;
            th[i] -= a->lr * m[i];
        } else {
            m[i] = a->beta1 * m[i] + (1 - (double)a->beta1) * g;
            v[i] = a->beta2 * v[i] + (1 - (double)a->beta2) * g * g;
            th[i] -= a->lr * (m[i] * a->c1) / (sqrt(v[i] * a->c2) + a->eps);
        }
    }
    free(G);
}

static void test_update(const entry_t *e, const kestrel_kernel_table *t) {
    upd_fn fn = (upd_fn)entry_ptr(t, e->off);
    const size_t sizes[] = {1, 2, 3, 7, 17, 33, 100, 1535, 1536, 3072, 4099};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int opt = 0; opt < 3; opt++)
            for (int ewc = 0; ewc < 2; ewc++)
                for (int clip = 0; clip < 2; clip++) {
                    const size_t n = sizes[si], off = 1 + (si + (size_t)opt) % 3;
                    float *rr[7];
                    float *p = alloc_off(n, off, &rr[0]), *g = alloc_off(n, off, &rr[1]), *m = alloc_off(n, off, &rr[2]);
                    float *v = alloc_off(n, off, &rr[3]), *fi = alloc_off(n, off, &rr[4]), *fs = alloc_off(n, off, &rr[5]);
                    float *an = alloc_off(n, off, &rr[6]);
                    fill(p, n, 1); fill(g, n, 0.5); fill(m, n, 0.1); fill(an, n, 1);
                    for (size_t i = 0; i < n; i++) {
                        v[i] = rnd_range(0, 0.05);
                        fi[i] = rnd_range(0, 1);
                        fs[i] = rnd_range(0, 1);
                    }
                    kestrel_lora_update_args a = {0};
                    a.n = n; a.params = p; a.grad = g; a.m = m; a.v = v; a.optimizer = opt; a.lr = 0.01f;
                    a.beta1 = 0.9f; a.beta2 = 0.999f; a.eps = 1e-8f; a.c1 = 1 / (1 - 0.9f * 0.9f);
                    a.c2 = 1 / (1 - 0.999f * 0.999f); a.grad_scale = 0.5f;
                    a.clip_norm = clip ? 0.1f * sqrtf((float)n) : 0;
                    if (ewc) {
                        a.fisher = fi; a.fisher_decay = 0.9f; a.fisher_star = fs; a.anchor = an; a.ewc_lambda = 0.7f;
                    } else a.fisher_decay = -1;
                    double *rth = malloc(n * sizeof(double)), *rm = malloc(n * sizeof(double));
                    double *rv = malloc(n * sizeof(double)), *rf = malloc(n * sizeof(double)), norm;
                    int clipped;
                    ref_update(&a, rth, rm, rv, rf, &norm, &clipped);
                    set_ctx("n=%zu opt=%d ewc=%d clip=%d off=%zu", n, opt, ewc, clip, off);
                    /* Out of place (params_out) must give the in-place result bit for bit and leave params. */
                    float *s0 = malloc(5 * n * sizeof(float)), *q = malloc(n * sizeof(float) + 4);
                    memcpy(s0, p, n * 4); memcpy(s0 + n, g, n * 4); memcpy(s0 + 2 * n, m, n * 4);
                    memcpy(s0 + 3 * n, v, n * 4); memcpy(s0 + 4 * n, fi, n * 4);
                    kestrel_lora_update_args o = a;
                    o.params_out = q + 1; /* unaligned */
                    const kestrel_status sto = fn(&o);
                    const int params_kept = memcmp(p, s0, n * 4) == 0;
                    float *s1 = malloc(3 * n * sizeof(float));
                    memcpy(s1, m, n * 4); memcpy(s1 + n, v, n * 4); memcpy(s1 + 2 * n, fi, n * 4);
                    memcpy(g, s0 + n, n * 4); memcpy(m, s0 + 2 * n, n * 4); memcpy(v, s0 + 3 * n, n * 4);
                    memcpy(fi, s0 + 4 * n, n * 4);
                    const kestrel_status st = fn(&a);
                    check(sto == KESTREL_OK && params_kept && memcmp(q + 1, p, n * 4) == 0 && memcmp(s1, m, n * 4) == 0 &&
                              memcmp(s1 + n, v, n * 4) == 0 && memcmp(s1 + 2 * n, fi, n * 4) == 0 &&
                              o.grad_norm_out == a.grad_norm_out,
                          "out of place differs from in place (status %d, params kept %d)", (int)sto, params_kept);
                    free(s0); free(s1); free(q);
                    int zero = 1;
                    for (size_t i = 0; i < n; i++) zero &= g[i] == 0.0f;
                    const double ep = rel_err(p, rth, n, 1e-6), em = opt ? rel_err(m, rm, n, 1e-6) : 0;
                    const double ev = opt == 2 ? rel_err(v, rv, n, 1e-6) : 0, ef = ewc ? rel_err(fi, rf, n, 1e-6) : 0;
                    const double en = fabs(a.grad_norm_out - norm) / norm;
                    note_ratio(ep, 1e-6);
                    check(st == KESTREL_OK && zero && ep <= 1e-6 && em <= 1e-6 && ev <= 1e-6 && ef <= 1e-6 && en <= 1e-5 &&
                              a.clipped_out == clipped,
                          "status %d zeroed %d errs p %.3g m %.3g v %.3g f %.3g norm %.3g clipped %d/%d", (int)st, zero, ep,
                          em, ev, ef, en, a.clipped_out, clipped);
                    /* lr = 0 leaves the parameters bit for bit. */
                    float *p0 = malloc(n * sizeof(float));
                    memcpy(p0, p, n * sizeof(float));
                    fill(g, n, 0.5);
                    a.lr = 0;
                    check(fn(&a) == KESTREL_OK && memcmp(p0, p, n * sizeof(float)) == 0, "lr = 0 changed parameters");
                    free(p0); free(rth); free(rm); free(rv); free(rf);
                    for (int k = 0; k < 7; k++) free(rr[k]);
                }
    set_ctx("argument errors");
    float w[4] = {1, 1, 1, 1};
    kestrel_lora_update_args a = {0};
    a.n = 4; a.params = w; a.grad = w; a.optimizer = KESTREL_LORA_ADAM; a.grad_scale = 1;
    check(fn(&a) == KESTREL_ERR_NULL_POINTER, "Adam without moments accepted");
    a.optimizer = 7;
    check(fn(&a) == KESTREL_ERR_INVALID_ARGUMENT, "unknown optimizer accepted");
    a.optimizer = KESTREL_LORA_SGD; a.lr = -1;
    check(fn(&a) == KESTREL_ERR_INVALID_ARGUMENT, "negative lr accepted");
    a.lr = 1; a.grad_scale = 1e30f;
    float big[4] = {1e30f, 1e30f, 1e30f, 1e30f}, pw[4] = {1, 2, 3, 4};
    a.grad = big; a.params = pw;
    check(fn(&a) == KESTREL_ERR_INVALID_ARGUMENT && pw[0] == 1 && big[0] == 1e30f, "overflowing norm not rejected untouched");
}

void test_lora(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    (void)s; /* every tier, scalar included, is held to the float64 reference */
    switch (e->kind) {
    case K_LORA_APPLY: test_apply(e, t); break;
    case K_LORA_ACCUMULATE: test_accumulate(e, t); break;
    case K_LORA_UPDATE: test_update(e, t); break;
    default: break;
    }
}
