/* Scalar tier of the low-rank adapter kernels (kestrel_lora.h): the reference of every tier, plus
 * the sizes, the active-tier entry points, the fused step and the table registration. */
#include <math.h>

#include "include/kestrel_lora.h"
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#define LV float
#define LW 1
#define LLOAD(p) (*(p))
#define LSTORE(p, v) (*(p) = (v))
#define LSET1(x) (x)
#define LZERO() 0.0f
#define LADD(a, b) ((a) + (b))
#define LSUB(a, b) ((a) - (b))
#define LMUL(a, b) ((a) * (b))
#define LDIV(a, b) ((a) / (b))
#define LFMA(a, b, c) fmaf((a), (b), (c))
#define LSQRT(a) sqrtf(a)
#define LHSUM(v) (v)
#define LORA_NAME(base) base##_scalar
#include "internal/lora_driver.h"

size_t kestrel_lora_param_count(const kestrel_lora_shape *shape) {
    if (shape == NULL) return 0;
    const size_t d = shape->d_in + shape->d_out;
    if (d < shape->d_in || shape->rank == 0) return 0;
    if (d > SIZE_MAX / sizeof(float) / shape->rank) return 0;
    return shape->rank * d;
}

size_t kestrel_lora_scratch_floats(const kestrel_lora_shape *shape, size_t n_neg) {
    if (shape == NULL || shape->d_out > SIZE_MAX / 8) return 0;
    const size_t fixed = shape->rank + 2 * shape->d_out;
    if (fixed < shape->rank || n_neg > SIZE_MAX / sizeof(float) - fixed - 1) return 0;
    return fixed + n_neg + 1;
}

kestrel_status kestrel_lora_apply(const kestrel_lora_shape *shape, const float *params, const float *x,
                                  const float *base, float *y) {
    return kestrel_kernels()->lora_apply(shape, params, x, base, y);
}

kestrel_status kestrel_lora_accumulate(kestrel_lora_accumulate_args *a) { return kestrel_kernels()->lora_accumulate(a); }

kestrel_status kestrel_lora_update(kestrel_lora_update_args *a) { return kestrel_kernels()->lora_update(a); }

kestrel_status kestrel_lora_step(kestrel_lora_accumulate_args *a, kestrel_lora_update_args *u) {
    if (a == NULL || u == NULL) return KESTREL_ERR_NULL_POINTER;
    if (u->params != a->params || u->grad != a->grad || u->n != kestrel_lora_param_count(&a->shape))
        return KESTREL_ERR_INVALID_ARGUMENT;
    const kestrel_kernel_table *t = kestrel_kernels();
    kestrel_status st = t->lora_accumulate(a);
    if (st != KESTREL_OK) return st;
    return t->lora_update(u);
}

void kestrel_register_lora(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR:
        t->lora_apply = kestrel_lora_apply_scalar;
        t->lora_accumulate = kestrel_lora_accumulate_scalar;
        t->lora_update = kestrel_lora_update_scalar;
        break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2:
        t->lora_apply = kestrel_lora_apply_avx2;
        t->lora_accumulate = kestrel_lora_accumulate_avx2;
        t->lora_update = kestrel_lora_update_avx2;
        break;
    case KESTREL_ISA_AVX512:
        t->lora_apply = kestrel_lora_apply_avx512;
        t->lora_accumulate = kestrel_lora_accumulate_avx512;
        t->lora_update = kestrel_lora_update_avx512;
        break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON:
        t->lora_apply = kestrel_lora_apply_neon;
        t->lora_accumulate = kestrel_lora_accumulate_neon;
        t->lora_update = kestrel_lora_update_neon;
        break;
#endif
    default: break;
    }
}
