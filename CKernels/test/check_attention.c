/*
 * check_attention.c — the attention tile run (`attention_f32`): every tier, the scalar one included,
 * against a float64 brute-force reference, and every SIMD tier against the scalar tier, over head
 * dimensions 16…256 (multiples and non-multiples of every vector width), query/key lengths and
 * tile sizes that leave partial blocks, every mask (none, causal with an offset diagonal, sliding
 * window, key padding, an additive bias with -inf entries), f32/f16/bf16 K and V, row strides above
 * d, unaligned Q/K/V/scratch pointers, output and scratch flush against a guard page; plus the
 * argument errors and the empty cases.
 */
#include "neon_check.h"
#include "kestrel_attention.h"

typedef kestrel_status (*attention_fn)(const kestrel_attention_args *a);

enum { MASK_NONE, MASK_CAUSAL, MASK_WINDOW, MASK_CAUSAL_WINDOW, MASK_PADDING, MASK_BIAS, MASK_CAUSAL_BIAS, MASK_COUNT };
static const char *const k_mask_names[MASK_COUNT] = {"none", "causal", "window", "causal+window", "padding", "bias",
                                                     "causal+bias"};

/* Float64 reference of the header's contract for rows 0..nq-1 (all inputs already as f32 values). */
static void reference(const kestrel_attention_args *a, const float *kf, const float *vf, double *out, double *lse) {
    const size_t d = a->d;
    double *s = malloc((a->nk ? a->nk : 1) * sizeof(double));
    for (size_t r = 0; r < a->nq; r++) {
        ptrdiff_t pos = a->diag + (ptrdiff_t)r, hi = (ptrdiff_t)a->kv_len, lo = 0;
        if (a->causal && pos + 1 < hi) hi = pos + 1;
        if (a->window_left >= 0 && pos - a->window_left > lo) lo = pos - a->window_left;
        double mx = -INFINITY;
        for (ptrdiff_t j = lo; j < hi; j++) {
            double dot = 0;
            for (size_t t = 0; t < d; t++) dot += (double)a->q[r * a->q_stride + t] * kf[(size_t)j * d + t];
            s[j] = (double)a->scale * dot + (a->bias ? a->bias[r * a->bias_stride + (size_t)j] : 0.0);
            if (s[j] > mx) mx = s[j];
        }
        for (size_t t = 0; t < d; t++) out[r * d + t] = 0;
        if (mx == -INFINITY) {
            lse[r] = -INFINITY;
            continue;
        }
        double sum = 0;
        for (ptrdiff_t j = lo; j < hi; j++) {
            double p = exp(s[j] - mx);
            sum += p;
            for (size_t t = 0; t < d; t++) out[r * d + t] += p * vf[(size_t)j * d + t];
        }
        for (size_t t = 0; t < d; t++) out[r * d + t] /= sum;
        lse[r] = mx + log(sum);
    }
    free(s);
}

/* Largest |got - want| / tol over outputs and log-sum-exp; -inf must match exactly. */
static double compare(const kestrel_attention_args *a, const float *o, const float *lse, const double *ro,
                      const double *rl, size_t *bad_row) {
    double worst = 0;
    *bad_row = SIZE_MAX;
    for (size_t r = 0; r < a->nq; r++) {
        double w = 0;
        for (size_t t = 0; t < a->d; t++) {
            double e = fabs((double)o[r * a->o_stride + t] - ro[r * a->d + t]) / 2e-5;
            if (!(e <= w)) w = e; /* NaN counts as a failure */
        }
        if (isinf(rl[r])) {
            if (!(isinf(lse[r]) && lse[r] < 0)) w = INFINITY;
        } else {
            double e = fabs((double)lse[r] - rl[r]) / (2e-5 * (1 + fabs(rl[r])));
            if (!(e <= w)) w = e;
        }
        if (!(w <= worst)) {
            worst = w;
            if (w > 1) *bad_row = r;
        }
    }
    return worst;
}

static void one_case(attention_fn ft, attention_fn fs, size_t nq, size_t nk, size_t d, size_t bq, size_t bk, int mask,
                     int fmt, int unaligned) {
    set_ctx("nq=%zu nk=%zu d=%zu blocks=%zux%zu mask=%s kv=%s unaligned=%d", nq, nk, d, bq, bk, k_mask_names[mask],
            fmt == FMT_F16 ? "f16" : fmt == FMT_BF16 ? "bf16" : "f32", unaligned);
    const size_t qs = d + (unaligned ? 3 : 0), ks = d + (unaligned ? 1 : 0), es = fmt_size(fmt);
    float *q = place(AR_A, nq * qs * 4, lay_off(unaligned ? 1 : 0, 4));
    unsigned char *kvbase = place(AR_B, 2 * nk * ks * es + 64, lay_off(unaligned ? 3 : 0, es));
    unsigned char *kp = kvbase, *vp = kvbase + nk * ks * es;
    float *kf = malloc((nk ? nk : 1) * d * sizeof(float)), *vf = malloc((nk ? nk : 1) * d * sizeof(float));
    for (size_t i = 0; i < nq * qs; i++) q[i] = rnd_range(-1, 1);
    for (size_t j = 0; j < nk; j++) {
        gen_float(DS_UNIFORM, fmt, kf + j * d, vf + j * d, d); /* values representable in fmt */
        store_fmt(fmt, kp + j * ks * es, kf + j * d, d);
        store_fmt(fmt, vp + j * ks * es, vf + j * d, d);
    }
    float *bias = NULL;
    const size_t bs = nk + 2;
    if (mask == MASK_BIAS || mask == MASK_CAUSAL_BIAS) {
        bias = malloc((nq ? nq : 1) * bs * sizeof(float));
        for (size_t i = 0; i < nq * bs; i++) bias[i] = rnd_below(9) == 0 ? -INFINITY : rnd_range(-2, 2);
    }
    kestrel_attention_args a;
    memset(&a, 0, sizeof a);
    a.nq = nq, a.nk = nk, a.d = d;
    a.q = q, a.q_stride = qs;
    a.k_stride = ks, a.v_stride = ks;
    if (fmt == FMT_F32) a.k = (const float *)kp, a.v = (const float *)vp;
    else a.k16 = (const uint16_t *)kp, a.v16 = (const uint16_t *)vp;
    a.kv_format = fmt == FMT_F16 ? KESTREL_ATTENTION_KV_F16 : fmt == FMT_BF16 ? KESTREL_ATTENTION_KV_BF16 : KESTREL_ATTENTION_KV_F32;
    a.o_stride = d;
    a.bias = bias, a.bias_stride = bs;
    a.scale = (float)(1.0 / sqrt((double)d)) * (0.5f + (float)rnd_unit());
    a.causal = mask == MASK_CAUSAL || mask == MASK_CAUSAL_WINDOW || mask == MASK_CAUSAL_BIAS;
    a.diag = (ptrdiff_t)nk - (ptrdiff_t)nq + (ptrdiff_t)rnd_below(5) - 2;
    a.window_left = mask == MASK_WINDOW ? (ptrdiff_t)rnd_below(6) : mask == MASK_CAUSAL_WINDOW ? 10 : -1;
    a.kv_len = mask == MASK_PADDING ? nk / 2 + rnd_below(nk / 2 + 1) : nk;
    a.block_q = bq, a.block_k = bk;
    const size_t sf = kestrel_attention_scratch_floats(bq, bk, d);
    check(sf > 0, "scratch size 0");

    double *ro = malloc((nq ? nq : 1) * d * sizeof(double)), *rl = malloc((nq ? nq : 1) * sizeof(double));
    reference(&a, kf, vf, ro, rl);
    float *lse = malloc((nq ? nq : 1) * sizeof(float)), *lse_s = malloc((nq ? nq : 1) * sizeof(float));
    float *os = malloc((nq ? nq : 1) * d * sizeof(float));

    /* the scalar tier (into a plain buffer) */
    a.scratch = place(AR_OUT2, sf * 4, END);
    a.o = os, a.lse = lse_s;
    kestrel_status st_s = fs(&a);
    /* the tier under test: output flush against the guard page, scratch too (unaligned when sf is odd) */
    float *o = place(AR_OUT, nq * d * 4, END);
    guard_t g = guard_set(AR_OUT, o, nq * d * 4);
    a.o = o, a.lse = lse;
    kestrel_status st_t = ft(&a);
    guard_ok(&g);
    check(st_t == KESTREL_OK && st_s == KESTREL_OK, "status %d (scalar %d)", st_t, st_s);

    size_t bad;
    double w = compare(&a, o, lse, ro, rl, &bad);
    note_ratio(w, 1.0);
    check(w <= 1, "vs float64: %.3g × tolerance at row %zu (lse %.9g, ref %.9g)", w, bad, bad < nq ? lse[bad] : 0.0,
          bad < nq ? rl[bad] : 0.0);
    /* against the scalar tier */
    double *so = malloc((nq ? nq : 1) * d * sizeof(double)), *sl = malloc((nq ? nq : 1) * sizeof(double));
    for (size_t i = 0; i < nq * d; i++) so[i] = os[i];
    for (size_t i = 0; i < nq; i++) sl[i] = lse_s[i];
    w = compare(&a, o, lse, so, sl, &bad);
    check(w <= 1, "vs scalar tier: %.3g × tolerance at row %zu", w, bad);
    /* lse = NULL is allowed and must not change the output */
    a.lse = NULL;
    float *o2 = place(AR_OUT, nq * d * 4, lay_off(1, 4));
    a.o = o2;
    check(ft(&a) == KESTREL_OK, "lse = NULL refused");
    size_t diff = 0;
    for (size_t i = 0; i < nq * d; i++) diff += !same_f(o[i], o2[i]);
    check(diff == 0, "output with lse = NULL differs at %zu elements", diff);
    free(so), free(sl), free(ro), free(rl), free(lse), free(lse_s), free(os), free(kf), free(vf), free(bias);
}

void test_attention(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    attention_fn ft = FN(attention_fn, t, e->off), fs = FN(attention_fn, s, e->off);
    static const size_t dims[] = {16, 17, 24, 33, 64, 80, 100, 128, 200, 256};
    static const size_t lens[][2] = {{1, 1}, {1, 77}, {77, 77}, {5, 130}, {130, 40}, {64, 64}, {33, 100}};
    static const size_t blocks[][2] = {{1, 1}, {7, 5}, {16, 32}, {64, 128}, {33, 17}, {24, 64}};
    const size_t nl = sizeof lens / sizeof lens[0], nb = sizeof blocks / sizeof blocks[0];
    size_t k = 0;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        const size_t d = dims[di];
        /* every mask and every K/V format at every d; shapes, tiles and alignment cycle through */
        for (int mask = 0; mask < MASK_COUNT; mask++) {
            for (int fmt = FMT_F32; fmt <= FMT_BF16; fmt++) {
                if (fmt != FMT_F32 && (mask + (int)di) % 3 != 0) continue; /* f16/bf16: a third of the masks */
                const size_t *len = lens[(k * 5 + di) % nl], *blk = blocks[(k * 7 + (size_t)mask) % nb];
                const size_t nq = d >= 200 && len[0] > 64 ? len[0] / 2 : len[0];
                one_case(ft, fs, nq, len[1], d, blk[0], blk[1], mask, fmt, (int)(k % 3 != 0));
                k++;
            }
        }
    }
    /* tiles far larger than the problem, one key per tile, and long rows */
    one_case(ft, fs, 3, 2, 64, 128, 256, MASK_NONE, FMT_F32, 1);
    one_case(ft, fs, 40, 300, 64, 40, 1, MASK_CAUSAL, FMT_F32, 1);
    one_case(ft, fs, 96, 96, 128, 48, 48, MASK_CAUSAL, FMT_F32, 0);

    /* nk = 0: every row sees nothing -> output 0, lse -inf */
    set_ctx("nk=0");
    {
        float q[64], o[64], lse[4], scratch[4096];
        for (int i = 0; i < 64; i++) q[i] = 1.0f, o[i] = NAN;
        kestrel_attention_args a;
        memset(&a, 0, sizeof a);
        a.nq = 4, a.d = 16, a.q = q, a.q_stride = 16, a.o = o, a.o_stride = 16, a.lse = lse, a.scale = 1;
        a.block_q = 4, a.block_k = 4, a.scratch = scratch, a.window_left = -1;
        check(kestrel_attention_scratch_floats(4, 4, 16) <= 4096, "scratch");
        check(ft(&a) == KESTREL_OK, "status");
        int ok = 1;
        for (int i = 0; i < 64; i++) ok &= o[i] == 0.0f;
        for (int i = 0; i < 4; i++) ok &= isinf(lse[i]) && lse[i] < 0;
        check(ok, "rows without keys are not 0 / -inf");
    }
}

/* Argument errors and nq = 0: the documented status, the same as the scalar tier's. */
void test_attention_empty(const entry_t *e, const kestrel_kernel_table *t) {
    attention_fn ft = FN(attention_fn, t, e->off);
    float buf[8192];
    for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) buf[i] = 0.5f;
    kestrel_attention_args ok;
    memset(&ok, 0, sizeof ok);
    ok.nq = 2, ok.nk = 3, ok.d = 16;
    ok.q = buf, ok.q_stride = 16, ok.k = buf + 100, ok.k_stride = 16, ok.v = buf + 200, ok.v_stride = 16;
    ok.o = buf + 300, ok.o_stride = 16, ok.scale = 1, ok.window_left = -1, ok.kv_len = 3;
    ok.block_q = 2, ok.block_k = 2, ok.scratch = buf + 400;
    set_ctx("valid call");
    check(ft(&ok) == KESTREL_OK, "valid arguments refused");
    set_ctx("errors");
    check(ft(NULL) == KESTREL_ERR_NULL_POINTER, "NULL args");
    kestrel_attention_args a;
#define EXPECT(field_change, want)                                                       \
    do {                                                                                 \
        a = ok;                                                                          \
        field_change;                                                                    \
        kestrel_status got = ft(&a);                                                     \
        check(got == (want), "%s: status %d, expected %d", #field_change, got, (want)); \
    } while (0)
    EXPECT(a.d = 0, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.block_q = 0, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.block_k = 0, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.kv_len = 4, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.kv_format = 3, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.q_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.k_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.o_stride = 15, KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT((a.bias = buf, a.bias_stride = 2), KESTREL_ERR_INVALID_ARGUMENT);
    EXPECT(a.q = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.v = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.o = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.scratch = NULL, KESTREL_ERR_NULL_POINTER);
    EXPECT(a.kv_format = KESTREL_ATTENTION_KV_F16, KESTREL_ERR_NULL_POINTER); /* k16 / v16 missing */
    EXPECT(a.block_q = SIZE_MAX / 2, KESTREL_ERR_INVALID_ARGUMENT);         /* scratch size overflows */
    EXPECT((a.nq = 0, a.q = NULL, a.o = NULL, a.scratch = NULL), KESTREL_OK);
#undef EXPECT
}
