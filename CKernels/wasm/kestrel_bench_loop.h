/*
 * The timing loop of the wasm-simd benchmark, shared by the wasm module (kestrel_wasm_bench in
 * kestrel_wasm.c) and the native comparison program (Benchmarks/peers/wasm_native_bench.c), so
 * both time exactly the same calls: `iters` calls of one kernel of table `t` on the same
 * operands, the host timing the whole loop (a host-to-wasm call costs far more than one kernel
 * call). Returns a checksum of the results (so the calls cannot be removed), or -1 for an
 * unknown kernel id. Not part of the public C API.
 */
#ifndef KESTREL_BENCH_LOOP_H
#define KESTREL_BENCH_LOOP_H

#include "kestrel_kernels.h"

/* Kernel ids of the benchmark; `n` counts elements, or blocks for the Q8_0 dot. */
enum {
    KESTREL_BENCH_DOT_F32 = 0,
    KESTREL_BENCH_L2SQ_F32 = 1,
    KESTREL_BENCH_COSINE_F32 = 2,
    KESTREL_BENCH_DOT_F16 = 3,
    KESTREL_BENCH_DOT_BF16 = 4,
    KESTREL_BENCH_DOT_I8 = 5,
    KESTREL_BENCH_L2SQ_I8 = 6,
    KESTREL_BENCH_EXP_F32 = 7,
    KESTREL_BENCH_SOFTMAX_F32 = 8,
    KESTREL_BENCH_F32_TO_F16 = 9,
    KESTREL_BENCH_DOT_Q8_0 = 10,
    KESTREL_BENCH_KERNELS = 11
};

static inline double kestrel_bench_loop(const kestrel_kernel_table *t, uint32_t kernel, const void *a, const void *b,
                                        void *out, size_t n, uint32_t iters) {
    double sum = 0.0;
    for (uint32_t it = 0; it < iters; it++) {
        switch (kernel) {
        case KESTREL_BENCH_DOT_F32: sum += t->dot_f32((const float *)a, (const float *)b, n); break;
        case KESTREL_BENCH_L2SQ_F32: sum += t->l2sq_f32((const float *)a, (const float *)b, n); break;
        case KESTREL_BENCH_COSINE_F32: sum += t->cosine_f32((const float *)a, (const float *)b, n); break;
        case KESTREL_BENCH_DOT_F16: sum += t->dot_f16((const uint16_t *)a, (const uint16_t *)b, n); break;
        case KESTREL_BENCH_DOT_BF16: sum += t->dot_bf16((const uint16_t *)a, (const uint16_t *)b, n); break;
        case KESTREL_BENCH_DOT_I8: sum += (double)t->dot_i8((const int8_t *)a, (const int8_t *)b, n); break;
        case KESTREL_BENCH_L2SQ_I8: sum += (double)t->l2sq_i8((const int8_t *)a, (const int8_t *)b, n); break;
        case KESTREL_BENCH_EXP_F32:
            t->exp_f32((const float *)a, (float *)out, n);
            sum += ((const float *)out)[it % (n ? n : 1)];
            break;
        case KESTREL_BENCH_SOFTMAX_F32:
            t->softmax_f32((const float *)a, (float *)out, n);
            sum += ((const float *)out)[it % (n ? n : 1)];
            break;
        case KESTREL_BENCH_F32_TO_F16:
            t->f32_to_f16((const float *)a, (uint16_t *)out, n);
            sum += ((const uint16_t *)out)[it % (n ? n : 1)];
            break;
        case KESTREL_BENCH_DOT_Q8_0:
            sum += t->vec_dot_q8_0_q8_0((const kestrel_block_q8_0 *)a, (const kestrel_block_q8_0 *)b, n);
            break;
        default: return -1.0;
        }
    }
    return sum;
}

#endif
