/*
 * kestrel_attention_backward.h — elementwise pieces of the attention backward pass
 * (KestrelAttention's FlashAttention.backward and NaiveAttention.backward).
 *
 * The backward pass recomputes each score tile S = scale · Q_i K_jᵀ with a GEMM, and needs, between
 * its GEMMs: the probabilities P = exp(S + bias + mask − lse) from the log-sum-exp the forward pass
 * saved, D_i = rowsum(dO_i ∘ O_i), and dS = P ∘ (dP − D). These are those three pieces; the GEMMs
 * (dV += Pᵀ dO, dP = dO Vᵀ, dK += scale · dSᵀ Q, dQ += scale · dS K) are the caller's, by BLAS
 * GEMM, or all of a tile's work at once by kestrel_attention_bwd_tile_f32 (C micro-kernels per tier).
 *
 * Masking is that of kestrel_attention.h: key j is visible to query row r iff j < kv_len and, when
 * causal, j <= diag + r and, when window_left >= 0, j >= diag + r - window_left; the bias may hold -inf.
 *
 * Thread-safety: pure functions of their arguments; calls on disjoint outputs may run concurrently.
 * No allocation.
 */
#ifndef KESTREL_ATTENTION_BACKWARD_H
#define KESTREL_ATTENTION_BACKWARD_H

#include <stddef.h>

#include "kestrel_attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * delta[r] = Σ_t dout[r, t] · out[r, t] for r < rows (row strides in floats), summed in double.
 * NaN in either row gives NaN.
 */
void kestrel_attention_bwd_delta_f32(size_t rows, size_t d, const float *dout, size_t dout_stride, const float *out,
                                     size_t out_stride, float *delta);

/**
 * Turns the scaled scores s ([rows, cols] at row stride lds) of key block [j0, j0 + cols) into the
 * softmax probabilities exp(s + bias − lse[r]) in place. Only the mask fields of `a` are read (causal,
 * diag, window_left, kv_len, bias, bias_stride; its rows are the `rows` rows of the block). A masked
 * key, a -inf bias entry, or a row whose lse[r] is -inf (it sees no key) gives 0. Uses the active
 * tier's vector exp.
 */
void kestrel_attention_bwd_probs_f32(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols, float *s,
                                     size_t lds, const float *lse);

/**
 * dp[r, c] = p[r, c] · (dp[r, c] − delta[r]) in place, and exactly 0 where p[r, c] = 0 (a masked or
 * underflowed probability contributes nothing, even when dp or delta is NaN or infinite).
 */
void kestrel_attention_bwd_dscores_f32(size_t rows, size_t cols, const float *p, size_t ldp, float *dp, size_t lddp,
                                       const float *delta);

/**
 * One backward tile: `rows` query rows of one head against `cols` keys of its K/V head (key
 * positions j0 … j0 + cols − 1), all five tile products in C with no BLAS call (strides in
 * elements between consecutive rows; every row holds d floats):
 *   S   = scale · Q Kᵀ                  (recomputed, never stored beyond the tile)
 *   P   = exp(S + bias − lse[r])        (0 where masked, and on rows whose lse is −inf)
 *   dV += Pᵀ dO,  dP = dO Vᵀ,  dS = scale · P ∘ (dP − delta[r])  (exactly 0 where P = 0)
 *   dK += dSᵀ Q,  dQ += dS K
 * Masking as in kestrel_attention.h, for query row r at key position diag + r; `bias`, when not
 * NULL, points at row 0, key position 0 (entry (r, j0 + c) at bias[r · bias_stride + j0 + c]).
 */
typedef struct kestrel_attention_bwd_args {
    size_t rows, cols, d;         /**< query rows, key rows, head dimension (d >= 1) */
    const float *q;               /**< Q rows [rows, d] at q_stride */
    size_t q_stride;
    const float *k;               /**< K rows of the key block [cols, d] at k_stride */
    size_t k_stride;
    const float *v;               /**< V rows of the key block [cols, d] at v_stride */
    size_t v_stride;
    const float *dout;            /**< dO rows [rows, d] at dout_stride */
    size_t dout_stride;
    const float *lse;             /**< [rows] the forward pass's log-sum-exp (−inf: the row sees no key) */
    const float *delta;           /**< [rows] D_r = Σ_t dO_rt · O_rt (kestrel_attention_bwd_delta_f32) */
    float *dq;                    /**< [rows, d] at dq_stride, accumulated into */
    size_t dq_stride;
    float *dk;                    /**< [cols, d] at dk_stride, accumulated into */
    size_t dk_stride;
    float *dv;                    /**< [cols, d] at dv_stride, accumulated into */
    size_t dv_stride;
    float scale;                  /**< multiplies Q Kᵀ, and dS */
    ptrdiff_t j0;                 /**< key position of the block's first key */
    int causal;                   /**< nonzero: key j visible to row r iff j <= diag + r */
    ptrdiff_t diag;               /**< key position of query row 0 */
    ptrdiff_t window_left;        /**< >= 0: also j >= diag + r − window_left; < 0: no window */
    size_t kv_len;                /**< keys at or past kv_len are masked */
    const float *bias;            /**< additive scores (may hold −inf), or NULL; see above */
    size_t bias_stride;
    float *scratch;               /**< kestrel_attention_bwd_scratch_floats(rows, cols, d) floats, any alignment */
} kestrel_attention_bwd_args;

/**
 * Floats of scratch a backward tile of at most `rows` × `cols` at head dimension d needs at any
 * tier, with P = rows rounded up to 16: 2 · P · d (scale · Qᵀ and dOᵀ, queries in lanes)
 * + 2 · cols · P (Pᵀ and dPᵀ, then dSᵀ) + 2 · P (lse and D per lane). 0 when that overflows. O(1).
 */
size_t kestrel_attention_bwd_scratch_floats(size_t rows, size_t cols, size_t d);

/**
 * One backward tile at the active tier (kernel-table entry `attention_bwd_tile_f32`):
 *  - scalar: the portable reference (row-major loops), the tier the others are checked against;
 *  - AVX2 (8 lanes), AVX-512 (16 lanes), NEON (4 lanes): Q (scaled) and dO are transposed once into
 *    scratch so Sᵀ = K·(scale Q)ᵀ and dPᵀ = V·dOᵀ come from the forward tile's register-blocked
 *    micro-kernel (several keys × several query vectors); P, dS run down the key axis with queries in
 *    lanes (the tier's vector exp over the whole tile); dV, dK and dQ are accumulated in place by a
 *    micro-kernel of several output rows × several vectors of d (tails of d masked), reading Pᵀ and
 *    dSᵀ either along or across their rows, so nothing is repacked.
 * Results agree with the scalar tier to rounding. KESTREL_ERR_NULL_POINTER for a missing pointer
 * (other than bias) when rows and cols are both nonzero; KESTREL_ERR_INVALID_ARGUMENT for d = 0, a
 * stride below d, bias_stride below j0 + cols, or a scratch size that overflows. rows = 0 or
 * cols = 0: nothing to do (KESTREL_OK). O(rows · cols · d) time; no allocation; thread-safe on
 * disjoint dq, dk, dv and scratch.
 */
kestrel_status kestrel_attention_bwd_tile_f32(const kestrel_attention_bwd_args *a);

/** The scalar reference tile (the scalar table's `attention_bwd_tile_f32`); arguments as above. */
kestrel_status kestrel_attention_bwd_tile_f32_scalar(const kestrel_attention_bwd_args *a);

#ifdef __cplusplus
}
#endif
#endif
