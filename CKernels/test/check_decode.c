/*
 * check_decode.c — KV-cache decode (kestrel_decode.h): every tier's decode_partial against the
 * scalar tier and against an independent double-precision attention over the same stored rows
 * (f32, f16, int8 with per-row scales), through block tables with odd block sizes (one to several K/V
 * heads per call, paged [heads, block, d] blocks and token-major [n, heads, d] rows), evicted (NULL)
 * blocks outside the visible range, causal/windowed/sink masks, 1…8 query tokens, grouped heads,
 * unaligned rows and queries, empty ranges, and the argument errors.
 */
#include "kestrel_decode.h"
#include "neon_check.h"

typedef kestrel_status (*decode_fn)(const kestrel_decode_args *);

typedef struct {
    size_t d, nq, group, n, bt;     /* head dim, queries, heads per K/V head, cached tokens, block tokens */
    int dtype, causal;
    ptrdiff_t window;               /* < 0: none */
    size_t sink, lo, hi;
    size_t heads;                   /* K/V heads in the call */
    int token_major;                /* rows [n, heads, d] in one block (a contiguous cache), else blocks [heads, bt, d] */
} dcase_t;

/* Element offset of (head h, token j, element t) and the scale index of (h, j) in the layout. */
static size_t elem_at(const dcase_t *c, size_t h, size_t j, size_t t) {
    if (c->token_major) return (j * c->heads + h) * c->d + t;
    return (((j / c->bt) * c->heads + h) * c->bt + j % c->bt) * c->d + t;
}

static size_t scale_at(const dcase_t *c, size_t h, size_t j) {
    if (c->token_major) return j * c->heads + h;
    return ((j / c->bt) * c->heads + h) * c->bt + j % c->bt;
}

/* The stored value of element t of head h, token j (as the kernel must read it). */
static double stored(const dcase_t *c, const unsigned char *base, const float *scales, size_t h, size_t j, size_t t) {
    const size_t e = elem_at(c, h, j, t);
    if (c->dtype == KESTREL_KV_F32) return ((const float *)(const void *)base)[e];
    if (c->dtype == KESTREL_KV_F16) return kestrel_f16_to_f32_1(((const uint16_t *)(const void *)base)[e]);
    return (double)((const int8_t *)(const void *)base)[e] * scales[scale_at(c, h, j)];
}

static int visible(const dcase_t *c, size_t i, size_t j) {
    const ptrdiff_t pos = (ptrdiff_t)(c->n - c->nq + i), jj = (ptrdiff_t)j;
    if (c->causal && jj > pos) return 0;
    if (c->window >= 0 && jj < pos - c->window && j >= c->sink) return 0;
    return 1;
}

static void run_case(const dcase_t *c, decode_fn fn, decode_fn ref, unsigned qoff, unsigned roff) {
    const size_t d = c->d, H = c->heads, hrows = c->group * c->nq, rows = H * hrows;
    const size_t bt = c->token_major ? (c->n > 0 ? c->n : 1) : c->bt, nb = (c->n + bt - 1) / bt;
    const size_t es = c->dtype == KESTREL_KV_F32 ? 4 : c->dtype == KESTREL_KV_F16 ? 2 : 1;
    const size_t elems = nb * bt * H * d, nscales = nb * bt * H;
    /* `roff` elements past an aligned start, so rows and blocks are unaligned. */
    unsigned char *kraw = calloc(elems + roff + 1, es), *vraw = calloc(elems + roff + 1, es);
    unsigned char *kb = kraw + roff * es, *vb = vraw + roff * es;
    float *ks = calloc(nscales + 1, sizeof(float)), *vs = calloc(nscales + 1, sizeof(float));
    float *qraw = malloc((rows * d + qoff + 1) * sizeof(float)), *q = qraw + qoff;
    for (size_t h = 0; h < H; h++)
        for (size_t j = 0; j < c->n; j++) {
            ks[scale_at(c, h, j)] = rnd_range(0.001, 0.02);
            vs[scale_at(c, h, j)] = rnd_range(0.001, 0.02);
            for (size_t t = 0; t < d; t++) {
                const size_t e = elem_at(c, h, j, t);
                const float kx = rnd_range(-1, 1), vx = rnd_range(-1, 1);
                if (c->dtype == KESTREL_KV_F32) {
                    ((float *)(void *)kb)[e] = kx;
                    ((float *)(void *)vb)[e] = vx;
                } else if (c->dtype == KESTREL_KV_F16) {
                    ((uint16_t *)(void *)kb)[e] = kestrel_f32_to_f16_1(kx);
                    ((uint16_t *)(void *)vb)[e] = kestrel_f32_to_f16_1(vx);
                } else {
                    ((int8_t *)kb)[e] = (int8_t)(rnd_u32() % 255 - 127);
                    ((int8_t *)vb)[e] = (int8_t)(rnd_u32() % 255 - 127);
                }
            }
        }
    for (size_t r = 0; r < rows * d; r++) q[r] = rnd_range(-1, 1);
    const void **kp = malloc(nb * sizeof *kp), **vp = malloc(nb * sizeof *vp);
    const float **ksp = malloc(nb * sizeof *ksp), **vsp = malloc(nb * sizeof *vsp);
    for (size_t b = 0; b < nb; b++) {
        /* A block is evicted (NULL) when no row sees any of its tokens. */
        int needed = 0;
        for (size_t j = b * bt; j < (b + 1) * bt && j < c->n; j++)
            for (size_t i = 0; i < c->nq; i++) needed |= j >= c->lo && j < c->hi && visible(c, i, j);
        kp[b] = needed ? kb + elem_at(c, 0, b * bt, 0) * es : NULL;
        vp[b] = needed ? vb + elem_at(c, 0, b * bt, 0) * es : NULL;
        ksp[b] = ks + scale_at(c, 0, b * bt);
        vsp[b] = vs + scale_at(c, 0, b * bt);
    }
    const size_t part = rows * (d + 2);
    float *pa = malloc(part * sizeof(float)), *pb = malloc(part * sizeof(float));
    float *scratch = malloc(kestrel_decode_scratch_floats(rows, d) * sizeof(float));
    float *oa = malloc(rows * d * sizeof(float)), *ob = malloc(rows * d * sizeof(float));
    float *la = malloc(rows * sizeof(float)), *lb = malloc(rows * sizeof(float));
    kestrel_decode_args a = {0};
    a.d = d; a.nq = c->nq; a.group = c->group; a.kv_heads = H; a.q = q; a.q_stride = d; a.dtype = c->dtype;
    a.k_blocks = kp; a.v_blocks = vp; a.k_scales = ksp; a.v_scales = vsp; a.block_tokens = bt;
    a.row_stride = c->token_major ? H * d : d;
    a.head_stride = c->token_major ? d : bt * d;
    a.scale_stride = c->token_major ? H : 1;
    a.head_scale_stride = c->token_major ? 1 : bt;
    a.lo = c->lo; a.hi = c->hi;
    a.scale = 1.0f / sqrtf((float)d); a.causal = c->causal; a.diag = (ptrdiff_t)(c->n - c->nq);
    a.window_left = c->window; a.sink = c->sink; a.scratch = scratch;
    a.acc = pa; a.m = pa + rows * d; a.l = pa + rows * d + rows;
    const kestrel_status st = fn(&a);
    a.acc = pb; a.m = pb + rows * d; a.l = pb + rows * d + rows;
    const kestrel_status st_ref = ref(&a);
    check(st == KESTREL_OK && st_ref == KESTREL_OK, "status %d (scalar %d)", (int)st, (int)st_ref);
    kestrel_decode_merge_f32(rows, d, 1, pa, oa, d, la);
    kestrel_decode_merge_f32(rows, d, 1, pb, ob, d, lb);
    /* Double-precision reference over the stored values. */
    double *sc = malloc((c->n + 1) * sizeof(double));
    for (size_t r = 0; r < rows; r++) {
        const size_t i = r % c->nq, h = r / hrows;
        double mx = -INFINITY;
        for (size_t j = c->lo; j < c->hi; j++) {
            sc[j] = -INFINITY;
            if (!visible(c, i, j)) continue;
            double dot = 0;
            for (size_t t = 0; t < d; t++) dot += (double)q[r * d + t] * stored(c, kb, ks, h, j, t);
            sc[j] = dot * (double)a.scale;
            if (sc[j] > mx) mx = sc[j];
        }
        double sum = 0;
        for (size_t j = c->lo; j < c->hi; j++) sum += sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
        const double want_lse = mx == -INFINITY ? -INFINITY : mx + log(sum);
        check(close_f(la[r], (float)want_lse, 2e-5 * (1 + fabs(want_lse))), "row %zu lse %g, want %g", r, la[r], want_lse);
        check(close_f(la[r], lb[r], 2e-5 * (1 + fabs((double)lb[r]))), "row %zu lse %g, scalar %g", r, la[r], lb[r]);
        for (size_t t = 0; t < d; t++) {
            double o = 0;
            if (mx != -INFINITY)
                for (size_t j = c->lo; j < c->hi; j++)
                    if (sc[j] != -INFINITY) o += exp(sc[j] - mx) / sum * stored(c, vb, vs, h, j, t);
            const double scale_v = c->dtype == KESTREL_KV_I8 ? 127 * 0.02 : 1;
            if (!check(close_f(oa[r * d + t], (float)o, 2e-5 * scale_v), "row %zu col %zu: %g, want %g", r, t, oa[r * d + t], o))
                break;
            check(close_f(oa[r * d + t], ob[r * d + t], 2e-5 * scale_v), "row %zu col %zu: %g, scalar %g", r, t, oa[r * d + t],
                  ob[r * d + t]);
        }
    }
    free(sc); free(kraw); free(vraw); free(ks); free(vs); free(qraw); free(kp); free(vp); free(ksp); free(vsp);
    free(pa); free(pb); free(scratch); free(oa); free(ob); free(la); free(lb);
}

void test_decode(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    const decode_fn fn = FN(decode_fn, t, e->off), ref = FN(decode_fn, s, e->off);
    static const size_t dims[] = {1, 7, 16, 33, 64, 80, 128};
    static const char *const types[] = {"f32", "f16", "int8"};
    for (int dt = 0; dt < 3; dt++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (int shape = 0; shape < 10; shape++) {
                dcase_t c = {.d = dims[di], .dtype = dt, .causal = 1, .window = -1, .heads = 1};
                switch (shape) {
                case 0: c.nq = 1; c.group = 4; c.n = 1; c.bt = 16; break;                        /* one token */
                case 1: c.nq = 1; c.group = 4; c.n = 203; c.bt = 16; break;                      /* odd block fill */
                case 2: c.nq = 3; c.group = 2; c.n = 150; c.bt = 5; c.window = 40; break;        /* window, evicted blocks */
                case 3: c.nq = 8; c.group = 1; c.n = 97; c.bt = 7; c.window = 20; c.sink = 4; break; /* sinks */
                case 4: c.nq = 8; c.group = 3; c.n = 8; c.bt = 3; c.causal = 0; break;           /* nq = n, no mask */
                case 5: c.nq = 2; c.group = 2; c.n = 300; c.bt = 16; break;                      /* a split: part of the range */
                case 6: c.nq = 1; c.group = 4; c.n = 259; c.bt = 16; c.heads = 2; c.token_major = 1; break; /* contiguous, GQA 8/2 */
                case 7: c.nq = 2; c.group = 3; c.n = 181; c.bt = 16; c.heads = 3; break;         /* heads of a paged block, 6 rows/head */
                case 8: c.nq = 5; c.group = 1; c.n = 133; c.bt = 1; c.heads = 2; c.window = 30; c.sink = 3; break; /* 1-token blocks */
                default: c.nq = 1; c.group = 2; c.n = 77; c.bt = 70; c.heads = 2; c.token_major = 1; c.causal = 0; break;
                }
                c.lo = shape == 5 ? 37 : 0;
                c.hi = shape == 5 ? 201 : c.n;
                set_ctx("%s d=%zu nq=%zu group=%zu heads=%zu%s n=%zu block=%zu window=%td sink=%zu [%zu,%zu)", types[dt], c.d,
                        c.nq, c.group, c.heads, c.token_major ? " token-major" : "", c.n, c.bt, c.window, c.sink, c.lo, c.hi);
                run_case(&c, fn, ref, (unsigned)(shape & 1), (unsigned)(shape % 3));
            }

    set_ctx("empty range and bad arguments");
    float q[8] = {0}, acc[8], m[1], l[1], scratch[(1 + 8 + 2) * KESTREL_DECODE_CHUNK];
    kestrel_decode_args a = {0};
    a.d = 8; a.nq = 1; a.group = 1; a.kv_heads = 1; a.q = q; a.q_stride = 8; a.block_tokens = 4; a.row_stride = 8;
    a.acc = acc; a.m = m; a.l = l; a.scratch = scratch; a.lo = 3; a.hi = 3;
    check(fn(&a) == KESTREL_OK && m[0] == -INFINITY && l[0] == 0.0f && acc[7] == 0.0f, "empty range");
    kestrel_decode_args b = a;
    b.nq = 0;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "nq = 0");
    b = a; b.nq = KESTREL_DECODE_MAX_QUERIES + 1;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "nq too large");
    b = a; b.kv_heads = 0;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "kv_heads = 0");
    b = a; b.kv_heads = 2; b.head_stride = 7;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "head stride below d");
    b = a; b.group = SIZE_MAX / 2; b.kv_heads = 3;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "row count overflows");
    b = a; b.d = 0;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "d = 0");
    b = a; b.row_stride = 7;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "row stride below d");
    b = a; b.dtype = 9;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "unknown dtype");
    b = a; b.lo = 4; b.hi = 3;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "lo > hi");
    b = a; b.hi = 4;
    check(fn(&b) == KESTREL_ERR_NULL_POINTER, "no block table");
    const void *none[1] = {NULL};
    b.k_blocks = none; b.v_blocks = none;
    check(fn(&b) == KESTREL_ERR_INVALID_ARGUMENT, "visible token in an evicted block");
    check(fn(NULL) == KESTREL_ERR_NULL_POINTER, "NULL args");
}
