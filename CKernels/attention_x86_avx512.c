/*
 * AVX-512 tier of the attention tile run (method in internal/attention_tile_body.h): 16 lanes,
 * scores by 6 keys × 4 query vectors (24 accumulators), P·V by 4 rows × 4 vectors of the head
 * dimension; d's tail by masked loads/stores (k-masks never touch the masked-off elements).
 */
#include "internal/kestrel_internal.h"
#include "internal/attention.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX512_BEGIN

#define AT_NAME kestrel_attention_f32_avx512
#define AT_V __m512
#define AT_W ((size_t)16)
#define AT_LOAD(p) _mm512_loadu_ps(p)
#define AT_STORE(p, v) _mm512_storeu_ps((p), (v))
#define AT_LOADN(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#define AT_STOREN(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define AT_SET1(x) _mm512_set1_ps(x)
#define AT_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define AT_ADD(a, b) _mm512_add_ps((a), (b))
#define AT_SUB(a, b) _mm512_sub_ps((a), (b))
#define AT_MUL(a, b) _mm512_mul_ps((a), (b))
#define AT_MAXNUM(x, m) _mm512_max_ps((x), (m)) /* vmaxps returns its second operand for NaN */
#define AT_EXP kestrel_exp_f32_avx512
#define AT_F16 kestrel_f16_to_f32_avx512
#define AT_BF16 kestrel_bf16_to_f32_avx512
#define AT_CK 6
#define AT_QV 4
#define AT_RP 4
#define AT_DV 4
#include "internal/attention_tile_body.h"

/* The backward tile (internal/attention_bwd_body.h) on the same vector macros. */
#define ATB_NAME kestrel_attention_bwd_tile_f32_avx512
#define ATB_NZ(p, x) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((p), _mm512_setzero_ps(), _CMP_NEQ_UQ), (x))
#include "internal/attention_bwd_body.h"

KESTREL_TARGET_END

#endif
