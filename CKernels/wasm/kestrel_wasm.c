/*
 * The WebAssembly face of CKernels: the module's exports, its memory contract and the
 * single-tier kernel table. Compiled only by CKernels/wasm/build.sh (wasm32, freestanding) and,
 * without the wasm-only parts, by the native reference build of CKernels/wasm/check_wasm.py.
 *
 * Exports (ABI version KESTREL_WASM_ABI_VERSION; pointers and size_t are i32 offsets into the
 * exported memory "memory"; int64/uint64 results are i64):
 *   every kernel of kestrel_kernels.h under its C name (kestrel_dot_f32, kestrel_gemv_i8, ...),
 *   as listed by KESTREL_WASM_EXPORTS below, with the C signature and rules;
 *   kestrel_wasm_abi_version() -> i32, kestrel_wasm_tier() -> 0 (scalar) or 1 (simd128);
 *   kestrel_wasm_alloc(bytes) -> 64-byte-aligned offset, or 0 when memory cannot grow;
 *   kestrel_wasm_reset() frees every allocation at once (a bump allocator: hosts allocate the
 *   operands of a batch of calls, call, read the results, reset);
 *   kestrel_wasm_bench(kernel, a, b, out, n, iters) -> f64 checksum (kestrel_bench_loop.h).
 * The module imports nothing. Out-of-bounds offsets trap in the engine (WebAssembly bounds
 * checks); the host cannot be corrupted.
 */
#include "../internal/kestrel_tiers.h"
#include "../internal/kestrel_math.h"
#include "../internal/qdot.h"
#include "kestrel_bench_loop.h"

#define KESTREL_WASM_ABI_VERSION 1

#if defined(__wasm__)
#define EXPORT(name) __attribute__((export_name("kestrel_" #name)))
#else
#define EXPORT(name)
#endif

/* ---- the module's table: scalar entries, then the simd128 tier's where it has them ---- */

static kestrel_kernel_table g_table;
static int g_table_ready;

/* No prefetch instruction in WebAssembly: the SIMD scans take the "no software prefetch" path. */
size_t kestrel_scan_prefetch_bytes(size_t elem_bytes, size_t row_bytes) {
    (void)elem_bytes;
    (void)row_bytes;
    return 0;
}

/* A WebAssembly instance runs one thread: the table is built on the first call. */
const kestrel_kernel_table *kestrel_kernels(void) {
    if (g_table_ready) return &g_table;
    kestrel_kernel_table *t = &g_table;
    t->isa = KESTREL_ISA_SCALAR;
    kestrel_register_distance_float(t, KESTREL_ISA_SCALAR);
    kestrel_register_distance_int(t, KESTREL_ISA_SCALAR);
    kestrel_register_convert(t, KESTREL_ISA_SCALAR);
    kestrel_register_math(t, KESTREL_ISA_SCALAR);
    kestrel_register_quant_blocks(t, KESTREL_ISA_SCALAR);
    kestrel_register_qdot(t, KESTREL_ISA_SCALAR);
#if KESTREL_WASM_SIMD128
#define W(entry) t->entry = kestrel_##entry##_wasm_simd128
    W(dot_f32); W(l2sq_f32); W(cosine_f32); W(dot_f16); W(l2sq_f16); W(cosine_f16);
    W(dot_bf16); W(l2sq_bf16); W(cosine_bf16); W(dot_i8); W(l2sq_i8); W(cosine_i8);
    W(hamming_b1); W(jaccard_b1);
    W(dot_f32_many); W(l2sq_f32_many); W(cosine_f32_many); W(dot_f16_many); W(l2sq_f16_many);
    W(cosine_f16_many); W(dot_bf16_many); W(l2sq_bf16_many); W(cosine_bf16_many);
    W(dot_i8_many); W(l2sq_i8_many); W(cosine_i8_many); W(hamming_b1_many); W(jaccard_b1_many);
    W(f32_to_f16); W(f16_to_f32); W(f32_to_bf16); W(bf16_to_f32);
    W(exp_f32); W(softmax_f32); W(axpy_f32); W(scale_f32); W(add_f32); W(mul_f32);
    W(sum_f32); W(max_f32); W(sumsq_f32);
    W(vec_dot_q8_0_q8_0); W(vec_dot_q4_0_q8_0); W(gemv_i8); W(gemm_i8);
    W(gemv_q8_0_q8_0); W(gemv_q4_0_q8_0);
#undef W
#endif
    g_table_ready = 1;
    return t;
}

/* ---- exported kernels: kestrel_wasm_<name> in C, "kestrel_<name>" in the module ---- */

#define FWD_DIST(name, T, R)                                       \
    R kestrel_wasm_##name(const T *a, const T *b, size_t n);       \
    EXPORT(name) R kestrel_wasm_##name(const T *a, const T *b, size_t n) { return kestrel_kernels()->name(a, b, n); }
#define FWD_MANY(name, T, O)                                                                                    \
    kestrel_status kestrel_wasm_##name(const T *q, const T *base, size_t dim, size_t count, size_t stride, O *out); \
    EXPORT(name) kestrel_status kestrel_wasm_##name(const T *q, const T *base, size_t dim, size_t count,        \
                                                    size_t stride, O *out) {                                    \
        return kestrel_kernels()->name(q, base, dim, count, stride, out);                                       \
    }
#define FWD_MAP(name, S, D)                               \
    void kestrel_wasm_##name(const S *src, D *dst, size_t n); \
    EXPORT(name) void kestrel_wasm_##name(const S *src, D *dst, size_t n) { kestrel_kernels()->name(src, dst, n); }

FWD_DIST(dot_f32, float, float)
FWD_DIST(l2sq_f32, float, float)
FWD_DIST(cosine_f32, float, float)
FWD_DIST(dot_f16, uint16_t, float)
FWD_DIST(l2sq_f16, uint16_t, float)
FWD_DIST(cosine_f16, uint16_t, float)
FWD_DIST(dot_bf16, uint16_t, float)
FWD_DIST(l2sq_bf16, uint16_t, float)
FWD_DIST(cosine_bf16, uint16_t, float)
FWD_DIST(dot_i8, int8_t, int64_t)
FWD_DIST(l2sq_i8, int8_t, int64_t)
FWD_DIST(cosine_i8, int8_t, float)
FWD_DIST(hamming_b1, uint8_t, uint64_t)
FWD_DIST(jaccard_b1, uint8_t, float)

FWD_MANY(dot_f32_many, float, float)
FWD_MANY(l2sq_f32_many, float, float)
FWD_MANY(cosine_f32_many, float, float)
FWD_MANY(dot_f16_many, uint16_t, float)
FWD_MANY(l2sq_f16_many, uint16_t, float)
FWD_MANY(cosine_f16_many, uint16_t, float)
FWD_MANY(dot_bf16_many, uint16_t, float)
FWD_MANY(l2sq_bf16_many, uint16_t, float)
FWD_MANY(cosine_bf16_many, uint16_t, float)
FWD_MANY(dot_i8_many, int8_t, int32_t)
FWD_MANY(l2sq_i8_many, int8_t, int32_t)
FWD_MANY(cosine_i8_many, int8_t, float)
FWD_MANY(hamming_b1_many, uint8_t, uint32_t)
FWD_MANY(jaccard_b1_many, uint8_t, float)

FWD_MAP(f32_to_f16, float, uint16_t)
FWD_MAP(f16_to_f32, uint16_t, float)
FWD_MAP(f32_to_bf16, float, uint16_t)
FWD_MAP(bf16_to_f32, uint16_t, float)
FWD_MAP(exp_f32, float, float)
FWD_MAP(softmax_f32, float, float)

void kestrel_wasm_axpy_f32(float alpha, const float *x, float *y, size_t n);
EXPORT(axpy_f32) void kestrel_wasm_axpy_f32(float alpha, const float *x, float *y, size_t n) {
    kestrel_kernels()->axpy_f32(alpha, x, y, n);
}
void kestrel_wasm_scale_f32(float alpha, const float *x, float *y, size_t n);
EXPORT(scale_f32) void kestrel_wasm_scale_f32(float alpha, const float *x, float *y, size_t n) {
    kestrel_kernels()->scale_f32(alpha, x, y, n);
}
void kestrel_wasm_add_f32(const float *a, const float *b, float *out, size_t n);
EXPORT(add_f32) void kestrel_wasm_add_f32(const float *a, const float *b, float *out, size_t n) {
    kestrel_kernels()->add_f32(a, b, out, n);
}
void kestrel_wasm_mul_f32(const float *a, const float *b, float *out, size_t n);
EXPORT(mul_f32) void kestrel_wasm_mul_f32(const float *a, const float *b, float *out, size_t n) {
    kestrel_kernels()->mul_f32(a, b, out, n);
}
#define FWD_REDUCE(name)                                   \
    float kestrel_wasm_##name(const float *x, size_t n);   \
    EXPORT(name) float kestrel_wasm_##name(const float *x, size_t n) { return kestrel_kernels()->name(x, n); }
FWD_REDUCE(sum_f32)
FWD_REDUCE(max_f32)
FWD_REDUCE(sumsq_f32)

#define FWD_VEC_DOT(name, WT, XT)                                          \
    float kestrel_wasm_##name(const WT *w, const XT *x, size_t nblocks);   \
    EXPORT(name) float kestrel_wasm_##name(const WT *w, const XT *x, size_t nblocks) { \
        return kestrel_kernels()->name(w, x, nblocks);                     \
    }
FWD_VEC_DOT(vec_dot_q8_0_q8_0, kestrel_block_q8_0, kestrel_block_q8_0)
FWD_VEC_DOT(vec_dot_q4_0_q8_0, kestrel_block_q4_0, kestrel_block_q8_0)
FWD_VEC_DOT(vec_dot_q4_K_q8_K, kestrel_block_q4_K, kestrel_block_q8_K)
FWD_VEC_DOT(vec_dot_q6_K_q8_K, kestrel_block_q6_K, kestrel_block_q8_K)

kestrel_status kestrel_wasm_gemv_i8(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                                    const int8_t *x, float x_scale, float *y);
EXPORT(gemv_i8) kestrel_status kestrel_wasm_gemv_i8(const int8_t *w, size_t rows, size_t cols, size_t stride,
                                                    const float *row_scales, const int8_t *x, float x_scale, float *y) {
    return kestrel_kernels()->gemv_i8(w, rows, cols, stride, row_scales, x, x_scale, y);
}
kestrel_status kestrel_wasm_gemm_i8(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n,
                                    size_t ldb, const float *row_scales, const float *col_scales, float *c, size_t ldc);
EXPORT(gemm_i8) kestrel_status kestrel_wasm_gemm_i8(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b,
                                                    size_t n, size_t ldb, const float *row_scales,
                                                    const float *col_scales, float *c, size_t ldc) {
    return kestrel_kernels()->gemm_i8(a, m, k, lda, b, n, ldb, row_scales, col_scales, c, ldc);
}

/* Block GEMVs: Q8_0 / Q4_0 through the table entry, Q4_K / Q6_K row by row (qdot_scalar.c). */
#define FWD_GEMV(name, WT, XT, call)                                                                \
    kestrel_status kestrel_wasm_##name(const WT *w, size_t rows, size_t nblocks, const XT *x, float *y); \
    EXPORT(name) kestrel_status kestrel_wasm_##name(const WT *w, size_t rows, size_t nblocks, const XT *x, float *y) { \
        return call(w, rows, nblocks, x, y);                                                        \
    }
FWD_GEMV(gemv_q8_0, kestrel_block_q8_0, kestrel_block_q8_0, kestrel_kernels()->gemv_q8_0_q8_0)
FWD_GEMV(gemv_q4_0, kestrel_block_q4_0, kestrel_block_q8_0, kestrel_kernels()->gemv_q4_0_q8_0)
FWD_GEMV(gemv_q4_K, kestrel_block_q4_K, kestrel_block_q8_K, kestrel_gemv_q4_K)
FWD_GEMV(gemv_q6_K, kestrel_block_q6_K, kestrel_block_q8_K, kestrel_gemv_q6_K)

/* Activation quantizers of the block dots (bit-identical to the native ones at every tier). */
void kestrel_wasm_quantize_row_q8_0(const float *x, kestrel_block_q8_0 *dst, size_t n);
EXPORT(quantize_row_q8_0) void kestrel_wasm_quantize_row_q8_0(const float *x, kestrel_block_q8_0 *dst, size_t n) {
    kestrel_quantize_act_q8_0(x, dst, n);
}
void kestrel_wasm_quantize_row_q8_K(const float *x, kestrel_block_q8_K *dst, size_t n);
EXPORT(quantize_row_q8_K) void kestrel_wasm_quantize_row_q8_K(const float *x, kestrel_block_q8_K *dst, size_t n) {
    kestrel_quantize_row_q8_K(x, dst, n);
}

/* ---- identification and benchmark ---- */

int32_t kestrel_wasm_abi_version(void);
EXPORT(wasm_abi_version) int32_t kestrel_wasm_abi_version(void) { return KESTREL_WASM_ABI_VERSION; }
int32_t kestrel_wasm_tier(void);
EXPORT(wasm_tier) int32_t kestrel_wasm_tier(void) { return KESTREL_WASM_SIMD128; }

double kestrel_wasm_bench(uint32_t kernel, const void *a, const void *b, void *out, size_t n, uint32_t iters);
EXPORT(wasm_bench) double kestrel_wasm_bench(uint32_t kernel, const void *a, const void *b, void *out, size_t n,
                                             uint32_t iters) {
    return kestrel_bench_loop(kestrel_kernels(), kernel, a, b, out, n, iters);
}

/* ---- memory: bump allocator over the exported memory, and the two libc functions ---- */

#if defined(__wasm__)
extern unsigned char __heap_base;
static size_t g_top;

void *kestrel_wasm_alloc(size_t bytes);
EXPORT(wasm_alloc) void *kestrel_wasm_alloc(size_t bytes) {
    if (g_top == 0) g_top = (size_t)&__heap_base;
    const size_t p = (g_top + 63u) & ~(size_t)63u;
    if (p < g_top || bytes > SIZE_MAX - p) return NULL;
    const size_t end = p + bytes;
    const uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        const size_t pages = (size_t)((end - have + 65535u) / 65536u);
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
    }
    g_top = end;
    return (void *)p;
}

void kestrel_wasm_reset(void);
EXPORT(wasm_reset) void kestrel_wasm_reset(void) { g_top = 0; }

/* Bulk-memory instructions (memory.copy / memory.fill): the build enables -mbulk-memory. */
#undef memcpy
#undef memset
void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
    __builtin_memcpy(dst, src, n);
    return dst;
}
void *memset(void *dst, int c, size_t n) {
    __builtin_memset(dst, c, n);
    return dst;
}
#endif
