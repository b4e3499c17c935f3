/*
 * AVX2 + FMA tier of the attention tile run (method in internal/attention_tile_body.h): 8 lanes,
 * scores by 6 keys × 2 query vectors (12 accumulators of 16 registers), P·V by 6 rows × 2 vectors of the
 * head dimension (12) with V rows prefetched 16 keys ahead; d's tail by vmaskmovps (never touches the
 * masked-off elements).
 */
#include "internal/kestrel_internal.h"
#include "internal/attention.h"

#if KESTREL_X86
#include <immintrin.h>

KESTREL_TARGET_AVX2_BEGIN

/* Eight -1 followed by eight 0: loading 8 lanes at tail_mask_src + 8 - n enables n lanes. */
static const int32_t tail_mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i tail_mask(size_t n) { return _mm256_loadu_si256((const __m256i *)(tail_mask_src + 8 - n)); }

#define AT_NAME kestrel_attention_f32_avx2
#define AT_V __m256
#define AT_W ((size_t)8)
#define AT_LOAD(p) _mm256_loadu_ps(p)
#define AT_STORE(p, v) _mm256_storeu_ps((p), (v))
#define AT_LOADN(p, n) _mm256_maskload_ps((p), tail_mask(n))
#define AT_STOREN(p, v, n) _mm256_maskstore_ps((p), tail_mask(n), (v))
#define AT_SET1(x) _mm256_set1_ps(x)
#define AT_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define AT_ADD(a, b) _mm256_add_ps((a), (b))
#define AT_SUB(a, b) _mm256_sub_ps((a), (b))
#define AT_MUL(a, b) _mm256_mul_ps((a), (b))
#define AT_MAXNUM(x, m) _mm256_max_ps((x), (m)) /* vmaxps returns its second operand for NaN */
#define AT_EXP kestrel_exp_f32_avx2
#define AT_F16 kestrel_f16_to_f32_avx2
#define AT_BF16 kestrel_bf16_to_f32_avx2
#define AT_CK 6
#define AT_QV 2
#define AT_RP 6
#define AT_DV 2
#define AT_PV_AHEAD 16
#include "internal/attention_tile_body.h"

/* The backward tile (internal/attention_bwd_body.h) on the same vector macros. */
#define ATB_NAME kestrel_attention_bwd_tile_f32_avx2
#define ATB_NZ(p, x) _mm256_and_ps((x), _mm256_cmp_ps((p), _mm256_setzero_ps(), _CMP_NEQ_UQ))
/* 6 rows × 2 vectors: 12 accumulators hide the 4-cycle FMA latency on 2 pipes (4 × 2 = 8 left
 * none to spare); 12 + 2 + 1 broadcast of the 16 ymm registers. */
#define ATB_RP 6
#define ATB_DV 2
#define ATB_TRANSPOSE8(src, ss, dst, ds, scale) atb_transpose8((src), (ss), (dst), (ds), (scale))

/* dst[t·ds + r] = scale · src[r·ss + t] for r, t < 8 (unpack, shuffle, 128-bit permute). */
static inline void atb_transpose8(const float *src, size_t ss, float *dst, size_t ds, float scale) {
    const __m256 sc = _mm256_set1_ps(scale);
    __m256 r[8], u[8], w[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_mul_ps(sc, _mm256_loadu_ps(src + (size_t)i * ss));
    for (int i = 0; i < 8; i += 2) {
        u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        w[i] = _mm256_shuffle_ps(u[i], u[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        w[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        w[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        w[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + (size_t)i * ds, _mm256_permute2f128_ps(w[i], w[i + 4], 0x20));
        _mm256_storeu_ps(dst + (size_t)(i + 4) * ds, _mm256_permute2f128_ps(w[i], w[i + 4], 0x31));
    }
}
#include "internal/attention_bwd_body.h"

KESTREL_TARGET_END

#endif
