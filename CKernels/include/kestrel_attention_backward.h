/*
 * kestrel_attention_backward.h — elementwise pieces of the attention backward pass
 * (KestrelAttention's FlashAttention.backward and NaiveAttention.backward).
 *
 * The backward pass recomputes each score tile S = scale · Q_i K_jᵀ with a GEMM, and needs, between
 * its GEMMs: the probabilities P = exp(S + bias + mask − lse) from the log-sum-exp the forward pass
 * saved, D_i = rowsum(dO_i ∘ O_i), and dS = P ∘ (dP − D). These are those three pieces; the GEMMs
 * (dV += Pᵀ dO, dP = dO Vᵀ, dK += scale · dSᵀ Q, dQ += scale · dS K) are the caller's.
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

#ifdef __cplusplus
}
#endif
#endif
