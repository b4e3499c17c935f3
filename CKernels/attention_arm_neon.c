/*
 * NEON tier (baseline AArch64) of the attention tile run (method in internal/attention_tile_body.h):
 * 4 lanes, scores by 6 keys × 4 query vectors (24 accumulators of 32 registers), P·V by 4 rows ×
 * 4 vectors of the head dimension; d's tail through a 4-element stack buffer. FMAXNM ignores a
 * NaN operand, as the scalar tier's running max does.
 */
#include "internal/kestrel_internal.h"
#include "internal/attention.h"

#if KESTREL_ARM64
#include <arm_neon.h>

static inline float32x4_t loadn(const float *p, size_t n) {
    float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(b, p, n * sizeof(float));
    return vld1q_f32(b);
}

static inline void storen(float *p, float32x4_t v, size_t n) {
    float b[4];
    vst1q_f32(b, v);
    memcpy(p, b, n * sizeof(float));
}

#define AT_NAME kestrel_attention_f32_neon
#define AT_V float32x4_t
#define AT_W ((size_t)4)
#define AT_LOAD(p) vld1q_f32(p)
#define AT_STORE(p, v) vst1q_f32((p), (v))
#define AT_LOADN(p, n) loadn((p), (n))
#define AT_STOREN(p, v, n) storen((p), (v), (n))
#define AT_SET1(x) vdupq_n_f32(x)
#define AT_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define AT_ADD(a, b) vaddq_f32((a), (b))
#define AT_SUB(a, b) vsubq_f32((a), (b))
#define AT_MUL(a, b) vmulq_f32((a), (b))
#define AT_MAXNUM(x, m) vmaxnmq_f32((x), (m))
#define AT_EXP kestrel_exp_f32_neon
#define AT_F16 kestrel_f16_to_f32_neon
#define AT_BF16 kestrel_bf16_to_f32_neon
#define AT_CK 6
#define AT_QV 4
#define AT_RP 4
#define AT_DV 4
#include "internal/attention_tile_body.h"

/* The backward tile (internal/attention_bwd_body.h) on the same vector macros. */
#define ATB_NAME kestrel_attention_bwd_tile_f32_neon
#define ATB_NZ(p, x) vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(x), vceqzq_f32(p)))
#include "internal/attention_bwd_body.h"

#endif
