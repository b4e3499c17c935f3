/*
 * NEON and NEON dot-product quantized dots and int8 GEMV/GEMM (internal/qdot_arm_body.h).
 * NEON: vmull_s8 forms exact int16 products and vpadalq_s16 adds pairs into int32 lanes (two
 * products are never summed in int16: -128 * -128 * 2 would wrap). NEON dotprod: vdotq_s32
 * (sdot) adds four exact products into each int32 lane. Both are exact for every int8 input;
 * the f32 block totals are kept in block order as in the scalar reference.
 */
#include "internal/qdot.h"

#if KESTREL_ARM64
#include <arm_neon.h>

static inline int32x4_t qn_dot16_neon(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#define QN_TIER neon
#define QN_DOT16(acc, a, b) qn_dot16_neon((acc), (a), (b))
#include "internal/qdot_arm_body.h"
#undef QN_TIER
#undef QN_DOT16

KESTREL_TARGET_NEONDOT_BEGIN
#define QN_TIER neondot
#define QN_DOT16(acc, a, b) vdotq_s32((acc), (a), (b))
#include "internal/qdot_arm_body.h"
#undef QN_TIER
#undef QN_DOT16
KESTREL_TARGET_END

#endif
