/*
 * decode_cpu_time.c — thread CPU time of the active tier's decode_partial on issue 18's problem (one new
 * token, GQA 8/2, D = 128, N cached tokens, causal; f32/f16/int8; token-major contiguous rows and paged
 * blocks of 16 in pool order), against a STREAM triad (3 × 160 MiB f64) and a plain read of the same K+V
 * buffers timed the same way in the same process, all variants interleaved per repetition, min per round.
 * For loaded machines, where wall-clock GB/s mean nothing; `kestrel attention-bench --cache` stays the
 * committed wall-clock command (Documentation/Benchmarks.md §14). Not part of the package. Build and run:
 *   clang -std=c11 -O2 -ICKernels/include -ICKernels [-DN=tokens] -o /tmp/decode_cpu_time \
 *       Benchmarks/c/decode_cpu_time.c CKernels/[a-z]*.c -lm -lpthread
 *   /tmp/decode_cpu_time [reps=20] [rounds=2]      (KESTREL_ISA=... caps the tier)
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>

#include "kestrel_decode.h"
#include "kestrel_kernels.h"
#include "internal/kestrel_internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static unsigned long long rs = 88172645463325252ull;
static float rnd(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (float)((rs >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

#ifndef N
#define N 16384
#endif
#define HK 2
#define G 4
#define D 128
#define BT 16

typedef struct {
    unsigned char *k, *v;
    float *ks, *vs;
    const void **kb, **vb;
    const float **ksb, **vsb;
    size_t nb, bt, row_stride, head_stride, scale_stride, head_scale_stride;
    size_t bytes;
} layout_t;

static void make(layout_t *L, int dtype, int paged) {
    const size_t es = dtype == 0 ? 4 : dtype == 1 ? 2 : 1;
    const size_t elems = (size_t)N * HK * D;
    L->k = aligned_alloc(64, elems * es);
    L->v = aligned_alloc(64, elems * es);
    L->ks = malloc(N * HK * 4);
    L->vs = malloc(N * HK * 4);
    for (size_t i = 0; i < elems; i++) {
        float a = rnd(), b = rnd();
        if (dtype == 0) { ((float *)L->k)[i] = a; ((float *)L->v)[i] = b; }
        else if (dtype == 1) { ((uint16_t *)L->k)[i] = kestrel_f32_to_f16_1(a); ((uint16_t *)L->v)[i] = kestrel_f32_to_f16_1(b); }
        else { ((int8_t *)L->k)[i] = (int8_t)(a * 127); ((int8_t *)L->v)[i] = (int8_t)(b * 127); }
    }
    for (size_t i = 0; i < N * HK; i++) { L->ks[i] = 0.01f; L->vs[i] = 0.01f; }
    L->bt = paged ? BT : N;
    L->nb = N / L->bt;
    L->kb = malloc(L->nb * sizeof(void *)); L->vb = malloc(L->nb * sizeof(void *));
    L->ksb = malloc(L->nb * sizeof(void *)); L->vsb = malloc(L->nb * sizeof(void *));
    for (size_t b = 0; b < L->nb; b++) {
        L->kb[b] = L->k + b * L->bt * HK * D * es;
        L->vb[b] = L->v + b * L->bt * HK * D * es;
        L->ksb[b] = L->ks + b * L->bt * HK;
        L->vsb[b] = L->vs + b * L->bt * HK;
    }
    if (paged) { L->row_stride = D; L->head_stride = BT * D; L->scale_stride = 1; L->head_scale_stride = BT; }
    else { L->row_stride = HK * D; L->head_stride = D; L->scale_stride = HK; L->head_scale_stride = 1; }
    L->bytes = 2 * elems * es + (dtype == 2 ? 2 * N * HK * 4 : 0);
}

__attribute__((target("avx2"))) static double read_sum(const unsigned char *k, const unsigned char *v, size_t bytes) {
    double t = now();
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (size_t i = 0; i < bytes; i += 64) {
        a0 = _mm256_add_epi32(a0, _mm256_load_si256((const __m256i *)(k + i)));
        a1 = _mm256_add_epi32(a1, _mm256_load_si256((const __m256i *)(k + i + 32)));
        a0 = _mm256_add_epi32(a0, _mm256_load_si256((const __m256i *)(v + i)));
        a1 = _mm256_add_epi32(a1, _mm256_load_si256((const __m256i *)(v + i + 32)));
    }
    __asm__ volatile("" : : "x"(a0), "x"(a1));
    return now() - t;
}

static double stream_triad(double *a, double *b, double *c, size_t n) {
    double t = now();
    for (size_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
    __asm__ volatile("" : : "r"(a) : "memory");
    double e = now() - t;
    if (a[n / 2] != 7.0) printf("?");
    return e;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    int rounds = argc > 2 ? atoi(argv[2]) : 2;
    const kestrel_kernel_table *t = kestrel_kernels();
    printf("isa %s\n", kestrel_isa_name(kestrel_active_isa()));
    layout_t L[3][2];
    for (int dt = 0; dt < 3; dt++)
        for (int p = 0; p < 2; p++) make(&L[dt][p], dt, p);
    const size_t rows = HK * G;
    float q[rows * D];
    for (size_t i = 0; i < rows * D; i++) q[i] = rnd();
    float *part = malloc(rows * (D + 2) * 4), *scratch = malloc(kestrel_decode_scratch_floats(rows, D) * 4);
    const size_t sn = 160u << 17; /* 160 MiB of f64 */
    double *sa = malloc(sn * 8), *sb = malloc(sn * 8), *sc = malloc(sn * 8);
    for (size_t i = 0; i < sn; i++) { sa[i] = 0; sb[i] = 1; sc[i] = 2; }
    for (int r = 0; r < rounds; r++) {
        double st = 1e9;
        for (int i = 0; i < 5; i++) { double x = stream_triad(sa, sb, sc, sn); if (x < st) st = x; }
        double sgb = 3.0 * sn * 8 / st / 1e9;
        printf("round %d STREAM triad %.2f GB/s\n", r, sgb);
        for (int dt = 0; dt < 3; dt++) {
            double rb = 1e9;
            for (int i = 0; i < 5; i++) { double x = read_sum(L[dt][0].k, L[dt][0].v, L[dt][0].bytes / 2 & ~(size_t)63); if (x < rb) rb = x; }
            printf("  plain read of the %s K+V: %.2f GB/s\n", dt == 0 ? "f32" : dt == 1 ? "f16" : "int8", (L[dt][0].bytes & ~(size_t)127) / rb / 1e9);
        }
        double best[3][2];
        for (int dt = 0; dt < 3; dt++) for (int p = 0; p < 2; p++) best[dt][p] = 1e9;
        for (int i = 0; i < reps; i++)
            for (int dt = 0; dt < 3; dt++)
                for (int p = 0; p < 2; p++) {
                    layout_t *l = &L[dt][p];
                    kestrel_decode_args a = {0};
                    a.d = D; a.nq = 1; a.group = G; a.kv_heads = HK; a.q = q; a.q_stride = D; a.dtype = dt;
                    a.k_blocks = l->kb; a.v_blocks = l->vb; a.k_scales = l->ksb; a.v_scales = l->vsb;
                    a.block_tokens = l->bt; a.row_stride = l->row_stride; a.head_stride = l->head_stride;
                    a.scale_stride = l->scale_stride; a.head_scale_stride = l->head_scale_stride;
                    a.lo = 0; a.hi = N; a.scale = 0.088f; a.causal = 1; a.diag = N - 1; a.window_left = -1;
                    a.acc = part; a.m = part + rows * D; a.l = part + rows * D + rows; a.scratch = scratch;
                    double t0 = now();
                    if (t->decode_partial(&a) != KESTREL_OK) { printf("fail\n"); return 1; }
                    double x = now() - t0;
                    if (x < best[dt][p]) best[dt][p] = x;
                }
        const char *nm[3] = {"f32", "f16", "int8"};
        for (int dt = 0; dt < 3; dt++)
            for (int p = 0; p < 2; p++) {
                double gb = L[dt][p].bytes / best[dt][p] / 1e9;
                printf("  %-4s %-10s %7.3f ms  %6.2f GB/s  %5.1f %% STREAM  %5.1f ns/token/head\n", nm[dt], p ? "paged16" : "contiguous",
                       best[dt][p] * 1e3, gb, 100 * gb / sgb, best[dt][p] * 1e9 / N / HK);
            }
    }
    return 0;
}
