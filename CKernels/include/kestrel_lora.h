/*
 * kestrel_lora.h — low-rank adapters (LoRA / Micro-LoRA): apply and the fused training step of
 * KestrelAdaptation.
 *
 * An adapter of rank r maps x (d_in floats) to y = base + s · B (A x), s = α / r, without ever
 * forming B A: A is r × d_in (row k at params + k · d_in), B is d_out × r stored transposed as
 * Bt = r × d_out (row k, the k-th column of B, at params + r · d_in + k · d_out). The residual
 * form of a query/embedding adapter is base = x (d_in = d_out); the linear-layer form adds the
 * adapter's delta to the frozen layer's output (base = that output, or 0).
 *
 * Training is two pieces (the table entries lora_accumulate and lora_update; kestrel_lora_step
 * runs both):
 *  - accumulate: forward, a named loss on y and its gradient g = dL/dy, backward into the
 *    gradient buffer: dA[k] += w · (s · Bt[k]·g) · x, dBt[k] += w · s · h_k · g (h = A x).
 *    Non-finite x, base, g (which covers the target/result/keys through the loss) or loss:
 *    nothing is written and the call returns KESTREL_ERR_INVALID_ARGUMENT.
 *  - update: G = grad_scale · grad; optional EWC++ running Fisher F ← γ F + (1 − γ) G²; optional
 *    penalty λ Σ F*(θ − θ*)² adds 2 λ F*(θ − θ*) to G; the L2 norm of G is reported and G is
 *    scaled to clip_norm when above it; SGD / momentum / Adam step; grad is zeroed.
 *
 * Losses (kestrel_lora_loss):
 *  - SQUARED: L = ½ Σ (y_j − t_j)², g = y − t (target = t, d_out floats).
 *  - BINARY: score u = y · r (target = r, the result vector), label ℓ = ±1,
 *    L = log(1 + exp(−ℓ u)), g = −ℓ σ(−ℓ u) r.
 *  - INFONCE: scores u_i = y · k_i / τ for k_0 = target (the positive) and the n_neg negatives,
 *    L = logsumexp(u) − u_0, g = (1/τ) Σ_i (p_i − [i = 0]) k_i with p = softmax(u).
 *  - GRADIENT: the caller supplies g = dL/dy in `target`; the loss reported is 0.
 *
 * Accumulation is f32 (dots with several partial sums at the SIMD tiers; the gradient norm and
 * loss scores go through double at the end). Tiers differ from the scalar one by rounding only:
 * relative differences around d · 2^-24 of the magnitudes involved.
 *
 * Buffers need no alignment (the Swift side keeps them 64-byte aligned). x, base, y must not
 * overlap the parameter, gradient or state arrays; y may equal base but must not overlap x.
 * No allocation. Thread-safety: pure functions of their arguments; a step writes params, grad
 * and the optimizer state, so one step per parameter set at a time.
 *
 * Tiers: scalar, AVX2, AVX-512, NEON (avx512vnni and neondot inherit their parent's entries).
 */
#ifndef KESTREL_LORA_H
#define KESTREL_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "kestrel_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The loss `kestrel_lora_accumulate` differentiates. */
typedef enum kestrel_lora_loss {
    KESTREL_LORA_LOSS_SQUARED = 0,
    KESTREL_LORA_LOSS_BINARY = 1,
    KESTREL_LORA_LOSS_INFONCE = 2,
    KESTREL_LORA_LOSS_GRADIENT = 3
} kestrel_lora_loss;

/** The optimizer of `kestrel_lora_update`. */
typedef enum kestrel_lora_optimizer {
    KESTREL_LORA_SGD = 0,      /**< θ −= lr · G */
    KESTREL_LORA_MOMENTUM = 1, /**< m = μ m + G; θ −= lr · m (heavy ball) */
    KESTREL_LORA_ADAM = 2      /**< Kingma & Ba 2015, bias corrections c1, c2 given by the caller */
} kestrel_lora_optimizer;

/** Shape and scale of one adapter. */
typedef struct kestrel_lora_shape {
    size_t d_in;  /**< input dimension, >= 1 */
    size_t d_out; /**< output dimension, >= 1 */
    size_t rank;  /**< r, >= 1 */
    float scale;  /**< s = α / r */
} kestrel_lora_shape;

/** Floats of parameters: rank · (d_in + d_out); 0 when that overflows. */
size_t kestrel_lora_param_count(const kestrel_lora_shape *shape);

/** One accumulate call: forward, loss, backward into `grad`. */
typedef struct kestrel_lora_accumulate_args {
    kestrel_lora_shape shape;
    const float *params;    /**< [A | Bt], kestrel_lora_param_count floats */
    float *grad;            /**< same layout; the gradient is added to it */
    const float *x;         /**< d_in */
    const float *base;      /**< d_out, or NULL for 0 (the residual form passes x) */
    int loss;               /**< kestrel_lora_loss */
    const float *target;    /**< SQUARED: target; BINARY: result vector; INFONCE: positive; GRADIENT: dL/dy */
    const float *negatives; /**< INFONCE: n_neg rows of d_out floats, `neg_stride` floats apart */
    size_t n_neg;
    size_t neg_stride;      /**< >= d_out when n_neg > 0 */
    float label;            /**< BINARY: +1 or −1 */
    float temperature;      /**< INFONCE: τ > 0 */
    float weight;           /**< multiplies this sample's gradient (1 for a plain step) */
    float *scratch;         /**< kestrel_lora_scratch_floats(shape, n_neg) floats */
    float *y;               /**< optional: d_out floats receive the forward output, else NULL */
    double loss_out;        /**< written: the loss of this sample (unweighted) */
} kestrel_lora_accumulate_args;

/** Floats of scratch an accumulate call needs: rank + 2 · d_out + n_neg + 1 (0 on overflow). */
size_t kestrel_lora_scratch_floats(const kestrel_lora_shape *shape, size_t n_neg);

/** One update call: EWC++ term, clipping, optimizer step; zeroes grad. */
typedef struct kestrel_lora_update_args {
    size_t n;                  /**< parameter count */
    float *params;
    float *grad;               /**< accumulated gradient; zeroed on return */
    float *m;                  /**< MOMENTUM / ADAM first moment (else unused, may be NULL) */
    float *v;                  /**< ADAM second moment (else unused, may be NULL) */
    int optimizer;             /**< kestrel_lora_optimizer */
    float lr;                  /**< learning rate, >= 0 */
    float beta1;               /**< MOMENTUM: μ; ADAM: β1 */
    float beta2;               /**< ADAM: β2 */
    float eps;                 /**< ADAM: ε */
    float c1, c2;              /**< ADAM: 1/(1 − β1^t), 1/(1 − β2^t) */
    float grad_scale;          /**< multiplies grad first (1 / batch size) */
    float clip_norm;           /**< > 0: clip ‖G‖ to it; 0 or +inf: no clipping */
    float *fisher;             /**< running diagonal Fisher, updated when fisher_decay >= 0; or NULL */
    float fisher_decay;        /**< γ in [0, 1]; < 0: do not update the Fisher */
    const float *fisher_star;  /**< consolidated Fisher F* of the penalty, or NULL (no penalty) */
    const float *anchor;       /**< θ* of the penalty */
    float ewc_lambda;          /**< λ >= 0 */
    float *params_out;         /**< NULL: update `params` in place; else θ' goes here and `params` is only read
                                    (n floats overlapping none of the other arrays) */
    double grad_norm_out;      /**< written: ‖G‖ before clipping (EWC term included) */
    int clipped_out;           /**< written: 1 when G was scaled down */
} kestrel_lora_update_args;

/** The portable reference tiers; the table entries hold the active tier's versions. */
kestrel_status kestrel_lora_apply_scalar(const kestrel_lora_shape *shape, const float *params, const float *x,
                                         const float *base, float *y);
kestrel_status kestrel_lora_accumulate_scalar(kestrel_lora_accumulate_args *a);
kestrel_status kestrel_lora_update_scalar(kestrel_lora_update_args *a);

/**
 * y = base + s · Bt^T (A x) at the active tier (base NULL: 0; base may equal y, y must not overlap
 * x). KESTREL_ERR_NULL_POINTER for a NULL array, KESTREL_ERR_INVALID_ARGUMENT for a zero size or
 * a parameter count that overflows. O(r · (d_in + d_out)), no scratch (ranks in chunks of 16).
 */
kestrel_status kestrel_lora_apply(const kestrel_lora_shape *shape, const float *params, const float *x,
                                  const float *base, float *y);
/** Forward, loss and backward at the active tier (see the top of this file). O(r · (d_in + d_out) + n_neg · d_out). */
kestrel_status kestrel_lora_accumulate(kestrel_lora_accumulate_args *a);
/** EWC++ term, clipping and optimizer step at the active tier. O(n). */
kestrel_status kestrel_lora_update(kestrel_lora_update_args *a);
/**
 * The fused step: accumulate (with a's weight) then update (with u's grad_scale) at the active tier.
 * `u->n`, `u->params` and `u->grad` must describe the same arrays as `a`. On a rejected sample
 * nothing is written (parameters, state and gradient unchanged).
 */
kestrel_status kestrel_lora_step(kestrel_lora_accumulate_args *a, kestrel_lora_update_args *u);

#ifdef __cplusplus
}
#endif

#endif /* KESTREL_LORA_H */
