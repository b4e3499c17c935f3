/*
 * NEON (baseline AArch64 Advanced SIMD) tier of the f32 / f16 / bf16 distances.
 *
 * Every kernel walks its vectors in chunks of 16 elements with U = 4 independent
 * accumulators of 4 f32 lanes per quantity (vfmaq_f32 chains), reads the last partial chunk
 * through a zero-padded stack copy (NEON has no masked load), adds the accumulators as
 * (0 + 1) + (2 + 3) and reduces the lanes with faddp. f16 is widened exactly by fcvtl/fcvtl2
 * (part of the base ISA: no FP16 arithmetic extension is needed); bf16 by a 16-bit shift
 * (shll). The sequence of floating-point operations a row goes through depends only on its
 * data and n — never on how many rows share a pass — so the one-to-many kernels return bit
 * for bit what the one-pair kernels return.
 */
#include "internal/distance_float_simd.h"

#if KESTREL_ARM64
#include <arm_neon.h>

enum { W = 4, U = 4, CHUNK = W * U };
/*
 * Rows per pass of a one-to-many scan: dot and l2sq keep 4 rows x 4 accumulators plus the
 * 4 query vectors (loaded and widened once per pass) in the 32 q registers; cosine keeps two
 * quantities per row, hence 2 rows.
 */
enum { ROWS_DL = 4, ROWS_COS = 2, MAX_ROWS = 4 };
/* The vector of f32 lanes the driver's accumulators use. */
typedef float32x4_t vfloat;

/* Widens the CHUNK elements at p into U f32 vectors (elements in order). */
ALWAYS_INLINE void load_chunk(elem_kind k, const uint8_t *p, float32x4_t v[U]) {
    if (k == K_F32) {
        UNROLL for (int u = 0; u < U; u++) v[u] = vld1q_f32((const float *)(const void *)(p + 16 * u));
    } else {
        UNROLL for (int h = 0; h < U / 2; h++) {
            uint16x8_t x = vld1q_u16((const uint16_t *)(const void *)(p + 16 * h));
            if (k == K_F16) {
                float16x8_t f = vreinterpretq_f16_u16(x);
                v[2 * h] = vcvt_f32_f16(vget_low_f16(f));
                v[2 * h + 1] = vcvt_high_f32_f16(f);
            } else {
                v[2 * h] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(x), 16));
                v[2 * h + 1] = vreinterpretq_f32_u32(vshll_high_n_u16(x, 16));
            }
        }
    }
}

/* As load_chunk for the last `left` (< CHUNK) elements; missing lanes read as +0. */
ALWAYS_INLINE void load_tail(elem_kind k, const uint8_t *p, size_t left, float32x4_t v[U]) {
    uint32_t buf[CHUNK] = {0}; /* CHUNK f32 or 2 * CHUNK 16-bit elements */
    uint8_t *d = (uint8_t *)buf;
    const size_t bytes = left * elem_bytes(k); /* < 64: copied in fixed-size pieces, no memcpy call */
    if (bytes & 32) { memcpy(d, p, 32); d += 32; p += 32; }
    if (bytes & 16) { memcpy(d, p, 16); d += 16; p += 16; }
    if (bytes & 8) { memcpy(d, p, 8); d += 8; p += 8; }
    if (bytes & 4) { memcpy(d, p, 4); d += 4; p += 4; }
    if (bytes & 2) memcpy(d, p, 2);
    load_chunk(k, (const uint8_t *)buf, v);
}

ALWAYS_INLINE void accumulate(dist_op op, const float32x4_t qv[U], const float32x4_t rv[U], float32x4_t acc[U],
                              float32x4_t acc2[U]) {
    UNROLL for (int u = 0; u < U; u++) {
        if (op == OP_DOT) {
            acc[u] = vfmaq_f32(acc[u], qv[u], rv[u]);
        } else if (op == OP_L2) {
            float32x4_t d = vsubq_f32(qv[u], rv[u]);
            acc[u] = vfmaq_f32(acc[u], d, d);
        } else {
            acc[u] = vfmaq_f32(acc[u], qv[u], rv[u]);
            acc2[u] = vfmaq_f32(acc2[u], rv[u], rv[u]);
        }
    }
}

ALWAYS_INLINE vfloat vzero(void) { return vdupq_n_f32(0.0f); }

ALWAYS_INLINE float reduce(const float32x4_t acc[U]) {
    return vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
}

#include "internal/distance_float_driver.h"

KESTREL_FLOAT_TIER_KERNELS(neon)

#endif /* KESTREL_ARM64 */
