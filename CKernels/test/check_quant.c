/*
 * check_quant.c — ggml block quantize / dequantize entries: every tier byte for byte (quantize)
 * and bit for bit (dequantize; any NaN matches any NaN) equal to the scalar reference, on
 * random rows of 0...33 blocks (odd counts included), inputs at odd float offsets and outputs
 * at odd byte offsets or flush against a guard page, and special rows: exact .5 ties, a largest
 * |x| that occurs twice with opposite signs, zeros, +-Inf, huge and subnormal values (1/d
 * overflows), per-block magnitudes from 1e-30 to 1e30. Dequantizers get random bytes, so fp16
 * scales take every class (NaN, Inf, subnormal). The scalar reference itself is checked once
 * against the ggml fixtures (Tests/Fixtures/ggml-quants, or $KESTREL_QUANT_FIXTURES): bytes and
 * float bits, which under qemu also checks that the aarch64 build is not contracted into FMAs.
 */
#include "neon_check.h"

typedef struct {
    const char *name; /* as in the entry names and the fixture files (lower case there: no) */
    const char *file; /* fixture prefix */
    size_t qk, bytes;
} qfmt_t;

static const qfmt_t k_fmts[] = {
    {"q8_0", "Q8_0", 32, 34}, {"q8_1", "Q8_1", 32, 36}, {"q4_0", "Q4_0", 32, 18},   {"q4_1", "Q4_1", 32, 20},
    {"q5_0", "Q5_0", 32, 22}, {"q5_1", "Q5_1", 32, 24}, {"q4_K", "Q4_K", 256, 144}, {"q6_K", "Q6_K", 256, 210},
};
#define N_FMTS (sizeof k_fmts / sizeof k_fmts[0])

static const size_t k_block_counts[] = {0, 1, 2, 3, 5, 7, 17, 33};
#define N_COUNTS (sizeof k_block_counts / sizeof k_block_counts[0])

static int fmt_of(const entry_t *e) {
    const char *u = strchr(e->name, '_');
    for (size_t i = 0; u && i < N_FMTS; i++)
        if (!strcmp(u + 1, k_fmts[i].name)) return (int)i;
    fprintf(stderr, "check_quant: no format for entry %s\n", e->name);
    exit(2);
}

enum { Q_NORMAL, Q_WIDE, Q_TIES, Q_OPPOSITE, Q_SPECIAL, Q_TINY, Q_KINDS };
static const char *const k_qnames[Q_KINDS] = {"normal", "wide", "ties", "opposite", "special", "tiny"};

/* Per-block data of one kind (blk = elements per block of the format). */
static void gen_row(int kind, float *x, size_t n, size_t blk) {
    for (size_t b0 = 0; b0 < n; b0 += blk) {
        float *xb = x + b0;
        double scale = pow(10.0, (double)rnd_below(61) - 30.0);
        for (size_t j = 0; j < blk; j++) {
            switch (kind) {
            case Q_NORMAL: xb[j] = rnd_range(-1, 1) + rnd_range(-1, 1) + rnd_range(-1, 1); break;
            case Q_WIDE: xb[j] = (float)(rnd_range(-1, 1) * scale); break;
            case Q_TIES: xb[j] = (float)((double)((int)rnd_below(254) - 127) + 0.5 * (double)rnd_below(2)); break;
            case Q_OPPOSITE: xb[j] = rnd_range(-2.9, 2.9); break;
            case Q_SPECIAL: {
                static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e-45f, -1e-40f, 1e30f, 0.5f};
                xb[j] = rnd_below(4) == 0 ? sp[rnd_below(sizeof sp / sizeof sp[0])] : rnd_range(-1, 1);
                break;
            }
            default: xb[j] = (float)(rnd_range(-1, 1) * 1e-38); break; /* 1/d overflows: codes from +-Inf and NaN */
            }
        }
        if (kind == Q_TIES) xb[rnd_below(blk)] = rnd_below(2) ? 127.0f : -127.0f; /* d = 1: x*id = x exactly */
        if (kind == Q_OPPOSITE) {
            size_t i = rnd_below(blk), k = rnd_below(blk);
            xb[i] = 3.0f;
            if (k != i) xb[k] = -3.0f;
        }
        if (kind != Q_SPECIAL && rnd_below(16) == 0) memset(xb, 0, blk * sizeof(float)); /* all-zero blocks */
    }
}

static void check_quant_case(const kestrel_quantize_blocks_fn ft, const kestrel_quantize_blocks_fn fs, const qfmt_t *f,
                             const float *src_data, size_t n, long in_off, long out_off) {
    size_t nb = n / f->qk, bytes = nb * f->bytes;
    float *src = place(AR_A, n * 4, lay_off(in_off, 4));
    memcpy(src, src_data, n * 4);
    unsigned char *out = place(AR_OUT, bytes, out_off);
    unsigned char *ref = place(AR_OUT2, bytes, END);
    guard_t g = guard_set(AR_OUT, out, bytes);
    ft(src, out, n);
    fs(src, ref, n);
    guard_ok(&g);
    size_t first = 0, bad = 0;
    for (size_t i = 0; i < bytes; i++)
        if (out[i] != ref[i] && !bad++) first = i;
    check(bad == 0, "%zu bytes differ; first at byte %zu (block %zu, offset %zu): 0x%02x, scalar 0x%02x", bad, first,
          first / f->bytes, first % f->bytes, bad ? out[first] : 0, bad ? ref[first] : 0);
}

void test_quant_blocks(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    const qfmt_t *f = &k_fmts[fmt_of(e)];
    kestrel_quantize_blocks_fn ft = FN(kestrel_quantize_blocks_fn, t, e->off), fs = FN(kestrel_quantize_blocks_fn, s, e->off);
    for (int kind = 0; kind < Q_KINDS; kind++)
        for (size_t ci = 0; ci < N_COUNTS; ci++)
            for (size_t li = 0; li < N_LAYOUTS; li++) {
                size_t n = k_block_counts[ci] * f->qk;
                set_ctx("%s rows, %zu blocks, layout %zu", k_qnames[kind], k_block_counts[ci], li);
                gen_row(kind, g_fa, n, f->qk);
                check_quant_case(ft, fs, f, g_fa, n, k_layouts[li].a, k_layouts[li].out);
            }
}

void test_dequant_blocks(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    const qfmt_t *f = &k_fmts[fmt_of(e)];
    kestrel_dequantize_blocks_fn ft = FN(kestrel_dequantize_blocks_fn, t, e->off),
                                 fs = FN(kestrel_dequantize_blocks_fn, s, e->off);
    for (int rep = 0; rep < 4; rep++)
        for (size_t ci = 0; ci < N_COUNTS; ci++)
            for (size_t li = 0; li < N_LAYOUTS; li++) {
                size_t nb = k_block_counts[ci], n = nb * f->qk, bytes = nb * f->bytes;
                set_ctx("random bytes (rep %d), %zu blocks, layout %zu", rep, nb, li);
                unsigned char *src = place(AR_A, bytes, k_layouts[li].a);
                for (size_t i = 0; i < bytes; i++) src[i] = (unsigned char)rnd_u32();
                if (rep == 0) /* mostly finite, modest scales: the common case bit for bit, NaN-free */
                    for (size_t b = 0; b < nb; b++) {
                        unsigned char *p = src + b * f->bytes + (f->qk == 256 && f->bytes == 210 ? 208 : 0);
                        uint16_t h = (uint16_t)(0x3000u + rnd_below(0x1800));
                        memcpy(p, &h, 2);
                    }
                float *out = place(AR_OUT, n * 4, lay_off(k_layouts[li].out, 4));
                float *ref = place(AR_OUT2, n * 4, END);
                guard_t g = guard_set(AR_OUT, out, n * 4);
                ft(src, out, n);
                fs(src, ref, n);
                guard_ok(&g);
                size_t first = 0, bad = 0;
                for (size_t i = 0; i < n; i++)
                    if (!same_f(out[i], ref[i]) && !bad++) first = i;
                check(bad == 0, "%zu values differ; first at %zu: %.9g (0x%08x), scalar %.9g (0x%08x)", bad, first,
                      bad ? out[first] : 0.0, bad ? fbits(out[first]) : 0u, bad ? ref[first] : 0.0,
                      bad ? fbits(ref[first]) : 0u);
            }
}

/* ------------------------------------------------------------------------------------ */
/* The scalar reference against the ggml fixtures                                        */
/* ------------------------------------------------------------------------------------ */

static void *read_fixture(const char *name, size_t *len) {
    const char *dir = getenv("KESTREL_QUANT_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "Tests/Fixtures/ggml-quants", name);
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    void *buf = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long l = ftell(fp);
        if (l > 0 && fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)l)) && fread(buf, 1, (size_t)l, fp) == (size_t)l)
            *len = (size_t)l;
        else
            free(buf), buf = NULL;
    }
    fclose(fp);
    return buf;
}

void test_quant_fixtures(const kestrel_kernel_table *s) {
    size_t nin = 0;
    float *in = read_fixture("inputs.bin", &nin);
    set_ctx("ggml fixtures: inputs.bin");
    if (!check(in != NULL && nin % 1024 == 0, "cannot read the fixtures (run from the repository root)")) return;
    const size_t rows = nin / 1024;
    for (size_t fi = 0; fi < N_FMTS; fi++) {
        const qfmt_t *f = &k_fmts[fi];
        char name[64];
        size_t lq = 0, ld = 0, rb = 256 / f->qk * f->bytes;
        snprintf(name, sizeof name, "%s.quant.bin", f->file);
        unsigned char *q = read_fixture(name, &lq);
        snprintf(name, sizeof name, "%s.dequant.bin", f->file);
        float *dq = read_fixture(name, &ld);
        set_ctx("ggml fixtures: %s", f->file);
        if (check(q && dq && lq == rows * rb && ld == nin, "missing or wrong-sized fixture files")) {
            char qn[32], dn[32];
            snprintf(qn, sizeof qn, "quantize_%s", f->name);
            snprintf(dn, sizeof dn, "dequantize_%s", f->name);
            kestrel_quantize_blocks_fn fq = NULL;
            kestrel_dequantize_blocks_fn fd = NULL;
            for (size_t i = 0; i < N_ENTRIES; i++) {
                if (!strcmp(g_entries[i].name, qn)) fq = FN(kestrel_quantize_blocks_fn, s, g_entries[i].off);
                if (!strcmp(g_entries[i].name, dn)) fd = FN(kestrel_dequantize_blocks_fn, s, g_entries[i].off);
            }
            unsigned char *mine = malloc(lq);
            float *back = malloc(ld);
            fq(in, mine, rows * 256);
            fd(q, back, rows * 256);
            size_t badq = 0, badd = 0;
            for (size_t i = 0; i < lq; i++) badq += mine[i] != q[i];
            for (size_t i = 0; i < rows * 256; i++) badd += fbits(back[i]) != fbits(dq[i]);
            check(badq == 0, "quantize: %zu of %zu bytes differ from the fixture", badq, lq);
            check(badd == 0, "dequantize: %zu of %zu floats differ from the fixture", badd, rows * 256);
            free(mine);
            free(back);
        }
        free(q);
        free(dq);
        if (f->qk == 256) {
            size_t lb = 0, le = 0;
            snprintf(name, sizeof name, "%s.dqblocks.bin", f->file);
            unsigned char *b = read_fixture(name, &lb);
            snprintf(name, sizeof name, "%s.dqblocks.dequant.bin", f->file);
            float *want = read_fixture(name, &le);
            set_ctx("ggml fixtures: %s.dqblocks", f->file);
            if (check(b && want && lb % f->bytes == 0 && le == lb / f->bytes * 1024, "missing or wrong-sized dqblocks")) {
                char dn[32];
                snprintf(dn, sizeof dn, "dequantize_%s", f->name);
                float *got = malloc(le);
                for (size_t i = 0; i < N_ENTRIES; i++)
                    if (!strcmp(g_entries[i].name, dn)) FN(kestrel_dequantize_blocks_fn, s, g_entries[i].off)(b, got, le / 4);
                size_t bad = 0;
                for (size_t i = 0; i < le / 4; i++) bad += fbits(got[i]) != fbits(want[i]);
                check(bad == 0, "%zu of %zu floats differ", bad, le / 4);
                free(got);
            }
            free(b);
            free(want);
        }
    }
    free(in);
}
