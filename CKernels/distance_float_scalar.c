/* Scalar reference for f32/f16/bf16 distances: sequential f32 accumulation. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

float kestrel_dot_f32_scalar(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

float kestrel_l2sq_f32_scalar(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

float kestrel_cosine_f32_scalar(const float *a, const float *b, size_t n) {
    float ab = 0.0f, aa = 0.0f, bb = 0.0f;
    for (size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return kestrel_cosine_finish(ab, aa, bb);
}

/* The f16 and bf16 references widen each element exactly and run the f32 loops. */
#define HALF_FAMILY(suffix, widen)                                                     \
    float kestrel_dot_##suffix##_scalar(const uint16_t *a, const uint16_t *b, size_t n) { \
        float s = 0.0f;                                                                \
        for (size_t i = 0; i < n; i++) s += widen(a[i]) * widen(b[i]);                 \
        return s;                                                                      \
    }                                                                                  \
    float kestrel_l2sq_##suffix##_scalar(const uint16_t *a, const uint16_t *b, size_t n) { \
        float s = 0.0f;                                                                \
        for (size_t i = 0; i < n; i++) {                                               \
            float d = widen(a[i]) - widen(b[i]);                                       \
            s += d * d;                                                                \
        }                                                                              \
        return s;                                                                      \
    }                                                                                  \
    float kestrel_cosine_##suffix##_scalar(const uint16_t *a, const uint16_t *b, size_t n) { \
        float ab = 0.0f, aa = 0.0f, bb = 0.0f;                                         \
        for (size_t i = 0; i < n; i++) {                                               \
            float x = widen(a[i]), y = widen(b[i]);                                    \
            ab += x * y;                                                               \
            aa += x * x;                                                               \
            bb += y * y;                                                               \
        }                                                                              \
        return kestrel_cosine_finish(ab, aa, bb);                                      \
    }

HALF_FAMILY(f16, kestrel_f16_to_f32_1)
HALF_FAMILY(bf16, kestrel_bf16_to_f32_1)

KESTREL_DEFINE_MANY(kestrel_dot_f32_many_scalar, float, float, kestrel_dot_f32_scalar)
KESTREL_DEFINE_MANY(kestrel_l2sq_f32_many_scalar, float, float, kestrel_l2sq_f32_scalar)
KESTREL_DEFINE_MANY(kestrel_cosine_f32_many_scalar, float, float, kestrel_cosine_f32_scalar)
KESTREL_DEFINE_MANY(kestrel_dot_f16_many_scalar, uint16_t, float, kestrel_dot_f16_scalar)
KESTREL_DEFINE_MANY(kestrel_l2sq_f16_many_scalar, uint16_t, float, kestrel_l2sq_f16_scalar)
KESTREL_DEFINE_MANY(kestrel_cosine_f16_many_scalar, uint16_t, float, kestrel_cosine_f16_scalar)
KESTREL_DEFINE_MANY(kestrel_dot_bf16_many_scalar, uint16_t, float, kestrel_dot_bf16_scalar)
KESTREL_DEFINE_MANY(kestrel_l2sq_bf16_many_scalar, uint16_t, float, kestrel_l2sq_bf16_scalar)
KESTREL_DEFINE_MANY(kestrel_cosine_bf16_many_scalar, uint16_t, float, kestrel_cosine_bf16_scalar)

/* Points every f32/f16/bf16 distance entry of table t at the kernels of one tier. */
#define SET_DISTANCE_FLOAT(t, tier)                              \
    do {                                                         \
        (t)->dot_f32 = kestrel_dot_f32_##tier;                   \
        (t)->l2sq_f32 = kestrel_l2sq_f32_##tier;                 \
        (t)->cosine_f32 = kestrel_cosine_f32_##tier;             \
        (t)->dot_f16 = kestrel_dot_f16_##tier;                   \
        (t)->l2sq_f16 = kestrel_l2sq_f16_##tier;                 \
        (t)->cosine_f16 = kestrel_cosine_f16_##tier;             \
        (t)->dot_bf16 = kestrel_dot_bf16_##tier;                 \
        (t)->l2sq_bf16 = kestrel_l2sq_bf16_##tier;               \
        (t)->cosine_bf16 = kestrel_cosine_bf16_##tier;           \
        (t)->dot_f32_many = kestrel_dot_f32_many_##tier;         \
        (t)->l2sq_f32_many = kestrel_l2sq_f32_many_##tier;       \
        (t)->cosine_f32_many = kestrel_cosine_f32_many_##tier;   \
        (t)->dot_f16_many = kestrel_dot_f16_many_##tier;         \
        (t)->l2sq_f16_many = kestrel_l2sq_f16_many_##tier;       \
        (t)->cosine_f16_many = kestrel_cosine_f16_many_##tier;   \
        (t)->dot_bf16_many = kestrel_dot_bf16_many_##tier;       \
        (t)->l2sq_bf16_many = kestrel_l2sq_bf16_many_##tier;     \
        (t)->cosine_bf16_many = kestrel_cosine_bf16_many_##tier; \
    } while (0)

/*
 * Fills the f32/f16/bf16 distance entries of one tier's table. Tiers without kernels of their
 * own here (avx512vnni, neondot) keep what they copied from their parent tier.
 */
void kestrel_register_distance_float(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR: SET_DISTANCE_FLOAT(t, scalar); break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2: SET_DISTANCE_FLOAT(t, avx2); break;
    case KESTREL_ISA_AVX512: SET_DISTANCE_FLOAT(t, avx512); break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON: SET_DISTANCE_FLOAT(t, neon); break;
#endif
    default: break;
    }
}
