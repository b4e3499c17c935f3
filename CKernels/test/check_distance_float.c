/* check_distance_float.c — f32 / f16 / bf16 one-pair distances against the scalar table and the f64 reference. */
#include "neon_check.h"

/* Float distances, one pair                                                            */
/* ------------------------------------------------------------------------------------ */

int kind_fmt(kind_t k) {
    return (k == K_DIST_F16 || k == K_MANY_F16) ? FMT_F16 : (k == K_DIST_BF16 || k == K_MANY_BF16) ? FMT_BF16 : FMT_F32;
}

static float call_dist(const kestrel_kernel_table *t, size_t off, int fmt, const void *a, const void *b, size_t n) {
    if (fmt == FMT_F32) return FN(kestrel_dist_f32_fn, t, off)(a, b, n);
    return FN(kestrel_dist_u16_fn, t, off)(a, b, n);
}

/* Rules of the header that hold whatever the tolerance. */
static void dist_rules(op_t op, int ds, size_t n, float got) {
    if (ds == DS_NAN && n > 0) check(isnan(got), "NaN input must give NaN, got %.9g", got);
    if (ds == DS_SELF && op == OP_COS) check(got == 0.0f, "cosine of a vector with itself must be exactly 0, got %.9g", got);
    if (ds == DS_SELF && op == OP_L2SQ) check(got == 0.0f, "l2sq of a vector with itself must be 0, got %.9g", got);
    if (ds == DS_ZERO && op == OP_COS && n > 0) check(got == 1.0f, "cosine with a zero vector must be 1, got %.9g", got);
    if (ds == DS_ZERO2) check(got == 0.0f, "two zero vectors must give 0, got %.9g", got);
}

void test_dist_float(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    int fmt = kind_fmt(e->kind);
    size_t es = fmt_size(fmt);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < DS_COUNT; ds++) {
                set_ctx("n=%zu layout=%zu data=%s", n, li, k_ds_names[ds]);
                gen_float(ds, fmt, g_fa, g_fb, n);
                void *a = place(AR_A, n * es, lay_off(k_layouts[li].a, es));
                void *b = place(AR_B, n * es, lay_off(k_layouts[li].b, es));
                store_fmt(fmt, a, g_fa, n);
                store_fmt(fmt, b, g_fb, n);
                float want = call_dist(s, e->off, fmt, a, b, n);
                float got = call_dist(t, e->off, fmt, a, b, n);
                if (ds == DS_EXACT) {
                    check(fbits(got) == fbits(want), "exact inputs: got %.9g (0x%08x), scalar %.9g (0x%08x)", got,
                          fbits(got), want, fbits(want));
                } else {
                    double tol = dist_tol(e->op, g_fa, g_fb, n);
                    check(close_f(got, want, tol), "got %.9g (0x%08x), scalar %.9g (0x%08x), |diff| %.3g > tol %.3g",
                          got, fbits(got), want, fbits(want), fabs((double)got - want), tol);
                }
                dist_rules(e->op, ds, n, got);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
