/*
 * neon_check.c — C-level cross-tier check of every entry of `kestrel_kernel_table`.
 *
 * Not part of the SwiftPM build (CKernels/test is excluded). CKernels/test/neon-check.sh
 * cross-compiles it with every CKernels/<name>.c for aarch64 and runs it under qemu for the NEON
 * tiers, and builds it natively to run the same checks on the x86 tiers.
 *
 * Usage: neon_check [--require] [--expect-active TIER] [--label TEXT] [--seed N] [--verbose] TIER...
 *   TIER...          tiers to compare with scalar (default: every supported non-scalar tier)
 *   --require        fail when a listed tier is not supported here (else it is skipped)
 *   --expect-active  fail unless kestrel_active_isa() is TIER
 *
 * The driver is generic over the table: an X-macro lists every entry with its kind, a static
 * assertion ties that list to sizeof(kestrel_kernel_table), and every entry must be exercised
 * at every tier. For each tier and entry it compares with the scalar table's entry:
 *  - int8 and binary kernels, and cosine/Jaccard derived from exact integer sums: exact
 *    (the scalar result is itself checked against an int64 computation here);
 *  - conversions: bit for bit, over all 65536 half patterns and every f32 rounding boundary;
 *  - float reductions: within a relative tolerance derived from the error bound of summation
 *    in any order (below), and bit for bit on "exact" inputs whose every partial sum is
 *    representable, so a dropped, doubled or misplaced element cannot hide in the tolerance;
 *  - exp: <= 2 ulp of the scalar (libm expf) result, with the header's flush/overflow zones;
 *  - softmax: tolerance plus the header's special cases (NaN/+Inf rows, fully masked rows);
 *  - one-to-many forms: bit for bit equal to the same tier's one-pair kernel on every row;
 *  - argument errors: the same status as the scalar entry, and the documented one.
 * Inputs are placed at odd element offsets and flush against a PROT_NONE page, so reading or
 * writing one element past the end faults; outputs are surrounded by canaries.
 */
#define _DEFAULT_SOURCE
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kestrel_kernels.h"
#include "internal/kestrel_internal.h"

/* ------------------------------------------------------------------------------------ */
/* The table, entry by entry                                                            */
/* ------------------------------------------------------------------------------------ */

typedef enum {
    K_DIST_F32, K_DIST_F16, K_DIST_BF16, /* float f(a, b, n) */
    K_I8_INT,                            /* int64_t f(a, b, n): dot_i8, l2sq_i8 */
    K_I8_COS,                            /* float f(a, b, n) over int8 */
    K_HAMMING, K_JACCARD,
    K_MANY_F32, K_MANY_F16, K_MANY_BF16, K_MANY_I8, K_MANY_COS_I8, K_MANY_HAMMING, K_MANY_JACCARD,
    K_F32_TO_F16, K_F32_TO_BF16, K_F16_TO_F32, K_BF16_TO_F32,
    K_EXP, K_SOFTMAX, K_AXPY, K_SCALE, K_ADD, K_MUL, K_SUM, K_MAX, K_SUMSQ
} kind_t;

typedef enum { OP_NONE, OP_DOT, OP_L2SQ, OP_COS } op_t;

/* name, kind, operation, the one-pair entry a one-to-many entry must agree with (else itself) */
#define KC_ENTRIES(X)                                                   \
    X(dot_f32, K_DIST_F32, OP_DOT, dot_f32)                             \
    X(l2sq_f32, K_DIST_F32, OP_L2SQ, l2sq_f32)                          \
    X(cosine_f32, K_DIST_F32, OP_COS, cosine_f32)                       \
    X(dot_f16, K_DIST_F16, OP_DOT, dot_f16)                             \
    X(l2sq_f16, K_DIST_F16, OP_L2SQ, l2sq_f16)                          \
    X(cosine_f16, K_DIST_F16, OP_COS, cosine_f16)                       \
    X(dot_bf16, K_DIST_BF16, OP_DOT, dot_bf16)                          \
    X(l2sq_bf16, K_DIST_BF16, OP_L2SQ, l2sq_bf16)                       \
    X(cosine_bf16, K_DIST_BF16, OP_COS, cosine_bf16)                    \
    X(dot_i8, K_I8_INT, OP_DOT, dot_i8)                                 \
    X(l2sq_i8, K_I8_INT, OP_L2SQ, l2sq_i8)                              \
    X(cosine_i8, K_I8_COS, OP_COS, cosine_i8)                           \
    X(hamming_b1, K_HAMMING, OP_NONE, hamming_b1)                       \
    X(jaccard_b1, K_JACCARD, OP_NONE, jaccard_b1)                       \
    X(dot_f32_many, K_MANY_F32, OP_DOT, dot_f32)                        \
    X(l2sq_f32_many, K_MANY_F32, OP_L2SQ, l2sq_f32)                     \
    X(cosine_f32_many, K_MANY_F32, OP_COS, cosine_f32)                  \
    X(dot_f16_many, K_MANY_F16, OP_DOT, dot_f16)                        \
    X(l2sq_f16_many, K_MANY_F16, OP_L2SQ, l2sq_f16)                     \
    X(cosine_f16_many, K_MANY_F16, OP_COS, cosine_f16)                  \
    X(dot_bf16_many, K_MANY_BF16, OP_DOT, dot_bf16)                     \
    X(l2sq_bf16_many, K_MANY_BF16, OP_L2SQ, l2sq_bf16)                  \
    X(cosine_bf16_many, K_MANY_BF16, OP_COS, cosine_bf16)               \
    X(dot_i8_many, K_MANY_I8, OP_DOT, dot_i8)                           \
    X(l2sq_i8_many, K_MANY_I8, OP_L2SQ, l2sq_i8)                        \
    X(cosine_i8_many, K_MANY_COS_I8, OP_COS, cosine_i8)                 \
    X(hamming_b1_many, K_MANY_HAMMING, OP_NONE, hamming_b1)             \
    X(jaccard_b1_many, K_MANY_JACCARD, OP_NONE, jaccard_b1)             \
    X(f32_to_f16, K_F32_TO_F16, OP_NONE, f32_to_f16)                    \
    X(f32_to_bf16, K_F32_TO_BF16, OP_NONE, f32_to_bf16)                 \
    X(f16_to_f32, K_F16_TO_F32, OP_NONE, f16_to_f32)                    \
    X(bf16_to_f32, K_BF16_TO_F32, OP_NONE, bf16_to_f32)                 \
    X(exp_f32, K_EXP, OP_NONE, exp_f32)                                 \
    X(softmax_f32, K_SOFTMAX, OP_NONE, softmax_f32)                     \
    X(axpy_f32, K_AXPY, OP_NONE, axpy_f32)                              \
    X(scale_f32, K_SCALE, OP_NONE, scale_f32)                           \
    X(add_f32, K_ADD, OP_NONE, add_f32)                                 \
    X(mul_f32, K_MUL, OP_NONE, mul_f32)                                 \
    X(sum_f32, K_SUM, OP_NONE, sum_f32)                                 \
    X(max_f32, K_MAX, OP_NONE, max_f32)                                 \
    X(sumsq_f32, K_SUMSQ, OP_NONE, sumsq_f32)

typedef struct {
    const char *name;
    size_t off;
    kind_t kind;
    op_t op;
    size_t pair_off;
} entry_t;

#define KC_DESCRIBE(nm, kd, op, pair) {#nm, offsetof(kestrel_kernel_table, nm), kd, op, offsetof(kestrel_kernel_table, pair)},
static const entry_t g_entries[] = {KC_ENTRIES(KC_DESCRIBE)};

#define KC_ONE(nm, kd, op, pair) +1
enum { N_ENTRIES = 0 KC_ENTRIES(KC_ONE) };

/* A table entry added to the header but not listed above fails the build here. */
_Static_assert(sizeof(kestrel_kernel_table) ==
                   offsetof(kestrel_kernel_table, dot_f32) + N_ENTRIES * sizeof(kestrel_dist_f32_fn),
               "neon_check.c: KC_ENTRIES does not list every kestrel_kernel_table entry");

/* Reads the entry at byte offset `off` of table `t` as function-pointer type `type`. */
#define FN(type, t, off) (*(const type *)(const void *)((const char *)(t) + (off)))

typedef void (*any_fn)(void);
static any_fn entry_ptr(const kestrel_kernel_table *t, size_t off) {
    any_fn f;
    memcpy(&f, (const char *)t + off, sizeof f);
    return f;
}

/* ------------------------------------------------------------------------------------ */
/* Bookkeeping and reporting                                                            */
/* ------------------------------------------------------------------------------------ */

static long g_pass, g_fail;
static int g_verbose;
static int g_tier;      /* tier under test (kestrel_isa) */
static int g_entry;     /* index into g_entries */
static char g_ctx[256]; /* what is running, for failure messages and the fault handler */
static long g_checks[KESTREL_ISA_COUNT][N_ENTRIES];
static long g_fails[KESTREL_ISA_COUNT][N_ENTRIES];
static double g_worst[KESTREL_ISA_COUNT][N_ENTRIES]; /* largest |diff| / tolerance seen */
static long g_printed;

static void set_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_ctx(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(g_ctx, sizeof g_ctx, "[%s] %s ", kestrel_isa_name((kestrel_isa)g_tier), g_entries[g_entry].name);
    if (k > 0 && (size_t)k < sizeof g_ctx) vsnprintf(g_ctx + k, sizeof g_ctx - (size_t)k, fmt, ap);
    va_end(ap);
}

/* Counts one check; on failure prints the context and the formatted detail (rate-limited). */
static int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check(int ok, const char *fmt, ...) {
    g_checks[g_tier][g_entry]++;
    if (ok) {
        g_pass++;
        return 1;
    }
    g_fail++;
    long nth = ++g_fails[g_tier][g_entry];
    if (nth <= 6 && g_printed < 300) {
        g_printed++;
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL %s: ", g_ctx);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    } else if (nth == 7) {
        printf("FAIL %s: (further failures of this entry at this tier not shown)\n", g_ctx);
    }
    return 0;
}

/* Counts a check whose only requirement is not to crash (n = 0 with NULL pointers). */
static void ran(void) { check(1, "%s", ""); }

static void note_ratio(double diff, double tol) {
    double r = tol > 0 ? diff / tol : (diff > 0 ? INFINITY : 0);
    if (r > g_worst[g_tier][g_entry]) g_worst[g_tier][g_entry] = r;
}

static void on_fault(int sig) {
    /* async-signal-safe: write(2) only */
    const char *m1 = sig == SIGSEGV ? "\nFATAL: SIGSEGV (read/write outside a buffer?) during: "
                                    : "\nFATAL: signal during: ";
    ssize_t r = write(2, m1, strlen(m1));
    r = write(2, g_ctx, strlen(g_ctx));
    r = write(2, "\n", 1);
    (void)r;
    _exit(3);
}

static uint32_t fbits(float f) { return kestrel_f32_bits(f); }
static float bitsf(uint32_t u) { return kestrel_bits_f32(u); }

/* Same value or both NaN: what "bit for bit" means for results whose NaN payload is unspecified. */
static int same_f(float a, float b) { return (isnan(a) && isnan(b)) || fbits(a) == fbits(b); }

/* Distance in units in the last place on the ordered line of floats (+0 and -0 coincide). */
static int64_t ulp_diff(float a, float b) {
    uint32_t ua = fbits(a), ub = fbits(b);
    int64_t ia = (ua & 0x80000000u) ? -(int64_t)(ua & 0x7fffffffu) : (int64_t)ua;
    int64_t ib = (ub & 0x80000000u) ? -(int64_t)(ub & 0x7fffffffu) : (int64_t)ub;
    return ia > ib ? ia - ib : ib - ia;
}

/* ------------------------------------------------------------------------------------ */
/* Random numbers (xoshiro256**, fixed seed)                                             */
/* ------------------------------------------------------------------------------------ */

static uint64_t g_rng[4];

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t s) {
    for (int i = 0; i < 4; i++) g_rng[i] = splitmix(&s);
}

static uint64_t rng_next(void) {
    uint64_t *s = g_rng;
    uint64_t r = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return r;
}

static uint32_t rnd_u32(void) { return (uint32_t)(rng_next() >> 32); }
static size_t rnd_below(size_t n) { return n ? (size_t)(rng_next() % n) : 0; }
static double rnd_unit(void) { return (double)(rng_next() >> 11) * 0x1p-53; } /* [0, 1) */
static float rnd_range(double lo, double hi) { return (float)(lo + (hi - lo) * rnd_unit()); }
static float rnd_sign(void) { return (rng_next() & 1) ? -1.0f : 1.0f; }

/* ------------------------------------------------------------------------------------ */
/* Guarded buffers                                                                      */
/* ------------------------------------------------------------------------------------ */

/*
 * Each arena is followed by a PROT_NONE page. END placement puts a buffer flush against it,
 * so any access past the last element faults; offset placement starts it `k` elements past a
 * 64-byte boundary (misaligned for every vector width) with canaries on both sides.
 */
enum { AR_A, AR_B, AR_OUT, AR_OUT2, AR_COUNT };
#define ARENA_BYTES ((size_t)4 << 20)
#define END (-1)
#define CANARY 0xA5u

typedef struct {
    unsigned char *base;
    size_t cap;
} arena_t;

static arena_t g_arena[AR_COUNT];

static void arenas_init(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < AR_COUNT; i++) {
        unsigned char *p = mmap(NULL, ARENA_BYTES + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || mprotect(p + ARENA_BYTES, page, PROT_NONE) != 0) {
            perror("neon_check: mmap/mprotect");
            exit(2);
        }
        g_arena[i].base = p;
        g_arena[i].cap = ARENA_BYTES;
    }
}

/* A buffer of `bytes` in arena `ar`: flush against the guard page (off == END) or `off` bytes past 64. */
static void *place(int ar, size_t bytes, long off) {
    arena_t *a = &g_arena[ar];
    if (bytes + 64 + 64 + (off > 0 ? (size_t)off : 0) > a->cap) {
        fprintf(stderr, "neon_check: buffer of %zu bytes does not fit an arena\n", bytes);
        exit(2);
    }
    if (off == END) return a->base + a->cap - bytes;
    return a->base + 64 + (size_t)off;
}

typedef struct {
    unsigned char *lo, *p, *end, *hi;
} guard_t;

/* Canaries around an output buffer (below it always; above it unless it ends at the guard page). */
static guard_t guard_set(int ar, void *p, size_t bytes) {
    arena_t *a = &g_arena[ar];
    guard_t g;
    g.p = p;
    g.end = g.p + bytes;
    g.lo = g.p - 64 >= a->base ? g.p - 64 : a->base;
    g.hi = g.end + 64 <= a->base + a->cap ? g.end + 64 : a->base + a->cap;
    memset(g.lo, CANARY, (size_t)(g.p - g.lo));
    memset(g.end, CANARY, (size_t)(g.hi - g.end));
    return g;
}

static int guard_ok(const guard_t *g) {
    for (const unsigned char *q = g->lo; q < g->p; q++)
        if (*q != CANARY) return check(0, "wrote %td bytes before the output buffer", g->p - q), 0;
    for (const unsigned char *q = g->end; q < g->hi; q++)
        if (*q != CANARY) return check(0, "wrote past the end of the output buffer (byte %td)", q - g->end), 0;
    return 1;
}

/* ------------------------------------------------------------------------------------ */
/* Test shapes                                                                          */
/* ------------------------------------------------------------------------------------ */

static const size_t k_sizes[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])

/* Element offsets of (first input, second input, output); END = flush against the guard page. */
typedef struct {
    long a, b, out;
} layout_t;
static const layout_t k_layouts[] = {{END, END, END}, {1, 3, 1}, {3, 2, 2}};
#define N_LAYOUTS (sizeof k_layouts / sizeof k_layouts[0])

static long lay_off(long elems, size_t esize) { return elems == END ? END : elems * (long)esize; }

/* Scratch for generated values (as f32, before narrowing) and reference outputs. */
#define SCRATCH_ELEMS ((size_t)1 << 20)
static float *g_fa, *g_fb, *g_fr;

/* ------------------------------------------------------------------------------------ */
/* Float-family data                                                                     */
/* ------------------------------------------------------------------------------------ */

enum { FMT_F32, FMT_F16, FMT_BF16 };

static float round_fmt(int fmt, float x) {
    if (fmt == FMT_F16) return kestrel_f16_to_f32_1(kestrel_f32_to_f16_1(x));
    if (fmt == FMT_BF16) return kestrel_bf16_to_f32_1(kestrel_f32_to_bf16_1(x));
    return x;
}

/* Writes the (already representable) values in the storage format of `fmt`. */
static void store_fmt(int fmt, void *dst, const float *src, size_t n) {
    if (fmt == FMT_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = fmt == FMT_F16 ? kestrel_f32_to_f16_1(src[i]) : kestrel_f32_to_bf16_1(src[i]);
}

static size_t fmt_size(int fmt) { return fmt == FMT_F32 ? 4 : 2; }

typedef enum {
    DS_UNIFORM, /* U(-1, 1) */
    DS_EXACT,   /* k/8, |k| <= 32: every product and partial sum is exact, any order gives the same bits */
    DS_WIDE,    /* random sign and binade over a wide exponent range */
    DS_DENORM,  /* half the elements subnormal in the storage format */
    DS_NAN,     /* uniform plus one NaN */
    DS_INF,     /* uniform plus one +Inf (times a positive value) */
    DS_HUGE,    /* products overflow (f32/bf16); largest finite values (f16) */
    DS_CANCEL,  /* second half cancels the first: the exact dot product is 0 */
    DS_SELF,    /* b == a (different alignment) */
    DS_ZERO,    /* a == 0 */
    DS_ZERO2,   /* a == b == 0 */
    DS_COUNT
} dataset_t;

static const char *const k_ds_names[DS_COUNT] = {"uniform", "exact", "wide", "denorm", "nan", "inf",
                                                  "huge", "cancel", "self", "zero", "zero2"};

static size_t g_variant; /* cycles the position of injected special values */

static size_t special_pos(size_t n) {
    size_t v = g_variant++ % 4;
    return v == 0 ? 0 : v == 1 ? n - 1 : v == 2 ? n / 2 : rnd_below(n);
}

static float rnd_subnormal(int fmt) {
    if (fmt == FMT_F16) return rnd_sign() * (float)(1 + rnd_below(1023)) * 0x1p-24f;
    if (fmt == FMT_BF16) return rnd_sign() * bitsf((uint32_t)(1 + rnd_below(127)) << 16);
    return rnd_sign() * bitsf(1 + (uint32_t)rnd_below(0x7fffff));
}

/* Fills a[0..n) and b[0..n) with dataset `ds`, every value representable in `fmt`. */
static void gen_float(int ds, int fmt, float *a, float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = 0, y = 0;
        switch (ds) {
        case DS_EXACT:
            x = (float)((int)rnd_below(65) - 32) / 8.0f;
            y = (float)((int)rnd_below(65) - 32) / 8.0f;
            break;
        case DS_WIDE: {
            int lo = fmt == FMT_F16 ? -20 : -40, hi = fmt == FMT_F16 ? 14 : 40;
            x = rnd_sign() * ldexpf(1.0f + (float)rnd_unit(), lo + (int)rnd_below((size_t)(hi - lo + 1)));
            y = rnd_sign() * ldexpf(1.0f + (float)rnd_unit(), lo + (int)rnd_below((size_t)(hi - lo + 1)));
            break;
        }
        case DS_DENORM:
            x = (rng_next() & 1) ? rnd_subnormal(fmt) : rnd_range(-1, 1);
            y = (rng_next() & 1) ? rnd_subnormal(fmt) : rnd_range(-1, 1);
            break;
        case DS_HUGE:
            if (fmt == FMT_F16) {
                x = rnd_sign() * rnd_range(32768, 65504);
                y = rnd_sign() * rnd_range(32768, 65504);
            } else {
                float s = rnd_sign();
                x = s * 0x1p70f * (1.0f + (float)rnd_unit());
                y = s * 0x1p70f * (1.0f + (float)rnd_unit());
            }
            break;
        case DS_ZERO2:
            break;
        case DS_ZERO:
            y = rnd_range(-1, 1);
            break;
        default:
            x = rnd_range(-1, 1);
            y = rnd_range(-1, 1);
            break;
        }
        a[i] = round_fmt(fmt, x);
        b[i] = round_fmt(fmt, y);
    }
    if (ds == DS_SELF) memcpy(b, a, n * sizeof(float));
    if (ds == DS_CANCEL)
        for (size_t i = 0; i + n / 2 < n && i < n / 2; i++) {
            a[i + n / 2] = -a[i];
            b[i + n / 2] = b[i];
        }
    if (n > 0 && ds == DS_NAN) a[special_pos(n)] = NAN;
    if (n > 0 && ds == DS_INF) {
        size_t p = special_pos(n);
        a[p] = INFINITY;
        b[p] = round_fmt(fmt, rnd_range(0.5, 1));
    }
}

/* ------------------------------------------------------------------------------------ */
/* Tolerances                                                                           */
/* ------------------------------------------------------------------------------------ */

/*
 * Any summation order of n terms t_i in f32 (several partial sums, a tree, FMA or not) is
 * within (n + 1) * 2^-24 * sum|t_i| of the exact sum (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., eq. 4.3/4.4, to first order; the +1 covers rounding each
 * product or difference). Two such results differ by at most twice that: (2n + 4) * 2^-24 *
 * S, plus one half-ulp of the subnormal grid per term and tier (n * 2^-149) for products
 * that underflow. The header's "about n * 2^-24" is this bound for one side.
 */
static double sum_tol(size_t n, double S) { return (2.0 * (double)n + 4.0) * 0x1p-24 * S + (double)n * 0x1p-148; }

/*
 * Cosine distance 1 - ab / sqrt(aa bb): with |error(ab)| <= e * S_ab <= e * sqrt(aa bb)
 * (Cauchy-Schwarz) and relative errors <= e on aa and bb, one tier is within 2e (+ the
 * float rounding of the result, <= 2^-23 on [0, 2]) of the exact value, e = (n + 2) 2^-24.
 * Two tiers: 4e + 2^-22, plus the subnormal term relative to the norms.
 */
static double cos_tol(size_t n, double aa, double bb) {
    if (aa == 0 || bb == 0) return 0;
    return 4.0 * ((double)n + 2.0) * 0x1p-24 + 0x1p-22 + (double)n * 0x1p-148 / sqrt(aa * bb);
}

/* Tolerance for a tier's float distance over widened inputs a, b against the scalar one. */
static double dist_tol(op_t op, const float *a, const float *b, size_t n) {
    double S = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        if (op == OP_DOT) S += fabs(x * y);
        if (op == OP_L2SQ) S += (x - y) * (x - y);
        if (op == OP_COS) {
            aa += x * x;
            bb += y * y;
        }
    }
    return op == OP_COS ? cos_tol(n, aa, bb) : sum_tol(n, S);
}

/* NaN iff NaN, infinities identical, finite values within tol. */
static int close_f(float got, float want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return fbits(got) == fbits(want);
    if (!isfinite(got)) return 0;
    double d = fabs((double)got - (double)want);
    note_ratio(d, tol);
    return d <= tol;
}

/* ------------------------------------------------------------------------------------ */
/* Float distances, one pair                                                            */
/* ------------------------------------------------------------------------------------ */

static int kind_fmt(kind_t k) {
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

static void test_dist_float(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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
/* int8 and binary distances, one pair                                                  */
/* ------------------------------------------------------------------------------------ */

enum { I8_RAND, I8_MINMIN, I8_MINMAX, I8_MAXMIN, I8_EXTREME, I8_SELF, I8_ZERO, I8_ZERO2, I8_COUNT };
static const char *const k_i8_names[I8_COUNT] = {"random", "-128*-128", "-128,127", "127,-128",
                                                 "extremes", "self", "zero", "zero2"};

static int8_t rnd_extreme_i8(void) {
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

static void test_i8(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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

static void test_b1(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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
/* One query against many rows                                                          */
/* ------------------------------------------------------------------------------------ */

static const entry_t *entry_at(size_t off) {
    for (size_t i = 0; i < N_ENTRIES; i++)
        if (g_entries[i].off == off) return &g_entries[i];
    return NULL;
}

static size_t many_elem_size(kind_t k) {
    switch (k) {
    case K_MANY_F32: return 4;
    case K_MANY_F16: case K_MANY_BF16: return 2;
    default: return 1;
    }
}

/* Calls a one-to-many entry generically. */
static kestrel_status call_many(const kestrel_kernel_table *t, const entry_t *e, const void *q, const void *base,
                                size_t dim, size_t count, size_t stride, void *out) {
    switch (e->kind) {
    case K_MANY_F32: return FN(kestrel_many_f32_fn, t, e->off)(q, base, dim, count, stride, out);
    case K_MANY_F16:
    case K_MANY_BF16: return FN(kestrel_many_u16_fn, t, e->off)(q, base, dim, count, stride, out);
    case K_MANY_I8: return FN(kestrel_many_i8_fn, t, e->off)(q, base, dim, count, stride, out);
    case K_MANY_COS_I8: return FN(kestrel_many_cos_i8_fn, t, e->off)(q, base, dim, count, stride, out);
    case K_MANY_HAMMING: return FN(kestrel_many_b1_fn, t, e->off)(q, base, dim, count, stride, out);
    case K_MANY_JACCARD: return FN(kestrel_many_jaccard_fn, t, e->off)(q, base, dim, count, stride, out);
    default: return KESTREL_ERR_INVALID_ARGUMENT;
    }
}

/* The one-pair result of row `row` as the one-to-many output type would hold it (as 32 bits). */
static uint32_t pair_as_out(const kestrel_kernel_table *t, const entry_t *e, const void *q, const void *row, size_t dim) {
    const entry_t *p = entry_at(e->pair_off);
    switch (e->kind) {
    case K_MANY_F32: return fbits(FN(kestrel_dist_f32_fn, t, p->off)(q, row, dim));
    case K_MANY_F16:
    case K_MANY_BF16: return fbits(FN(kestrel_dist_u16_fn, t, p->off)(q, row, dim));
    case K_MANY_I8: return (uint32_t)(int32_t)FN(kestrel_dot_i8_fn, t, p->off)(q, row, dim);
    case K_MANY_COS_I8: return fbits(FN(kestrel_cos_i8_fn, t, p->off)(q, row, dim));
    case K_MANY_HAMMING: return (uint32_t)FN(kestrel_hamming_fn, t, p->off)(q, row, dim);
    case K_MANY_JACCARD: return fbits(FN(kestrel_jaccard_fn, t, p->off)(q, row, dim));
    default: return 0;
    }
}

static int many_out_is_float(kind_t k) { return k != K_MANY_I8 && k != K_MANY_HAMMING; }

/* Fills the query and `count` rows (row r starts at r * stride elements); rows vary in kind. */
static void gen_many(kind_t k, void *q, void *base, size_t dim, size_t count, size_t stride) {
    if (k == K_MANY_F32 || k == K_MANY_F16 || k == K_MANY_BF16) {
        int fmt = kind_fmt(k);
        size_t es = fmt_size(fmt);
        gen_float(DS_UNIFORM, fmt, g_fa, g_fb, dim);
        store_fmt(fmt, q, g_fa, dim);
        static const int row_ds[] = {DS_UNIFORM, DS_SELF, DS_WIDE, DS_NAN, DS_ZERO, DS_EXACT, DS_INF};
        static const float gap_value[] = {NAN};
        for (size_t r = 0; r < count; r++) {
            int ds = row_ds[r % (sizeof row_ds / sizeof row_ds[0])];
            /* the row is gen_float's first array (zero, or holding the NaN/Inf), or the query itself */
            gen_float(ds == DS_SELF ? DS_UNIFORM : ds, fmt, g_fb, g_fr, dim);
            store_fmt(fmt, (char *)base + r * stride * es, ds == DS_SELF ? g_fa : g_fb, dim);
            /* a NaN in the gap between rows must not leak into any result */
            if (stride > dim && r + 1 < count) store_fmt(fmt, (char *)base + (r * stride + dim) * es, gap_value, 1);
        }
        return;
    }
    uint8_t *qq = q, *bb = base;
    int binary = k == K_MANY_HAMMING || k == K_MANY_JACCARD;
    for (size_t i = 0; i < dim; i++) qq[i] = binary ? (uint8_t)rnd_u32() : (uint8_t)rnd_extreme_i8();
    for (size_t r = 0; r < count; r++) {
        uint8_t *row = bb + r * stride;
        for (size_t i = 0; i < dim; i++) {
            switch (r % 5) {
            case 0: row[i] = (uint8_t)rnd_u32(); break;
            case 1: row[i] = qq[i]; break;
            case 2: row[i] = binary ? 0xff : (uint8_t)(int8_t)((rng_next() & 1) ? -128 : 127); break;
            case 3: row[i] = 0; break;
            default: row[i] = binary ? (uint8_t)(rnd_below(8) == 0) : (uint8_t)rnd_extreme_i8(); break;
            }
        }
        if (stride > dim && r + 1 < count) row[dim] = 0x80;
    }
}

static void test_many(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    static const size_t counts_small[] = {1, 2, 3, 4, 5, 8, 9, 17};
    static const size_t counts_big[] = {1, 3, 5, 9};
    size_t es = many_elem_size(e->kind), os = 4; /* float, int32_t or uint32_t */
    int isf = many_out_is_float(e->kind);
    int fmt = kind_fmt(e->kind);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t dim = k_sizes[si];
        const size_t *counts = dim <= 1000 ? counts_small : counts_big;
        size_t ncounts = dim <= 1000 ? sizeof counts_small / sizeof counts_small[0] : sizeof counts_big / sizeof counts_big[0];
        for (size_t ci = 0; ci < ncounts; ci++) {
            for (size_t gap = 0; gap <= 5; gap += 5) {
                size_t count = counts[ci], stride = dim + gap + (gap && (ci & 1) ? 1 : 0);
                const layout_t *L = &k_layouts[(ci + gap) % N_LAYOUTS];
                size_t base_elems = (count - 1) * stride + dim;
                set_ctx("dim=%zu count=%zu stride=%zu layout=%zu", dim, count, stride, (size_t)(L - k_layouts));
                void *q = place(AR_A, dim * es, lay_off(L->a, es));
                void *base = place(AR_B, base_elems * es, lay_off(L->b, es));
                gen_many(e->kind, q, base, dim, count, stride);
                void *out = place(AR_OUT, count * os, lay_off(L->out, os));
                void *ref = place(AR_OUT2, count * os, END);
                guard_t g = guard_set(AR_OUT, out, count * os);
                memset(out, 0xCD, count * os);
                kestrel_status st = call_many(t, e, q, base, dim, count, stride, out);
                kestrel_status sst = call_many(s, e, q, base, dim, count, stride, ref);
                if (!check(st == KESTREL_OK && sst == KESTREL_OK, "status %d (scalar %d), expected OK", (int)st, (int)sst)) continue;
                guard_ok(&g);
                const uint32_t *o = out, *rf = ref;
                for (size_t r = 0; r < count; r++) {
                    const void *row = (const char *)base + r * stride * es;
                    uint32_t pair = pair_as_out(t, e, q, row, dim);
                    uint32_t got, want;
                    memcpy(&got, (const char *)o + r * 4, 4);
                    memcpy(&want, (const char *)rf + r * 4, 4);
                    if (isf) {
                        if (!check(same_f(bitsf(got), bitsf(pair)), "row %zu: %.9g (0x%08x) != same tier's one-pair %.9g (0x%08x)",
                                   r, bitsf(got), got, bitsf(pair), pair))
                            break;
                        double tol = 0;
                        if (e->kind == K_MANY_F32 || e->kind == K_MANY_F16 || e->kind == K_MANY_BF16) {
                            /* widen the row and query for the tolerance */
                            for (size_t i = 0; i < dim; i++) {
                                if (fmt == FMT_F32) {
                                    g_fa[i] = ((const float *)q)[i];
                                    g_fb[i] = ((const float *)row)[i];
                                } else if (fmt == FMT_F16) {
                                    g_fa[i] = kestrel_f16_to_f32_1(((const uint16_t *)q)[i]);
                                    g_fb[i] = kestrel_f16_to_f32_1(((const uint16_t *)row)[i]);
                                } else {
                                    g_fa[i] = kestrel_bf16_to_f32_1(((const uint16_t *)q)[i]);
                                    g_fb[i] = kestrel_bf16_to_f32_1(((const uint16_t *)row)[i]);
                                }
                            }
                            tol = dist_tol(e->op, g_fa, g_fb, dim);
                        }
                        if (!check(close_f(bitsf(got), bitsf(want), tol), "row %zu: %.9g vs scalar %.9g (tol %.3g)", r,
                                   bitsf(got), bitsf(want), tol))
                            break;
                    } else {
                        if (!check(got == pair, "row %zu: %" PRIu32 " != same tier's one-pair %" PRIu32, r, got, pair)) break;
                        if (!check(got == want, "row %zu: %" PRIu32 " != scalar %" PRIu32, r, got, want)) break;
                    }
                }
            }
        }
    }
}

/* Argument checks: the same status as scalar, and the documented one. */
static void test_many_status(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    size_t es = many_elem_size(e->kind);
    unsigned char *q = place(AR_A, 64 * es, lay_off(1, es)), *base = place(AR_B, 64 * es, lay_off(1, es));
    memset(q, 1, 64 * es);
    memset(base, 1, 64 * es);
    uint32_t *out = place(AR_OUT, 16, END);
    struct {
        const char *what;
        const void *q, *base;
        size_t dim, count, stride;
        void *out;
        int expect; /* -1: only compare with scalar */
    } cases[] = {
        {"count=0, all NULL", NULL, NULL, 8, 0, 8, NULL, KESTREL_OK},
        {"count=0, stride<dim", q, base, 8, 0, 4, out, -1},
        {"out NULL", q, base, 8, 2, 8, NULL, KESTREL_ERR_NULL_POINTER},
        {"stride<dim", q, base, 8, 2, 7, out, KESTREL_ERR_INVALID_ARGUMENT},
        {"q NULL", NULL, base, 8, 2, 8, out, KESTREL_ERR_NULL_POINTER},
        {"base NULL", q, NULL, 8, 2, 8, out, KESTREL_ERR_NULL_POINTER},
        {"q NULL, stride<dim", NULL, base, 8, 2, 4, out, -1},
        {"out NULL, stride<dim", q, base, 8, 2, 4, NULL, -1},
        {"dim=0, q/base NULL", NULL, NULL, 0, 2, 0, out, KESTREL_OK},
        {"dim=0, stride 3", q, base, 0, 4, 3, out, KESTREL_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_ctx("status: %s", cases[i].what);
        memset(out, 0, 16);
        kestrel_status st = call_many(t, e, cases[i].q, cases[i].base, cases[i].dim, cases[i].count, cases[i].stride,
                                      cases[i].out);
        kestrel_status sst = call_many(s, e, cases[i].q, cases[i].base, cases[i].dim, cases[i].count, cases[i].stride,
                                       cases[i].out);
        check(st == sst, "status %d, scalar %d", (int)st, (int)sst);
        if (cases[i].expect >= 0) check((int)st == cases[i].expect, "status %d, header says %d", (int)st, cases[i].expect);
        if (st == KESTREL_OK && cases[i].dim == 0 && cases[i].count > 0) {
            for (size_t r = 0; r < cases[i].count; r++) {
                uint32_t pair = pair_as_out(s, e, NULL, NULL, 0);
                check(out[r] == pair, "dim=0 row %zu: 0x%08x, scalar one-pair 0x%08x", r, out[r], pair);
            }
        }
    }
    /* The int32-output int8 kernels cap dim at KESTREL_I8_MANY_MAX_DIM; at the cap they are exact. */
    size_t maxd = KESTREL_I8_MANY_MAX_DIM;
    if (e->kind == K_MANY_I8 || e->kind == K_MANY_COS_I8) {
        int8_t *qq = place(AR_A, maxd + 1, END), *bb = place(AR_B, 2 * (maxd + 1), END);
        int8_t qv = e->op == OP_L2SQ ? 127 : -128;
        memset(qq, qv, maxd + 1);
        memset(bb, -128, 2 * (maxd + 1));
        set_ctx("status: dim=%zu (one over the cap)", maxd + 1);
        kestrel_status st = call_many(t, e, qq, bb, maxd + 1, 2, maxd + 1, out);
        kestrel_status sst = call_many(s, e, qq, bb, maxd + 1, 2, maxd + 1, out);
        check(st == sst, "status %d, scalar %d", (int)st, (int)sst);
        if (e->kind == K_MANY_I8) check(st == KESTREL_ERR_INVALID_ARGUMENT, "status %d, expected INVALID_ARGUMENT", (int)st);
        set_ctx("dim=%zu (the cap), extreme values", maxd);
        st = call_many(t, e, qq + 1, bb + 2, maxd, 2, maxd, out);
        check(st == KESTREL_OK, "status %d", (int)st);
        if (e->kind == K_MANY_I8) {
            int32_t exact = e->op == OP_L2SQ ? (int32_t)(maxd * 255 * 255) : (int32_t)(maxd * 128 * 128);
            check((int32_t)out[0] == exact && (int32_t)out[1] == exact, "got %" PRId32 ", %" PRId32 ", exact %" PRId32,
                  (int32_t)out[0], (int32_t)out[1], exact);
        } else {
            check(bitsf(out[0]) == 0.0f && bitsf(out[1]) == 0.0f, "cosine of equal directions: %.9g, %.9g, expected 0",
                  bitsf(out[0]), bitsf(out[1]));
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Conversions                                                                          */
/* ------------------------------------------------------------------------------------ */

/* f32 values around every rounding boundary of the 16-bit format, NaNs and random patterns. */
static size_t build_boundaries(int fmt, uint32_t *v, size_t cap) {
    size_t k = 0;
#define PUSH(x)                                             \
    do {                                                    \
        uint32_t px_ = (x);                                 \
        if (k + 2 <= cap) v[k++] = px_, v[k++] = px_ ^ 0x80000000u; \
    } while (0)
    if (fmt == FMT_F16) {
        for (uint32_t h = 0; h < 0x7c00u; h++) {
            double lo = kestrel_f16_to_f32_1((uint16_t)h);
            double hi = h == 0x7bffu ? 65536.0 : kestrel_f16_to_f32_1((uint16_t)(h + 1));
            uint32_t mid = fbits((float)((lo + hi) / 2)); /* exact: one bit more than f16 */
            PUSH(mid - 1);
            PUSH(mid);
            PUSH(mid + 1);
            PUSH(fbits((float)lo) + 1);
            PUSH(fbits((float)hi) - 1);
        }
    } else {
        for (uint32_t h = 0; h < 0x7f80u; h++) {
            uint32_t lo = h << 16, mid = lo + 0x8000u;
            PUSH(mid - 1);
            PUSH(mid);
            PUSH(mid + 1);
            PUSH(lo + 1);
            PUSH(lo + 0xffffu);
        }
    }
    static const uint32_t nans[] = {0x7f800001u, 0x7f800fffu, 0x7f801000u, 0x7f802000u, 0x7f810000u, 0x7fa00000u,
                                    0x7fbfffffu, 0x7fc00000u, 0x7fc00001u, 0x7fffffffu, 0x7f800000u, 0x7f7fffffu,
                                    0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x33000000u, 0x33000001u,
                                    0x477fefffu, 0x477ff000u, 0x477ff001u, 0x38800000u, 0x387fffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) PUSH(nans[i]);
    for (int i = 0; i < 65536; i++) PUSH(0x7f800001u + rnd_u32() % 0x7fffffu); /* random NaN payloads */
    for (int i = 0; i < 65536; i++) PUSH(rnd_u32());
#undef PUSH
    return k;
}

static void test_to_u16(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    int fmt = e->kind == K_F32_TO_F16 ? FMT_F16 : FMT_BF16;
    kestrel_f32_to_u16_fn ft = FN(kestrel_f32_to_u16_fn, t, e->off), fs = FN(kestrel_f32_to_u16_fn, s, e->off);
    uint32_t *vals = (uint32_t *)g_fr;
    size_t nv = build_boundaries(fmt, vals, SCRATCH_ELEMS);
    /* sizes x layouts over slices of the boundary set, then the whole set in two placements */
    for (size_t si = 0; si < N_SIZES; si++) {
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            size_t n = k_sizes[si];
            set_ctx("n=%zu layout=%zu", n, li);
            float *src = place(AR_A, n * 4, lay_off(k_layouts[li].a, 4));
            size_t start = rnd_below(nv - n);
            memcpy(src, vals + start, n * 4);
            uint16_t *out = place(AR_OUT, n * 2, lay_off(k_layouts[li].out, 2));
            uint16_t *ref = place(AR_OUT2, n * 2, END);
            guard_t g = guard_set(AR_OUT, out, n * 2);
            ft(src, out, n);
            fs(src, ref, n);
            guard_ok(&g);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (out[i] != ref[i] && !bad++) first = i;
            check(bad == 0, "%zu mismatches; first at %zu: 0x%08x -> 0x%04x, scalar 0x%04x", bad, first,
                  bad ? fbits(src[first]) : 0, bad ? out[first] : 0, bad ? ref[first] : 0);
        }
    }
    for (long off = END; off <= 1; off += 2) {
        set_ctx("all %zu boundary/NaN/random values, offset %ld", nv, off);
        float *src = place(AR_A, nv * 4, lay_off(off, 4));
        memcpy(src, vals, nv * 4);
        uint16_t *out = place(AR_OUT, nv * 2, lay_off(off, 2));
        uint16_t *ref = place(AR_OUT2, nv * 2, END);
        ft(src, out, nv);
        fs(src, ref, nv);
        size_t bad = 0, first = 0, ref_bad = 0;
        for (size_t i = 0; i < nv; i++) {
            uint16_t expect = fmt == FMT_F16 ? kestrel_f32_to_f16_1(src[i]) : kestrel_f32_to_bf16_1(src[i]);
            ref_bad += ref[i] != expect;
            if (out[i] != ref[i] && !bad++) first = i;
        }
        check(ref_bad == 0, "the scalar table disagrees with the shared helper at %zu values", ref_bad);
        check(bad == 0, "%zu mismatches; first at %zu: 0x%08x -> 0x%04x, scalar 0x%04x", bad, first, fbits(src[first]),
              out[first], ref[first]);
    }
}

static void test_from_u16(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    kestrel_u16_to_f32_fn ft = FN(kestrel_u16_to_f32_fn, t, e->off), fs = FN(kestrel_u16_to_f32_fn, s, e->off);
    for (size_t si = 0; si < N_SIZES; si++) {
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            size_t n = k_sizes[si];
            set_ctx("n=%zu layout=%zu", n, li);
            uint16_t *src = place(AR_A, n * 2, lay_off(k_layouts[li].a, 2));
            for (size_t i = 0; i < n; i++) src[i] = (uint16_t)rnd_u32();
            float *out = place(AR_OUT, n * 4, lay_off(k_layouts[li].out, 4));
            float *ref = place(AR_OUT2, n * 4, END);
            guard_t g = guard_set(AR_OUT, out, n * 4);
            ft(src, out, n);
            fs(src, ref, n);
            guard_ok(&g);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (fbits(out[i]) != fbits(ref[i]) && !bad++) first = i;
            check(bad == 0, "%zu mismatches; first 0x%04x -> 0x%08x, scalar 0x%08x", bad, bad ? src[first] : 0,
                  bad ? fbits(out[first]) : 0, bad ? fbits(ref[first]) : 0);
        }
    }
    /* every one of the 65536 patterns, flush against the guard page and misaligned */
    size_t n = 65536;
    for (long off = END; off <= 1; off += 2) {
        set_ctx("all 65536 patterns, offset %ld", off);
        uint16_t *src = place(AR_A, n * 2, lay_off(off, 2));
        for (size_t i = 0; i < n; i++) src[i] = (uint16_t)i;
        float *out = place(AR_OUT, n * 4, lay_off(off, 4));
        float *ref = place(AR_OUT2, n * 4, END);
        ft(src, out, n);
        fs(src, ref, n);
        size_t bad = 0, first = 0, nan_only = 1;
        for (size_t i = 0; i < n; i++) {
            if (fbits(out[i]) != fbits(ref[i])) {
                if (!bad++) first = i;
                if (!(isnan(out[i]) && isnan(ref[i]))) nan_only = 0;
            }
        }
        check(bad == 0, "%zu of 65536 patterns differ%s; first 0x%04zx -> 0x%08x, scalar 0x%08x", bad,
              bad && nan_only ? " (all NaN payload/quiet-bit differences)" : "", first, fbits(out[first]), fbits(ref[first]));
    }
}

/* ------------------------------------------------------------------------------------ */
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

static void test_exp(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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

static void test_softmax(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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

static void test_elementwise(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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

static void test_reduce(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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
/* n = 0 with NULL pointers, for every entry                                             */
/* ------------------------------------------------------------------------------------ */

static void test_empty(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    set_ctx("n=0 with NULL pointers");
    switch (e->kind) {
    case K_DIST_F32: case K_DIST_F16: case K_DIST_BF16: case K_I8_COS: case K_JACCARD: {
        float got, want;
        if (e->kind == K_DIST_F32) got = FN(kestrel_dist_f32_fn, t, e->off)(NULL, NULL, 0), want = FN(kestrel_dist_f32_fn, s, e->off)(NULL, NULL, 0);
        else if (e->kind == K_I8_COS) got = FN(kestrel_cos_i8_fn, t, e->off)(NULL, NULL, 0), want = FN(kestrel_cos_i8_fn, s, e->off)(NULL, NULL, 0);
        else if (e->kind == K_JACCARD) got = FN(kestrel_jaccard_fn, t, e->off)(NULL, NULL, 0), want = FN(kestrel_jaccard_fn, s, e->off)(NULL, NULL, 0);
        else got = FN(kestrel_dist_u16_fn, t, e->off)(NULL, NULL, 0), want = FN(kestrel_dist_u16_fn, s, e->off)(NULL, NULL, 0);
        check(fbits(got) == fbits(want) && got == 0.0f, "got %.9g, scalar %.9g, expected 0", got, want);
        break;
    }
    case K_I8_INT: {
        int64_t got = FN(kestrel_dot_i8_fn, t, e->off)(NULL, NULL, 0);
        check(got == 0, "got %" PRId64, got);
        break;
    }
    case K_HAMMING: {
        uint64_t got = FN(kestrel_hamming_fn, t, e->off)(NULL, NULL, 0);
        check(got == 0, "got %" PRIu64, got);
        break;
    }
    case K_MANY_F32: case K_MANY_F16: case K_MANY_BF16: case K_MANY_I8: case K_MANY_COS_I8: case K_MANY_HAMMING:
    case K_MANY_JACCARD: {
        kestrel_status st = call_many(t, e, NULL, NULL, 0, 0, 0, NULL);
        check(st == KESTREL_OK, "status %d", (int)st);
        break;
    }
    case K_F32_TO_F16: case K_F32_TO_BF16: FN(kestrel_f32_to_u16_fn, t, e->off)(NULL, NULL, 0); ran(); break;
    case K_F16_TO_F32: case K_BF16_TO_F32: FN(kestrel_u16_to_f32_fn, t, e->off)(NULL, NULL, 0); ran(); break;
    case K_EXP: case K_SOFTMAX: FN(kestrel_unary_f32_fn, t, e->off)(NULL, NULL, 0); ran(); break;
    case K_AXPY: FN(kestrel_axpy_f32_fn, t, e->off)(2.0f, NULL, NULL, 0); ran(); break;
    case K_SCALE: FN(kestrel_scale_f32_fn, t, e->off)(2.0f, NULL, NULL, 0); ran(); break;
    case K_ADD: case K_MUL: FN(kestrel_binary_f32_fn, t, e->off)(NULL, NULL, NULL, 0); ran(); break;
    case K_SUM: case K_SUMSQ: case K_MAX: {
        float got = FN(kestrel_reduce_f32_fn, t, e->off)(NULL, 0), want = e->kind == K_MAX ? -INFINITY : 0.0f;
        check(fbits(got) == fbits(want), "got %.9g, expected %.9g", got, want);
        break;
    }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Driver                                                                               */
/* ------------------------------------------------------------------------------------ */

static void test_entry(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    test_empty(e, t, s);
    switch (e->kind) {
    case K_DIST_F32: case K_DIST_F16: case K_DIST_BF16: test_dist_float(e, t, s); break;
    case K_I8_INT: case K_I8_COS: test_i8(e, t, s); break;
    case K_HAMMING: case K_JACCARD: test_b1(e, t, s); break;
    case K_MANY_F32: case K_MANY_F16: case K_MANY_BF16: case K_MANY_I8: case K_MANY_COS_I8: case K_MANY_HAMMING:
    case K_MANY_JACCARD:
        test_many_status(e, t, s);
        test_many(e, t, s);
        break;
    case K_F32_TO_F16: case K_F32_TO_BF16: test_to_u16(e, t, s); break;
    case K_F16_TO_F32: case K_BF16_TO_F32: test_from_u16(e, t, s); break;
    case K_EXP: test_exp(e, t, s); break;
    case K_SOFTMAX: test_softmax(e, t, s); break;
    case K_AXPY: case K_SCALE: case K_ADD: case K_MUL: test_elementwise(e, t, s); break;
    case K_SUM: case K_MAX: case K_SUMSQ: test_reduce(e, t, s); break;
    }
}

/* The KC_ENTRIES list covers each table slot exactly once (the static assertion checks the count). */
static int entries_cover_table(void) {
    size_t first = offsetof(kestrel_kernel_table, dot_f32), w = sizeof(any_fn);
    unsigned char seen[N_ENTRIES] = {0};
    for (size_t i = 0; i < N_ENTRIES; i++) {
        size_t k = (g_entries[i].off - first) / w;
        if ((g_entries[i].off - first) % w || k >= N_ENTRIES || seen[k]++) return 0;
    }
    return 1;
}

static void usage(void) {
    fprintf(stderr, "usage: neon_check [--require] [--expect-active TIER] [--label TEXT] [--seed N] [--verbose] TIER...\n");
    exit(2);
}

int main(int argc, char **argv) {
    int require = 0, expect_active = -1;
    const char *label = "neon-check";
    uint64_t seed = 0x6b657374726c31ull;
    int tiers[KESTREL_ISA_COUNT], ntiers = 0;
    for (int i = 1; i < argc; i++) {
        kestrel_isa isa;
        if (!strcmp(argv[i], "--require")) require = 1;
        else if (!strcmp(argv[i], "--verbose")) g_verbose = 1;
        else if (!strcmp(argv[i], "--label") && i + 1 < argc) label = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--expect-active") && i + 1 < argc) {
            if (kestrel_isa_parse(argv[++i], &isa) != KESTREL_OK) usage();
            expect_active = (int)isa;
        } else if (kestrel_isa_parse(argv[i], &isa) == KESTREL_OK && isa != KESTREL_ISA_SCALAR && ntiers < KESTREL_ISA_COUNT) {
            tiers[ntiers++] = (int)isa;
        } else usage();
    }
    if (ntiers == 0)
        for (int i = 1; i < KESTREL_ISA_COUNT; i++)
            if (kestrel_isa_supported((kestrel_isa)i)) tiers[ntiers++] = i;

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep every line if a kernel faults and the handler exits */
    signal(SIGSEGV, on_fault);
    signal(SIGBUS, on_fault);
    signal(SIGILL, on_fault);
    signal(SIGFPE, on_fault);
    arenas_init();
    g_fa = malloc(SCRATCH_ELEMS * sizeof(float));
    g_fb = malloc(SCRATCH_ELEMS * sizeof(float));
    g_fr = malloc(SCRATCH_ELEMS * sizeof(float));
    if (!g_fa || !g_fb || !g_fr) return 2;

    printf("%s: cpu \"%s\", features 0x%08x, active tier %s, seed 0x%" PRIx64 "\n", label, kestrel_cpu_name(),
           kestrel_cpu_features(), kestrel_isa_name(kestrel_active_isa()), seed);

    const kestrel_kernel_table *s = kestrel_kernels_for(KESTREL_ISA_SCALAR);
    g_tier = KESTREL_ISA_SCALAR;
    g_entry = 0;
    set_ctx("setup");
    check(s != NULL && s->isa == KESTREL_ISA_SCALAR, "no scalar table");
    check(entries_cover_table(), "KC_ENTRIES lists a table slot twice or misses one");
    if (expect_active >= 0)
        check((int)kestrel_active_isa() == expect_active, "active tier is %s, expected %s",
              kestrel_isa_name(kestrel_active_isa()), kestrel_isa_name((kestrel_isa)expect_active));
    if (!s) return 1;

    int tested[KESTREL_ISA_COUNT], ntested = 0;
    for (int ti = 0; ti < ntiers; ti++) {
        g_tier = tiers[ti];
        const kestrel_kernel_table *t = kestrel_kernels_for((kestrel_isa)g_tier);
        set_ctx("availability");
        if (!t) {
            if (require) check(0, "tier %s is not supported here but was required", kestrel_isa_name((kestrel_isa)g_tier));
            else printf("%s: tier %s not supported on this CPU: skipped\n", label, kestrel_isa_name((kestrel_isa)g_tier));
            continue;
        }
        check(t->isa == (kestrel_isa)g_tier, "table reports tier %d", t->isa);
        for (size_t i = 0; i < N_ENTRIES; i++) {
            g_entry = (int)i;
            set_ctx("pointer");
            check(entry_ptr(t, g_entries[i].off) != NULL, "entry is NULL");
        }
        tested[ntested++] = g_tier;
        rng_seed(seed ^ (uint64_t)g_tier);
        for (size_t i = 0; i < N_ENTRIES; i++) {
            g_entry = (int)i;
            if (g_verbose) {
                printf("  [%s] %s\n", kestrel_isa_name((kestrel_isa)g_tier), g_entries[i].name);
                fflush(stdout);
            }
            test_entry(&g_entries[i], t, s);
        }
    }

    /* Which entries each tier really implements, and how close the toleranced ones came. */
    printf("%-18s", "entry");
    for (int k = 0; k < ntested; k++) printf(" %-12s", kestrel_isa_name((kestrel_isa)tested[k]));
    printf(" (own = its own kernel; =tier / scalar = inherited; worst |diff|/tolerance)\n");
    int own[KESTREL_ISA_COUNT] = {0};
    for (size_t i = 0; i < N_ENTRIES; i++) {
        printf("%-18s", g_entries[i].name);
        for (int k = 0; k < ntested; k++) {
            const kestrel_kernel_table *t = kestrel_kernels_for((kestrel_isa)tested[k]);
            any_fn p = entry_ptr(t, g_entries[i].off);
            char origin[32] = "own";
            if (p == entry_ptr(s, g_entries[i].off)) snprintf(origin, sizeof origin, "scalar");
            else
                for (int j = 0; j < k; j++)
                    if (p == entry_ptr(kestrel_kernels_for((kestrel_isa)tested[j]), g_entries[i].off)) {
                        snprintf(origin, sizeof origin, "=%s", kestrel_isa_name((kestrel_isa)tested[j]));
                        break;
                    }
            if (!strcmp(origin, "own")) own[k]++;
            double w = g_worst[tested[k]][i];
            char cell[48];
            if (w > 0) snprintf(cell, sizeof cell, "%s %.2g", origin, w);
            else snprintf(cell, sizeof cell, "%s", origin);
            printf(" %-12s", cell);
            /* every entry must have been exercised at every tier */
            if (g_checks[tested[k]][i] < 10) {
                g_tier = tested[k];
                g_entry = (int)i;
                set_ctx("coverage");
                check(0, "only %ld checks ran", g_checks[tested[k]][i]);
            }
        }
        printf("\n");
    }
    for (int k = 0; k < ntested; k++)
        printf("%s: tier %s implements %d of %d entries itself, inherits %d\n", label,
               kestrel_isa_name((kestrel_isa)tested[k]), own[k], N_ENTRIES, N_ENTRIES - own[k]);
    if (ntested == 0 && ntiers > 0) printf("%s: no requested tier is supported here\n", label);
    printf("%s: %ld passed, %ld failed\n", label, g_pass, g_fail);
    return g_fail ? 1 : 0;
}
