/*
 * attention_nq1_route_bench.c — one query row (NQ = 1) against NK keys, H = 8 heads, f32, 1 thread:
 * the forward tile kernel (kestrel_attention_f32, one call per head, as FlashAttention's tile path
 * makes them) against the decode kernel (kestrel_decode_partial over all heads and keys in one
 * call, then kestrel_decode_merge_f32, as FlashAttention's single-query route makes them), at the
 * active tier, interleaved call by call, timed by CLOCK_THREAD_CPUTIME_ID (the time this thread
 * ran, robust to load). The decision behind FlashAttention.routesToDecode (Documentation/Attention.md
 * § Few queries). Not part of any build. From the repository root:
 *
 *   clang -std=c11 -O2 -ICKernels/include -ICKernels -o /tmp/nq1_route \
 *       CKernels/[a-z]*.c Benchmarks/c/attention_nq1_route_bench.c -lm -lpthread
 *   for nk in 4096 16384; do /tmp/nq1_route $nk 64 64 64; /tmp/nq1_route $nk 128 32 128; done
 *
 * Arguments: NK D block_q block_k [reps (41)] [causal (1)]. Prints the median and minimum CPU ms of
 * each and their ratio, and the largest output and log-sum-exp differences between the two.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kestrel_attention.h"
#include "kestrel_decode.h"
#include "kestrel_kernels.h"

#define HEADS 8
#define MAX_REPS 201

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float uniform(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s NK D block_q block_k [reps] [causal]\n", argv[0]);
        return 64;
    }
    const size_t nk = (size_t)atol(argv[1]), d = (size_t)atol(argv[2]);
    const size_t bq = (size_t)atol(argv[3]), bk = (size_t)atol(argv[4]);
    int reps = argc > 5 ? atoi(argv[5]) : 41;
    const int causal = argc > 6 ? atoi(argv[6]) : 1;
    if (nk < 1 || d < 1 || bq < 1 || bk < 1 || reps < 1) return 64;
    if (reps > MAX_REPS) reps = MAX_REPS;
    const size_t n = HEADS * nk * d;
    float *q = malloc(HEADS * d * 4), *k = malloc(n * 4), *v = malloc(n * 4);
    float *o_tile = malloc(HEADS * d * 4), *o_dec = malloc(HEADS * d * 4), l_tile[HEADS], l_dec[HEADS];
    float *tile_scratch = malloc(kestrel_attention_scratch_floats(bq, bk, d) * 4);
    float *dec_scratch = malloc(kestrel_decode_scratch_floats(HEADS, d) * 4), *partial = malloc(HEADS * (d + 2) * 4);
    if (!q || !k || !v || !o_tile || !o_dec || !tile_scratch || !dec_scratch || !partial) return 1;
    unsigned seed = 1;
    for (size_t i = 0; i < HEADS * d; i++) q[i] = uniform(&seed);
    for (size_t i = 0; i < n; i++) {
        k[i] = uniform(&seed);
        v[i] = uniform(&seed);
    }
    const float scale = 1.0f / sqrtf((float)d);
    double t_tile[MAX_REPS], t_dec[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        const double t0 = cpu_seconds();
        for (size_t h = 0; h < HEADS; h++) {
            kestrel_attention_args a;
            memset(&a, 0, sizeof a);
            a.nq = 1, a.nk = nk, a.d = d;
            a.q = q + h * d, a.q_stride = d;
            a.k = k + h * nk * d, a.k_stride = d, a.v = v + h * nk * d, a.v_stride = d;
            a.o = o_tile + h * d, a.o_stride = d, a.lse = l_tile + h;
            a.scale = scale, a.causal = causal, a.diag = (ptrdiff_t)nk - 1, a.window_left = -1, a.kv_len = nk;
            a.block_q = bq, a.block_k = bk, a.scratch = tile_scratch;
            if (kestrel_attention_f32(&a) != KESTREL_OK) return 1;
        }
        const double t1 = cpu_seconds();
        const void *kb[1] = {k}, *vb[1] = {v};
        kestrel_decode_args a;
        memset(&a, 0, sizeof a);
        a.d = d, a.nq = 1, a.group = 1, a.kv_heads = HEADS, a.q = q, a.q_stride = d, a.dtype = KESTREL_KV_F32;
        a.k_blocks = kb, a.v_blocks = vb, a.block_tokens = nk, a.row_stride = d, a.head_stride = nk * d;
        a.lo = 0, a.hi = nk, a.scale = scale, a.causal = causal, a.diag = (ptrdiff_t)nk - 1, a.window_left = -1;
        a.acc = partial, a.m = partial + HEADS * d, a.l = partial + HEADS * d + HEADS, a.scratch = dec_scratch;
        if (kestrel_decode_partial(&a) != KESTREL_OK) return 1;
        kestrel_decode_merge_f32(HEADS, d, 1, partial, o_dec, d, l_dec);
        const double t2 = cpu_seconds();
        t_tile[r] = t1 - t0;
        t_dec[r] = t2 - t1;
    }
    double diff = 0, ldiff = 0;
    for (size_t i = 0; i < HEADS * d; i++) diff = fmax(diff, fabs((double)o_tile[i] - o_dec[i]));
    for (size_t h = 0; h < HEADS; h++) ldiff = fmax(ldiff, fabs((double)l_tile[h] - l_dec[h]));
    qsort(t_tile, (size_t)reps, sizeof(double), by_value);
    qsort(t_dec, (size_t)reps, sizeof(double), by_value);
    const double mt = t_tile[reps / 2], md = t_dec[reps / 2];
    printf("tier %s NK=%zu D=%zu H=%d causal=%d: tile %zux%zu median %.3f ms min %.3f | decode median %.3f ms min %.3f | "
           "decode/tile median %.2f min %.2f | max |dO| %.1e, |dlse| %.1e\n",
           kestrel_isa_name(kestrel_active_isa()), nk, d, HEADS, causal, bq, bk, mt * 1e3, t_tile[0] * 1e3, md * 1e3,
           t_dec[0] * 1e3, md / mt, t_dec[0] / t_tile[0], diff, ldiff);
    return 0;
}
