/*
 * Math family (exp, softmax, element-wise helpers): per-tier prototypes and the constants of
 * the vector exp that every SIMD tier shares. Not part of the public API.
 *
 * Vector exp, all tiers:
 *   k = round(x * log2(e))                       (add-and-subtract 1.5 * 2^23 + 127)
 *   r = x - k * LN2_HI - k * LN2_LO              (Cody-Waite; LN2_HI has 16 significant bits,
 *                                                 so k * LN2_HI and x - k * LN2_HI are exact)
 *   exp(r) ~= 1 + r + r^2 * (C2 + r*C3 + r^2*C4 + r^3*C5 + r^4*C6),  |r| <= 0.3467
 *   exp(x) = exp(r) * 2^k                        (2^k from integer exponent bits)
 * C2..C6 are our own Remez minimax fit of (exp(r) - 1 - r) / r^2 weighted for relative error:
 * with the coefficients rounded to f32 the polynomial is within 3.7e-9 (0.06 * 2^-24) of
 * exp(r), so the error budget is the f32 rounding of the few last operations (measured
 * maximum over every f32 in [-87.3, 88.7]: see the tests and the report).
 * |x| <= KESTREL_EXP_FAST_LIMIT keeps k in [-126, 126] so a single scale is exact; other
 * lanes (NaN, +-Inf, overflow, results that are subnormal) take a path that clamps x to
 * [KESTREL_EXP_LO, KESTREL_EXP_HI] (NaN passes through) and scales in two exact steps, so
 * subnormal results are rounded once, as gradual underflow does.
 */
#ifndef KESTREL_INTERNAL_MATH_H
#define KESTREL_INTERNAL_MATH_H

#include "kestrel_tiers.h"

#define KESTREL_EXP_LOG2E 0x1.715476p+0f
#define KESTREL_EXP_LN2_HI 0x1.62e4p-1f       /* 0x3f317200: 0.693145751953125 */
#define KESTREL_EXP_LN2_LO 0x1.7f7d1cp-20f    /* ln 2 - LN2_HI, rounded to f32 */
/* x * LOG2E + SHIFTER (one rounding, the sum lies in [2^23, 2^24)) rounds to the integer k and
 * leaves k + 127, the biased exponent of 2^k, in the low mantissa bits: shifting those bits
 * left by 23 builds 2^k, and (x * LOG2E + SHIFTER) - SHIFTER is k exactly. */
#define KESTREL_EXP_SHIFTER (0x1.8p+23f + 127.0f)
#define KESTREL_EXP_C2 0x1.fffffcp-2f
#define KESTREL_EXP_C3 0x1.555492p-3f
#define KESTREL_EXP_C4 0x1.5558f2p-5f
#define KESTREL_EXP_C5 0x1.123a0ap-7f
#define KESTREL_EXP_C6 0x1.6a23f2p-10f
/* |x| at most this: 2^k is a normal f32 and exp(x) neither overflows nor underflows. */
#define KESTREL_EXP_FAST_LIMIT 87.0f
/* Clamp of the slow path: exp(88.8) overflows to +Inf, exp(-104) rounds to +0. */
#define KESTREL_EXP_HI 88.8f
#define KESTREL_EXP_LO (-104.0f)

/*
 * The softmax rows decided by their maximum m alone, the same at every tier: a NaN or +Inf
 * input makes every output NaN; m = -Inf (every input -Inf: a fully masked row) makes every
 * output 0. Returns 1 and sets *fill to that value for those rows; 0 when m is finite and the
 * exp pass must run.
 */
static inline int kestrel_softmax_fill(float m, float *fill) {
    if (m != m || m == INFINITY) {
        *fill = NAN;
        return 1;
    }
    if (m == -INFINITY) {
        *fill = 0.0f;
        return 1;
    }
    return 0;
}

/*
 * Scalar twin of the vector exp above with every product rounded before its sum (no FMA): the
 * exp of the freestanding wasm32 builds (CKernels/wasm/include/math.h maps expf here, since
 * WebAssembly has neither libm nor FMA), so that the scalar and simd128 modules return the
 * same bits for exp. Same reduction, polynomial and two-step scaling as the SIMD tiers;
 * measured within 2 ulp of the correctly rounded exp (CKernels/wasm/check_wasm.py). Needs FP
 * contraction off (the wasm builds have no FMA to contract into; the native reference build
 * passes -ffp-contract=off).
 */
static inline float kestrel_exp_poly1(float x) {
    const int wide = !(__builtin_fabsf(x) <= KESTREL_EXP_FAST_LIMIT); /* also NaN */
    if (wide) {
        if (x > KESTREL_EXP_HI) x = KESTREL_EXP_HI; /* NaN fails both tests and stays NaN */
        if (x < KESTREL_EXP_LO) x = KESTREL_EXP_LO;
    }
    const float tt = x * KESTREL_EXP_LOG2E + KESTREL_EXP_SHIFTER;
    const float k = tt - KESTREL_EXP_SHIFTER;
    float r = x - k * KESTREL_EXP_LN2_HI;
    r = r - k * KESTREL_EXP_LN2_LO;
    float q = KESTREL_EXP_C6 * r + KESTREL_EXP_C5;
    q = q * r + KESTREL_EXP_C4;
    q = q * r + KESTREL_EXP_C3;
    q = q * r + KESTREL_EXP_C2;
    const float p = (q * (r * r) + r) + 1.0f;
    const uint32_t tb = kestrel_f32_bits(tt);
    if (!wide) return p * kestrel_bits_f32(tb << 23);
    const int32_t kk = (int32_t)(tb - kestrel_f32_bits(KESTREL_EXP_SHIFTER));
    const int32_t k1 = kk >> 1, k2 = kk - k1; /* k in [-150, 128]: both halves give normal powers */
    const float y = p * kestrel_bits_f32((uint32_t)(k1 + 127) << 23);
    return y * kestrel_bits_f32((uint32_t)(k2 + 127) << 23);
}

/* The per-tier prototypes of this family are in kestrel_tiers.h. */


#endif
