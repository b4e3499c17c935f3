/*
 * check_qdot.c — quantized block dots, int8 GEMV and GEMM: every tier against the scalar one and
 * against an independent double-precision (block dots) or exact integer (GEMV, GEMM) reference,
 * on random blocks (random codes, random finite fp16 scales), odd block counts, unaligned
 * pointers and -128 codes (the x86 sign trick's exception).
 */
#include "neon_check.h"

typedef float (*qdot_q8_0_fn)(const kestrel_block_q8_0 *, const kestrel_block_q8_0 *, size_t);
typedef float (*qdot_q4_0_fn)(const kestrel_block_q4_0 *, const kestrel_block_q8_0 *, size_t);
typedef float (*qdot_q4_K_fn)(const kestrel_block_q4_K *, const kestrel_block_q8_K *, size_t);
typedef float (*qdot_q6_K_fn)(const kestrel_block_q6_K *, const kestrel_block_q8_K *, size_t);
typedef kestrel_status (*gemv_i8_fn)(const int8_t *, size_t, size_t, size_t, const float *, const int8_t *, float,
                                     float *);
typedef kestrel_status (*gemm_i8_fn)(const int8_t *, size_t, size_t, size_t, const int8_t *, size_t, size_t,
                                     const float *, const float *, float *, size_t);

enum { QD_RAND, QD_EXTREME, QD_XMIN, QD_COUNT };
static const char *const k_qd_names[QD_COUNT] = {"random", "extremes(-128)", "x=-128"};

/* A random finite fp16 scale, |s| in [2^-12, 4), either sign. */
static uint16_t rnd_f16_scale(void) {
    float v = rnd_range(0.5, 1.0) * ldexpf(1.0f, (int)rnd_below(15) - 11) * rnd_sign();
    return kestrel_f32_to_f16_1(v);
}

static int8_t rnd_code(int ds, int is_x) {
    if (ds == QD_XMIN && is_x) return -128;
    if (ds == QD_EXTREME) return rnd_extreme_i8();
    int8_t v = (int8_t)rnd_u32();
    return (is_x && v == -128) ? -127 : v; /* random data: activations as kestrel's quantizers write them */
}

static void fill_q8_K(kestrel_block_q8_K *x, size_t nb, int ds) {
    for (size_t b = 0; b < nb; b++) {
        x[b].d = rnd_range(0.001, 2.0);
        for (int j = 0; j < 256; j++) x[b].qs[j] = rnd_code(ds, 1);
        for (int k = 0; k < 16; k++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += x[b].qs[16 * k + j];
            x[b].bsums[k] = (int16_t)s;
        }
    }
}

typedef kestrel_status (*gemv_q8_0_fn)(const kestrel_block_q8_0 *, size_t, size_t, const kestrel_block_q8_0 *, float *);
typedef kestrel_status (*gemv_q4_0_fn)(const kestrel_block_q4_0 *, size_t, size_t, const kestrel_block_q8_0 *, float *);

static void fill_q8_0(kestrel_block_q8_0 *x, size_t nb, int ds, int is_x) {
    for (size_t b = 0; b < nb; b++) {
        x[b].d = rnd_f16_scale();
        for (int j = 0; j < 32; j++) x[b].qs[j] = rnd_code(ds, is_x);
    }
}

static void fill_q4_0(kestrel_block_q4_0 *w, size_t nb) {
    for (size_t b = 0; b < nb; b++) {
        w[b].d = rnd_f16_scale();
        for (int j = 0; j < 16; j++) w[b].qs[j] = (uint8_t)rnd_u32();
    }
}

/* Double reference of a Q8_0 / Q4_0 row dot and sum |w_i x_i| (into *mag). */
static double ref_q8_0(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x, size_t nb, double *mag) {
    double ref = 0;
    *mag = 0;
    for (size_t b = 0; b < nb; b++) {
        int64_t is = 0, ia = 0;
        for (int j = 0; j < 32; j++) {
            is += (int64_t)w[b].qs[j] * x[b].qs[j];
            ia += llabs((int64_t)w[b].qs[j] * x[b].qs[j]);
        }
        double dd = (double)kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d);
        ref += dd * (double)is, *mag += fabs(dd) * (double)ia;
    }
    return ref;
}

static double ref_q4_0(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x, size_t nb, double *mag) {
    double ref = 0;
    *mag = 0;
    for (size_t b = 0; b < nb; b++) {
        int64_t is = 0, ia = 0;
        for (int j = 0; j < 16; j++) {
            int64_t p0 = (int64_t)((w[b].qs[j] & 15) - 8) * x[b].qs[j];
            int64_t p1 = (int64_t)((w[b].qs[j] >> 4) - 8) * x[b].qs[j + 16];
            is += p0 + p1, ia += llabs(p0) + llabs(p1);
        }
        double dd = (double)kestrel_f16_to_f32_1(w[b].d) * kestrel_f16_to_f32_1(x[b].d);
        ref += dd * (double)is, *mag += fabs(dd) * (double)ia;
    }
    return ref;
}

static const size_t k_nblocks[] = {1, 2, 3, 5, 8, 17, 64};
static const long k_boffs[] = {END, 1, 3};

/* Block dots: scalar within (nb + 4) 2^-23 sum|w_i x_i| (dequantized products) of the double reference, the tier within twice that of scalar. */
static void test_block_dot(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    for (size_t ni = 0; ni < sizeof k_nblocks / sizeof k_nblocks[0]; ni++) {
        const size_t nb = k_nblocks[ni];
        for (size_t li = 0; li < sizeof k_boffs / sizeof k_boffs[0]; li++) {
            for (int ds = 0; ds < QD_COUNT; ds++) {
                set_ctx("nblocks=%zu offset=%ld data=%s", nb, k_boffs[li], k_qd_names[ds]);
                double ref = 0, mag = 0;
                float got = 0, want = 0;
                if (e->kind == K_QDOT_Q8_0 || e->kind == K_QDOT_Q4_0) {
                    kestrel_block_q8_0 *x = place(AR_B, nb * sizeof *x, k_boffs[li] == END ? END : k_boffs[li] + 1);
                    fill_q8_0(x, nb, ds, 1);
                    if (e->kind == K_QDOT_Q8_0) {
                        kestrel_block_q8_0 *w = place(AR_A, nb * sizeof *w, k_boffs[li]);
                        fill_q8_0(w, nb, ds, 0);
                        ref = ref_q8_0(w, x, nb, &mag);
                        got = FN(qdot_q8_0_fn, t, e->off)(w, x, nb);
                        want = FN(qdot_q8_0_fn, s, e->off)(w, x, nb);
                    } else {
                        kestrel_block_q4_0 *w = place(AR_A, nb * sizeof *w, k_boffs[li]);
                        fill_q4_0(w, nb);
                        ref = ref_q4_0(w, x, nb, &mag);
                        got = FN(qdot_q4_0_fn, t, e->off)(w, x, nb);
                        want = FN(qdot_q4_0_fn, s, e->off)(w, x, nb);
                    }
                } else {
                    kestrel_block_q8_K *x = place(AR_B, nb * sizeof *x, k_boffs[li] == END ? END : k_boffs[li] + 2);
                    fill_q8_K(x, nb, ds);
                    if (e->kind == K_QDOT_Q4_K) {
                        kestrel_block_q4_K *w = place(AR_A, nb * sizeof *w, k_boffs[li]);
                        for (size_t b = 0; b < nb; b++) {
                            w[b].d = rnd_f16_scale();
                            w[b].dmin = rnd_f16_scale();
                            for (int j = 0; j < 12; j++) w[b].scales[j] = (uint8_t)rnd_u32();
                            for (int j = 0; j < 128; j++) w[b].qs[j] = (uint8_t)rnd_u32();
                            /* independent unpacking, straight from the layout in the fixture README */
                            const uint8_t *sb = w[b].scales;
                            double dd = kestrel_f16_to_f32_1(w[b].d), dm = kestrel_f16_to_f32_1(w[b].dmin);
                            for (int e2 = 0; e2 < 256; e2++) {
                                int j = e2 / 32, c = e2 / 64, l = e2 % 32, high = (e2 % 64) >= 32;
                                int sc = j < 4 ? (sb[j] & 63) : ((sb[j + 4] & 0xF) | ((sb[j - 4] >> 6) << 4));
                                int mn = j < 4 ? (sb[j + 4] & 63) : ((sb[j + 4] >> 4) | ((sb[j] >> 6) << 4));
                                int q = high ? (w[b].qs[32 * c + l] >> 4) : (w[b].qs[32 * c + l] & 15);
                                double xv = (double)x[b].d * x[b].qs[e2];
                                ref += (dd * sc * q - dm * mn) * xv;
                                mag += (fabs(dd * sc * q) + fabs(dm * mn)) * fabs(xv); /* the two terms round apart */
                            }
                        }
                        got = FN(qdot_q4_K_fn, t, e->off)(w, x, nb);
                        want = FN(qdot_q4_K_fn, s, e->off)(w, x, nb);
                    } else {
                        kestrel_block_q6_K *w = place(AR_A, nb * sizeof *w, k_boffs[li]);
                        for (size_t b = 0; b < nb; b++) {
                            w[b].d = rnd_f16_scale();
                            for (int j = 0; j < 128; j++) w[b].ql[j] = (uint8_t)rnd_u32();
                            for (int j = 0; j < 64; j++) w[b].qh[j] = (uint8_t)rnd_u32();
                            for (int j = 0; j < 16; j++) w[b].scales[j] = rnd_code(ds, 0);
                            double dd = kestrel_f16_to_f32_1(w[b].d);
                            for (int e2 = 0; e2 < 256; e2++) {
                                int h = e2 / 128, r = e2 % 128, quarter = r / 32, l = r % 32;
                                const uint8_t *L = w[b].ql + 64 * h, *H = w[b].qh + 32 * h;
                                int lo = quarter == 0 ? (L[l] & 15) : quarter == 1 ? (L[l + 32] & 15)
                                       : quarter == 2 ? (L[l] >> 4) : (L[l + 32] >> 4);
                                int hi = (H[l] >> (2 * quarter)) & 3;
                                int code = lo | (hi << 4);
                                double term = dd * w[b].scales[e2 / 16] * (code - 32) * (double)x[b].d * x[b].qs[e2];
                                ref += term, mag += fabs(term);
                            }
                        }
                        got = FN(qdot_q6_K_fn, t, e->off)(w, x, nb);
                        want = FN(qdot_q6_K_fn, s, e->off)(w, x, nb);
                    }
                }
                const double tol = ((double)nb + 4.0) * 0x1p-23 * mag + 1e-30;
                check(close_f(want, (float)ref, tol), "scalar %.9g, double reference %.9g (tol %.3g)", want, ref, tol);
                check(close_f(got, want, 2 * tol), "got %.9g, scalar %.9g (tol %.3g)", got, want, 2 * tol);
            }
        }
    }
}

/*
 * Q6_K blocks whose codes are all 32 (weights exactly 0) under large scales: the -32 offset must
 * cancel the products exactly, so every tier returns exactly 0 (a tier that converted lanes mixing
 * products and offsets to f32 before summing them would not).
 */
static void test_q6_K_zero_weights(const entry_t *e, const kestrel_kernel_table *t) {
    for (size_t nb = 1; nb <= 5; nb += 2) {
        set_ctx("nblocks=%zu all codes 32", nb);
        kestrel_block_q8_K *x = place(AR_B, nb * sizeof *x, 2);
        fill_q8_K(x, nb, QD_RAND);
        kestrel_block_q6_K *w = place(AR_A, nb * sizeof *w, 1);
        for (size_t b = 0; b < nb; b++) {
            memset(w[b].ql, 0, sizeof w[b].ql);
            memset(w[b].qh, 0xAA, sizeof w[b].qh); /* every 2-bit high field 2: code 32 */
            for (int k = 0; k < 16; k++) w[b].scales[k] = (int8_t)(k & 1 ? 127 : -128);
            w[b].d = kestrel_f32_to_f16_1(3.0f);
        }
        const float got = FN(qdot_q6_K_fn, t, e->off)(w, x, nb);
        check(fbits(got) == fbits(0.0f), "got %.9g for zero weights", got);
    }
}

/* Block GEMVs: every row within twice the dot bound of its double reference (rows 4 at a time on x86). */
static void test_block_gemv(const entry_t *e, const kestrel_kernel_table *t) {
    static const size_t rows_set[] = {1, 3, 4, 5, 9};
    static const size_t nb_set[] = {1, 3, 8, 17};
    float *y = g_fr;
    for (size_t ri = 0; ri < sizeof rows_set / sizeof rows_set[0]; ri++)
        for (size_t ni = 0; ni < sizeof nb_set / sizeof nb_set[0]; ni++)
            for (size_t li = 0; li < 2; li++)
                for (int ds = 0; ds < QD_COUNT; ds++) {
                    const size_t rows = rows_set[ri], nb = nb_set[ni];
                    const long off = li ? 3 : END;
                    set_ctx("rows=%zu nblocks=%zu offset=%ld data=%s", rows, nb, off, k_qd_names[ds]);
                    kestrel_block_q8_0 *x = place(AR_B, nb * sizeof *x, off);
                    fill_q8_0(x, nb, ds, 1);
                    float *out = place(AR_OUT, rows * sizeof(float), li ? 4 : END);
                    guard_t g = guard_set(AR_OUT, out, rows * sizeof(float));
                    kestrel_status st;
                    const void *w;
                    if (e->kind == K_GEMV_Q8_0) {
                        kestrel_block_q8_0 *wq = place(AR_A, rows * nb * sizeof *wq, off);
                        fill_q8_0(wq, rows * nb, ds, 0);
                        st = FN(gemv_q8_0_fn, t, e->off)(wq, rows, nb, x, out);
                        w = wq;
                    } else {
                        kestrel_block_q4_0 *wq = place(AR_A, rows * nb * sizeof *wq, off);
                        fill_q4_0(wq, rows * nb);
                        st = FN(gemv_q4_0_fn, t, e->off)(wq, rows, nb, x, out);
                        w = wq;
                    }
                    check(st == KESTREL_OK, "status %d", (int)st);
                    guard_ok(&g);
                    memcpy(y, out, rows * sizeof(float));
                    for (size_t r = 0; r < rows; r++) {
                        double mag, ref = e->kind == K_GEMV_Q8_0
                                              ? ref_q8_0((const kestrel_block_q8_0 *)w + r * nb, x, nb, &mag)
                                              : ref_q4_0((const kestrel_block_q4_0 *)w + r * nb, x, nb, &mag);
                        const double tol = 2.0 * ((double)nb + 4.0) * 0x1p-23 * mag + 1e-30;
                        check(close_f(y[r], (float)ref, tol), "row %zu: got %.9g, double reference %.9g (tol %.3g)", r,
                              y[r], ref, tol);
                    }
                }
    set_ctx("status");
    kestrel_block_q8_0 one = {0};
    kestrel_status st = e->kind == K_GEMV_Q8_0 ? FN(gemv_q8_0_fn, t, e->off)(&one, 1, 1, &one, NULL)
                                               : FN(gemv_q4_0_fn, t, e->off)(NULL, 1, 1, &one, g_fr);
    check(st == KESTREL_ERR_NULL_POINTER, "status %d for a NULL pointer", (int)st);
}

static int64_t exact_dot(const int8_t *a, const int8_t *b, size_t n) {
    int64_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int64_t)a[i] * b[i];
    return s;
}

static void test_gemv(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    static const size_t rows_set[] = {1, 2, 3, 4, 5, 9, 70};
    static const size_t cols_set[] = {1, 7, 31, 32, 33, 64, 65, 100, 1000};
    float *rs = g_fa, *yw = g_fr;
    for (size_t ri = 0; ri < sizeof rows_set / sizeof rows_set[0]; ri++)
        for (size_t ci = 0; ci < sizeof cols_set / sizeof cols_set[0]; ci++)
            for (int pad = 0; pad <= 5; pad += 5)
                for (int ds = 0; ds < QD_COUNT; ds++) {
                    const size_t rows = rows_set[ri], cols = cols_set[ci], stride = cols + (size_t)pad;
                    set_ctx("rows=%zu cols=%zu stride=%zu data=%s", rows, cols, stride, k_qd_names[ds]);
                    int8_t *w = place(AR_A, rows * stride, pad ? 3 : END);
                    int8_t *x = place(AR_B, cols, pad ? 1 : END);
                    float *y = place(AR_OUT, rows * sizeof(float), pad ? 4 : END);
                    for (size_t i = 0; i < rows * stride; i++) w[i] = rnd_code(ds, 0);
                    for (size_t i = 0; i < cols; i++) x[i] = rnd_code(ds, 1);
                    if (ds == QD_RAND && cols > 3) x[cols / 2] = -128; /* one -128 among random codes */
                    for (size_t r = 0; r < rows; r++) rs[r] = rnd_range(0.01, 2.0);
                    const float xs = rnd_range(0.01, 2.0);
                    guard_t g = guard_set(AR_OUT, y, rows * sizeof(float));
                    kestrel_status st = FN(gemv_i8_fn, t, e->off)(w, rows, cols, stride, rs, x, xs, y);
                    check(st == KESTREL_OK, "status %d", (int)st);
                    guard_ok(&g);
                    FN(gemv_i8_fn, s, e->off)(w, rows, cols, stride, rs, x, xs, yw);
                    int bad = 0;
                    for (size_t r = 0; r < rows && !bad; r++) {
                        float exact = (rs[r] * xs) * (float)exact_dot(w + r * stride, x, cols);
                        if (fbits(y[r]) != fbits(exact) || fbits(yw[r]) != fbits(exact)) {
                            bad = 1;
                            check(0, "row %zu: got %.9g, scalar %.9g, exact %.9g", r, y[r], yw[r], exact);
                        }
                    }
                    if (!bad) check(1, "%s", "");
                }
    set_ctx("status");
    int8_t one = 1;
    float sc = 1, out = 0;
    check(FN(gemv_i8_fn, t, e->off)(&one, 1, 2, 1, &sc, &one, 1, &out) == KESTREL_ERR_INVALID_ARGUMENT, "stride < cols");
    check(FN(gemv_i8_fn, t, e->off)(&one, 1, KESTREL_QGEMV_MAX_COLS + 1, KESTREL_QGEMV_MAX_COLS + 1, &sc, &one, 1, &out) ==
              KESTREL_ERR_INVALID_ARGUMENT, "cols > max");
    check(FN(gemv_i8_fn, t, e->off)(NULL, 1, 1, 1, &sc, &one, 1, &out) == KESTREL_ERR_NULL_POINTER, "NULL w");
    check(FN(gemv_i8_fn, t, e->off)(&one, 1, 0, 0, &sc, NULL, 1, &out) == KESTREL_OK && out == 0.0f, "cols = 0");
}

static void test_gemm(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 4, 32}, {5, 9, 33}, {2, 70, 100}, {7, 3, 1000}, {3, 300, 700}};
    float *rs = g_fa, *cs = g_fb, *cw = g_fr;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int pad = 0; pad <= 1; pad++)
            for (int ds = 0; ds < QD_COUNT; ds++) {
                const size_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
                const size_t lda = k + 2 * (size_t)pad, ldb = k + (size_t)pad, ldc = n + 3 * (size_t)pad;
                set_ctx("m=%zu n=%zu k=%zu pad=%d data=%s", m, n, k, pad, k_qd_names[ds]);
                int8_t *a = place(AR_A, m * lda, pad ? 1 : END);
                int8_t *b = place(AR_B, n * ldb, pad ? 2 : END);
                float *c = place(AR_OUT, m * ldc * sizeof(float), pad ? 4 : END);
                for (size_t i = 0; i < m * lda; i++) a[i] = rnd_code(ds, 1);
                for (size_t i = 0; i < n * ldb; i++) b[i] = rnd_code(ds, 0);
                for (size_t i = 0; i < m; i++) rs[i] = rnd_range(0.01, 2.0);
                for (size_t j = 0; j < n; j++) cs[j] = rnd_range(0.01, 2.0);
                guard_t g = guard_set(AR_OUT, c, m * ldc * sizeof(float));
                kestrel_status st = FN(gemm_i8_fn, t, e->off)(a, m, k, lda, b, n, ldb, rs, cs, c, ldc);
                check(st == KESTREL_OK, "status %d", (int)st);
                guard_ok(&g);
                FN(gemm_i8_fn, s, e->off)(a, m, k, lda, b, n, ldb, rs, cs, cw, ldc);
                int bad = 0;
                for (size_t i = 0; i < m && !bad; i++)
                    for (size_t j = 0; j < n && !bad; j++) {
                        float exact = (rs[i] * cs[j]) * (float)exact_dot(a + i * lda, b + j * ldb, k);
                        if (fbits(c[i * ldc + j]) != fbits(exact) || fbits(cw[i * ldc + j]) != fbits(exact)) {
                            bad = 1;
                            check(0, "(%zu,%zu): got %.9g, scalar %.9g, exact %.9g", i, j, c[i * ldc + j], cw[i * ldc + j], exact);
                        }
                    }
                if (!bad) check(1, "%s", "");
            }
    set_ctx("status");
    int8_t one = 1;
    float sc = 1, out = 0;
    check(FN(gemm_i8_fn, t, e->off)(&one, 1, 2, 1, &one, 1, 2, &sc, &sc, &out, 1) == KESTREL_ERR_INVALID_ARGUMENT, "lda < k");
    check(FN(gemm_i8_fn, t, e->off)(&one, 1, 1, 1, &one, 2, 1, &sc, &sc, &out, 1) == KESTREL_ERR_INVALID_ARGUMENT, "ldc < n");
    check(FN(gemm_i8_fn, t, e->off)(&one, 1, 1, 1, &one, 1, 1, NULL, &sc, &out, 1) == KESTREL_ERR_NULL_POINTER, "NULL scales");
}

void test_qdot_empty(const entry_t *e, const kestrel_kernel_table *t) {
    float got = -1.0f;
    switch (e->kind) {
    case K_QDOT_Q8_0: got = FN(qdot_q8_0_fn, t, e->off)(NULL, NULL, 0); break;
    case K_QDOT_Q4_0: got = FN(qdot_q4_0_fn, t, e->off)(NULL, NULL, 0); break;
    case K_QDOT_Q4_K: got = FN(qdot_q4_K_fn, t, e->off)(NULL, NULL, 0); break;
    case K_QDOT_Q6_K: got = FN(qdot_q6_K_fn, t, e->off)(NULL, NULL, 0); break;
    case K_GEMV_I8: got = (float)FN(gemv_i8_fn, t, e->off)(NULL, 0, 0, 0, NULL, NULL, 1.0f, NULL); break;
    case K_GEMM_I8: got = (float)FN(gemm_i8_fn, t, e->off)(NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL, NULL, 0); break;
    case K_GEMV_Q8_0: got = (float)FN(gemv_q8_0_fn, t, e->off)(NULL, 0, 0, NULL, NULL); break;
    case K_GEMV_Q4_0: got = (float)FN(gemv_q4_0_fn, t, e->off)(NULL, 0, 5, NULL, NULL); break;
    default: break;
    }
    check(fbits(got) == fbits(0.0f), "got %.9g", got);
}

void test_qdot(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    if (e->kind == K_GEMV_I8) test_gemv(e, t, s);
    else if (e->kind == K_GEMM_I8) test_gemm(e, t, s);
    else if (e->kind == K_GEMV_Q8_0 || e->kind == K_GEMV_Q4_0) test_block_gemv(e, t);
    else {
        test_block_dot(e, t, s);
        if (e->kind == K_QDOT_Q6_K) test_q6_K_zero_weights(e, t);
    }
}
