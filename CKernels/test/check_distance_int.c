/* check_distance_int.c — int8 and packed-binary one-pair distances: exact, against int64 sums. */
#include "neon_check.h"

/* int8 and binary distances, one pair                                                  */
/* ------------------------------------------------------------------------------------ */

enum { I8_RAND, I8_MINMIN, I8_MINMAX, I8_MAXMIN, I8_EXTREME, I8_SELF, I8_ZERO, I8_ZERO2, I8_COUNT };
static const char *const k_i8_names[I8_COUNT] = {"random", "-128*-128", "-128,127", "127,-128",
                                                 "extremes", "self", "zero", "zero2"};

int8_t rnd_extreme_i8(void) {
    static const int8_t v[] = {-128, -127, -1, 0, 1, 126, 127};
    return v[rnd_below(sizeof v)];
}

static void gen_i8(int ds, int8_t *a, int8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (ds) {
        case I8_MINMIN: a[i] = -128; b[i] = -128; break;
        case I8_MINMAX: a[i] = -128; b[i] = 127; break;
        case I8_MAXMIN: a[i] = 127; b[i] = -128; break;
        case I8_EXTREME: a[i] = rnd_extreme_i8(); b[i] = rnd_extreme_i8(); break;
        case I8_ZERO: a[i] = 0; b[i] = (int8_t)(rnd_u32() | 1); break;
        case I8_ZERO2: a[i] = 0; b[i] = 0; break;
        default: a[i] = (int8_t)rnd_u32(); b[i] = (int8_t)rnd_u32(); break;
        }
    }
    if (ds == I8_SELF) memcpy(b, a, n);
}

/* Independent exact sums for the int8 reference. */
static void i8_sums(const int8_t *a, const int8_t *b, size_t n, int64_t *ab, int64_t *aa, int64_t *bb, int64_t *l2) {
    *ab = *aa = *bb = *l2 = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t x = a[i], y = b[i];
        *ab += x * y;
        *aa += x * x;
        *bb += y * y;
        *l2 += (x - y) * (x - y);
    }
}

static float cosine_from(int64_t ab, int64_t aa, int64_t bb) {
    return kestrel_cosine_finish((double)ab, (double)aa, (double)bb);
}

void test_i8(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < I8_COUNT; ds++) {
                set_ctx("n=%zu layout=%zu data=%s", n, li, k_i8_names[ds]);
                int8_t *a = place(AR_A, n, lay_off(k_layouts[li].a, 1));
                int8_t *b = place(AR_B, n, lay_off(k_layouts[li].b, 1));
                gen_i8(ds, a, b, n);
                int64_t ab, aa, bb, l2;
                i8_sums(a, b, n, &ab, &aa, &bb, &l2);
                if (e->kind == K_I8_INT) {
                    int64_t exact = e->op == OP_DOT ? ab : l2;
                    int64_t want = FN(kestrel_dot_i8_fn, s, e->off)(a, b, n);
                    int64_t got = FN(kestrel_dot_i8_fn, t, e->off)(a, b, n);
                    check(want == exact, "scalar reference %" PRId64 " != exact %" PRId64, want, exact);
                    check(got == want, "got %" PRId64 ", scalar %" PRId64, got, want);
                } else {
                    float exact = cosine_from(ab, aa, bb);
                    float want = FN(kestrel_cos_i8_fn, s, e->off)(a, b, n);
                    float got = FN(kestrel_cos_i8_fn, t, e->off)(a, b, n);
                    check(fbits(want) == fbits(exact), "scalar reference %.9g != exact %.9g", want, exact);
                    check(fbits(got) == fbits(want), "got %.9g (0x%08x), scalar %.9g (0x%08x)", got, fbits(got), want,
                          fbits(want));
                    if (ds == I8_SELF) check(got == 0.0f, "cosine with itself must be 0, got %.9g", got);
                    if (ds == I8_ZERO && n > 0) check(got == 1.0f, "cosine with zero vector must be 1, got %.9g", got);
                }
            }
        }
    }
    /* Long vectors of extreme values: int32 lanes must be flushed before they can wrap. */
    size_t n = ((size_t)1 << 21) + 37;
    int8_t *a = place(AR_A, n, END), *b = place(AR_B, n, END);
    for (int v = 0; v < 3; v++) {
        int8_t x = v == 1 ? 127 : -128, y = v == 0 ? -128 : v == 1 ? -128 : 127;
        memset(a, x, n);
        memset(b, y, n);
        set_ctx("n=%zu all %d vs %d (lane overflow)", n, x, y);
        int64_t ab, aa, bb, l2;
        i8_sums(a, b, n, &ab, &aa, &bb, &l2);
        if (e->kind == K_I8_INT) {
            int64_t exact = e->op == OP_DOT ? ab : l2;
            int64_t got = FN(kestrel_dot_i8_fn, t, e->off)(a, b, n);
            check(got == exact, "got %" PRId64 ", exact %" PRId64, got, exact);
        } else {
            float got = FN(kestrel_cos_i8_fn, t, e->off)(a, b, n);
            float exact = cosine_from(ab, aa, bb);
            check(fbits(got) == fbits(exact), "got %.9g, exact %.9g", got, exact);
        }
    }
}

enum { B1_RAND, B1_ONES_ZERO, B1_ZERO2, B1_SELF, B1_SPARSE, B1_COUNT };
static const char *const k_b1_names[B1_COUNT] = {"random", "ones-vs-zero", "zero2", "self", "sparse"};

static void gen_b1(int ds, uint8_t *a, uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (ds) {
        case B1_ONES_ZERO: a[i] = 0xff; b[i] = 0; break;
        case B1_ZERO2: a[i] = 0; b[i] = 0; break;
        case B1_SPARSE:
            a[i] = (rnd_below(8) == 0) ? (uint8_t)(1u << rnd_below(8)) : 0;
            b[i] = (rnd_below(8) == 0) ? (uint8_t)(1u << rnd_below(8)) : 0;
            break;
        default: a[i] = (uint8_t)rnd_u32(); b[i] = (uint8_t)rnd_u32(); break;
        }
    }
    if (ds == B1_SELF) memcpy(b, a, n);
}

static void b1_sums(const uint8_t *a, const uint8_t *b, size_t n, uint64_t *x, uint64_t *in, uint64_t *un) {
    *x = *in = *un = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 8; k++) {
            unsigned p = (a[i] >> k) & 1u, q = (b[i] >> k) & 1u;
            *x += p ^ q;
            *in += p & q;
            *un += p | q;
        }
    }
}

void test_b1(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = k_sizes[si];
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            for (int ds = 0; ds < B1_COUNT; ds++) {
                set_ctx("nbytes=%zu layout=%zu data=%s", n, li, k_b1_names[ds]);
                uint8_t *a = place(AR_A, n, lay_off(k_layouts[li].a, 1));
                uint8_t *b = place(AR_B, n, lay_off(k_layouts[li].b, 1));
                gen_b1(ds, a, b, n);
                uint64_t x, in, un;
                b1_sums(a, b, n, &x, &in, &un);
                if (e->kind == K_HAMMING) {
                    uint64_t want = FN(kestrel_hamming_fn, s, e->off)(a, b, n);
                    uint64_t got = FN(kestrel_hamming_fn, t, e->off)(a, b, n);
                    check(want == x, "scalar reference %" PRIu64 " != exact %" PRIu64, want, x);
                    check(got == want, "got %" PRIu64 ", scalar %" PRIu64, got, want);
                } else {
                    float exact = kestrel_jaccard_finish(in, un);
                    float want = FN(kestrel_jaccard_fn, s, e->off)(a, b, n);
                    float got = FN(kestrel_jaccard_fn, t, e->off)(a, b, n);
                    check(fbits(want) == fbits(exact), "scalar reference %.9g != exact %.9g", want, exact);
                    check(fbits(got) == fbits(want), "got %.9g, scalar %.9g", got, want);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
