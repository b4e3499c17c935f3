/*
 * neon_check.h — the shared harness of the C cross-tier check: the table of entries, bookkeeping
 * and reporting, random numbers, guarded buffers, test shapes, float data sets and tolerances
 * (all in neon_check.c, with the driver), and the per-family checks in check_<family>.c that the
 * driver calls for each entry. Not part of the SwiftPM build (CKernels/test is excluded).
 */
#ifndef KESTREL_NEON_CHECK_H
#define KESTREL_NEON_CHECK_H

#define _DEFAULT_SOURCE
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kestrel_kernels.h"
#include "internal/kestrel_internal.h"

/* The table, entry by entry                                                            */
/* ------------------------------------------------------------------------------------ */

typedef enum {
    K_DIST_F32, K_DIST_F16, K_DIST_BF16, /* float f(a, b, n) */
    K_I8_INT,                            /* int64_t f(a, b, n): dot_i8, l2sq_i8 */
    K_I8_COS,                            /* float f(a, b, n) over int8 */
    K_HAMMING, K_JACCARD,
    K_MANY_F32, K_MANY_F16, K_MANY_BF16, K_MANY_I8, K_MANY_COS_I8, K_MANY_HAMMING, K_MANY_JACCARD,
    K_F32_TO_F16, K_F32_TO_BF16, K_F16_TO_F32, K_BF16_TO_F32,
    K_EXP, K_SOFTMAX, K_AXPY, K_SCALE, K_ADD, K_MUL, K_SUM, K_MAX, K_SUMSQ,
    K_QUANT, K_DEQUANT,                  /* ggml blocks: quantize (floats -> blocks), dequantize */
    K_QDOT_Q8_0, K_QDOT_Q4_0, K_QDOT_Q4_K, K_QDOT_Q6_K, K_GEMV_I8, K_GEMM_I8, K_GEMV_Q8_0, K_GEMV_Q4_0, /* check_qdot.c */
    K_ATTENTION,                         /* check_attention.c */
    K_ATTENTION_BWD,                     /* check_attention_backward.c */
    K_DECODE                             /* check_decode.c */
} kind_t;

typedef enum { OP_NONE, OP_DOT, OP_L2SQ, OP_COS } op_t;

/* name, kind, operation, the one-pair entry a one-to-many entry must agree with (else itself) */
#define KC_ENTRIES(X)                                                   \
    X(dot_f32, K_DIST_F32, OP_DOT, dot_f32)                             \
    X(l2sq_f32, K_DIST_F32, OP_L2SQ, l2sq_f32)                          \
    X(cosine_f32, K_DIST_F32, OP_COS, cosine_f32)                       \
    X(dot_f16, K_DIST_F16, OP_DOT, dot_f16)                             \
    X(l2sq_f16, K_DIST_F16, OP_L2SQ, l2sq_f16)                          \
    X(cosine_f16, K_DIST_F16, OP_COS, cosine_f16)                       \
    X(dot_bf16, K_DIST_BF16, OP_DOT, dot_bf16)                          \
    X(l2sq_bf16, K_DIST_BF16, OP_L2SQ, l2sq_bf16)                       \
    X(cosine_bf16, K_DIST_BF16, OP_COS, cosine_bf16)                    \
    X(dot_i8, K_I8_INT, OP_DOT, dot_i8)                                 \
    X(l2sq_i8, K_I8_INT, OP_L2SQ, l2sq_i8)                              \
    X(cosine_i8, K_I8_COS, OP_COS, cosine_i8)                           \
    X(hamming_b1, K_HAMMING, OP_NONE, hamming_b1)                       \
    X(jaccard_b1, K_JACCARD, OP_NONE, jaccard_b1)                       \
    X(dot_f32_many, K_MANY_F32, OP_DOT, dot_f32)                        \
    X(l2sq_f32_many, K_MANY_F32, OP_L2SQ, l2sq_f32)                     \
    X(cosine_f32_many, K_MANY_F32, OP_COS, cosine_f32)                  \
    X(dot_f16_many, K_MANY_F16, OP_DOT, dot_f16)                        \
    X(l2sq_f16_many, K_MANY_F16, OP_L2SQ, l2sq_f16)                     \
    X(cosine_f16_many, K_MANY_F16, OP_COS, cosine_f16)                  \
    X(dot_bf16_many, K_MANY_BF16, OP_DOT, dot_bf16)                     \
    X(l2sq_bf16_many, K_MANY_BF16, OP_L2SQ, l2sq_bf16)                  \
    X(cosine_bf16_many, K_MANY_BF16, OP_COS, cosine_bf16)               \
    X(dot_i8_many, K_MANY_I8, OP_DOT, dot_i8)                           \
    X(l2sq_i8_many, K_MANY_I8, OP_L2SQ, l2sq_i8)                        \
    X(cosine_i8_many, K_MANY_COS_I8, OP_COS, cosine_i8)                 \
    X(hamming_b1_many, K_MANY_HAMMING, OP_NONE, hamming_b1)             \
    X(jaccard_b1_many, K_MANY_JACCARD, OP_NONE, jaccard_b1)             \
    X(f32_to_f16, K_F32_TO_F16, OP_NONE, f32_to_f16)                    \
    X(f32_to_bf16, K_F32_TO_BF16, OP_NONE, f32_to_bf16)                 \
    X(f16_to_f32, K_F16_TO_F32, OP_NONE, f16_to_f32)                    \
    X(bf16_to_f32, K_BF16_TO_F32, OP_NONE, bf16_to_f32)                 \
    X(exp_f32, K_EXP, OP_NONE, exp_f32)                                 \
    X(softmax_f32, K_SOFTMAX, OP_NONE, softmax_f32)                     \
    X(axpy_f32, K_AXPY, OP_NONE, axpy_f32)                              \
    X(scale_f32, K_SCALE, OP_NONE, scale_f32)                           \
    X(add_f32, K_ADD, OP_NONE, add_f32)                                 \
    X(mul_f32, K_MUL, OP_NONE, mul_f32)                                 \
    X(sum_f32, K_SUM, OP_NONE, sum_f32)                                 \
    X(max_f32, K_MAX, OP_NONE, max_f32)                                 \
    X(sumsq_f32, K_SUMSQ, OP_NONE, sumsq_f32)                       \
    X(quantize_q8_0, K_QUANT, OP_NONE, quantize_q8_0)               \
    X(quantize_q8_1, K_QUANT, OP_NONE, quantize_q8_1)               \
    X(quantize_q4_0, K_QUANT, OP_NONE, quantize_q4_0)               \
    X(quantize_q4_1, K_QUANT, OP_NONE, quantize_q4_1)               \
    X(quantize_q5_0, K_QUANT, OP_NONE, quantize_q5_0)               \
    X(quantize_q5_1, K_QUANT, OP_NONE, quantize_q5_1)               \
    X(quantize_q4_K, K_QUANT, OP_NONE, quantize_q4_K)               \
    X(quantize_q6_K, K_QUANT, OP_NONE, quantize_q6_K)               \
    X(dequantize_q8_0, K_DEQUANT, OP_NONE, dequantize_q8_0)         \
    X(dequantize_q8_1, K_DEQUANT, OP_NONE, dequantize_q8_1)         \
    X(dequantize_q4_0, K_DEQUANT, OP_NONE, dequantize_q4_0)         \
    X(dequantize_q4_1, K_DEQUANT, OP_NONE, dequantize_q4_1)         \
    X(dequantize_q5_0, K_DEQUANT, OP_NONE, dequantize_q5_0)         \
    X(dequantize_q5_1, K_DEQUANT, OP_NONE, dequantize_q5_1)         \
    X(dequantize_q4_K, K_DEQUANT, OP_NONE, dequantize_q4_K)         \
    X(dequantize_q6_K, K_DEQUANT, OP_NONE, dequantize_q6_K)         \
    X(vec_dot_q8_0_q8_0, K_QDOT_Q8_0, OP_NONE, vec_dot_q8_0_q8_0)       \
    X(vec_dot_q4_0_q8_0, K_QDOT_Q4_0, OP_NONE, vec_dot_q4_0_q8_0)       \
    X(vec_dot_q4_K_q8_K, K_QDOT_Q4_K, OP_NONE, vec_dot_q4_K_q8_K)       \
    X(vec_dot_q6_K_q8_K, K_QDOT_Q6_K, OP_NONE, vec_dot_q6_K_q8_K)       \
    X(gemv_i8, K_GEMV_I8, OP_NONE, gemv_i8)                             \
    X(gemm_i8, K_GEMM_I8, OP_NONE, gemm_i8)                             \
    X(gemv_q8_0_q8_0, K_GEMV_Q8_0, OP_NONE, gemv_q8_0_q8_0)             \
    X(gemv_q4_0_q8_0, K_GEMV_Q4_0, OP_NONE, gemv_q4_0_q8_0)             \
    X(attention_f32, K_ATTENTION, OP_NONE, attention_f32)               \
    X(attention_bwd_tile_f32, K_ATTENTION_BWD, OP_NONE, attention_bwd_tile_f32) \
    X(decode_partial, K_DECODE, OP_NONE, decode_partial)

typedef struct {
    const char *name;
    size_t off;
    kind_t kind;
    op_t op;
    size_t pair_off;
} entry_t;

#define KC_DESCRIBE(nm, kd, op, pair) {#nm, offsetof(kestrel_kernel_table, nm), kd, op, offsetof(kestrel_kernel_table, pair)},
static const entry_t g_entries[] = {KC_ENTRIES(KC_DESCRIBE)};

#define KC_ONE(nm, kd, op, pair) +1
enum { N_ENTRIES = 0 KC_ENTRIES(KC_ONE) };

/* A table entry added to the header but not listed above fails the build here. */
_Static_assert(sizeof(kestrel_kernel_table) ==
                   offsetof(kestrel_kernel_table, dot_f32) + N_ENTRIES * sizeof(kestrel_dist_f32_fn),
               "neon_check.c: KC_ENTRIES does not list every kestrel_kernel_table entry");

/* Reads the entry at byte offset `off` of table `t` as function-pointer type `type`. */
#define FN(type, t, off) (*(const type *)(const void *)((const char *)(t) + (off)))

typedef void (*any_fn)(void);

/* ------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------ */
/* Guarded buffers                                                                      */
/* ------------------------------------------------------------------------------------ */

/*
 * Each arena is followed by a PROT_NONE page. END placement puts a buffer flush against it,
 * so any access past the last element faults; offset placement starts it `k` elements past a
 * 64-byte boundary (misaligned for every vector width) with canaries on both sides.
 */
enum { AR_A, AR_B, AR_OUT, AR_OUT2, AR_COUNT };

#define ARENA_BYTES ((size_t)4 << 20)

#define END (-1)

#define CANARY 0xA5u

typedef struct {
    unsigned char *base;
    size_t cap;
} arena_t;

typedef struct {
    unsigned char *lo, *p, *end, *hi;
} guard_t;

/* ------------------------------------------------------------------------------------ */
/* Test shapes                                                                          */
/* ------------------------------------------------------------------------------------ */

static const size_t k_sizes[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096};

#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])

/* Element offsets of (first input, second input, output); END = flush against the guard page. */
typedef struct {
    long a, b, out;
} layout_t;

static const layout_t k_layouts[] = {{END, END, END}, {1, 3, 1}, {3, 2, 2}};

#define N_LAYOUTS (sizeof k_layouts / sizeof k_layouts[0])

/* Scratch for generated values (as f32, before narrowing) and reference outputs. */
#define SCRATCH_ELEMS ((size_t)1 << 20)

/* ------------------------------------------------------------------------------------ */
/* Float-family data                                                                     */
/* ------------------------------------------------------------------------------------ */

enum { FMT_F32, FMT_F16, FMT_BF16 };

typedef enum {
    DS_UNIFORM, /* U(-1, 1) */
    DS_EXACT,   /* k/8, |k| <= 32: every product and partial sum is exact, any order gives the same bits */
    DS_WIDE,    /* random sign and binade over a wide exponent range */
    DS_DENORM,  /* half the elements subnormal in the storage format */
    DS_NAN,     /* uniform plus one NaN */
    DS_INF,     /* uniform plus one +Inf (times a positive value) */
    DS_HUGE,    /* products overflow (f32/bf16); largest finite values (f16) */
    DS_CANCEL,  /* second half cancels the first: the exact dot product is 0 */
    DS_SELF,    /* b == a (different alignment) */
    DS_ZERO,    /* a == 0 */
    DS_ZERO2,   /* a == b == 0 */
    DS_COUNT
} dataset_t;

static const char *const k_ds_names[DS_COUNT] = {"uniform", "exact", "wide", "denorm", "nan", "inf",
                                                  "huge", "cancel", "self", "zero", "zero2"};

/* Shared scratch (neon_check.c). */
extern float *g_fa, *g_fb, *g_fr;

/* neon_check.c */
any_fn entry_ptr(const kestrel_kernel_table *t, size_t off);
void set_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note_ratio(double diff, double tol);
uint32_t fbits(float f);
float bitsf(uint32_t u);
int same_f(float a, float b);
int64_t ulp_diff(float a, float b);
uint64_t rng_next(void);
uint32_t rnd_u32(void);
size_t rnd_below(size_t n);
double rnd_unit(void);
float rnd_range(double lo, double hi);
float rnd_sign(void);
void *place(int ar, size_t bytes, long off);
guard_t guard_set(int ar, void *p, size_t bytes);
int guard_ok(const guard_t *g);
long lay_off(long elems, size_t esize);
void store_fmt(int fmt, void *dst, const float *src, size_t n);
size_t fmt_size(int fmt);
size_t special_pos(size_t n);
float rnd_subnormal(int fmt);
void gen_float(int ds, int fmt, float *a, float *b, size_t n);
double sum_tol(size_t n, double S);
double dist_tol(op_t op, const float *a, const float *b, size_t n);
int close_f(float got, float want, double tol);

/* check_distance_float.c */
int kind_fmt(kind_t k);
void test_dist_float(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);

/* check_distance_int.c */
int8_t rnd_extreme_i8(void);
void test_i8(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_b1(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);

/* check_scan.c */
kestrel_status call_many(const kestrel_kernel_table *t, const entry_t *e, const void *q, const void *base,
                         size_t dim, size_t count, size_t stride, void *out);
void test_many(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_many_status(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);

/* check_convert.c */
void test_to_u16(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_from_u16(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);

/* check_math.c */
void test_exp(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_softmax(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_elementwise(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_reduce(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);

/* check_quant.c */
void test_quant_blocks(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_dequant_blocks(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
void test_quant_fixtures(const kestrel_kernel_table *s);
/* check_qdot.c */
void test_qdot_empty(const entry_t *e, const kestrel_kernel_table *t);
void test_qdot(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
/* check_attention.c */
void test_attention_empty(const entry_t *e, const kestrel_kernel_table *t);
void test_attention(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
/* check_attention_backward.c */
void test_attention_bwd_empty(const entry_t *e, const kestrel_kernel_table *t);
void test_attention_bwd(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);
/* check_decode.c */
void test_decode(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s);

#endif /* KESTREL_NEON_CHECK_H */
