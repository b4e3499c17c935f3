/*
 * Native side of the wasm-simd benchmark (wasm_simd_peer.py): the same timing loop as the wasm
 * module's kestrel_wasm_bench (CKernels/wasm/kestrel_bench_loop.h) over one tier's native
 * kernel table, so "wasm simd128 vs native AVX2" compares identical calls.
 * Usage: wasm_native_bench TIER KERNEL N ITERS REPS A.bin B.bin   (prints the best ns per call over REPS)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kestrel_kernels.h"
#include "../../CKernels/wasm/kestrel_bench_loop.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: descheduled time on a loaded machine does not count */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s TIER KERNEL N ITERS REPS A.bin B.bin\n", argv[0]);
        return 2;
    }
    kestrel_isa isa;
    if (kestrel_isa_parse(argv[1], &isa) != KESTREL_OK || !kestrel_isa_supported(isa)) {
        fprintf(stderr, "tier %s not available\n", argv[1]);
        return 3;
    }
    const kestrel_kernel_table *t = kestrel_kernels_for(isa);
    const uint32_t kernel = (uint32_t)atoi(argv[2]);
    const size_t n = (size_t)atol(argv[3]);
    const uint32_t iters = (uint32_t)atol(argv[4]);
    const int reps = atoi(argv[5]);
    /* The operands the Python driver also copies into the wasm module. */
    const size_t bytes = 64 + n * 292;
    uint8_t *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes), *out = aligned_alloc(64, bytes);
    FILE *fa = fopen(argv[6], "rb"), *fb = fopen(argv[7], "rb");
    if (!a || !b || !out || !fa || !fb) return 4;
    const size_t na = fread(a, 1, bytes, fa), nb = fread(b, 1, bytes, fb);
    fclose(fa);
    fclose(fb);
    (void)na;
    (void)nb;
    double sink = kestrel_bench_loop(t, kernel, a, b, out, n, iters > 10 ? iters / 10 : 1); /* warm-up */
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        sink += kestrel_bench_loop(t, kernel, a, b, out, n, iters);
        double dt = (now_ns() - t0) / iters;
        if (dt < best) best = dt;
    }
    printf("%.3f %g\n", best, sink);
    free(a);
    free(b);
    free(out);
    return 0;
}
