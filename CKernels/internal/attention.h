/*
 * Attention forward family (kestrel_attention.h): per-tier prototypes, the scratch layout every
 * tier shares, argument checks and the per-row mask. Not part of the public API.
 */
#ifndef KESTREL_INTERNAL_ATTENTION_H
#define KESTREL_INTERNAL_ATTENTION_H

#include <string.h>

#include "kestrel_attention.h"
#include "kestrel_attention_backward.h"
#include "kestrel_tiers.h"

/* Query rows are padded to a multiple of this (the widest vector) in the transposed layouts. */
#define KESTREL_ATT_QPAD ((size_t)16)

static inline size_t kestrel_att_qpad(size_t block_q) {
    return (block_q + KESTREL_ATT_QPAD - 1) / KESTREL_ATT_QPAD * KESTREL_ATT_QPAD;
}

/*
 * The SIMD tiers' scratch, in order (P = kestrel_att_qpad(block_q)):
 *   qt  [d][P]        scale · Qᵀ of the query block (padding lanes 0)
 *   st  [block_k][P]  scores, then probabilities, of one key block, transposed (keys × queries)
 *   acc [block_q][d]  unnormalised output rows
 *   m, l, al, ms [P]  running max, running sum, rescale factors, subtracted max (one per query lane)
 *   kc, vc [block_k][d] the key block's K and V converted to f32 (f16/bf16 inputs only)
 * The scalar tier uses the front of the same area differently (attention_scalar.c); both fit
 * kestrel_attention_scratch_floats.
 */
typedef struct {
    float *qt, *st, *acc, *m, *l, *al, *ms, *kc, *vc;
    size_t p; /* padded query rows */
} kestrel_att_scratch;

static inline kestrel_att_scratch kestrel_att_layout(const kestrel_attention_args *a) {
    kestrel_att_scratch s;
    s.p = kestrel_att_qpad(a->block_q);
    s.qt = a->scratch;
    s.st = s.qt + s.p * a->d;
    s.acc = s.st + a->block_k * s.p;
    s.m = s.acc + a->block_q * a->d;
    s.l = s.m + s.p;
    s.al = s.l + s.p;
    s.ms = s.al + s.p;
    s.kc = s.ms + s.p;
    s.vc = s.kc + a->block_k * a->d;
    return s;
}

/* The argument rules of kestrel_attention_f32, shared by every tier: KESTREL_OK to run. */
kestrel_status kestrel_attention_check(const kestrel_attention_args *a);

/* Visible keys [lo, hi) of the row at key position `pos` (= diag + r). */
static inline void kestrel_att_visible(const kestrel_attention_args *a, ptrdiff_t pos, ptrdiff_t *lo, ptrdiff_t *hi) {
    ptrdiff_t h = (ptrdiff_t)a->kv_len;
    if (a->causal && pos + 1 < h) h = pos + 1;
    ptrdiff_t l = 0;
    if (a->window_left >= 0 && pos - a->window_left > l) l = pos - a->window_left;
    *lo = l;
    *hi = h;
}

/* The u16 -> f32 conversion of a kv_format (NULL for f32), from table `t`. */
static inline kestrel_u16_to_f32_fn kestrel_att_kv_convert(const kestrel_kernel_table *t, int kv_format) {
    return kv_format == KESTREL_ATTENTION_KV_F16 ? t->f16_to_f32 : kv_format == KESTREL_ATTENTION_KV_BF16 ? t->bf16_to_f32 : NULL;
}

/* Online-softmax update of one key block with exp function `expf_v` (kestrel_attention.h). */
void kestrel_attention_block_update_with(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols,
                                         float *s, size_t lds, float *acc, size_t d, float *m, float *l,
                                         kestrel_unary_f32_fn expf_v);

/* The argument rules of kestrel_attention_bwd_tile_f32, shared by every tier: KESTREL_OK to run
 * (rows or cols 0 included: the caller then returns). */
kestrel_status kestrel_attention_bwd_check(const kestrel_attention_bwd_args *a);

/* The mask fields of a backward tile as forward arguments (for kestrel_att_visible and friends). */
static inline kestrel_attention_args kestrel_att_bwd_mask(const kestrel_attention_bwd_args *a) {
    kestrel_attention_args m;
    memset(&m, 0, sizeof m);
    m.causal = a->causal;
    m.diag = a->diag;
    m.window_left = a->window_left;
    m.kv_len = a->kv_len;
    m.bias = a->bias;
    m.bias_stride = a->bias_stride;
    return m;
}

/* Tier entries (attention_<tier>.c). */
kestrel_status kestrel_attention_f32_avx2(const kestrel_attention_args *a);
kestrel_status kestrel_attention_f32_avx512(const kestrel_attention_args *a);
kestrel_status kestrel_attention_f32_neon(const kestrel_attention_args *a);
kestrel_status kestrel_attention_bwd_tile_f32_avx2(const kestrel_attention_bwd_args *a);
kestrel_status kestrel_attention_bwd_tile_f32_avx512(const kestrel_attention_bwd_args *a);
kestrel_status kestrel_attention_bwd_tile_f32_neon(const kestrel_attention_bwd_args *a);

#endif
