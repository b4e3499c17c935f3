/* NEON tier of the low-rank adapter kernels (kestrel_lora.h); the code is lora_driver.h. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_ARM64
#include <arm_neon.h>

#define LV float32x4_t
#define LW 4
#define LLOAD(p) vld1q_f32(p)
#define LSTORE(p, v) vst1q_f32((p), (v))
#define LSET1(x) vdupq_n_f32(x)
#define LZERO() vdupq_n_f32(0.0f)
#define LADD(a, b) vaddq_f32((a), (b))
#define LSUB(a, b) vsubq_f32((a), (b))
#define LMUL(a, b) vmulq_f32((a), (b))
#define LDIV(a, b) vdivq_f32((a), (b))
#define LFMA(a, b, c) vfmaq_f32((c), (a), (b))
#define LSQRT(a) vsqrtq_f32(a)
#define LHSUM(v) vaddvq_f32(v)
#define LORA_NAME(base) base##_neon
#include "internal/lora_driver.h"

#endif /* KESTREL_ARM64 */
