/*
 * kestrel_decode.h — attention of a few new query tokens against a KV cache (KestrelAttention's
 * KV-cache decode), read through a block table, for the flash-decoding split.
 *
 * One call covers `kv_heads` K/V heads (one or all of a cache's) and one range [lo, hi) of cached
 * token positions: every query head of each head's group (query heads sharing that K/V head) and
 * every new query token is a "row", so each K and V row of the range is read from memory once for
 * all rows (grouped-query attention), and the heads of one token are read together (a paged
 * block or a token-major buffer is walked in address order). The call returns the range's
 * unnormalised partial result per row — acc = Σ exp(s − m) v, the running max m and sum l — and
 * kestrel_decode_merge_f32 combines the partials of several ranges with their log-sum-exp weights
 * (Dao et al., "Flash-Decoding", 2023).
 *
 * Cache rows are read in their stored type — f32, f16 (binary16 bit patterns) or int8 codes with
 * one f32 scale per token and head (value = code · scale) — and widened in registers (or, when a
 * head has more rows than a tier's register block, once per chunk into an L1 buffer); the cache is
 * never copied or dequantized as a whole. Positions are taken in chunks of up to
 * KESTREL_DECODE_CHUNK tokens that may span several blocks, so small blocks cost a pointer per
 * token, not a pass of the softmax per block. Each K row is scored against several query rows per
 * pass and several K rows at once (the query loads and the widening are shared); each V row is
 * widened once and added into several rows' accumulators held in registers.
 *
 * Positions: token t lives in block t / block_tokens at row t % block_tokens of it. Query token i
 * sits at position diag + i. Key t is visible to query token i iff (not causal or t <= diag + i)
 * and (window_left < 0 or t >= diag + i - window_left or t < sink). A block pointer may be NULL
 * (an evicted block) only if none of its tokens in [lo, hi) is visible to any row.
 *
 * Thread-safety: pure functions of their arguments; calls with disjoint outputs and scratch may
 * run concurrently (also over the same cache rows). No allocation.
 */
#ifndef KESTREL_DECODE_H
#define KESTREL_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "kestrel_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Storage type of the cached K/V rows. */
typedef enum kestrel_kv_dtype {
    KESTREL_KV_F32 = 0,
    KESTREL_KV_F16 = 1,
    KESTREL_KV_I8 = 2, /**< int8 codes, one f32 scale per token and head */
} kestrel_kv_dtype;

/** Most new query tokens one call handles. */
#define KESTREL_DECODE_MAX_QUERIES 8
/** Tokens scored together (the scratch holds rows × this many scores). */
#define KESTREL_DECODE_CHUNK 64

/** K/V heads, one position range. Strides count elements of the stored type (scales: floats). */
typedef struct kestrel_decode_args {
    size_t d;                      /**< head dimension, >= 1 */
    size_t nq;                     /**< new query tokens, 1 ... KESTREL_DECODE_MAX_QUERIES */
    size_t group;                  /**< query heads sharing one K/V head, >= 1 */
    size_t kv_heads;               /**< K/V heads of this call, >= 1; rows = kv_heads · group · nq */
    const float *q;                /**< row r = (h · group + g) · nq + i (K/V head h, head g of its group, query token i) at q + r · q_stride */
    size_t q_stride;               /**< >= d */
    int dtype;                     /**< kestrel_kv_dtype of the K and V rows */
    const void *const *k_blocks;   /**< per block: K/V head 0's row 0 of K in the block, or NULL (evicted) */
    const void *const *v_blocks;   /**< the same for V */
    const float *const *k_scales;  /**< int8: per block, head 0's scale of row 0; otherwise unused */
    const float *const *v_scales;
    size_t block_tokens;           /**< tokens per block, >= 1 */
    size_t row_stride;             /**< elements between consecutive tokens' rows of one head in a block, >= d */
    size_t head_stride;            /**< elements between head h's and head h + 1's rows of one token (>= d when kv_heads > 1) */
    size_t scale_stride;           /**< floats between consecutive tokens' scales of one head (int8) */
    size_t head_scale_stride;      /**< floats between head h's and head h + 1's scales of one token (int8) */
    size_t lo, hi;                 /**< token positions [lo, hi) of this call */
    float scale;                   /**< multiplies q · k */
    int causal;                    /**< nonzero: key t visible to query token i only if t <= diag + i */
    ptrdiff_t diag;                /**< position of query token 0 */
    ptrdiff_t window_left;         /**< >= 0: sliding window (see above); < 0: none */
    size_t sink;                   /**< with a window: positions below it stay visible */
    float *acc;                    /**< [rows, d] partial output (written) */
    float *m;                      /**< [rows] running max (written; -inf when the row saw no key) */
    float *l;                      /**< [rows] running sum (written) */
    float *scratch;                /**< kestrel_decode_scratch_floats(rows, d) floats */
} kestrel_decode_args;

/** Floats of scratch one call of `rows` rows (all heads) needs: (rows + d + 2) · KESTREL_DECODE_CHUNK; 0 when that overflows. */
size_t kestrel_decode_scratch_floats(size_t rows, size_t d);

/**
 * The portable reference tier; the table entry `decode_partial` holds the active tier's version.
 * Returns KESTREL_ERR_NULL_POINTER for missing pointers, KESTREL_ERR_INVALID_ARGUMENT for d = 0,
 * nq outside 1...KESTREL_DECODE_MAX_QUERIES, group = 0, kv_heads = 0, block_tokens = 0, strides
 * below d (head_stride only when kv_heads > 1), a row count that overflows, an unknown dtype, lo > hi, or a visible token in an evicted (NULL) block. lo = hi is valid: the
 * partial is then empty (m = -inf, l = 0, acc = 0).
 */
kestrel_status kestrel_decode_partial_scalar(const kestrel_decode_args *a);

/** The active tier's decode_partial (kestrel_kernels()->decode_partial). */
kestrel_status kestrel_decode_partial(const kestrel_decode_args *a);

/**
 * Combines `splits` partials of `rows` rows (partial s at partials + s · rows · (d + 2): acc
 * [rows, d], then m [rows], then l [rows]) into the normalised output o (row r at o + r ·
 * o_stride) and the natural-log sum of exp per row (lse may be NULL). A row no split saw gets
 * output 0 and lse -inf.
 */
void kestrel_decode_merge_f32(size_t rows, size_t d, size_t splits, const float *partials, float *o,
                              size_t o_stride, float *lse);

#ifdef __cplusplus
}
#endif
#endif
