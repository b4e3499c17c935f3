/*
 * quant_blocks_bench.c — single-thread throughput of the ggml block kernels in C, every tier
 * this CPU runs, against the scalar reference, in one process (ratios from one run). Not part
 * of any build. From the repository root (every C file of CKernels/, not its test/ folder):
 *
 *   clang -std=c11 -O2 -ICKernels/include -ICKernels -o /tmp/quant_blocks_bench \
 *       CKernels/[a-z]*.c Benchmarks/c/quant_blocks_bench.c -lm -lpthread && /tmp/quant_blocks_bench
 *
 * Input: 1 << 20 floats (4 MiB), normal-like with a per-256 scale over four decades. Reports
 * the best of 15 calls per kernel as GB/s of f32 (4 MiB / time), for quantize (f32 read) and
 * dequantize (f32 written).
 */
#define _POSIX_C_SOURCE 199309L
#include "kestrel_kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t g_state = 16;
static double unit(void) { /* SplitMix64 -> [-1, 1) */
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0 * 2 - 1;
}

#define N ((size_t)1 << 20)
#define REPS 15

typedef struct {
    const char *name;
    size_t qoff, doff; /* offsets of the quantize / dequantize entries in the table */
} fmt_t;

int main(void) {
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    unsigned char *q = malloc(N / 32 * 36);
    if (!x || !y || !q) return 1;
    float scale = 1;
    for (size_t i = 0; i < N; i++) {
        if (i % 256 == 0) scale = (float)(1 << (int)((unit() + 1) * 7)) / 1024.0f;
        x[i] = (float)(unit() + unit() + unit()) * scale;
    }
    static const fmt_t fmts[] = {
#define F(t) {#t, offsetof(kestrel_kernel_table, quantize_##t), offsetof(kestrel_kernel_table, dequantize_##t)}
        F(q8_0), F(q8_1), F(q4_0), F(q4_1), F(q5_0), F(q5_1), F(q4_K), F(q6_K),
#undef F
    };
    printf("cpu: %s\n%-6s %-11s %12s %12s %10s %10s\n", kestrel_cpu_name(), "type", "tier", "quant GB/s",
           "dequant GB/s", "q vs sc", "dq vs sc");
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        double base_q = 0, base_d = 0;
        for (int isa = 0; isa < KESTREL_ISA_COUNT; isa++) {
            const kestrel_kernel_table *t = kestrel_kernels_for((kestrel_isa)isa);
            if (!t) continue;
            kestrel_quantize_blocks_fn fq;
            kestrel_dequantize_blocks_fn fd;
            memcpy(&fq, (const char *)t + fmts[f].qoff, sizeof fq);
            memcpy(&fd, (const char *)t + fmts[f].doff, sizeof fd);
            double bq = 1e9, bd = 1e9;
            for (int r = 0; r < REPS; r++) {
                double t0 = now();
                fq(x, q, N);
                double t1 = now();
                fd(q, y, N);
                double t2 = now();
                if (t1 - t0 < bq) bq = t1 - t0;
                if (t2 - t1 < bd) bd = t2 - t1;
            }
            double gq = N * 4.0 / bq / 1e9, gd = N * 4.0 / bd / 1e9;
            if (isa == 0) base_q = gq, base_d = gd;
            printf("%-6s %-11s %12.2f %12.2f %9.2fx %9.2fx\n", fmts[f].name, kestrel_isa_name((kestrel_isa)isa), gq, gd,
                   gq / base_q, gd / base_d);
        }
    }
    free(x);
    free(y);
    free(q);
    return 0;
}
