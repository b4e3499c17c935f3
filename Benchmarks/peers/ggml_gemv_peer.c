/*
 * ggml_gemv_peer.c — Kestrel's block GEMV against ggml's own CPU dot products (the ones llama.cpp
 * runs in a decode step) on the same blocks, in one process, interleaved, one thread.
 *
 * For each of q8_0, q4_0, q4_k, q6_k: random weight bytes with finite fp16 scales (2^-8; the
 * integer kernels take the same time whatever the values), one random f32 x. Each repetition
 * times both sides back to back (alternating who goes first), each side `BURST` calls (best of
 * the burst, so a side's weights are as warm as the other's); medians and minima over `reps`.
 *   ggml:    quantize_row_q8_0 / quantize_row_q8_K of x, then ggml_vec_dot_<type> once per row
 *            (nrc = 1), exactly the loop of ggml's mul_mat on one thread without the graph around it;
 *   Kestrel: kestrel_quantize_act_q8_0 / kestrel_quantize_row_q8_K, then kestrel_gemv_<type>.
 * Prints the ratios ggml time / Kestrel time (> 1: Kestrel faster) and the largest relative
 * difference of the two outputs (0 where both round alike; Q8_K rounding differs slightly).
 *
 * Links the ggml CPU library of an existing ggml install (PyPI ggml-python puts libggml-cpu.so and
 * libggml-base.so in <site-packages>/ggml/lib); run through ggml_gemv_peer.sh, which compiles this
 * file with every CKernels C file. Usage: ggml_gemv_peer ROWS COLS REPS [types, e.g. q8_0,q4_k].
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include "kestrel_kernels.h"
#include "kestrel_quant.h"

/* ggml's CPU entry points (ggml-cpu quants.h and ggml-cpu.h), declared here: no ggml header needed. */
void ggml_vec_dot_q8_0_q8_0(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc);
void ggml_vec_dot_q4_0_q8_0(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc);
void ggml_vec_dot_q4_K_q8_K(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc);
void ggml_vec_dot_q6_K_q8_K(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc);
void quantize_row_q8_0(const float *x, void *y, int64_t k);
void quantize_row_q8_K(const float *x, void *y, int64_t k);
void ggml_cpu_init(void);

typedef void (*gdot)(int, float *, size_t, const void *, size_t, const void *, size_t, int);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint64_t s = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 4096, cols = argc > 2 ? atoi(argv[2]) : 4096, reps = argc > 3 ? atoi(argv[3]) : 31;
    const char *only = argc > 4 ? argv[4] : NULL;
    int burst = getenv("BURST") ? atoi(getenv("BURST")) : 1;
    ggml_cpu_init();
    float *x = malloc(cols * 4);
    for (int i = 0; i < cols; i++) x[i] = (float)((rnd() >> 40) / (double)(1 << 24) * 2 - 1);
    struct { const char *name; int qk, bsz; int off[2]; int noff; gdot g; int kq; } T[4] = {
        {"q8_0", 32, 34, {0}, 1, ggml_vec_dot_q8_0_q8_0, 0},
        {"q4_0", 32, 18, {0}, 1, ggml_vec_dot_q4_0_q8_0, 0},
        {"q4_k", 256, 144, {0, 2}, 2, ggml_vec_dot_q4_K_q8_K, 1},
        {"q6_k", 256, 210, {208}, 1, ggml_vec_dot_q6_K_q8_K, 1}};
    printf("%dx%d reps %d burst %d tier %s\n", rows, cols, reps, burst, kestrel_isa_name(kestrel_active_isa()));
    for (int t = 0; t < 4; t++) {
        if (only && !strstr(only, T[t].name)) continue;
        size_t nb = (size_t)cols / T[t].qk, bytes = (size_t)rows * nb * T[t].bsz;
        uint8_t *w = aligned_alloc(64, (bytes + 63) / 64 * 64);
        for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)rnd();
        for (size_t b = 0; b < (size_t)rows * nb; b++)
            for (int o = 0; o < T[t].noff; o++) { w[b * T[t].bsz + T[t].off[o]] = 0; w[b * T[t].bsz + T[t].off[o] + 1] = 0x1c; }
        void *act = malloc(cols / 32 * 36 + cols / 256 * 292 + 64);
        float *yg = malloc(rows * 4), *yk = malloc(rows * 4);
        double *sg = malloc(reps * 8), *sk = malloc(reps * 8);
        for (int r = -1; r < reps; r++) {
            for (int side = 0; side < 2; side++) {
                int who = (r + side) & 1; /* alternate who goes first */
                double best = 1e9;
                for (int bi = 0; bi < burst; bi++) {
                double t0 = now();
                if (who == 0) {
                    if (T[t].kq) quantize_row_q8_K(x, act, cols); else quantize_row_q8_0(x, act, cols);
                    size_t rb = nb * T[t].bsz;
                    for (int i = 0; i < rows; i++) T[t].g(cols, yg + i, 0, w + i * rb, rb, act, 0, 1);
                } else {
                    kestrel_status st;
                    switch (t) {
                    case 0: kestrel_quantize_act_q8_0(x, act, cols); st = kestrel_gemv_q8_0((void *)w, rows, nb, act, yk); break;
                    case 1: kestrel_quantize_act_q8_0(x, act, cols); st = kestrel_gemv_q4_0((void *)w, rows, nb, act, yk); break;
                    case 2: kestrel_quantize_row_q8_K(x, act, cols); st = kestrel_gemv_q4_K((void *)w, rows, nb, act, yk); break;
                    default: kestrel_quantize_row_q8_K(x, act, cols); st = kestrel_gemv_q6_K((void *)w, rows, nb, act, yk); break;
                    }
                    if (st) { printf("status %d\n", st); return 1; }
                }
                double dt = now() - t0; if (dt < best) best = dt;
                }
                if (r >= 0) (who == 0 ? sg : sk)[r] = best;
            }
        }
        double maxrel = 0;
        for (int i = 0; i < rows; i++) { double d = yg[i] - yk[i]; double a = yg[i] < 0 ? -yg[i] : yg[i]; if (a > 1e-3) { d = d < 0 ? -d : d; if (d / a > maxrel) maxrel = d / a; } }
        qsort(sg, reps, 8, cmpd); qsort(sk, reps, 8, cmpd);
        printf("%s ggml %.3f ms (min %.3f)  kestrel %.3f ms (min %.3f)  ggml/kestrel %.2f (min %.2f)  maxrel %.2g\n", T[t].name,
               sg[reps / 2] * 1e3, sg[0] * 1e3, sk[reps / 2] * 1e3, sk[0] * 1e3, sg[reps / 2] / sk[reps / 2], sg[0] / sk[0], maxrel);
        free(w); free(act); free(yg); free(yk); free(sg); free(sk);
    }
    return 0;
}
