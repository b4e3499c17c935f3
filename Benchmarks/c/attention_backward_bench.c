/*
 * attention_backward_bench.c — the C tiles alone: FlashAttention's forward (kestrel_attention_f32 per
 * query block) and backward (kestrel_attention_bwd_delta_f32, then kestrel_attention_bwd_tile_f32 per
 * key block × query block, the loop order of FlashAttention.backward) over H heads of N × N, no mask,
 * one thread, at the active tier, timed by CLOCK_THREAD_CPUTIME_ID (robust to machine load), forward
 * and backward alternating in every repetition. Without the Swift layer, so the ratio isolates the
 * kernels; `kestrel attention-bench --backward` measures the library calls. Not part of any build.
 * From the repository root:
 *
 *   clang -std=c11 -O2 -ICKernels/include -ICKernels -o /tmp/attn_bwd_bench \
 *       CKernels/[a-z]*.c Benchmarks/c/attention_backward_bench.c -lm -lpthread
 *   /tmp/attn_bwd_bench 2048 128 8 3   # N D H reps [bwd_q bwd_k]; env FQ, FK: forward tiles
 *
 * To compare with an earlier kernel, build the same file against `git archive <commit> CKernels`.
 * Prints the minimum CPU ms of each over the repetitions and the backward ÷ forward ratio of those.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kestrel_attention.h"
#include "kestrel_attention_backward.h"
#include "kestrel_kernels.h"

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float uniform(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s N D H reps [bwd_q bwd_k]\n", argv[0]);
        return 64;
    }
    const size_t N = (size_t)atol(argv[1]), D = (size_t)atol(argv[2]), H = (size_t)atol(argv[3]);
    const int reps = atoi(argv[4]);
    /* FlashAttention's defaults: backward 64 × 64 (D <= 64) or 32 × 64; forward as given (FQ, FK). */
    const size_t bq = argc > 5 ? (size_t)atol(argv[5]) : (D <= 64 ? 64 : 32), bk = argc > 6 ? (size_t)atol(argv[6]) : 64;
    const size_t fq = getenv("FQ") ? (size_t)atol(getenv("FQ")) : (D <= 64 ? 64 : 32);
    const size_t fk = getenv("FK") ? (size_t)atol(getenv("FK")) : (D <= 64 ? 64 : 128);
    if (N < 1 || D < 1 || H < 1 || reps < 1 || bq < 1 || bk < 1 || fq < 1 || fk < 1) return 64;
    const size_t n = H * N * D;
    float *q = malloc(n * 4), *k = malloc(n * 4), *v = malloc(n * 4), *o = malloc(n * 4), *dout = malloc(n * 4);
    float *lse = malloc(H * N * 4), *delta = malloc(H * N * 4);
    float *dq = calloc(n, 4), *dk = calloc(n, 4), *dv = calloc(n, 4);
    float *fs = malloc(kestrel_attention_scratch_floats(fq, fk, D) * 4), *bs = malloc(kestrel_attention_bwd_scratch_floats(bq, bk, D) * 4);
    if (!q || !k || !v || !o || !dout || !lse || !delta || !dq || !dk || !dv || !fs || !bs) return 1;
    unsigned seed = 1;
    for (size_t i = 0; i < n; i++) q[i] = uniform(&seed), k[i] = uniform(&seed), v[i] = uniform(&seed), dout[i] = uniform(&seed);
    const float scale = 1.0f / sqrtf((float)D);
    double best_f = INFINITY, best_b = INFINITY;
    for (int r = 0; r < reps; r++) {
        const double t0 = cpu_seconds();
        for (size_t h = 0; h < H; h++)
            for (size_t i0 = 0; i0 < N; i0 += fq) {
                kestrel_attention_args a;
                memset(&a, 0, sizeof a);
                a.nq = min_size(fq, N - i0), a.nk = N, a.d = D;
                a.q = q + (h * N + i0) * D, a.q_stride = D;
                a.k = k + h * N * D, a.k_stride = D, a.v = v + h * N * D, a.v_stride = D;
                a.o = o + (h * N + i0) * D, a.o_stride = D, a.lse = lse + h * N + i0;
                a.scale = scale, a.diag = (ptrdiff_t)i0, a.window_left = -1, a.kv_len = N;
                a.block_q = fq, a.block_k = fk, a.scratch = fs;
                if (kestrel_attention_f32(&a) != KESTREL_OK) return 1;
            }
        const double t1 = cpu_seconds();
        kestrel_attention_bwd_delta_f32(H * N, D, dout, D, o, D, delta);
        for (size_t h = 0; h < H; h++)
            for (size_t j0 = 0; j0 < N; j0 += bk)
                for (size_t i0 = 0; i0 < N; i0 += bq) {
                    kestrel_attention_bwd_args t;
                    memset(&t, 0, sizeof t);
                    t.rows = min_size(bq, N - i0), t.cols = min_size(bk, N - j0), t.d = D;
                    const size_t ro = h * N + i0, ko = (h * N + j0) * D;
                    t.q = q + ro * D, t.q_stride = D, t.k = k + ko, t.k_stride = D, t.v = v + ko, t.v_stride = D;
                    t.dout = dout + ro * D, t.dout_stride = D, t.lse = lse + ro, t.delta = delta + ro;
                    t.dq = dq + ro * D, t.dq_stride = D, t.dk = dk + ko, t.dk_stride = D, t.dv = dv + ko, t.dv_stride = D;
                    t.scale = scale, t.j0 = (ptrdiff_t)j0, t.diag = (ptrdiff_t)i0, t.window_left = -1, t.kv_len = N;
                    t.scratch = bs;
                    if (kestrel_attention_bwd_tile_f32(&t) != KESTREL_OK) return 1;
                }
        const double t2 = cpu_seconds();
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t1 < best_b) best_b = t2 - t1;
    }
    printf("tier %s N=%zu D=%zu H=%zu: forward %zux%zu %.1f ms, backward %zux%zu %.1f ms (min of %d CPU times): "
           "backward/forward %.2f\n",
           kestrel_isa_name(kestrel_active_isa()), N, D, H, fq, fk, best_f * 1e3, bq, bk, best_b * 1e3, reps, best_b / best_f);
    return 0;
}
