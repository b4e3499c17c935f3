/*
 * neon_check.c — C-level cross-tier check of every entry of `kestrel_kernel_table`: the shared
 * harness (declared in neon_check.h) and the driver. The checks of each family are in
 * check_distance_float.c, check_distance_int.c, check_scan.c, check_convert.c, check_math.c,
 * check_quant.c (ggml blocks: bit for bit, and the scalar reference against the ggml fixtures) and
 * check_qdot.c (quantized dot products, int8 GEMV and GEMM), check_attention.c (attention tile runs),
 * check_attention_backward.c (attention backward tiles).
 *
 * Not part of the SwiftPM build (CKernels/test is excluded). CKernels/test/neon-check.sh
 * cross-compiles it and the check_*.c files with every CKernels/<name>.c for aarch64 and runs it under qemu for the NEON
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
#include "neon_check.h"

any_fn entry_ptr(const kestrel_kernel_table *t, size_t off) {
    any_fn f;
    memcpy(&f, (const char *)t + off, sizeof f);
    return f;
}

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

void set_ctx(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(g_ctx, sizeof g_ctx, "[%s] %s ", kestrel_isa_name((kestrel_isa)g_tier), g_entries[g_entry].name);
    if (k > 0 && (size_t)k < sizeof g_ctx) vsnprintf(g_ctx + k, sizeof g_ctx - (size_t)k, fmt, ap);
    va_end(ap);
}

int check(int ok, const char *fmt, ...) {
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

void note_ratio(double diff, double tol) {
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

uint32_t fbits(float f) { return kestrel_f32_bits(f); }
float bitsf(uint32_t u) { return kestrel_bits_f32(u); }

/* Same value or both NaN: what "bit for bit" means for results whose NaN payload is unspecified. */
int same_f(float a, float b) { return (isnan(a) && isnan(b)) || fbits(a) == fbits(b); }

/* Distance in units in the last place on the ordered line of floats (+0 and -0 coincide). */
int64_t ulp_diff(float a, float b) {
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

uint64_t rng_next(void) {
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

uint32_t rnd_u32(void) { return (uint32_t)(rng_next() >> 32); }
size_t rnd_below(size_t n) { return n ? (size_t)(rng_next() % n) : 0; }
double rnd_unit(void) { return (double)(rng_next() >> 11) * 0x1p-53; } /* [0, 1) */
float rnd_range(double lo, double hi) { return (float)(lo + (hi - lo) * rnd_unit()); }
float rnd_sign(void) { return (rng_next() & 1) ? -1.0f : 1.0f; }

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
void *place(int ar, size_t bytes, long off) {
    arena_t *a = &g_arena[ar];
    if (bytes + 64 + 64 + (off > 0 ? (size_t)off : 0) > a->cap) {
        fprintf(stderr, "neon_check: buffer of %zu bytes does not fit an arena\n", bytes);
        exit(2);
    }
    if (off == END) return a->base + a->cap - bytes;
    return a->base + 64 + (size_t)off;
}

/* Canaries around an output buffer (below it always; above it unless it ends at the guard page). */
guard_t guard_set(int ar, void *p, size_t bytes) {
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

int guard_ok(const guard_t *g) {
    for (const unsigned char *q = g->lo; q < g->p; q++)
        if (*q != CANARY) return check(0, "wrote %td bytes before the output buffer", g->p - q), 0;
    for (const unsigned char *q = g->end; q < g->hi; q++)
        if (*q != CANARY) return check(0, "wrote past the end of the output buffer (byte %td)", q - g->end), 0;
    return 1;
}

long lay_off(long elems, size_t esize) { return elems == END ? END : elems * (long)esize; }

float *g_fa, *g_fb, *g_fr;

static float round_fmt(int fmt, float x) {
    if (fmt == FMT_F16) return kestrel_f16_to_f32_1(kestrel_f32_to_f16_1(x));
    if (fmt == FMT_BF16) return kestrel_bf16_to_f32_1(kestrel_f32_to_bf16_1(x));
    return x;
}

/* Writes the (already representable) values in the storage format of `fmt`. */
void store_fmt(int fmt, void *dst, const float *src, size_t n) {
    if (fmt == FMT_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = fmt == FMT_F16 ? kestrel_f32_to_f16_1(src[i]) : kestrel_f32_to_bf16_1(src[i]);
}

size_t fmt_size(int fmt) { return fmt == FMT_F32 ? 4 : 2; }

static size_t g_variant; /* cycles the position of injected special values */

size_t special_pos(size_t n) {
    size_t v = g_variant++ % 4;
    return v == 0 ? 0 : v == 1 ? n - 1 : v == 2 ? n / 2 : rnd_below(n);
}

float rnd_subnormal(int fmt) {
    if (fmt == FMT_F16) return rnd_sign() * (float)(1 + rnd_below(1023)) * 0x1p-24f;
    if (fmt == FMT_BF16) return rnd_sign() * bitsf((uint32_t)(1 + rnd_below(127)) << 16);
    return rnd_sign() * bitsf(1 + (uint32_t)rnd_below(0x7fffff));
}

/* Fills a[0..n) and b[0..n) with dataset `ds`, every value representable in `fmt`. */
void gen_float(int ds, int fmt, float *a, float *b, size_t n) {
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
double sum_tol(size_t n, double S) { return (2.0 * (double)n + 4.0) * 0x1p-24 * S + (double)n * 0x1p-148; }

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
double dist_tol(op_t op, const float *a, const float *b, size_t n) {
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
int close_f(float got, float want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return fbits(got) == fbits(want);
    if (!isfinite(got)) return 0;
    double d = fabs((double)got - (double)want);
    note_ratio(d, tol);
    return d <= tol;
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
    case K_QUANT: FN(kestrel_quantize_blocks_fn, t, e->off)(NULL, NULL, 0); ran(); break;
    case K_DEQUANT: FN(kestrel_dequantize_blocks_fn, t, e->off)(NULL, NULL, 0); ran(); break;
    case K_SUM: case K_SUMSQ: case K_MAX: {
        float got = FN(kestrel_reduce_f32_fn, t, e->off)(NULL, 0), want = e->kind == K_MAX ? -INFINITY : 0.0f;
        check(fbits(got) == fbits(want), "got %.9g, expected %.9g", got, want);
        break;
    }
    case K_QDOT_Q8_0: case K_QDOT_Q4_0: case K_QDOT_Q4_K: case K_QDOT_Q6_K: case K_GEMV_I8: case K_GEMM_I8:
    case K_GEMV_Q8_0: case K_GEMV_Q4_0:
        test_qdot_empty(e, t);
        break;
    case K_ATTENTION: test_attention_empty(e, t); break;
    case K_ATTENTION_BWD: test_attention_bwd_empty(e, t); break;
    case K_DECODE: break; /* empty ranges and argument errors: check_decode.c */
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
    case K_QUANT: test_quant_blocks(e, t, s); break;
    case K_DEQUANT: test_dequant_blocks(e, t, s); break;
    case K_QDOT_Q8_0: case K_QDOT_Q4_0: case K_QDOT_Q4_K: case K_QDOT_Q6_K: case K_GEMV_I8: case K_GEMM_I8:
    case K_GEMV_Q8_0: case K_GEMV_Q4_0:
        test_qdot(e, t, s);
        break;
    case K_ATTENTION: test_attention(e, t, s); break;
    case K_ATTENTION_BWD: test_attention_bwd(e, t, s); break;
    case K_DECODE:
        test_decode(e, t, s);
        break;
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
    /* The bit-exact reference itself, once: the ggml block fixtures at the scalar tier. */
    for (size_t i = 0; i < N_ENTRIES; i++)
        if (g_entries[i].kind == K_QUANT) {
            g_entry = (int)i;
            test_quant_fixtures(s);
            break;
        }

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
