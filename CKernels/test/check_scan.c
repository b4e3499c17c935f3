/* check_scan.c — one query against many rows: every row bit for bit equal to the one-pair kernel; argument errors. */
#include "neon_check.h"

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
kestrel_status call_many(const kestrel_kernel_table *t, const entry_t *e, const void *q, const void *base,
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

void test_many(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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
void test_many_status(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
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
