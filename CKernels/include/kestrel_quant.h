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
 * Reference Q8_0 quantizer (ggml `quantize_row_q8_0_ref`): `n` floats (a multiple of 32, finite)
 * into n/32 blocks at `dst`. The caller checks n and finiteness (the Swift face throws).
 */
void kestrel_quantize_row_q8_0_ref(const float *x, kestrel_block_q8_0 *dst, size_t n);

/** Reference Q8_0 dequantizer: n/32 blocks into `n` floats, `y = f32(d) * q`. */
void kestrel_dequantize_row_q8_0_ref(const kestrel_block_q8_0 *src, float *y, size_t n);

#ifdef __cplusplus
}
#endif
#endif
