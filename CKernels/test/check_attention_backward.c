/*
 * check_attention_backward.c — the attention backward tile (`attention_bwd_tile_f32`): every tier,
 * the scalar one included, against a float64 reference of the header's formulas, and every SIMD tier
 * against the scalar tier. Head dimensions 16…256 (multiples and non-multiples of every vector width),
 * tiles of 1…70 rows × 1…130 keys, every mask (none, causal with an offset diagonal, sliding window,
 * key padding, an additive bias with -inf entries, rows whose lse is -inf), row strides above d,
 * unaligned operands, dV flush against a guard page and the scratch of exactly the documented size
 * flush against another; the gradients start nonzero (accumulation). Plus the argument errors.
 */
#include "neon_check.h"
#include "kestrel_attention_backward.h"

typedef kestrel_status (*attention_bwd_fn)(const kestrel_attention_bwd_args *a);

enum { BM_NONE, BM_CAUSAL, BM_WINDOW, BM_PADDING, BM_BIAS, BM_EMPTY_ROWS, BM_COUNT };
static const char *const k_bm_names[BM_COUNT] = {"none", "causal", "window", "padding", "bias", "empty-rows"};

static int visible(const kestrel_attention_bwd_args *a, size_t r, size_t c) {
    const ptrdiff_t pos = a->diag + (ptrdiff_t)r, j = a->j0 + (ptrdiff_t)c;
    if (j >= (ptrdiff_t)a->kv_len) return 0;
    if (a->causal && j > pos) return 0;
    if (a->window_left >= 0 && j < pos - a->window_left) return 0;
    return 1;
}

/* S_rc in double, or -inf when masked. */
static double score(const kestrel_attention_bwd_args *a, size_t r, size_t c) {
    if (!visible(a, r, c)) return -INFINITY;
    double dot = 0;
    for (size_t t = 0; t < a->d; t++) dot += (double)a->q[r * a->q_stride + t] * a->k[c * a->k_stride + t];
    double s = (double)a->scale * dot;
    if (a->bias) s += a->bias[r * a->bias_stride + (size_t)(a->j0 + (ptrdiff_t)c)];
    return s;
}

/*
 * The float64 gradients (initial values included) into gq/gk/gv ([rows|cols][d]) and, in mq/mk/mv,
 * the same sums over absolute values: the scale of each element's rounding error.
 */
static void reference(const kestrel_attention_bwd_args *a, const float *q0, const float *k0, const float *v0,
                      double *gq, double *gk, double *gv, double *mq, double *mk, double *mv) {
    const size_t rows = a->rows, cols = a->cols, d = a->d;
    for (size_t i = 0; i < rows * d; i++) gq[i] = q0[i], mq[i] = fabs(q0[i]);
    for (size_t i = 0; i < cols * d; i++) gk[i] = k0[i], mk[i] = fabs(k0[i]), gv[i] = v0[i], mv[i] = fabs(v0[i]);
    for (size_t r = 0; r < rows; r++) {
        const float *g = a->dout + r * a->dout_stride;
        for (size_t c = 0; c < cols; c++) {
            const double s = score(a, r, c);
            const double p = a->lse[r] == -INFINITY || s == -INFINITY ? 0.0 : exp(s - (double)a->lse[r]);
            if (p == 0.0) continue;
            double dp = 0, dpm = 0;
            for (size_t t = 0; t < d; t++) {
                dp += (double)g[t] * a->v[c * a->v_stride + t];
                dpm += fabs((double)g[t] * a->v[c * a->v_stride + t]);
            }
            const double ds = a->scale * p * (dp - a->delta[r]);
            const double dsm = fabs(a->scale) * p * (dpm + fabs(a->delta[r]) + fabs(dp - a->delta[r]));
            for (size_t t = 0; t < d; t++) {
                gv[c * d + t] += p * g[t], mv[c * d + t] += fabs(p * g[t]);
                gk[c * d + t] += ds * a->q[r * a->q_stride + t], mk[c * d + t] += dsm * fabs(a->q[r * a->q_stride + t]);
                gq[r * d + t] += ds * a->k[c * a->k_stride + t], mq[r * d + t] += dsm * fabs(a->k[c * a->k_stride + t]);
            }
        }
    }
}

/* Largest |got − want| / (2e-5 · (magnitude + 1e-3)) over n rows of d at stride `gs`. */
static double worst(const float *got, size_t gs, const double *want, const double *mag, size_t n, size_t d,
                    size_t *bad) {
    double w = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++) {
            const double e = fabs((double)got[i * gs + t] - want[i * d + t]) / (2e-5 * (mag[i * d + t] + 1e-3));
            if (!(e <= w)) w = e, *bad = i; /* NaN counts as a failure */
        }
    return w;
}

static void one_case(attention_bwd_fn ft, attention_bwd_fn fs, size_t rows, size_t cols, size_t d, int mask,
                     int unaligned) {
    set_ctx("rows=%zu cols=%zu d=%zu mask=%s unaligned=%d", rows, cols, d, k_bm_names[mask], unaligned);
    const size_t qs = d + (unaligned ? 3 : 0), ks = d + (unaligned ? 1 : 0), gs = d + (unaligned ? 2 : 0);
    float *q = place(AR_A, 2 * rows * qs * 4 + 64, lay_off(unaligned ? 1 : 0, 4)), *dout = q + rows * qs;
    float *k = place(AR_B, 2 * cols * ks * 4 + 64, lay_off(unaligned ? 3 : 0, 4)), *v = k + cols * ks;
    for (size_t i = 0; i < 2 * rows * qs; i++) q[i] = rnd_range(-1, 1);
    for (size_t i = 0; i < 2 * cols * ks; i++) k[i] = rnd_range(-1, 1);
    const ptrdiff_t j0 = (ptrdiff_t)rnd_below(40);
    const size_t bs = (size_t)j0 + cols + 3;
    float *bias = NULL;
    if (mask == BM_BIAS) {
        bias = malloc(rows * bs * sizeof(float));
        for (size_t i = 0; i < rows * bs; i++) bias[i] = rnd_below(9) == 0 ? -INFINITY : rnd_range(-2, 2);
    }
    kestrel_attention_bwd_args a;
    memset(&a, 0, sizeof a);
    a.rows = rows, a.cols = cols, a.d = d;
    a.q = q, a.q_stride = qs, a.dout = dout, a.dout_stride = qs;
    a.k = k, a.k_stride = ks, a.v = v, a.v_stride = ks;
    a.scale = (float)(1.0 / sqrt((double)d)) * (0.5f + (float)rnd_unit());
    a.j0 = j0;
    a.causal = mask == BM_CAUSAL;
    a.diag = j0 + (ptrdiff_t)rnd_below(cols + 1) - (ptrdiff_t)rows / 2;
    a.window_left = mask == BM_WINDOW ? (ptrdiff_t)rnd_below(12) : -1;
    a.kv_len = mask == BM_PADDING ? (size_t)j0 + rnd_below(cols + 1) : (size_t)j0 + cols + rnd_below(4);
    a.bias = bias, a.bias_stride = bs;
    if (mask == BM_WINDOW) a.diag = j0 + (ptrdiff_t)rnd_below(cols + 1); /* some rows see keys */

    /* lse: the true log-sum-exp over this block's visible keys plus up to 1 (the other blocks), so
     * P is in (0, 1]; -inf for rows that see nothing here and, with BM_EMPTY_ROWS, every third row. */
    float *lse = malloc(rows * sizeof(float)), *delta = malloc(rows * sizeof(float));
    for (size_t r = 0; r < rows; r++) {
        double m = -INFINITY, sum = 0;
        for (size_t c = 0; c < cols; c++) m = fmax(m, score(&a, r, c));
        if (m != -INFINITY)
            for (size_t c = 0; c < cols; c++) sum += exp(score(&a, r, c) - m);
        lse[r] = m == -INFINITY || (mask == BM_EMPTY_ROWS && r % 3 == 1) ? -INFINITY : (float)(m + log(sum) + rnd_unit());
        delta[r] = rnd_range(-1, 1);
    }
    a.lse = lse, a.delta = delta;

    /* gradients: dq, dk then dv, the last flush against the guard page; initial values random */
    const size_t nq = rows * gs, nk = cols * gs, total = nq + 2 * nk;
    float *grads = place(AR_OUT, total * 4, END), *init = malloc(total * sizeof(float));
    for (size_t i = 0; i < total; i++) init[i] = rnd_range(-1, 1);
    float *sres = malloc(total * sizeof(float));
    const size_t sf = kestrel_attention_bwd_scratch_floats(rows, cols, d);
    check(sf > 0, "scratch size 0");
    a.scratch = place(AR_OUT2, sf * 4, END);

    /* the scalar tier, then the tier under test */
    memcpy(grads, init, total * 4);
    a.dq = grads, a.dq_stride = gs, a.dk = grads + nq, a.dk_stride = gs, a.dv = grads + nq + nk, a.dv_stride = gs;
    kestrel_status st_s = fs(&a);
    memcpy(sres, grads, total * 4);
    memcpy(grads, init, total * 4);
    guard_t g = guard_set(AR_OUT, grads, total * 4);
    kestrel_status st_t = ft(&a);
    guard_ok(&g);
    check(st_t == KESTREL_OK && st_s == KESTREL_OK, "status %d (scalar %d)", st_t, st_s);

    double *ref = malloc((rows + 2 * cols) * d * 2 * sizeof(double));
    double *gq = ref, *gk = gq + rows * d, *gv = gk + cols * d, *mq = gv + cols * d, *mk = mq + rows * d, *mv = mk + cols * d;
    float *i0 = malloc((rows + 2 * cols) * d * sizeof(float)); /* initial values without the stride gaps */
    for (size_t r = 0; r < rows; r++) memcpy(i0 + r * d, init + r * gs, d * 4);
    for (size_t c = 0; c < 2 * cols; c++) memcpy(i0 + rows * d + c * d, init + nq + c * gs, d * 4);
    reference(&a, i0, i0 + rows * d, i0 + (rows + cols) * d, gq, gk, gv, mq, mk, mv);
    static const char *const names[3] = {"dQ", "dK", "dV"};
    const float *got[3] = {grads, grads + nq, grads + nq + nk}, *sgot[3] = {sres, sres + nq, sres + nq + nk};
    const double *want[3] = {gq, gk, gv}, *mag[3] = {mq, mk, mv};
    const size_t n[3] = {rows, cols, cols};
    for (int x = 0; x < 3; x++) {
        size_t bad = 0;
        double w = worst(got[x], gs, want[x], mag[x], n[x], d, &bad);
        note_ratio(w, 1.0);
        check(w <= 1, "%s vs float64: %.3g × tolerance at row %zu", names[x], w, bad);
        w = worst(sgot[x], gs, want[x], mag[x], n[x], d, &bad);
        check(w <= 1, "scalar tier's %s vs float64: %.3g × tolerance at row %zu", names[x], w, bad);
    }
    /* the stride gaps are never written */
    size_t touched = 0;
    for (size_t i = 0; i < total; i++)
        if (i % gs >= d) touched += !same_f(grads[i], init[i]);
    check(touched == 0, "wrote %zu elements between rows", touched);
    free(ref), free(i0), free(sres), free(init), free(lse), free(delta), free(bias);
}

void test_attention_bwd(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    attention_bwd_fn ft = FN(attention_bwd_fn, t, e->off), fs = FN(attention_bwd_fn, s, e->off);
    static const size_t dims[] = {16, 17, 24, 33, 64, 80, 100, 128, 200, 256};
    static const size_t tiles[][2] = {{1, 1}, {1, 77}, {64, 64}, {5, 130}, {70, 40}, {33, 17}, {17, 6}, {16, 128}};
    const size_t nt = sizeof tiles / sizeof tiles[0];
    size_t k = 0;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int mask = 0; mask < BM_COUNT; mask++, k++) {
            const size_t *tile = tiles[(k * 5 + di) % nt];
            one_case(ft, fs, tile[0], tile[1], dims[di], mask, (int)(k % 3 != 0));
        }
}

/* Argument errors and empty tiles: the documented status, whatever the tier. */
void test_attention_bwd_empty(const entry_t *e, const kestrel_kernel_table *t) {
    attention_bwd_fn ft = FN(attention_bwd_fn, t, e->off);
    static float buf[8192];
    for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) buf[i] = 0.25f;
    kestrel_attention_bwd_args ok;
    memset(&ok, 0, sizeof ok);
    ok.rows = 2, ok.cols = 3, ok.d = 16;
    ok.q = buf, ok.q_stride = 16, ok.k = buf + 100, ok.k_stride = 16, ok.v = buf + 200, ok.v_stride = 16;
    ok.dout = buf + 300, ok.dout_stride = 16, ok.lse = buf + 400, ok.delta = buf + 410;
    ok.dq = buf + 500, ok.dq_stride = 16, ok.dk = buf + 600, ok.dk_stride = 16, ok.dv = buf + 700, ok.dv_stride = 16;
    ok.scale = 1, ok.window_left = -1, ok.kv_len = 3, ok.scratch = buf + 1000;
    set_ctx("valid call");
    check(kestrel_attention_bwd_scratch_floats(2, 3, 16) <= 7000, "scratch");
    check(ft(&ok) == KESTREL_OK, "valid arguments refused");
    set_ctx("errors");
    check(ft(NULL) == KESTREL_ERR_NULL_POINTER, "NULL args");
    kestrel_attention_bwd_args a;
#define EXPECT(field_change, want)                                                       \
    do {                                                                                 \
        a = ok;                                                                          \
        field_change;                                                                    \
        kestrel_status got = ft(&a);                                                     \
        check(got == (want), "%s: status %d, expected %d", #field_change, got, (want)); \
    } while (0)
    EXPECT(a.d = 0, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.q_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.k_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.v_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.dout_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.dq_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.dk_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.dv_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT((a.bias = buf, a.bias_stride = 2), KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT((a.bias = buf, a.bias_stride = 8, a.j0 = -1), KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.rows = SIZE_MAX - 3, KESTREL_ERR_INVALID_ARGUMENT); /* scratch size overflows */
    EXPECT(a.cols = SIZE_MAX / 2, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.q = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.k = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.v = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.dout = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.lse = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.delta = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.dq = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.dk = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.dv = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.scratch = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT((a.rows = 0, a.q = NULL, a.dq = NULL, a.scratch = NULL), KESTREL_OK);
    EXPECT((a.cols = 0, a.k = NULL, a.dk = NULL, a.scratch = NULL), KESTREL_OK);
#undef EXPECT
}
