#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include "include/kestrel_lora.h"
/* Kernel-level cost of one fused adapter step (accumulate + update + publication) at the AVX2 tier,
 * outside Swift: mode 0 updates θ in place and copies it into the free slot (the engine before
 * 2026-12-03), mode 1 has the update write into the free slot (params_out; the engine now).
 * Prints CPU time per step (CLOCK_PROCESS_CPUTIME_ID over the run), wall p50/p90/p99 per step and
 * a checksum; DUMP=file writes θ, m, v, F for bit-for-bit comparisons; SCALAR=1 uses the scalar tier;
 * OPT=0|1|2 picks SGD, momentum, Adam. The "before" figures link the same file against the kernels
 * of commit ecb8efa compiled without -DOUT_OF_PLACE (that header has no params_out).
 *   K=CKernels; for f in lora_scalar lora_x86_avx2 lora_x86_avx512; do clang -O2 -I$K -I$K/include -c $K/$f.c; done
 *   clang -O2 -DOUT_OF_PLACE -I$K -I$K/include Benchmarks/c/lora_step_bench.c lora_*.o -lm -o lora_step_bench
 *   ./lora_step_bench D R EWC MODE STEPS      (valgrind --tool=cachegrind for instruction counts) */
const kestrel_kernel_table *kestrel_kernels(void) { return NULL; }
kestrel_status kestrel_lora_accumulate_avx2(kestrel_lora_accumulate_args *a);
kestrel_status kestrel_lora_update_avx2(kestrel_lora_update_args *a);
static kestrel_status (*ACC)(kestrel_lora_accumulate_args *) = kestrel_lora_accumulate_avx2;
static kestrel_status (*UPD)(kestrel_lora_update_args *) = kestrel_lora_update_avx2;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    size_t d = argc > 1 ? atoi(argv[1]) : 768, r = argc > 2 ? atoi(argv[2]) : 2; int ewc = argc > 3 ? atoi(argv[3]) : 0;
    int mode = argc > 4 ? atoi(argv[4]) : 0; /* 0 = in place + copy; 1 = out of place, no copy */
    size_t steps = argc > 5 ? atoi(argv[5]) : 100000;
    if (getenv("SCALAR")) { ACC = kestrel_lora_accumulate_scalar; UPD = kestrel_lora_update_scalar; }
    const int opt = getenv("OPT") ? atoi(getenv("OPT")) : 2;
    kestrel_lora_shape sh = {d, d, r, 1.0f};
    size_t n = r * 2 * d, pad = (n + 15) / 16 * 16;
    float *st = aligned_alloc(64, pad * 10 * sizeof(float) + 4 * d * 4 + 4096);
    memset(st, 0, pad * 10 * sizeof(float));
    float *th = st, *g = st + pad, *m = st + 2 * pad, *v = st + 3 * pad, *fi = st + 4 * pad, *fs = st + 5 * pad, *an = st + 6 * pad;
    float *slot[2] = {st + 7 * pad, st + 8 * pad}, *scr = st + 9 * pad;
    srand(1);
    for (size_t i = 0; i < r * d; i++) th[i] = (rand() / (float)RAND_MAX - 0.5f) / sqrtf(d);
    for (size_t i = 0; i < n; i++) { fs[i] = rand() / (float)RAND_MAX; an[i] = th[i]; }
    float *xs = malloc(64 * d * 4), *ts = malloc(64 * d * 4);
    for (size_t i = 0; i < 64 * d; i++) { xs[i] = rand() / (float)RAND_MAX * 2 - 1; ts[i] = rand() / (float)RAND_MAX * 2 - 1; }
    memcpy(slot[0], th, n * 4);
    int pub = 0; struct timespec c0, c1; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    double *lat = malloc(steps * sizeof(double));
    for (size_t s = 0; s < steps + 2000; s++) {
        double t0 = now();
        float *cur = mode ? slot[pub] : th;
        kestrel_lora_accumulate_args a = {0};
        a.shape = sh; a.params = cur; a.grad = g; a.x = xs + (s % 64) * d; a.base = a.x; a.loss = 0; a.target = ts + (s % 64) * d;
        a.weight = 1; a.label = 1; a.temperature = 1; a.scratch = scr;
        if (ACC(&a)) return 1;
        kestrel_lora_update_args u = {0};
        u.n = n; u.params = cur; u.grad = g; u.m = m; u.v = v; u.optimizer = opt; u.lr = 1e-3f; u.beta1 = 0.9f; u.beta2 = 0.999f;
        u.eps = 1e-8f; u.c1 = 1 / (1 - powf(0.9f, s + 1)); u.c2 = 1 / (1 - powf(0.999f, s + 1)); u.grad_scale = 1; u.clip_norm = 10;
        u.fisher_decay = -1;
        if (ewc) { u.fisher = fi; u.fisher_decay = 0.99f; u.fisher_star = fs; u.anchor = an; u.ewc_lambda = 0.1f; }
#ifdef OUT_OF_PLACE
        if (mode) u.params_out = slot[1 - pub];
#endif
        if (UPD(&u)) return 2;
        if (!mode) memcpy(slot[1 - pub], th, n * 4);
        pub = 1 - pub;
        double t1 = now();
        if (s >= 2000) lat[s - 2000] = t1 - t0;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1); double cpu = ((c1.tv_sec - c0.tv_sec) * 1e9 + (c1.tv_nsec - c0.tv_nsec)) / (steps + 2000);
    qsort(lat, steps, sizeof(double), cmp);
    float *fin = mode ? slot[pub] : th; double cs = 0; for (size_t i = 0; i < n; i++) cs += fin[i] * (i % 7 + 1);
    if (getenv("DUMP")) { FILE *fo = fopen(getenv("DUMP"), "wb"); fwrite(fin, 4, n, fo); fwrite(m, 4, n, fo); fwrite(v, 4, n, fo); fwrite(fi, 4, n, fo); fclose(fo); }
    printf("cpu/step %.0f ns d=%zu r=%zu ewc=%d mode=%d p50 %.0f ns p90 %.0f p99 %.0f checksum %.9g\n", cpu, d, r, ewc, mode, lat[steps / 2], lat[steps * 9 / 10], lat[steps * 99 / 100], cs);
    return 0;
}
