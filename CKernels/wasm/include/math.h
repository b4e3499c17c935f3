/*
 * Freestanding stand-in for <math.h> in the wasm32 builds of CKernels/wasm/build.sh (no libc,
 * no libm) and in the native reference build of the same sources (CKernels/wasm/check_wasm.py). Only what the
 * compiled kernel files use; each is one WebAssembly instruction or a short exact sequence,
 * except expf, which is the scalar twin of the SIMD tiers' exp (kestrel_exp_poly1 in
 * CKernels/internal/kestrel_math.h, which every file calling expf includes).
 */
#ifndef KESTREL_WASM_MATH_H
#define KESTREL_WASM_MATH_H

#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))

static inline double sqrt(double x) { return __builtin_sqrt(x); }
static inline float sqrtf(float x) { return __builtin_sqrtf(x); }
static inline float fabsf(float x) { return __builtin_fabsf(x); }
static inline float truncf(float x) { return __builtin_truncf(x); }
/* Round half away from zero: x - trunc(x) is exact, so one compare decides. */
static inline float roundf(float x) {
    const float t = __builtin_truncf(x);
    return __builtin_fabsf(x - t) >= 0.5f ? t + __builtin_copysignf(1.0f, x) : t;
}
#define expf(x) kestrel_exp_poly1(x)

#endif
