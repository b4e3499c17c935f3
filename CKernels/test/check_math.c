/* check_math.c — exp, softmax, the element-wise BLAS-1 helpers and the reductions. */
#include "neon_check.h"

/* Math                                                                                 */
/* ------------------------------------------------------------------------------------ */

static const float k_special[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, FLT_MAX, -FLT_MAX, FLT_MIN,
                                  -FLT_MIN, 0x1p-149f, -0x1p-149f, 0x1.fffffcp-127f, 1e30f, -1e-30f, 3.0f, 0.5f};
#define N_SPECIAL (sizeof k_special / sizeof k_special[0])

enum { EX_RANGE, EX_UNIT, EX_SMALL, EX_EDGE, EX_SPECIAL, EX_COUNT };
static const char *const k_ex_names[EX_COUNT] = {"[-87.3,88.7]", "[-1,1]", "tiny", "[-110,95]", "specials"};

static float exp_input(int ds) {
    switch (ds) {
    case EX_RANGE: return rnd_range(-87.3, 88.7);
    case EX_UNIT: return rnd_range(-1, 1);
    case EX_SMALL: return rnd_sign() * ldexpf(1.0f + (float)rnd_unit(), -(int)rnd_below(40) - 8);
    case EX_EDGE: return rnd_range(-110, 95);
    default: {
        static const float extra[] = {88.7f, 88.72f, 88.7228f, 88.72284f, 88.7229f, 88.73f, 89.0f, 100.0f,
                                      -87.3f, -87.33f, -87.3365f, -87.34f, -88.0f, -100.0f, -103.97f, -104.0f,
                                      0.6931472f, -0.6931472f, 0.34657359f, 1e-7f, -1e-7f};
        size_t k = rnd_below(N_SPECIAL + sizeof extra / sizeof extra[0]);
        return k < N_SPECIAL ? k_special[k] : extra[k - N_SPECIAL];
    }
    }
}

/* The header's exp contract, relative to the scalar (libm expf) result `ref`. */
static int exp_ok(float x, float got, float ref) {
    if (isnan(x)) return isnan(got);
    if (x == INFINITY) return got == INFINITY;
    if (x == -INFINITY) return fbits(got) == 0;
    if (isnan(got) || signbit(got)) return 0;
    if (x > 88.7f) return isinf(ref) ? got == INFINITY : (got == INFINITY || ulp_diff(got, ref) <= 2);
    if (x < -87.3f) return got < 0x1p-126f || ulp_diff(got, ref) <= 2;
    return ulp_diff(got, ref) <= 2;
}

static void check_exp(const float *x, const float *got, const float *ref, size_t n) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (!exp_ok(x[i], got[i], ref[i]) && !bad++) first = i;
        if (isfinite(got[i]) && isfinite(ref[i]) && ref[i] >= 0x1p-126f) note_ratio((double)ulp_diff(got[i], ref[i]), 2.0);
    }
    check(bad == 0, "%zu elements off; first x=%.9g (0x%08x): %.9g (0x%08x), scalar %.9g (0x%08x), %" PRId64 " ulp",
          bad, bad ? x[first] : 0, bad ? fbits(x[first]) : 0, bad ? got[first] : 0, bad ? fbits(got[first]) : 0,
          bad ? ref[first] : 0, bad ? fbits(ref[first]) : 0, bad ? ulp_diff(got[first], ref[first]) : 0);
}

void test_exp(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    kestrel_unary_f32_fn ft = FN(kestrel_unary_f32_fn, t, e->off), fs = FN(kestrel_unary_f32_fn, s, e->off);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < EX_COUNT; ds++) {
                set_ctx("n=%zu layout=%zu data=%s", n, li, k_ex_names[ds]);
                float *x = place(AR_A, n * 4, lay_off(k_layouts[li].a, 4));
                for (size_t i = 0; i < n; i++) x[i] = exp_input(ds);
                float *out = place(AR_OUT, n * 4, lay_off(k_layouts[li].out, 4));
                float *ref = place(AR_OUT2, n * 4, END);
                guard_t g = guard_set(AR_OUT, out, n * 4);
                ft(x, out, n);
                fs(x, ref, n);
                guard_ok(&g);
                check_exp(x, out, ref, n);
                /* in place (y == x) must give the same bits */
                float *inpl = place(AR_B, n * 4, lay_off(k_layouts[li].b, 4));
                memcpy(inpl, x, n * 4);
                ft(inpl, inpl, n);
                size_t bad = 0;
                for (size_t i = 0; i < n; i++) bad += !same_f(inpl[i], out[i]);
                check(bad == 0, "in place differs from out of place at %zu elements", bad);
            }
        }
    }
    /* A dense sweep of the whole input range, every range-reduction boundary k*ln2 and its neighbours. */
    size_t n = 0;
    float *x = place(AR_A, SCRATCH_ELEMS / 2 * 4, END);
    for (size_t i = 0; i < 200000; i++) x[n++] = (float)(-104.0 + 193.0 * (double)i / 200000.0);
    for (int k = -150; k <= 128; k++) {
        for (int h = 0; h < 2; h++) {
            float c = (float)((k + 0.5 * h) * 0.69314718055994530942);
            x[n++] = c;
            x[n++] = nextafterf(c, INFINITY);
            x[n++] = nextafterf(c, -INFINITY);
        }
    }
    for (size_t i = 0; i < N_SPECIAL; i++) x[n++] = k_special[i];
    set_ctx("sweep of %zu inputs", n);
    float *out = place(AR_OUT, n * 4, END), *ref = place(AR_OUT2, n * 4, END);
    ft(x, out, n);
    fs(x, ref, n);
    check_exp(x, out, ref, n);
}

enum { SM_UNIFORM, SM_SHIFT_UP, SM_SHIFT_DOWN, SM_WIDE, SM_EQUAL, SM_PEAK, SM_MASKED, SM_SOME_NEG_INF, SM_ALL_NEG_INF,
       SM_NAN, SM_POS_INF, SM_COUNT };
static const char *const k_sm_names[SM_COUNT] = {"uniform", "1000+", "-1000+", "[-100,100]", "equal", "peak",
                                                 "masked", "some-inf", "all-masked", "nan", "+inf"};

static void gen_softmax(int ds, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (ds) {
        case SM_SHIFT_UP: x[i] = 1000.0f + rnd_range(-5, 5); break;
        case SM_SHIFT_DOWN: x[i] = -1000.0f + rnd_range(-5, 5); break;
        case SM_WIDE: x[i] = rnd_range(-100, 100); break;
        case SM_EQUAL: x[i] = 3.0f; break;
        case SM_MASKED: x[i] = -INFINITY; break;
        case SM_SOME_NEG_INF: x[i] = rnd_below(3) == 0 ? -INFINITY : rnd_range(-10, 10); break;
        case SM_ALL_NEG_INF: x[i] = -INFINITY; break;
        default: x[i] = rnd_range(-10, 10); break;
        }
    }
    if (n == 0) return;
    /* a dominant element: a tier that ignores it when taking the max overflows exp */
    if (ds == SM_PEAK) x[special_pos(n)] = 200.0f;
    /* a few unmasked zeros, always including the first, middle and last position */
    if (ds == SM_MASKED) {
        x[0] = x[n / 2] = x[n - 1] = 0.0f;
        for (int k = 0; k < 5; k++) x[rnd_below(n)] = 0.0f;
    }
    if (ds == SM_NAN) x[special_pos(n)] = NAN;
    if (ds == SM_POS_INF) x[special_pos(n)] = INFINITY;
}

/*
 * Softmax tolerance, relative to each output: numerators differ by the exp errors (<= 2 ulp
 * plus libm's 1, ~2^-22 relative); the sums of n positive terms by (n + 1) 2^-24 per side plus
 * the same exp errors; the scaling by 2 roundings per side: (2n + 16) * 2^-24 in all. Outputs
 * below 2^-125 may flush (exp's flush zone, divided by a sum >= 1).
 */
static void check_softmax(int ds, const float *x, const float *got, const float *ref, size_t n) {
    int nan_in = 0, all_masked = n > 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || x[i] == INFINITY) nan_in = 1;
        if (x[i] != -INFINITY) all_masked = 0;
    }
    double rel = (2.0 * (double)n + 16.0) * 0x1p-24;
    size_t bad = 0, first = 0;
    double sum = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += x[i] == 0.0f;
    for (size_t i = 0; i < n; i++) {
        int ok;
        if (nan_in) ok = isnan(got[i]);
        else if (all_masked || x[i] == -INFINITY) ok = fbits(got[i]) == 0;
        else {
            double d = fabs((double)got[i] - ref[i]), tol = rel * ref[i] + 0x1p-125;
            note_ratio(d, tol);
            ok = isfinite(got[i]) && got[i] >= 0 && d <= tol;
            /* masked rows: each unmasked output is 1/k to within a few ulp, whatever n is */
            if (ds == SM_MASKED) ok = ok && fabs(got[i] * (double)zeros - 1.0) <= 0x1p-20;
        }
        sum += got[i];
        if (!ok && !bad++) first = i;
    }
    check(bad == 0, "%zu outputs off; first [%zu] x=%.9g: %.9g, scalar %.9g", bad, first, bad ? x[first] : 0,
          bad ? got[first] : 0, bad ? ref[first] : 0);
    if (!nan_in && !all_masked && n > 0)
        check(fabs(sum - 1.0) <= (double)n * 0x1p-23, "outputs sum to 1 + %.3g (allowed n*2^-23 = %.3g)", sum - 1.0,
              (double)n * 0x1p-23);
}

void test_softmax(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    kestrel_unary_f32_fn ft = FN(kestrel_unary_f32_fn, t, e->off), fs = FN(kestrel_unary_f32_fn, s, e->off);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < SM_COUNT; ds++) {
                set_ctx("n=%zu layout=%zu data=%s", n, li, k_sm_names[ds]);
                float *x = place(AR_A, n * 4, lay_off(k_layouts[li].a, 4));
                gen_softmax(ds, x, n);
                float *out = place(AR_OUT, n * 4, lay_off(k_layouts[li].out, 4));
                float *ref = place(AR_OUT2, n * 4, END);
                guard_t g = guard_set(AR_OUT, out, n * 4);
                ft(x, out, n);
                fs(x, ref, n);
                guard_ok(&g);
                check_softmax(ds, x, out, ref, n);
                float *inpl = place(AR_B, n * 4, lay_off(k_layouts[li].b, 4));
                memcpy(inpl, x, n * 4);
                ft(inpl, inpl, n);
                size_t bad = 0;
                for (size_t i = 0; i < n; i++) bad += !same_f(inpl[i], out[i]);
                check(bad == 0, "in place differs from out of place at %zu elements", bad);
            }
        }
    }
}

enum { EW_UNIFORM, EW_EXACT, EW_WIDE, EW_DENORM, EW_SPECIAL, EW_COUNT };
static const char *const k_ew_names[EW_COUNT] = {"uniform", "exact", "wide", "denorm", "specials"};

/* Element-wise data; `safe` keeps alpha * x from overflowing (axpy: FMA vs. separate rounding). */
static float ew_value(int ds, int safe) {
    switch (ds) {
    case EW_EXACT: return (float)((int)rnd_below(65) - 32) / 8.0f;
    case EW_WIDE: return rnd_sign() * ldexpf(1.0f + (float)rnd_unit(), (int)rnd_below(safe ? 121 : 241) - (safe ? 60 : 120));
    case EW_DENORM: return (rng_next() & 1) ? rnd_subnormal(FMT_F32) : rnd_range(-1, 1);
    case EW_SPECIAL: {
        float v;
        do v = k_special[rnd_below(N_SPECIAL)];
        while (safe && isfinite(v) && fabsf(v) > 1e31f);
        return v;
    }
    default: return rnd_range(-1, 1);
    }
}

void test_elementwise(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    static const float scale_alphas[] = {1.5f, -0.3f, 0.0f, -0.0f, 1e30f, 1e-30f, INFINITY, NAN, 3.0f};
    static const float axpy_alphas[] = {1.5f, -0.3f, 0.0f, 1e-30f, 7.0f, -2.0f, 0.125f};
    size_t call = 0;
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < EW_COUNT; ds++, call++) {
                int axpy = e->kind == K_AXPY;
                float alpha = axpy ? axpy_alphas[call % (sizeof axpy_alphas / sizeof axpy_alphas[0])]
                                   : scale_alphas[call % (sizeof scale_alphas / sizeof scale_alphas[0])];
                if (ds == EW_EXACT) alpha = axpy ? 0.125f : -2.0f;
                if (e->kind == K_AXPY || e->kind == K_SCALE)
                    set_ctx("n=%zu layout=%zu data=%s alpha=%g", n, li, k_ew_names[ds], alpha);
                else
                    set_ctx("n=%zu layout=%zu data=%s", n, li, k_ew_names[ds]);
                float *a = place(AR_A, n * 4, lay_off(k_layouts[li].a, 4));
                float *b = place(AR_B, n * 4, lay_off(k_layouts[li].b, 4));
                for (size_t i = 0; i < n; i++) {
                    a[i] = ew_value(ds, axpy);
                    b[i] = ew_value(ds, axpy);
                }
                float *out = place(AR_OUT, n * 4, lay_off(k_layouts[li].out, 4));
                float *ref = place(AR_OUT2, n * 4, END);
                guard_t g = guard_set(AR_OUT, out, n * 4);
                switch (e->kind) {
                case K_AXPY:
                    memcpy(out, b, n * 4);
                    memcpy(ref, b, n * 4);
                    FN(kestrel_axpy_f32_fn, t, e->off)(alpha, a, out, n);
                    FN(kestrel_axpy_f32_fn, s, e->off)(alpha, a, ref, n);
                    break;
                case K_SCALE:
                    FN(kestrel_scale_f32_fn, t, e->off)(alpha, a, out, n);
                    FN(kestrel_scale_f32_fn, s, e->off)(alpha, a, ref, n);
                    break;
                default:
                    FN(kestrel_binary_f32_fn, t, e->off)(a, b, out, n);
                    FN(kestrel_binary_f32_fn, s, e->off)(a, b, ref, n);
                    break;
                }
                guard_ok(&g);
                size_t bad = 0, first = 0;
                for (size_t i = 0; i < n; i++) {
                    int ok;
                    if (e->kind == K_AXPY && ds != EW_EXACT && !isnan(ref[i]) && !isinf(ref[i])) {
                        /* scalar rounds alpha*x then the sum; FMA rounds once: they differ by at
                           most 2^-24 |alpha x| + 2 * 2^-24 |y + alpha x| (+ subnormal half-ulp) */
                        double ax = (double)alpha * a[i], exact = (double)b[i] + ax;
                        double tol = 0x1p-24 * fabs(ax) + 0x1p-23 * fabs(exact) + 0x1p-149;
                        double d = fabs((double)out[i] - ref[i]);
                        note_ratio(d, tol);
                        ok = isfinite(out[i]) && d <= tol;
                    } else {
                        ok = same_f(out[i], ref[i]); /* one rounding, or exact inputs: bit for bit */
                    }
                    if (!ok && !bad++) first = i;
                }
                check(bad == 0, "%zu elements differ; first [%zu] a=%.9g b=%.9g: %.9g (0x%08x), scalar %.9g (0x%08x)", bad,
                      first, bad ? a[first] : 0, bad ? b[first] : 0, bad ? out[first] : 0, bad ? fbits(out[first]) : 0,
                      bad ? ref[first] : 0, bad ? fbits(ref[first]) : 0);
                /* in place: scale with y == x, add/mul with out == a and out == b */
                if (e->kind != K_AXPY) {
                    for (int which = 0; which < (e->kind == K_SCALE ? 1 : 2); which++) {
                        float *ip = place(AR_OUT2, n * 4, lay_off(k_layouts[li].b, 4));
                        memcpy(ip, which ? b : a, n * 4);
                        if (e->kind == K_SCALE) FN(kestrel_scale_f32_fn, t, e->off)(alpha, ip, ip, n);
                        else if (which == 0) FN(kestrel_binary_f32_fn, t, e->off)(ip, b, ip, n);
                        else FN(kestrel_binary_f32_fn, t, e->off)(a, ip, ip, n);
                        size_t d = 0;
                        for (size_t i = 0; i < n; i++) d += !same_f(ip[i], out[i]);
                        check(d == 0, "in place (out == %s) differs at %zu elements", which ? "b" : "a", d);
                    }
                }
            }
        }
    }
}

enum { RD_UNIFORM, RD_EXACT, RD_WIDE, RD_DENORM, RD_NAN, RD_INF, RD_BOTH_INF, RD_CANCEL, RD_NEG, RD_ALL_NEG_INF,
       RD_ZEROS, RD_COUNT };
static const char *const k_rd_names[RD_COUNT] = {"uniform", "exact", "wide", "denorm", "nan", "+inf",
                                                 "+inf-inf", "cancel", "negative", "all -inf", "signed zeros"};

static void gen_reduce(int ds, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (ds) {
        case RD_EXACT: x[i] = (float)((int)rnd_below(65) - 32) / 8.0f; break;
        case RD_WIDE: x[i] = rnd_sign() * ldexpf(1.0f + (float)rnd_unit(), (int)rnd_below(81) - 40); break;
        case RD_DENORM: x[i] = (rng_next() & 1) ? rnd_subnormal(FMT_F32) : rnd_range(-1, 1); break;
        case RD_NEG: x[i] = -rnd_range(1, 1000); break;
        case RD_ALL_NEG_INF: x[i] = -INFINITY; break;
        case RD_ZEROS: x[i] = (rng_next() & 1) ? -0.0f : 0.0f; break;
        default: x[i] = rnd_range(-1, 1); break;
        }
    }
    if (n == 0) return;
    if (ds == RD_CANCEL)
        for (size_t i = 0; i < n / 2; i++) x[i + n / 2] = -x[i];
    if (ds == RD_NAN) x[special_pos(n)] = NAN;
    if (ds == RD_INF || ds == RD_BOTH_INF) x[special_pos(n)] = INFINITY;
    if (ds == RD_BOTH_INF && n > 1) x[0] = -INFINITY, x[n - 1] = INFINITY;
    if (ds == RD_NEG) x[special_pos(n)] = -0.5f; /* the maximum, anywhere */
}

void test_reduce(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    kestrel_reduce_f32_fn ft = FN(kestrel_reduce_f32_fn, t, e->off), fs = FN(kestrel_reduce_f32_fn, s, e->off);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < RD_COUNT; ds++) {
                set_ctx("n=%zu layout=%zu data=%s", n, li, k_rd_names[ds]);
                float *x = place(AR_A, n * 4, lay_off(k_layouts[li].a, 4));
                gen_reduce(ds, x, n);
                float got = ft(x, n), want = fs(x, n);
                if (e->kind == K_MAX) {
                    int has_nan = 0;
                    for (size_t i = 0; i < n; i++) has_nan |= isnan(x[i]);
                    if (has_nan) check(isnan(got), "NaN input must give NaN, got %.9g", got);
                    else check(got == want && !isnan(got), "got %.9g, scalar %.9g", got, want);
                    if (n == 0) check(got == -INFINITY, "n=0 must give -Inf, got %.9g", got);
                    continue;
                }
                double S = 0;
                for (size_t i = 0; i < n; i++) S += e->kind == K_SUM ? fabs((double)x[i]) : (double)x[i] * x[i];
                if (ds == RD_EXACT) {
                    check(fbits(got) == fbits(want), "exact inputs: got %.9g, scalar %.9g", got, want);
                } else {
                    double tol = sum_tol(n, S);
                    check(close_f(got, want, tol), "got %.9g (0x%08x), scalar %.9g (0x%08x), tol %.3g", got, fbits(got),
                          want, fbits(want), tol);
                }
                if (ds == RD_NAN && n > 0) check(isnan(got), "NaN input must give NaN, got %.9g", got);
                if (n == 0) check(fbits(got) == 0, "n=0 must give +0, got %.9g", got);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
