/*
 * kestrel_quant.h — ggml block formats (bit-exact with llama.cpp's reference quantizers) and
 * quantized kernels. Layouts and rounding rules: Documentation/Quantization.md and the fixture
 * README (shared/fixtures/ggml-quants). All structs are packed byte layouts, little-endian;
 * fp16 fields are IEEE binary16 bit patterns. Pointers need no alignment. Thread-safety: every
 * function is a pure function of its arguments.
 *
 * Reference (`_ref`) functions are scalar C compiled without FP contraction, with exact
 * reciprocals: they decide the bits. Fast paths must reproduce them exactly (quantize and
 * dequantize) or say in their comment how they may differ (dot products: order of summation).
 */
#ifndef KESTREL_QUANT_H
#define KESTREL_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KESTREL_QK32 32
#define KESTREL_QK_K 256

typedef struct kestrel_block_q8_0 { uint16_t d; int8_t qs[32]; } kestrel_block_q8_0;                       /* 34 B */
typedef struct kestrel_block_q8_1 { uint16_t d; uint16_t s; int8_t qs[32]; } kestrel_block_q8_1;           /* 36 B */
typedef struct kestrel_block_q4_0 { uint16_t d; uint8_t qs[16]; } kestrel_block_q4_0;                      /* 18 B */
typedef struct kestrel_block_q4_1 { uint16_t d; uint16_t m; uint8_t qs[16]; } kestrel_block_q4_1;          /* 20 B */
typedef struct kestrel_block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } kestrel_block_q5_0;       /* 22 B */
typedef struct kestrel_block_q5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[16]; } kestrel_block_q5_1; /* 24 B */
typedef struct kestrel_block_q4_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[128]; } kestrel_block_q4_K; /* 144 B */
typedef struct kestrel_block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } kestrel_block_q6_K; /* 210 B */
/* Activation-side super-block (never in model files): float32 scale, codes, sums of 16 codes. */
typedef struct kestrel_block_q8_K { float d; int8_t qs[256]; int16_t bsums[16]; } kestrel_block_q8_K;       /* 292 B */

_Static_assert(sizeof(kestrel_block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(kestrel_block_q8_1) == 36, "q8_1");
_Static_assert(sizeof(kestrel_block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(kestrel_block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(kestrel_block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(kestrel_block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(kestrel_block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(kestrel_block_q6_K) == 210, "q6_K");
_Static_assert(sizeof(kestrel_block_q8_K) == 292, "q8_K");

/**
 * Table entry types of the block kernels (`kestrel_kernel_table.quantize_<t>` /
 * `dequantize_<t>`): `n` floats (a multiple of the format's block size) to n / block-size
 * blocks of the format, back to back, and back. Pointers need no alignment; n = 0 touches
 * nothing. Every tier returns exactly the bytes / float bits of the `_ref` function below.
 */
typedef void (*kestrel_quantize_blocks_fn)(const float *x, void *blocks, size_t n);
/** See kestrel_quantize_blocks_fn. */
typedef void (*kestrel_dequantize_blocks_fn)(const void *blocks, float *y, size_t n);

/*
 * Reference quantizers and dequantizers (ggml `quantize_row_<t>_ref` / `dequantize_row_<t>`),
 * one pair per format. `n` is the number of floats: a multiple of the block size (32, or 256 for
 * Q4_K and Q6_K); the row becomes n / block-size blocks back to back at `dst`, and back. Inputs
 * must be finite (NaN / Inf give unspecified codes, never a fault); the caller checks n and
 * finiteness (the Swift face, `GGMLBlocks`, throws). Scalar, O(n); K-quant quantizers do about
 * 22 passes over each 32-element group (Q4_K) or 19 over each 16-element group (Q6_K).
 * Bit-exact with ggml's reference functions built without FP contraction; the table entries
 * (`quantize_<t>` / `dequantize_<t>`) reproduce these bits at every tier.
 *
 * Rounding, per the fixture README: Q8_0 / Q8_1 codes use roundf (ties away from zero) of
 * x * (1/d); Q4_0 / Q4_1 / Q5_0 / Q5_1 truncate x*id + offset; K-quants use round-half-even
 * (1.5 * 2^23 trick) and re-quantize against the decoded fp16 scales.
 */

/** Q8_0: d = amax/127, q = roundf(x / d) computed as x * (1/d); stores fp16(d). */
void kestrel_quantize_row_q8_0_ref(const float *x, kestrel_block_q8_0 *dst, size_t n);
/** Q8_0: y = f32(d) * q. */
void kestrel_dequantize_row_q8_0_ref(const kestrel_block_q8_0 *src, float *y, size_t n);
/** Q8_1: codes as Q8_0, plus s = fp16(float(sum q) * d) with the float32 d (may be +-Inf). */
void kestrel_quantize_row_q8_1_ref(const float *x, kestrel_block_q8_1 *dst, size_t n);
/** Q8_1: y = f32(d) * q (s is not used). */
void kestrel_dequantize_row_q8_1_ref(const kestrel_block_q8_1 *src, float *y, size_t n);
/** Q4_0: d = max / -8 (max: signed value of largest |x|, first on ties), q = min(15, trunc(x/d + 8.5)). */
void kestrel_quantize_row_q4_0_ref(const float *x, kestrel_block_q4_0 *dst, size_t n);
/** Q4_0: y = (q - 8) * f32(d). */
void kestrel_dequantize_row_q4_0_ref(const kestrel_block_q4_0 *src, float *y, size_t n);
/** Q4_1: d = (max - min) / 15, q = min(15, trunc((x - min)/d + 0.5)); stores fp16(d), fp16(min). */
void kestrel_quantize_row_q4_1_ref(const float *x, kestrel_block_q4_1 *dst, size_t n);
/** Q4_1: y = q * f32(d) + f32(m), two roundings. */
void kestrel_dequantize_row_q4_1_ref(const kestrel_block_q4_1 *src, float *y, size_t n);
/** Q5_0: d = max / -16, q = min(31, trunc(x/d + 16.5)); bit 4 of each code in qh. */
void kestrel_quantize_row_q5_0_ref(const float *x, kestrel_block_q5_0 *dst, size_t n);
/** Q5_0: y = (q - 16) * f32(d). */
void kestrel_dequantize_row_q5_0_ref(const kestrel_block_q5_0 *src, float *y, size_t n);
/** Q5_1: d = (max - min) / 31, q = trunc((x - min)/d + 0.5). */
void kestrel_quantize_row_q5_1_ref(const float *x, kestrel_block_q5_1 *dst, size_t n);
/** Q5_1: y = q * f32(d) + f32(m), two roundings. */
void kestrel_dequantize_row_q5_1_ref(const kestrel_block_q5_1 *src, float *y, size_t n);
/** Q4_K: weighted scale/min fit per 32-element group, 6-bit group scales, codes re-fitted to the stored scales. */
void kestrel_quantize_row_q4_K_ref(const float *x, kestrel_block_q4_K *dst, size_t n);
/** Q4_K: y = (f32(d) * sc) * q - (f32(dmin) * m), each product rounded before the subtraction. */
void kestrel_dequantize_row_q4_K_ref(const kestrel_block_q4_K *src, float *y, size_t n);
/** Q6_K: signed scale fit per 16-element group, int8 group scales, codes re-fitted; an all-zero block is 210 zero bytes. */
void kestrel_quantize_row_q6_K_ref(const float *x, kestrel_block_q6_K *dst, size_t n);
/** Q6_K: y = (f32(d) * scale) * (q - 32). */
void kestrel_dequantize_row_q6_K_ref(const kestrel_block_q6_K *src, float *y, size_t n);

#ifdef __cplusplus
}
#endif
#endif
