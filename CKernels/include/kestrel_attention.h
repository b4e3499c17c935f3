/*
 * kestrel_attention.h — exact attention tiles for KestrelAttention's FlashAttention.
 *
 * One call computes softmax(scale · Q Kᵀ + bias + mask) V for a run of query rows of one head
 * against the rows of one K/V head, walking the keys in blocks with an online softmax (running
 * max and sum per query row, the accumulator rescaled when the max grows), so no score matrix
 * larger than block_q × block_k is ever held. It also returns the natural-log sum of exp of the
 * masked, scaled scores per row (what the backward pass recomputes from).
 *
 * Masking: key j is visible to query row r iff j < kv_len, and, when causal, j <= diag + r, and,
 * when window_left >= 0, j >= diag + r - window_left. `diag` is the key position of query row 0:
 * nk - nq + (index of the first row in its sequence) for bottom-right-aligned causal attention.
 * Key blocks wholly outside every row's visible range are skipped, not computed and masked.
 * A row that sees no key gets output 0 and log-sum-exp -inf.
 *
 * Thread-safety: pure function of its arguments; calls on disjoint outputs and scratch may run
 * concurrently. No allocation: the caller passes the scratch.
 */
#ifndef KESTREL_ATTENTION_H
#define KESTREL_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "kestrel_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Element format of K and V in a tile run. */
typedef enum kestrel_attention_kv_format {
    /** f32 rows at `k` / `v`. */
    KESTREL_ATTENTION_KV_F32 = 0,
    /** IEEE binary16 rows (uint16_t bits) at `k16` / `v16`, converted per key block into scratch. */
    KESTREL_ATTENTION_KV_F16 = 1,
    /** bfloat16 rows (uint16_t bits) at `k16` / `v16`, converted per key block into scratch. */
    KESTREL_ATTENTION_KV_BF16 = 2
} kestrel_attention_kv_format;

/** Arguments of one attention tile run (strides in elements between consecutive rows). */
typedef struct kestrel_attention_args {
    size_t nq, nk, d;           /**< query rows of this run, key rows, head dimension */
    const float *q;             /**< [nq, d] at q_stride */
    size_t q_stride;
    const float *k;             /**< [nk, d] at k_stride */
    size_t k_stride;
    const float *v;             /**< [nk, d] at v_stride */
    size_t v_stride;
    float *o;                   /**< [nq, d] at o_stride (written) */
    size_t o_stride;
    float *lse;                 /**< nq log-sum-exp values (written), or NULL */
    const float *bias;          /**< additive [nq, nk] at bias_stride, or NULL (may hold -inf) */
    size_t bias_stride;
    float scale;                /**< multiplies Q Kᵀ before the bias */
    int causal;                 /**< nonzero: key j visible iff j <= diag + r */
    ptrdiff_t diag;             /**< key position of query row 0 (see above) */
    ptrdiff_t window_left;      /**< >= 0: also j >= diag + r - window_left; < 0: no window */
    size_t kv_len;              /**< keys at or past kv_len are padding (masked); <= nk */
    size_t block_q, block_k;    /**< tile sizes, >= 1 */
    float *scratch;             /**< kestrel_attention_scratch_floats(block_q, block_k, d) floats, any alignment */
    int kv_format;              /**< kestrel_attention_kv_format (0, the zero-initialised value: f32 at k, v) */
    const uint16_t *k16;        /**< [nk, d] f16/bf16 bits at k_stride when kv_format != F32 (k is then unused) */
    const uint16_t *v16;        /**< [nk, d] f16/bf16 bits at v_stride when kv_format != F32 (v is then unused) */
} kestrel_attention_args;

/**
 * Floats of scratch one call needs at any tier, with P = block_q rounded up to 16:
 * P · d (the scaled, transposed query block) + block_k · P (scores) + block_q · d (accumulator)
 * + 4 · P (running max, sum, rescale factors, subtracted max) + 2 · block_k · d (a converted K and V block when
 * they are f16/bf16). 0 when that overflows size_t. O(1).
 */
size_t kestrel_attention_scratch_floats(size_t block_q, size_t block_k, size_t d);

/**
 * One tile run at the active tier (kernel-table entry `attention_f32`):
 *  - scalar: the portable reference, on every architecture, the tier the others are checked against;
 *  - AVX2 (8 lanes), AVX-512 (16 lanes), NEON (4 lanes): the query block is scaled and transposed
 *    once per call into scratch (queries in vector lanes), so S = scale · Q Kᵀ is computed
 *    transposed by a register-blocked micro-kernel of several keys × several query vectors
 *    (each K element broadcast once per query-vector group, K never repacked), the online softmax
 *    runs down the key axis with the queries in lanes (vector max, the tier's vector exp over the
 *    whole block, vector sums), and acc += P · V by a micro-kernel of several query rows × several
 *    vectors of the head dimension (tails of d masked). f16/bf16 K and V blocks are converted into
 *    scratch by the tier's conversion kernels as each key block is reached.
 * Results agree with the scalar tier to rounding (summation order and exp differ by a few ulp).
 * Returns KESTREL_ERR_NULL_POINTER / KESTREL_ERR_INVALID_ARGUMENT for missing pointers, zero d or
 * block sizes, kv_len > nk, strides below d, or an unknown kv_format; nq = 0 or nk = 0 is valid.
 * O(nq · visible keys · d) time; no allocation; thread-safe on disjoint outputs and scratch.
 */
kestrel_status kestrel_attention_f32(const kestrel_attention_args *a);

/** The scalar reference tile (the scalar table's `attention_f32`); arguments and errors as above. */
kestrel_status kestrel_attention_f32_scalar(const kestrel_attention_args *a);

/*
 * The pieces of a tile run, for callers that compute the two tile products themselves (e.g. by
 * BLAS GEMM): the visible key range, the online-softmax update of one key block, and the final
 * normalisation. `a` supplies the mask fields (causal, diag, window_left, kv_len, bias,
 * bias_stride, nk); its rows are the `rows` query rows of the block.
 */

/** Keys [*lo, *hi) that any of rows 0..rows-1 can see (empty when *lo >= *hi). */
void kestrel_attention_key_range(const kestrel_attention_args *a, size_t rows, ptrdiff_t *lo, ptrdiff_t *hi);

/**
 * One key block [j0, j0 + cols) for `rows` query rows: adds the bias and the mask to the scaled
 * scores s ([rows, cols] at row stride lds), updates the running max m and sum l of each row,
 * turns s into the block's unnormalised probabilities exp(s − m_new) (0 where masked), and
 * rescales each accumulator row acc[r, 0..d) by exp(m_old − m_new). The caller then adds
 * s · V_block into acc. Uses the active tier's vector exp.
 */
void kestrel_attention_block_update_f32(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols,
                                        float *s, size_t lds, float *acc, size_t d, float *m, float *l);

/** o[r] = acc[r] / l[r] (0 when l[r] = 0) and lse[r] = m[r] + log l[r] (−inf then); lse may be NULL. */
void kestrel_attention_block_finish_f32(size_t rows, size_t d, const float *acc, const float *m, const float *l,
                                        float *o, size_t o_stride, float *lse);

#ifdef __cplusplus
}
#endif
#endif
