/* Scalar reference for int8 and packed-binary distances: exact integer arithmetic. */
#include "internal/distance_int.h"

int64_t kestrel_dot_i8_scalar(const int8_t *a, const int8_t *b, size_t n) {
    int64_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

int64_t kestrel_l2sq_i8_scalar(const int8_t *a, const int8_t *b, size_t n) {
    int64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t d = (int32_t)a[i] - (int32_t)b[i];
        s += d * d;
    }
    return s;
}

float kestrel_cosine_i8_scalar(const int8_t *a, const int8_t *b, size_t n) {
    int64_t ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t x = a[i], y = b[i];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return kestrel_cosine_finish((double)ab, (double)aa, (double)bb);
}

uint64_t kestrel_hamming_b1_scalar(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    uint64_t s = 0;
    for (size_t i = 0; i < nbytes; i++) s += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return s;
}

float kestrel_jaccard_b1_scalar(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    uint64_t inter = 0, uni = 0;
    for (size_t i = 0; i < nbytes; i++) {
        inter += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        uni += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    return kestrel_jaccard_finish(inter, uni);
}

KESTREL_DEFINE_I8_MANY(kestrel_dot_i8_many_scalar, kestrel_dot_i8_scalar)

KESTREL_DEFINE_I8_MANY(kestrel_l2sq_i8_many_scalar, kestrel_l2sq_i8_scalar)

KESTREL_DEFINE_MANY(kestrel_cosine_i8_many_scalar, int8_t, float, kestrel_cosine_i8_scalar)
KESTREL_DEFINE_MANY(kestrel_hamming_b1_many_scalar, uint8_t, uint32_t, kestrel_hamming_b1_scalar)
KESTREL_DEFINE_MANY(kestrel_jaccard_b1_many_scalar, uint8_t, float, kestrel_jaccard_b1_scalar)

/* Tiers without their own binary kernels (VNNI, NEON dotprod) keep the parent tier's, copied by dispatch.c. */
#define SET_INT(tier)                                          \
    do {                                                       \
        t->dot_i8 = kestrel_dot_i8_##tier;                     \
        t->l2sq_i8 = kestrel_l2sq_i8_##tier;                   \
        t->cosine_i8 = kestrel_cosine_i8_##tier;               \
        t->dot_i8_many = kestrel_dot_i8_many_##tier;           \
        t->l2sq_i8_many = kestrel_l2sq_i8_many_##tier;         \
        t->cosine_i8_many = kestrel_cosine_i8_many_##tier;     \
    } while (0)
#define SET_BIN(tier)                                          \
    do {                                                       \
        t->hamming_b1 = kestrel_hamming_b1_##tier;             \
        t->jaccard_b1 = kestrel_jaccard_b1_##tier;             \
        t->hamming_b1_many = kestrel_hamming_b1_many_##tier;   \
        t->jaccard_b1_many = kestrel_jaccard_b1_many_##tier;   \
    } while (0)

void kestrel_register_distance_int(kestrel_kernel_table *t, kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_SCALAR:
        SET_INT(scalar);
        SET_BIN(scalar);
        break;
#if KESTREL_X86
    case KESTREL_ISA_AVX2:
        SET_INT(avx2);
        SET_BIN(avx2);
        break;
    case KESTREL_ISA_AVX512:
        SET_INT(avx512);
        SET_BIN(avx512);
        break;
    case KESTREL_ISA_AVX512VNNI:
        SET_INT(avx512vnni);
        break;
#endif
#if KESTREL_ARM64
    case KESTREL_ISA_NEON:
        SET_INT(neon);
        SET_BIN(neon);
        break;
    case KESTREL_ISA_NEONDOT:
        SET_INT(neondot);
        break;
#endif
    default:
        break;
    }
}
