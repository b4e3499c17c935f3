/*
 * kestrel_kernels.h — the whole public C API of KestrelKernels.
 *
 * Every kernel exists as a scalar reference and as SIMD tiers chosen at run time
 * (x86: AVX2+FMA+F16C, AVX-512 F/BW/VL/DQ, AVX-512 VNNI; arm64: NEON, NEON dotprod).
 * The plain names (`kestrel_dot_f32`, ...) call the active tier through one function
 * table that is initialised once, thread-safely, on first use. `kestrel_kernels_for(isa)`
 * hands out the table of any supported tier so callers (tests, benchmarks) can compare
 * tiers in one process. `KESTREL_ISA=scalar|avx2|avx512|avx512vnni|neon|neondot` in the
 * environment caps the active tier (never above what the CPU and OS support).
 *
 * Conventions, for every kernel unless its comment says otherwise:
 *  - `n` counts elements (bytes for packed binary vectors); n = 0 is valid and
 *    pointers may then be NULL.
 *  - Pointers need no particular alignment. Kernels never allocate.
 *  - f16 is IEEE binary16 and bf16 is bfloat16, both stored as uint16_t bit patterns.
 *  - Floating-point kernels accumulate in f32 (f16/bf16 inputs are widened exactly).
 *    SIMD tiers sum in a different order from the scalar reference (several partial
 *    sums, FMA): results agree with the scalar tier within a relative error of about
 *    n * 2^-24 of sum(|a_i * b_i|), not bit for bit.
 *  - int8 kernels are exact: int32 lanes are flushed into a 64-bit total often enough
 *    that nothing can wrap, so every tier returns the identical value.
 *  - NaN inputs propagate: a distance over a vector holding NaN is NaN at every tier.
 *  - Thread-safety: kernels are pure functions of their inputs; call them from any thread.
 *
 * Tiers that implement each family (others inherit their parent's entry):
 *
 *   family                                   scalar avx2 avx512 avx512vnni neon neondot
 *   f32/f16/bf16 dot, l2sq, cosine (+_many)     x     x     x       -        x     -
 *   int8 dot, l2sq, cosine (+_many)             x     x     x       x        x     x
 *   binary hamming, jaccard (+_many)            x     x     x       -        x     -
 *   f32<->f16/bf16 conversion                   x     x     x       -        x     -
 *   exp, softmax, axpy/scale/add/mul/sum/max    x     x     x       -        x     -
 *   q8_0/q4_0 x q8_0 dots and GEMV, int8 GEMV/GEMM  x  x  -       x        x     x
 *   q4_K/q6_K x q8_K dots                       x     x     -       -        x     x
 *   attention forward tile (kestrel_attention.h) x    x     x       -        x     -
 *   attention backward tile (…_backward.h)      x     x     x       -        x     -
 *   KV-cache decode (kestrel_decode.h)          x     x     x       -        x     -
 *
 * `CKernels/test/neon-check.sh` prints this table from the built tables and checks every
 * entry of every tier against the scalar one (NEON under qemu-aarch64).
 *
 * WebAssembly: `CKernels/wasm/build.sh` builds the scalar tier and a wasm_simd128 tier (every
 * family above except the Q4_K / Q6_K dots, which stay scalar) into two wasm32 modules with no
 * run-time dispatch; `CKernels/wasm/kestrel_wasm.c` documents their exports and memory, and
 * `CKernels/wasm/check_wasm.py` checks them in wasmtime (Documentation/WebAssembly.md).
 */
#ifndef KESTREL_KERNELS_H
#define KESTREL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kestrel_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Status and ISA levels                                                                 */
/* ------------------------------------------------------------------------------------ */

/** Result of a kernel that can fail. */
typedef enum kestrel_status {
    KESTREL_OK = 0,
    /** A pointer was NULL while its element count was non-zero. */
    KESTREL_ERR_NULL_POINTER = 1,
    /** A size or stride argument is out of range (for example stride < dim). */
    KESTREL_ERR_INVALID_ARGUMENT = 2,
    /** The requested ISA level is not supported by this CPU/OS or this build. */
    KESTREL_ERR_UNSUPPORTED_ISA = 3
} kestrel_status;

/** ISA levels, in increasing order within one architecture. */
typedef enum kestrel_isa {
    KESTREL_ISA_SCALAR = 0,
    /** x86-64: AVX2 + FMA + F16C. */
    KESTREL_ISA_AVX2 = 1,
    /** x86-64: AVX-512 F, BW, VL, DQ (plus everything AVX2 needs). */
    KESTREL_ISA_AVX512 = 2,
    /** x86-64: AVX512 plus AVX-512 VNNI (int8 dot products with vpdpbusd). */
    KESTREL_ISA_AVX512VNNI = 3,
    /** arm64: Advanced SIMD (baseline on every AArch64 CPU). */
    KESTREL_ISA_NEON = 4,
    /** arm64: NEON plus the dot-product extension (sdot/udot). */
    KESTREL_ISA_NEONDOT = 5,
    KESTREL_ISA_COUNT = 6
} kestrel_isa;

/** CPU feature bits reported by `kestrel_cpu_features`. */
enum {
    KESTREL_CPU_SSE42 = 1u << 0,
    KESTREL_CPU_AVX2 = 1u << 1,
    KESTREL_CPU_FMA = 1u << 2,
    KESTREL_CPU_F16C = 1u << 3,
    KESTREL_CPU_AVX512F = 1u << 4,
    KESTREL_CPU_AVX512BW = 1u << 5,
    KESTREL_CPU_AVX512VL = 1u << 6,
    KESTREL_CPU_AVX512DQ = 1u << 7,
    KESTREL_CPU_AVX512VNNI = 1u << 8,
    KESTREL_CPU_AVX512BF16 = 1u << 9,
    KESTREL_CPU_AVXVNNI = 1u << 10,
    KESTREL_CPU_AVX512VPOPCNTDQ = 1u << 11,
    KESTREL_CPU_NEON = 1u << 16,
    KESTREL_CPU_NEON_DOTPROD = 1u << 17,
    KESTREL_CPU_NEON_FP16 = 1u << 18,
    /** Set when the OS saves the AVX (YMM) state, per XGETBV. */
    KESTREL_CPU_OS_AVX = 1u << 24,
    /** Set when the OS saves the AVX-512 (opmask/ZMM) state, per XGETBV. */
    KESTREL_CPU_OS_AVX512 = 1u << 25
};

/** Feature bits of this CPU, detected once (CPUID + XGETBV on x86, baseline/HWCAP on arm64). */
uint32_t kestrel_cpu_features(void);
/** The tier the plain kernel names use: the best supported one, capped by KESTREL_ISA. */
kestrel_isa kestrel_active_isa(void);
/** 1 when `isa` can run on this CPU and OS and this build contains it, else 0. */
int kestrel_isa_supported(kestrel_isa isa);
/** Lower-case name of a level ("scalar", "avx2", "avx512", "avx512vnni", "neon", "neondot"). */
const char *kestrel_isa_name(kestrel_isa isa);
/**
 * Parses a level name as accepted by KESTREL_ISA. Returns KESTREL_OK and writes *out, or
 * KESTREL_ERR_INVALID_ARGUMENT for an unknown name.
 */
kestrel_status kestrel_isa_parse(const char *name, kestrel_isa *out);
/**
 * Makes `isa` the active tier for the whole process (tests and benchmarks use this).
 * Returns KESTREL_ERR_UNSUPPORTED_ISA when the CPU cannot run it. Not meant to race with
 * running kernels: the swap itself is atomic, but a kernel already running finishes on
 * the old tier.
 */
kestrel_status kestrel_set_active_isa(kestrel_isa isa);
/** Human-readable CPU brand string (x86 CPUID leaf 0x80000002..4), or "unknown". */
const char *kestrel_cpu_name(void);

/* ------------------------------------------------------------------------------------ */
/* Function table: one per tier                                                          */
/* ------------------------------------------------------------------------------------ */

typedef float (*kestrel_dist_f32_fn)(const float *a, const float *b, size_t n);
typedef float (*kestrel_dist_u16_fn)(const uint16_t *a, const uint16_t *b, size_t n);
typedef int64_t (*kestrel_dot_i8_fn)(const int8_t *a, const int8_t *b, size_t n);
typedef float (*kestrel_cos_i8_fn)(const int8_t *a, const int8_t *b, size_t n);
typedef uint64_t (*kestrel_hamming_fn)(const uint8_t *a, const uint8_t *b, size_t nbytes);
typedef float (*kestrel_jaccard_fn)(const uint8_t *a, const uint8_t *b, size_t nbytes);

typedef kestrel_status (*kestrel_many_f32_fn)(const float *q, const float *base, size_t dim,
                                               size_t count, size_t stride, float *out);
typedef kestrel_status (*kestrel_many_u16_fn)(const uint16_t *q, const uint16_t *base, size_t dim,
                                               size_t count, size_t stride, float *out);
typedef kestrel_status (*kestrel_many_i8_fn)(const int8_t *q, const int8_t *base, size_t dim,
                                              size_t count, size_t stride, int32_t *out);
typedef kestrel_status (*kestrel_many_cos_i8_fn)(const int8_t *q, const int8_t *base, size_t dim,
                                                  size_t count, size_t stride, float *out);
typedef kestrel_status (*kestrel_many_b1_fn)(const uint8_t *q, const uint8_t *base, size_t nbytes,
                                              size_t count, size_t stride, uint32_t *out);
typedef kestrel_status (*kestrel_many_jaccard_fn)(const uint8_t *q, const uint8_t *base, size_t nbytes,
                                                   size_t count, size_t stride, float *out);

typedef void (*kestrel_f32_to_u16_fn)(const float *src, uint16_t *dst, size_t n);
typedef void (*kestrel_u16_to_f32_fn)(const uint16_t *src, float *dst, size_t n);
typedef void (*kestrel_unary_f32_fn)(const float *x, float *y, size_t n);
typedef void (*kestrel_axpy_f32_fn)(float alpha, const float *x, float *y, size_t n);
typedef void (*kestrel_scale_f32_fn)(float alpha, const float *x, float *y, size_t n);
typedef void (*kestrel_binary_f32_fn)(const float *a, const float *b, float *out, size_t n);
typedef float (*kestrel_reduce_f32_fn)(const float *x, size_t n);

/**
 * One tier's kernels. Every entry is non-NULL: a tier without its own version of a
 * kernel points at the best lower tier's.
 */
struct kestrel_attention_args; /* kestrel_attention.h */
struct kestrel_attention_bwd_args; /* kestrel_attention_backward.h */
struct kestrel_decode_args; /* kestrel_decode.h */

typedef struct kestrel_kernel_table {
    kestrel_isa isa;
    /* distances, one pair */
    kestrel_dist_f32_fn dot_f32, l2sq_f32, cosine_f32;
    kestrel_dist_u16_fn dot_f16, l2sq_f16, cosine_f16;
    kestrel_dist_u16_fn dot_bf16, l2sq_bf16, cosine_bf16;
    kestrel_dot_i8_fn dot_i8, l2sq_i8;
    kestrel_cos_i8_fn cosine_i8;
    kestrel_hamming_fn hamming_b1;
    kestrel_jaccard_fn jaccard_b1;
    /* distances, one query against `count` rows */
    kestrel_many_f32_fn dot_f32_many, l2sq_f32_many, cosine_f32_many;
    kestrel_many_u16_fn dot_f16_many, l2sq_f16_many, cosine_f16_many;
    kestrel_many_u16_fn dot_bf16_many, l2sq_bf16_many, cosine_bf16_many;
    kestrel_many_i8_fn dot_i8_many, l2sq_i8_many;
    kestrel_many_cos_i8_fn cosine_i8_many;
    kestrel_many_b1_fn hamming_b1_many;
    kestrel_many_jaccard_fn jaccard_b1_many;
    /* conversion */
    kestrel_f32_to_u16_fn f32_to_f16, f32_to_bf16;
    kestrel_u16_to_f32_fn f16_to_f32, bf16_to_f32;
    /* math */
    kestrel_unary_f32_fn exp_f32, softmax_f32;
    kestrel_axpy_f32_fn axpy_f32;
    kestrel_scale_f32_fn scale_f32;
    kestrel_binary_f32_fn add_f32, mul_f32;
    kestrel_reduce_f32_fn sum_f32, max_f32, sumsq_f32;
    /* ggml blocks: quantize / dequantize rows (quant_blocks_*.c; types in kestrel_quant.h) */
    /* Bit-identical to the kestrel_*_ref functions at every tier. SIMD quantizers: Q8_0, Q8_1
     * (AVX2, AVX-512, NEON; the others point at the reference); SIMD dequantizers: all eight. */
    kestrel_quantize_blocks_fn quantize_q8_0, quantize_q8_1, quantize_q4_0, quantize_q4_1;
    kestrel_quantize_blocks_fn quantize_q5_0, quantize_q5_1, quantize_q4_K, quantize_q6_K;
    kestrel_dequantize_blocks_fn dequantize_q8_0, dequantize_q8_1, dequantize_q4_0, dequantize_q4_1;
    kestrel_dequantize_blocks_fn dequantize_q5_0, dequantize_q5_1, dequantize_q4_K, dequantize_q6_K;
    /* (end of ggml block entries) */

    /* quantized dot products, GEMV, GEMM (qdot_*.c; types in kestrel_quant.h) */
    float (*vec_dot_q8_0_q8_0)(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x, size_t nblocks);
    float (*vec_dot_q4_0_q8_0)(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x, size_t nblocks);
    float (*vec_dot_q4_K_q8_K)(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks);
    float (*vec_dot_q6_K_q8_K)(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks);
    kestrel_status (*gemv_i8)(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                              const int8_t *x, float x_scale, float *y);
    kestrel_status (*gemm_i8)(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n,
                              size_t ldb, const float *row_scales, const float *col_scales, float *c, size_t ldc);
    kestrel_status (*gemv_q8_0_q8_0)(const kestrel_block_q8_0 *w, size_t rows, size_t nblocks,
                                     const kestrel_block_q8_0 *x, float *y);
    kestrel_status (*gemv_q4_0_q8_0)(const kestrel_block_q4_0 *w, size_t rows, size_t nblocks,
                                     const kestrel_block_q8_0 *x, float *y);
    /* (end of quantized dot entries) */

    /* attention forward tiles (attention_*.c; types in kestrel_attention.h) — issue 17 */
    /* One tile run (kestrel_attention_f32 of the tier): scalar, AVX2, AVX-512, NEON. */
    kestrel_status (*attention_f32)(const struct kestrel_attention_args *a);
    /* (end of attention forward entries) */

    /* attention backward pieces (attention_backward*.c) — issue 17 */
    /* One backward tile, all five products (kestrel_attention_bwd_tile_f32 of the tier; types in
     * kestrel_attention_backward.h): scalar, AVX2, AVX-512, NEON. */
    kestrel_status (*attention_bwd_tile_f32)(const struct kestrel_attention_bwd_args *a);
    /* (end of attention backward entries) */

    /* KV-cache decode (decode_*.c) — issue 18 */
    /* K/V heads over a range of cached positions (types in kestrel_decode.h) */
    kestrel_status (*decode_partial)(const struct kestrel_decode_args *a);
    /* (end of decode entries) */

    /* Micro-LoRA adapters: apply and fused training step (lora_*.c; types in kestrel_lora.h) — issue 19 */
    /* (end of adaptation entries) */
} kestrel_kernel_table;

/** The table of `isa`, or NULL when that tier is not supported here. Valid forever. */
const kestrel_kernel_table *kestrel_kernels_for(kestrel_isa isa);
/** The table of the active tier. Valid forever. */
const kestrel_kernel_table *kestrel_kernels(void);

/* ------------------------------------------------------------------------------------ */
/* Distances, one pair (active tier)                                                     */
/* ------------------------------------------------------------------------------------ */

/** Inner product sum(a_i * b_i). f32 accumulation. O(n). */
float kestrel_dot_f32(const float *a, const float *b, size_t n);
/** Squared Euclidean distance sum((a_i - b_i)^2). f32 accumulation. O(n). */
float kestrel_l2sq_f32(const float *a, const float *b, size_t n);
/**
 * Cosine distance 1 - a.b / (|a| |b|), clamped to [0, 2]. Dot product and norms accumulate
 * in f32; the final division is done in double. Exactly 0 when a.b == |a|^2 == |b|^2
 * (so for identical vectors at every tier). When exactly one vector has zero norm the
 * distance is 1; when both do it is 0. O(n).
 */
float kestrel_cosine_f32(const float *a, const float *b, size_t n);
/** As kestrel_dot_f32, over IEEE binary16 inputs (uint16_t bits). */
float kestrel_dot_f16(const uint16_t *a, const uint16_t *b, size_t n);
/** As kestrel_l2sq_f32, over IEEE binary16 inputs. */
float kestrel_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n);
/** As kestrel_cosine_f32, over IEEE binary16 inputs. */
float kestrel_cosine_f16(const uint16_t *a, const uint16_t *b, size_t n);
/** As kestrel_dot_f32, over bfloat16 inputs (uint16_t bits). */
float kestrel_dot_bf16(const uint16_t *a, const uint16_t *b, size_t n);
/** As kestrel_l2sq_f32, over bfloat16 inputs. */
float kestrel_l2sq_bf16(const uint16_t *a, const uint16_t *b, size_t n);
/** As kestrel_cosine_f32, over bfloat16 inputs. */
float kestrel_cosine_bf16(const uint16_t *a, const uint16_t *b, size_t n);
/** Exact inner product of int8 vectors (int32 lanes, 64-bit total: never wraps). O(n). */
int64_t kestrel_dot_i8(const int8_t *a, const int8_t *b, size_t n);
/** Exact squared Euclidean distance of int8 vectors (never wraps). O(n). */
int64_t kestrel_l2sq_i8(const int8_t *a, const int8_t *b, size_t n);
/** Cosine distance of int8 vectors from the exact integer dot and norms; rules as kestrel_cosine_f32. */
float kestrel_cosine_i8(const int8_t *a, const int8_t *b, size_t n);
/** Number of differing bits between two packed bit vectors of `nbytes` bytes. O(nbytes). */
uint64_t kestrel_hamming_b1(const uint8_t *a, const uint8_t *b, size_t nbytes);
/** Jaccard distance 1 - |a & b| / |a | b| of packed bit vectors; 0 when both are all zero. */
float kestrel_jaccard_b1(const uint8_t *a, const uint8_t *b, size_t nbytes);

/* ------------------------------------------------------------------------------------ */
/* Distances, one query against `count` rows (active tier)                               */
/*                                                                                       */
/* Row r starts at base + r * stride (stride in elements, or bytes for binary), stride >= */
/* dim. out[r] receives the distance of row r, equal to the one-pair kernel of the same   */
/* tier. Returns KESTREL_ERR_INVALID_ARGUMENT when stride < dim, KESTREL_ERR_NULL_POINTER */
/* for a NULL pointer with dim > 0 and count > 0 (out must be non-NULL when count > 0).   */
/* O(count * dim); the memory-bound scan of an index.                                     */
/* ------------------------------------------------------------------------------------ */

kestrel_status kestrel_dot_f32_many(const float *q, const float *base, size_t dim, size_t count,
                                    size_t stride, float *out);
kestrel_status kestrel_l2sq_f32_many(const float *q, const float *base, size_t dim, size_t count,
                                     size_t stride, float *out);
kestrel_status kestrel_cosine_f32_many(const float *q, const float *base, size_t dim, size_t count,
                                       size_t stride, float *out);
kestrel_status kestrel_dot_f16_many(const uint16_t *q, const uint16_t *base, size_t dim, size_t count,
                                    size_t stride, float *out);
kestrel_status kestrel_l2sq_f16_many(const uint16_t *q, const uint16_t *base, size_t dim, size_t count,
                                     size_t stride, float *out);
kestrel_status kestrel_cosine_f16_many(const uint16_t *q, const uint16_t *base, size_t dim,
                                       size_t count, size_t stride, float *out);
kestrel_status kestrel_dot_bf16_many(const uint16_t *q, const uint16_t *base, size_t dim, size_t count,
                                     size_t stride, float *out);
kestrel_status kestrel_l2sq_bf16_many(const uint16_t *q, const uint16_t *base, size_t dim,
                                      size_t count, size_t stride, float *out);
kestrel_status kestrel_cosine_bf16_many(const uint16_t *q, const uint16_t *base, size_t dim,
                                        size_t count, size_t stride, float *out);
/**
 * int8 one-to-many writes exact int32 results; dim must be <= KESTREL_I8_MANY_MAX_DIM so
 * that no row sum can exceed INT32_MAX (else KESTREL_ERR_INVALID_ARGUMENT).
 */
kestrel_status kestrel_dot_i8_many(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                   size_t stride, int32_t *out);
kestrel_status kestrel_l2sq_i8_many(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                    size_t stride, int32_t *out);
kestrel_status kestrel_cosine_i8_many(const int8_t *q, const int8_t *base, size_t dim, size_t count,
                                      size_t stride, float *out);
/** Hamming distance of one packed query against `count` rows of `nbytes` (stride in bytes). */
kestrel_status kestrel_hamming_b1_many(const uint8_t *q, const uint8_t *base, size_t nbytes,
                                       size_t count, size_t stride, uint32_t *out);
kestrel_status kestrel_jaccard_b1_many(const uint8_t *q, const uint8_t *base, size_t nbytes,
                                       size_t count, size_t stride, float *out);

/** Largest dim accepted by the int32-output int8 one-to-many kernels (32768 * 255^2 < 2^31). */
#define KESTREL_I8_MANY_MAX_DIM ((size_t)32768)

/* ------------------------------------------------------------------------------------ */
/* Conversion (active tier): round-to-nearest-even; NaN stays NaN (quiet), Inf stays Inf. */
/* Every tier gives bit-identical results. src and dst must not overlap partially.       */
/* ------------------------------------------------------------------------------------ */

/** f32 -> IEEE binary16. Overflow rounds to +-Inf; tiny values become f16 subnormals or 0. */
void kestrel_f32_to_f16(const float *src, uint16_t *dst, size_t n);
/** IEEE binary16 -> f32 (exact; a signalling NaN comes out quiet with its sign and payload). */
void kestrel_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/** f32 -> bfloat16, round-to-nearest-even on the dropped 16 bits; NaN -> quiet NaN. */
void kestrel_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
/** bfloat16 -> f32 (exact: the bits shifted left by 16, a NaN keeps its bits as they are). */
void kestrel_bf16_to_f32(const uint16_t *src, float *dst, size_t n);

/* ------------------------------------------------------------------------------------ */
/* Math (active tier)                                                                    */
/* ------------------------------------------------------------------------------------ */

/**
 * y_i = exp(x_i). Maximum error 2 ulp against the correctly rounded result for x in
 * [-87.3, 88.7] (the range where exp is a normal f32); below it the result flushes
 * towards 0 (< 2^-126, may be 0), above it +Inf; exp(-Inf) = 0, exp(NaN) = NaN.
 * y may equal x (in place). Scalar: libm expf (wasm32 builds: its polynomial twin). AVX2, AVX-512, NEON: Cody-Waite reduction and
 * a degree-6 polynomial (the same operations on every tier): measured at most 1 ulp from
 * the correctly rounded result over every f32 in [-87.3, 88.7]; subnormal results are
 * rounded once rather than flushed.
 */
void kestrel_exp_f32(const float *x, float *y, size_t n);
/**
 * Numerically stable softmax: y_i = exp(x_i - max) / sum_j exp(x_j - max), f32 accumulation.
 * y may equal x. Special values: any NaN or +Inf input makes every output NaN; when every
 * input is -Inf (a fully masked row) every output is 0. Outputs sum to 1 within n * 2^-23.
 */
void kestrel_softmax_f32(const float *x, float *y, size_t n);
/** y_i += alpha * x_i (FMA in SIMD tiers). */
void kestrel_axpy_f32(float alpha, const float *x, float *y, size_t n);
/** y_i = alpha * x_i (y may equal x). */
void kestrel_scale_f32(float alpha, const float *x, float *y, size_t n);
/** out_i = a_i + b_i (out may equal a or b). */
void kestrel_add_f32(const float *a, const float *b, float *out, size_t n);
/** out_i = a_i * b_i (out may equal a or b). */
void kestrel_mul_f32(const float *a, const float *b, float *out, size_t n);
/** sum of x_i, f32 accumulation (several partial sums in SIMD tiers); 0 for n = 0. */
float kestrel_sum_f32(const float *x, size_t n);
/** max of x_i; NaN if any x_i is NaN; -Inf for n = 0. */
float kestrel_max_f32(const float *x, size_t n);
/** sum of x_i^2, f32 accumulation; 0 for n = 0. */
float kestrel_sumsq_f32(const float *x, size_t n);

/* ------------------------------------------------------------------------------------ */
/* Quantized dot products, GEMV and GEMM (active tier; qdot_*.c)                         */
/*                                                                                       */
/* Integer parts are exact at every tier: each block's integer sum is formed in int32     */
/* lanes that cannot wrap (bounds in each comment). Block dots then add                  */
/* f32(scale_w * scale_x) * f32(isum) over the blocks in f32, in a tier-dependent order  */
/* (SIMD tiers use several partial sums and FMA): a tier agrees with the scalar one      */
/* within (nblocks + 4) * 2^-23 * sum_i |w_i * x_i| (dequantized products; for Q4_K      */
/* |w_i| counts as |d sc_j q_i| + |dmin m_j|, its two terms being rounded apart), not bit */
/* for bit; the reference (scalar) is within the same bound of the exact value. int8 GEMV */
/* and GEMM results are bit-identical at every tier (one rounding of an exact integer).  */
/*                                                                                       */
/* Activation codes: x86 tiers use `maddubs`/`vpdpbusd` with the sign trick (|w| as      */
/* uint8 times sign(w) * x as int8), which is exact when no activation code is -128: a   */
/* pair of products is then at most 2 * 128 * 127 = 32512 < 2^15. Every kestrel          */
/* activation quantizer writes codes in [-127, 127]. The kernels nevertheless scan the    */
/* activation codes for -128 (one compare per 32 bytes) and, when one is present, answer  */
/* with an exact widening path, so the integer results hold for every input (Q8_0 and     */
/* Q4_0, whose codes nibble - 8 use the same trick). Q4_K and Q6_K weights are unsigned    */
/* nibbles / 6-bit codes (pairs <= 2 * 63 * 128 < 2^15): no sign trick, exact for any x.  */
/* ------------------------------------------------------------------------------------ */

/** Largest `cols` / `k` of the int8 GEMV and GEMM: 65536 * 128 * 128 = 2^30 < 2^31 (int32 sums). */
#define KESTREL_QGEMV_MAX_COLS ((size_t)65536)

/**
 * Q8_0 x Q8_0: sum over `nblocks` blocks of f16(w.d) * f16(x.d) * sum_j w.qs[j] * x.qs[j].
 * nblocks = 0 gives 0 (pointers may be NULL). Tiers: scalar, avx2, avx512vnni, neon, neondot.
 * Non-finite scales propagate (Inf * 0 = NaN as in IEEE). O(32 * nblocks).
 */
float kestrel_vec_dot_q8_0_q8_0(const kestrel_block_q8_0 *w, const kestrel_block_q8_0 *x, size_t nblocks);
/** Q4_0 weights x Q8_0 activations: codes (nibble - 8), nibble order of kestrel_quant.h. As above. */
float kestrel_vec_dot_q4_0_q8_0(const kestrel_block_q4_0 *w, const kestrel_block_q8_0 *x, size_t nblocks);
/**
 * Q4_K weights x Q8_K activations over `nblocks` 256-element super-blocks:
 * sum f16(d) * x.d * sum_j sc_j * isum_j - f16(dmin) * x.d * sum_j m_j * (bsums[2j] + bsums[2j+1]).
 * `x.bsums` must hold the sums of 16 codes (as kestrel_quantize_row_q8_K writes them): every tier
 * reads the mins' term from them. Tiers: scalar, avx2 (avx512 uses it), avx512vnni (512-bit), neon,
 * neondot.
 */
float kestrel_vec_dot_q4_K_q8_K(const kestrel_block_q4_K *w, const kestrel_block_q8_K *x, size_t nblocks);
/**
 * Q6_K weights x Q8_K activations: sum f16(d) * x.d * sum_k scales[k] * sum (code - 32) * x, the
 * -32 offset taken through `x.bsums` (which must match the codes, as above); each super-block's
 * integer sum is formed exactly before its one conversion to f32 at every tier. Tiers as Q4_K.
 */
float kestrel_vec_dot_q6_K_q8_K(const kestrel_block_q6_K *w, const kestrel_block_q8_K *x, size_t nblocks);

/**
 * int8 GEMV: y[r] = (row_scales[r] * x_scale) * f32(sum_c w[r * stride + c] * x[c]) for r < rows,
 * the sum exact in int32, the product rounded once in f32: bit-identical at every tier.
 * Returns KESTREL_ERR_INVALID_ARGUMENT when stride < cols or cols > KESTREL_QGEMV_MAX_COLS,
 * KESTREL_ERR_NULL_POINTER for a NULL pointer with rows > 0 (w, x only when cols > 0).
 * Tiers: scalar, avx2 (maddubs), avx512vnni (vpdpbusd), neon, neondot (sdot). O(rows * cols).
 */
kestrel_status kestrel_gemv_i8(const int8_t *w, size_t rows, size_t cols, size_t stride, const float *row_scales,
                               const int8_t *x, float x_scale, float *y);
/**
 * int8 GEMM with row and column scales: c[i * ldc + j] = (row_scales[i] * col_scales[j]) *
 * f32(sum_p a[i * lda + p] * b[j * ldb + p]) for i < m, j < n (B is given as n rows of k, i.e.
 * transposed). Exact int32 sums, one f32 rounding of the scale product and one of the result:
 * bit-identical at every tier. Blocked over panels of B that stay in cache. Errors as GEMV
 * (lda, ldb < k, ldc < n, k > KESTREL_QGEMV_MAX_COLS). O(m * n * k), no allocation.
 */
kestrel_status kestrel_gemm_i8(const int8_t *a, size_t m, size_t k, size_t lda, const int8_t *b, size_t n, size_t ldb,
                               const float *row_scales, const float *col_scales, float *c, size_t ldc);

/**
 * GEMV over rows of blocks: y[r] = the block dot of row r (w + r * nblocks) with x, for r < rows.
 * w: rows * nblocks blocks, row after row; x: nblocks activation blocks. Returns
 * KESTREL_ERR_NULL_POINTER for NULL w/x with rows, nblocks > 0 or NULL y with rows > 0.
 * Q8_0 and Q4_0 are table entries (gemv_q8_0_q8_0, gemv_q4_0_q8_0): the x86 tiers run four rows
 * per pass over x (one load and one -128 scan of x for four rows), so a row may differ from
 * vec_dot of the same tier by the summation order only (same bound as above). Q4_K and Q6_K call
 * the active tier's block dot once per row. O(rows * nblocks * block elements).
 */
kestrel_status kestrel_gemv_q8_0(const kestrel_block_q8_0 *w, size_t rows, size_t nblocks, const kestrel_block_q8_0 *x,
                                 float *y);
/** As kestrel_gemv_q8_0 with Q4_0 weights and Q8_0 activations. */
kestrel_status kestrel_gemv_q4_0(const kestrel_block_q4_0 *w, size_t rows, size_t nblocks, const kestrel_block_q8_0 *x,
                                 float *y);
/** As kestrel_gemv_q8_0 with Q4_K weights and Q8_K activations (nblocks super-blocks a row). */
kestrel_status kestrel_gemv_q4_K(const kestrel_block_q4_K *w, size_t rows, size_t nblocks, const kestrel_block_q8_K *x,
                                 float *y);
/** As kestrel_gemv_q8_0 with Q6_K weights and Q8_K activations. */
kestrel_status kestrel_gemv_q6_K(const kestrel_block_q6_K *w, size_t rows, size_t nblocks, const kestrel_block_q8_K *x,
                                 float *y);

/**
 * Quantizes `n` floats (a multiple of 32, finite; the caller checks) into n/32 Q8_0 activation
 * blocks for the block dots above: the active tier's `quantize_q8_0` entry (SIMD where a tier has
 * one), bit-identical to the reference kestrel_quantize_row_q8_0_ref (ggml's bits, codes in
 * [-127, 127]) at every tier.
 */
void kestrel_quantize_act_q8_0(const float *x, kestrel_block_q8_0 *dst, size_t n);

/**
 * Q8_K activation quantizer (a format that never appears in files, so its rounding is Kestrel's):
 * per 256-element super-block, amax = max |x|; amax == 0 gives d = 0 and all codes 0; else
 * id = 127 / amax (f32), code = clamp(nearest-ties-to-even(x * id), -127, 127), d = amax / 127
 * (f32, not fp16), bsums[k] = sum of codes 16k..16k+15. A block whose 127 / amax overflows
 * (amax < ~3.7e-37) is written as zeros like an all-zero block. `n` a multiple of 256, finite (the caller
 * checks). Scalar on every tier (it runs once per GEMV, O(n)); compiled without FP contraction.
 */
void kestrel_quantize_row_q8_K(const float *x, kestrel_block_q8_K *dst, size_t n);

/* ------------------------------------------------------------------------------------ */
/* Prefetch                                                                              */
/* ------------------------------------------------------------------------------------ */

/**
 * Hints the CPU to load the cache line holding `p` for reading (all cache levels). Never
 * faults, even for an invalid address; no effect on results. Inline so that Swift callers
 * (graph walks of an index) pay for one instruction. All architectures (a no-op where the
 * compiler has no prefetch).
 */
static inline void kestrel_prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

/* ------------------------------------------------------------------------------------ */
/* CPU description and the prefetch plan chosen at start-up                             */
/* ------------------------------------------------------------------------------------ */

/** CPU vendors the start-up rules tell apart. */
typedef enum kestrel_cpu_vendor {
    KESTREL_VENDOR_OTHER = 0,
    /** CPUID vendor "GenuineIntel". */
    KESTREL_VENDOR_INTEL = 1,
    /** CPUID vendor "AuthenticAMD", or "HygonGenuine" (a Zen derivative). */
    KESTREL_VENDOR_AMD = 2,
    /** Any arm64 CPU. */
    KESTREL_VENDOR_ARM = 3
} kestrel_cpu_vendor;

/**
 * What start-up detection found about this CPU. Fields the CPU or OS does not report are 0
 * (numbers) or "" (strings). x86: CPUID leaf 0 (vendor), leaf 1 (display family / model: the
 * base value plus the extended one where the vendor defines it), cache sizes from the
 * deterministic cache leaf (4 on Intel, 0x8000001D on AMD, else 0x80000005/6); elsewhere the
 * C library's sysconf / sysctl. Cache sizes are per cache instance (L1d and L2 per core on the
 * CPUs this project meets; L3 per die or socket), in bytes.
 */
typedef struct kestrel_cpu_description {
    kestrel_cpu_vendor vendor;
    /** CPUID vendor string ("GenuineIntel", "AuthenticAMD", ...), or "" (arm64). */
    char vendor_id[16];
    uint32_t family;
    uint32_t model;
    uint32_t line_bytes;
    uint64_t l1d_bytes;
    uint64_t l2_bytes;
    uint64_t l3_bytes;
} kestrel_cpu_description;

/** This CPU's description, detected once. Valid forever; thread-safe. */
const kestrel_cpu_description *kestrel_cpu_describe(void);

/** Where the prefetch plan in force came from. */
typedef enum kestrel_prefetch_source {
    /** The per-CPU rule (vendor, family, cache sizes) applied at start-up. */
    KESTREL_PREFETCH_FROM_RULE = 0,
    /** `KESTREL_PREFETCH` and/or `KESTREL_GRAPH_PREFETCH` in the environment at start-up. */
    KESTREL_PREFETCH_FROM_ENV = 1,
    /** A call of `kestrel_set_prefetch_plan` (tests, benchmarks). */
    KESTREL_PREFETCH_FROM_CALL = 2
} kestrel_prefetch_source;

/** Scan classes of `kestrel_prefetch_plan.scan_bytes`, by stored element width. */
enum {
    /** f32 rows. */
    KESTREL_SCAN_4BYTE = 0,
    /** f16 and bf16 rows. */
    KESTREL_SCAN_2BYTE = 1,
    /** int8 and packed-binary rows. */
    KESTREL_SCAN_1BYTE = 2,
    KESTREL_SCAN_CLASSES = 3
};

/** Largest accepted software-prefetch distance of a scan, in bytes (1 MiB). */
#define KESTREL_PREFETCH_MAX_BYTES 1048576u
/** Largest accepted number of vectors a graph walk prefetches ahead. */
#define KESTREL_GRAPH_PREFETCH_MAX_AHEAD 16u

/**
 * The software-prefetch choices of the memory-bound loops, made once at start-up from the CPU
 * (see `kestrel_prefetch_rule`). Prefetching never changes a result: every choice returns bit
 * for bit the same distances.
 */
typedef struct kestrel_prefetch_plan {
    /**
     * How far ahead of the rows being read the one-to-many scans (`*_many`) prefetch, in bytes,
     * per scan class (`KESTREL_SCAN_4BYTE` ...); 0 = no software prefetch (the hardware
     * prefetchers alone). The f32/f16/bf16 scans round the distance up to whole passes of rows,
     * the int8 and binary scans to whole rows (at least 4, at most 64).
     */
    uint32_t scan_bytes[KESTREL_SCAN_CLASSES];
    /**
     * Rows of at least this many bytes (the scan's stride) are left to the hardware prefetchers
     * alone, whatever scan_bytes says: a row that spans most of a 4 KiB page is one stream the
     * hardware streamers follow, while several short rows read side by side in one page are not.
     * 0 = no such limit.
     */
    uint32_t scan_long_row_bytes;
    /** Vectors ahead of the distance computation that a graph walk (HNSW) prefetches; 0 = none. */
    uint32_t graph_ahead;
    /** At most this many 64-byte lines of each such vector are prefetched (1...64). */
    uint32_t graph_max_lines;
    /** Where this plan came from. */
    kestrel_prefetch_source source;
    /** One line saying which rule chose the plan and why (a static string). */
    const char *reason;
} kestrel_prefetch_plan;

/** The plan in force. Thread-safe (a racing `kestrel_set_prefetch_plan` may be seen half-way). */
kestrel_prefetch_plan kestrel_prefetch_current(void);

/**
 * The per-CPU rule alone (what start-up chooses when the environment overrides nothing), for
 * `cpu`. Pure; `kestrel_prefetch_rule(kestrel_cpu_describe())` is this machine's rule.
 */
kestrel_prefetch_plan kestrel_prefetch_rule(const kestrel_cpu_description *cpu);

/**
 * Applies the environment overrides to `base` and returns the result, as start-up does with
 * getenv("KESTREL_PREFETCH") and getenv("KESTREL_GRAPH_PREFETCH"); either may be NULL or "" or
 * "auto" (no override). `scan`: "off" (or "0") or a byte count in 64...KESTREL_PREFETCH_MAX_BYTES,
 * optionally with a "k" suffix (KiB), for every scan class. `graph`: "off" (or "0") or a number
 * of vectors in 1...KESTREL_GRAPH_PREFETCH_MAX_AHEAD. A value that does not parse or is out of
 * range leaves that part of `base` unchanged (a valid scan value also lifts scan_long_row_bytes, so the
 * distance applies to every row length) and sets bit 0 (scan) or bit 1 (graph) of
 * *rejected (when not NULL). The source becomes KESTREL_PREFETCH_FROM_ENV when something applied.
 */
kestrel_prefetch_plan kestrel_prefetch_apply_env(kestrel_prefetch_plan base, const char *scan, const char *graph,
                                                 int *rejected);

/**
 * Which environment values start-up ignored (bit 0: KESTREL_PREFETCH, bit 1:
 * KESTREL_GRAPH_PREFETCH), so that a front end can say so; 0 when none.
 */
int kestrel_prefetch_env_rejected(void);

/**
 * Replaces the plan in force (tests and benchmarks compare choices in one process); NULL
 * restores the start-up plan. Returns KESTREL_ERR_INVALID_ARGUMENT (and changes nothing) when a
 * scan distance exceeds KESTREL_PREFETCH_MAX_BYTES, graph_ahead exceeds
 * KESTREL_GRAPH_PREFETCH_MAX_AHEAD or graph_max_lines is outside 1...64. Each scan reads the plan
 * once when it starts; a call racing with running kernels is safe and affects later scans.
 */
kestrel_status kestrel_set_prefetch_plan(const kestrel_prefetch_plan *plan);

/**
 * Returns freed heap memory to the operating system (glibc `malloc_trim(0)`), for callers that
 * have just released large arrays (an index renumbering its nodes). Returns 1 when memory was
 * released, 0 when none was or the C library has no such call. Thread-safe; takes the
 * allocator's locks, so it is slow (call it after bulk operations, never in a loop).
 */
int kestrel_release_free_memory(void);

#ifdef __cplusplus
}
#endif

#endif /* KESTREL_KERNELS_H */
