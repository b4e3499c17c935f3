/* KV-cache decode (kestrel_decode.h): argument check, merge, the scalar tier and registration. */
#include <math.h>

#include "include/kestrel_decode.h"
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

size_t kestrel_decode_scratch_floats(size_t rows, size_t d) {
    const size_t w = rows + d + 2;
    if (w < rows || w < d || KESTREL_DECODE_CHUNK > SIZE_MAX / w) return 0;
    return w * KESTREL_DECODE_CHUNK;
}

kestrel_status kestrel_decode_check(const kestrel_decode_args *a) {
    if (a == NULL) return KESTREL_ERR_NULL_POINTER;
    if (a->d == 0 || a->nq == 0 || a->nq > KESTREL_DECODE_MAX_QUERIES || a->group == 0 || a->kv_heads == 0 ||
        a->block_tokens == 0 || a->row_stride < a->d || a->q_stride < a->d || a->lo > a->hi ||
        (a->kv_heads > 1 && a->head_stride < a->d) ||
        (a->dtype != KESTREL_KV_F32 && a->dtype != KESTREL_KV_F16 && a->dtype != KESTREL_KV_I8))
        return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->group > SIZE_MAX / a->nq || a->kv_heads > SIZE_MAX / (a->group * a->nq)) return KESTREL_ERR_INVALID_ARGUMENT;
    if (a->q == NULL || a->acc == NULL || a->m == NULL || a->l == NULL || a->scratch == NULL)
        return KESTREL_ERR_NULL_POINTER;
    if (a->lo < a->hi && (a->k_blocks == NULL || a->v_blocks == NULL)) return KESTREL_ERR_NULL_POINTER;
    if (a->lo < a->hi && a->dtype == KESTREL_KV_I8 && (a->k_scales == NULL || a->v_scales == NULL))
        return KESTREL_ERR_NULL_POINTER;
    return KESTREL_OK;
}

void kestrel_decode_merge_f32(size_t rows, size_t d, size_t splits, const float *partials, float *o,
                              size_t o_stride, float *lse) {
    const size_t part = rows * (d + 2);
    for (size_t r = 0; r < rows; r++) {
        float mx = -INFINITY;
        for (size_t sp = 0; sp < splits; sp++) {
            const float mi = partials[sp * part + rows * d + r];
            if (mi > mx) mx = mi;
        }
        float *orow = o + r * o_stride;
        for (size_t t = 0; t < d; t++) orow[t] = 0.0f;
        if (mx == -INFINITY) {
            if (lse) lse[r] = -INFINITY;
            continue;
        }
        float total = 0.0f;
        for (size_t sp = 0; sp < splits; sp++) {
            const float *p = partials + sp * part;
            const float mi = p[rows * d + r], li = p[rows * d + rows + r];
            if (mi == -INFINITY) continue;
            const float w = expf(mi - mx);
            total += w * li;
            for (size_t t = 0; t < d; t++) orow[t] += w * p[r * d + t];
        }
        const float inv = 1.0f / total;
        for (size_t t = 0; t < d; t++) orow[t] *= inv;
        if (lse) lse[r] = mx + logf(total);
    }
}

/* Element t of a stored row. */
static inline float decode_elem(int dtype, const unsigned char *row, size_t t) {
    if (dtype == KESTREL_KV_F32) return ((const float *)(const void *)row)[t];
    if (dtype == KESTREL_KV_F16) return kestrel_f16_to_f32_1(((const uint16_t *)(const void *)row)[t]);
    return (float)((const int8_t *)(const void *)row)[t];
}

static inline void decode_scores(int dtype, const float *q, size_t q_stride, size_t rows, const unsigned char *const *k,
                                 size_t n, size_t d, float *s, size_t ld, float *tmp) {
    (void)tmp;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < n; c++) {
            float x = 0.0f;
            for (size_t t = 0; t < d; t++) x += q[r * q_stride + t] * decode_elem(dtype, k[c], t);
            s[r * ld + c] = x;
        }
}

static inline void decode_values(int dtype, const float *p, size_t ld, size_t rows, const unsigned char *const *v,
                                 size_t n, size_t d, float *acc, float *tmp) {
    (void)tmp;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < n; c++) {
            const float w = p[r * ld + c];
            if (w != 0.0f)
                for (size_t t = 0; t < d; t++) acc[r * d + t] += w * decode_elem(dtype, v[c], t);
        }
}

static inline float decode_max(const float *x, size_t n) {
    float mx = -INFINITY;
    for (size_t c = 0; c < n; c++)
        if (x[c] > mx) mx = x[c];
    return mx;
}

static inline float decode_sum(const float *x, size_t n) {
    float sum = 0.0f;
    for (size_t c = 0; c < n; c++) sum += x[c];
    return sum;
}

#define DECODE_NAME kestrel_decode_partial_scalar
#define DECODE_EXP kestrel_exp_f32_scalar
#include "internal/decode_driver.h"

kestrel_status kestrel_decode_partial(const kestrel_decode_args *a) { return kestrel_kernels()->decode_partial(a); }

void kestrel_register_decode(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: t->decode_partial = kestrel_decode_partial_scalar; break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: t->decode_partial = kestrel_decode_partial_avx2; break;
    case KESTREL_ISA_AVX512: t->decode_partial = kestrel_decode_partial_avx512; break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: t->decode_partial = kestrel_decode_partial_neon; break;
#endif
    default: break;
    }
}
