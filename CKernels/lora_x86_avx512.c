/* AVX-512 tier of the low-rank adapter kernels (kestrel_lora.h); the code is lora_driver.h. */
#include "internal/kestrel_internal.h"
#include "internal/kestrel_tiers.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

#define LV __m512
#define LW 16
#define LLOAD(p) _mm512_loadu_ps(p)
#define LSTORE(p, v) _mm512_storeu_ps((p), (v))
#define LSET1(x) _mm512_set1_ps(x)
#define LZERO() _mm512_setzero_ps()
#define LADD(a, b) _mm512_add_ps((a), (b))
#define LSUB(a, b) _mm512_sub_ps((a), (b))
#define LMUL(a, b) _mm512_mul_ps((a), (b))
#define LDIV(a, b) _mm512_div_ps((a), (b))
#define LFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define LSQRT(a) _mm512_sqrt_ps(a)
#define LHSUM(v) _mm512_reduce_add_ps(v)
#define LORA_NAME(base) base##_avx512
#include "internal/lora_driver.h"

KESTREL_TARGET_END

#endif /* KESTREL_X86 */
