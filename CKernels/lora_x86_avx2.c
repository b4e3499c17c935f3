/* AVX2 + FMA tier of the low-rank adapter kernels (kestrel_lora.h); the code is lora_driver.h. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

static inline float lora_hsum256(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

#define LV __m256
#define LW 8
#define LLOAD(p) _mm256_loadu_ps(p)
#define LSTORE(p, v) _mm256_storeu_ps((p), (v))
#define LSET1(x) _mm256_set1_ps(x)
#define LZERO() _mm256_setzero_ps()
#define LADD(a, b) _mm256_add_ps((a), (b))
#define LSUB(a, b) _mm256_sub_ps((a), (b))
#define LMUL(a, b) _mm256_mul_ps((a), (b))
#define LDIV(a, b) _mm256_div_ps((a), (b))
#define LFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define LSQRT(a) _mm256_sqrt_ps(a)
#define LHSUM(v) lora_hsum256(v)
#define LORA_NAME(base) base##_avx2
#include "internal/lora_driver.h"

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
