/*
 * Reference ggml block quantizers and dequantizers: these decide the bits (fixture README,
 * "Conventions"; Documentation/Quantization.md, "ggml block formats"). Every expression is
 * float32, evaluated in the order written, without contraction; reciprocals are exact divisions.
 */
/* clang honours the STDC pragma; GCC (the aarch64 cross-check) rejects it and needs its own. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "include/kestrel_quant.h"
#include "internal/kestrel_internal.h"
#include <float.h>
#include <math.h>

/* Threshold below which a K-quant group counts as zero (ggml's GROUP_MAX_EPS). */
#define GROUP_EPS 1e-15f

/*
 * Nearest integer, ties to even, by adding 1.5 * 2^23 and reading the low mantissa bits. Kept
 * in this form (not lrintf) because it is what decides the bits: for |x| >= 2^22 it returns
 * the same wrapped value the reference does instead of a saturated or undefined one.
 */
static inline int nearest_int(float x) {
    float v = x + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/*
 * A code from an already rounded or truncated float: the integer value when it is within
 * int8/uint8 reach, else 0. Only non-finite values (1/d overflowing for a block whose largest
 * |x| is below ~1e-37, or NaN inputs) miss the range; C leaves that conversion undefined, and
 * 0 is what ggml's x86-64 build writes (cvttss2si gives INT_MIN, whose low byte is 0).
 */
static inline int code_of(float v) { return (v > -129.0f && v < 256.0f) ? (int)v : 0; }

/* Signed value of largest magnitude; the first one wins ties (Q4_0, Q5_0). */
static inline float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < KESTREL_QK32; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static inline void min_max(const float *x, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < KESTREL_QK32; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static inline uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- Q8_0 / Q8_1 ---------------------------------------------------------------------- */

void kestrel_quantize_row_q8_0_ref(const float *x, kestrel_block_q8_0 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        float amax = 0.0f;
        for (int j = 0; j < KESTREL_QK32; j++) {
            float v = fabsf(xb[j]);
            if (v > amax) amax = v;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = kestrel_f32_to_f16_1(d);
        for (int j = 0; j < KESTREL_QK32; j++) dst[b].qs[j] = (int8_t)code_of(roundf(xb[j] * id));
    }
}

void kestrel_dequantize_row_q8_0_ref(const kestrel_block_q8_0 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        for (int j = 0; j < KESTREL_QK32; j++) y[b * KESTREL_QK32 + j] = d * (float)src[b].qs[j];
    }
}

void kestrel_quantize_row_q8_1_ref(const float *x, kestrel_block_q8_1 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        float amax = 0.0f;
        for (int j = 0; j < KESTREL_QK32; j++) {
            float v = fabsf(xb[j]);
            if (v > amax) amax = v;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < KESTREL_QK32; j++) {
            dst[b].qs[j] = (int8_t)code_of(roundf(xb[j] * id));
            sum += dst[b].qs[j];
        }
        dst[b].d = kestrel_f32_to_f16_1(d);
        dst[b].s = kestrel_f32_to_f16_1((float)sum * d);
    }
}

void kestrel_dequantize_row_q8_1_ref(const kestrel_block_q8_1 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        for (int j = 0; j < KESTREL_QK32; j++) y[b * KESTREL_QK32 + j] = d * (float)src[b].qs[j];
    }
}

/* ---- Q4_0 / Q4_1 ---------------------------------------------------------------------- */

void kestrel_quantize_row_q4_0_ref(const float *x, kestrel_block_q4_0 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        const float d = signed_absmax(xb) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = kestrel_f32_to_f16_1(d);
        for (int j = 0; j < 16; j++) {
            int lo = code_of(truncf(xb[j] * id + 8.5f));
            int hi = code_of(truncf(xb[j + 16] * id + 8.5f));
            if (lo > 15) lo = 15;
            if (hi > 15) hi = 15;
            dst[b].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void kestrel_dequantize_row_q4_0_ref(const kestrel_block_q4_0 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        float *yb = y + b * KESTREL_QK32;
        for (int j = 0; j < 16; j++) {
            yb[j] = (float)((src[b].qs[j] & 0x0F) - 8) * d;
            yb[j + 16] = (float)((src[b].qs[j] >> 4) - 8) * d;
        }
    }
}

void kestrel_quantize_row_q4_1_ref(const float *x, kestrel_block_q4_1 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        float mn, mx;
        min_max(xb, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = kestrel_f32_to_f16_1(d);
        dst[b].m = kestrel_f32_to_f16_1(mn);
        for (int j = 0; j < 16; j++) {
            int lo = code_of(truncf((xb[j] - mn) * id + 0.5f));
            int hi = code_of(truncf((xb[j + 16] - mn) * id + 0.5f));
            if (lo > 15) lo = 15;
            if (hi > 15) hi = 15;
            dst[b].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void kestrel_dequantize_row_q4_1_ref(const kestrel_block_q4_1 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        const float m = kestrel_f16_to_f32_1(src[b].m);
        float *yb = y + b * KESTREL_QK32;
        for (int j = 0; j < 16; j++) {
            yb[j] = (float)(src[b].qs[j] & 0x0F) * d + m;
            yb[j + 16] = (float)(src[b].qs[j] >> 4) * d + m;
        }
    }
}

/* ---- Q5_0 / Q5_1 ---------------------------------------------------------------------- */

void kestrel_quantize_row_q5_0_ref(const float *x, kestrel_block_q5_0 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        const float d = signed_absmax(xb) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = kestrel_f32_to_f16_1(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = code_of(truncf(xb[j] * id + 16.5f));
            int hi = code_of(truncf(xb[j + 16] * id + 16.5f));
            if (lo > 31) lo = 31;
            if (hi > 31) hi = 31;
            dst[b].qs[j] = (uint8_t)((lo & 0x0F) | ((hi & 0x0F) << 4));
            qh |= (uint32_t)((lo >> 4) & 1) << j;
            qh |= (uint32_t)((hi >> 4) & 1) << (j + 16);
        }
        store_u32le(dst[b].qh, qh);
    }
}

void kestrel_dequantize_row_q5_0_ref(const kestrel_block_q5_0 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        const uint32_t qh = load_u32le(src[b].qh);
        float *yb = y + b * KESTREL_QK32;
        for (int j = 0; j < 16; j++) {
            int lo = (src[b].qs[j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
            int hi = (src[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            yb[j] = (float)(lo - 16) * d;
            yb[j + 16] = (float)(hi - 16) * d;
        }
    }
}

void kestrel_quantize_row_q5_1_ref(const float *x, kestrel_block_q5_1 *dst, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float *xb = x + b * KESTREL_QK32;
        float mn, mx;
        min_max(xb, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = kestrel_f32_to_f16_1(d);
        dst[b].m = kestrel_f32_to_f16_1(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            /* No clamp, as in the reference: (x - min) * id <= 31 + rounding, so the code fits. */
            int lo = code_of(truncf((xb[j] - mn) * id + 0.5f));
            int hi = code_of(truncf((xb[j + 16] - mn) * id + 0.5f));
            dst[b].qs[j] = (uint8_t)((lo & 0x0F) | ((hi & 0x0F) << 4));
            qh |= (uint32_t)((lo >> 4) & 1) << j;
            qh |= (uint32_t)((hi >> 4) & 1) << (j + 16);
        }
        store_u32le(dst[b].qh, qh);
    }
}

void kestrel_dequantize_row_q5_1_ref(const kestrel_block_q5_1 *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK32; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        const float m = kestrel_f16_to_f32_1(src[b].m);
        const uint32_t qh = load_u32le(src[b].qh);
        float *yb = y + b * KESTREL_QK32;
        for (int j = 0; j < 16; j++) {
            int lo = (src[b].qs[j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
            int hi = (src[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            yb[j] = (float)lo * d + m;
            yb[j + 16] = (float)hi * d + m;
        }
    }
}

/* ---- Q4_K ----------------------------------------------------------------------------- */

/*
 * Weighted fit x ~ scale * L + min (min <= 0), L in 0...nmax: one rounding at nmax/(max-min),
 * then `nstep + 1` candidate inverse scales (rmin + rdelta*is + nmax)/(max-min), each followed
 * by the weighted least-squares scale and min for its codes; the candidate with the smallest
 * weighted squared error wins (strictly smaller). Writes the codes to L and -min to *neg_min.
 */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                           uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float mn = x[0], mx = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0.0f) mn = 0.0f;
    if (mx == mn) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *neg_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn);
    float scale = 1.0f / iscale;
    float best = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * (x[i] - mn)), 0, nmax);
        L[i] = (uint8_t)l;
        float diff = scale * (float)l + mn - x[i];
        best += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * (x[i] - mn)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float wl = w[i] * (float)l;
            sum_l += wl;
            sum_l2 += wl * (float)l;
            sum_xl += wl * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0.0f) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                err += w[i] * (diff * diff);
            }
            if (err < best) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best = err;
                scale = this_scale;
                mn = this_min;
            }
        }
    }
    *neg_min = -mn;
    return scale;
}

static inline void q4k_scale_min(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void kestrel_quantize_row_q4_K_ref(const float *x, kestrel_block_q4_K *dst, size_t n) {
    uint8_t L[KESTREL_QK_K], Laux[32];
    float w[32], scales[8], mins[8];
    for (size_t b = 0; b < n / KESTREL_QK_K; b++) {
        const float *xb = x + b * KESTREL_QK_K;
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; j++) {
            const float *xs = xb + 32 * j;
            float sum_x2 = 0.0f;
            for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
            const float av = sqrtf(sum_x2 / 32.0f);
            for (int l = 0; l < 32; l++) w[l] = av + fabsf(xs[l]);
            scales[j] = fit_scale_min(32, 15, xs, w, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
        uint8_t *s = dst[b].scales;
        for (int j = 0; j < 8; j++) {
            int ls = nearest_int(inv_scale * scales[j]);
            int lm = nearest_int(inv_min * mins[j]);
            if (ls > 63) ls = 63;
            if (lm > 63) lm = 63;
            if (j < 4) {
                s[j] = (uint8_t)ls;
                s[j + 4] = (uint8_t)lm;
            } else {
                s[j + 4] = (uint8_t)((ls & 0x0F) | ((lm & 0x0F) << 4));
                s[j - 4] |= (uint8_t)((ls >> 4) << 6);
                s[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        dst[b].d = kestrel_f32_to_f16_1(max_scale / 63.0f);
        dst[b].dmin = kestrel_f32_to_f16_1(max_min / 63.0f);
        const float dd = kestrel_f16_to_f32_1(dst[b].d);
        const float dm = kestrel_f16_to_f32_1(dst[b].dmin);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            q4k_scale_min(j, s, &sc, &m);
            const float d = dd * (float)sc;
            if (d == 0.0f) continue;
            const float mm = dm * (float)m;
            for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clampi(nearest_int((xb[32 * j + l] + mm) / d), 0, 15);
        }
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                dst[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

void kestrel_dequantize_row_q4_K_ref(const kestrel_block_q4_K *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK_K; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        const float dmin = kestrel_f16_to_f32_1(src[b].dmin);
        float *yb = y + b * KESTREL_QK_K;
        for (int c = 0; c < 4; c++) {
            int sc, m;
            q4k_scale_min(2 * c, src[b].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            q4k_scale_min(2 * c + 1, src[b].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t *q = src[b].qs + 32 * c;
            for (int l = 0; l < 32; l++) yb[64 * c + l] = d1 * (float)(q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; l++) yb[64 * c + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

/* ---- Q6_K ----------------------------------------------------------------------------- */

/*
 * Signed-scale fit of n values to codes -nmax...nmax-1 with weights x^2: the first rounding at
 * -nmax/max (max = the signed value of largest magnitude), then 18 more candidates
 * -(nmax + 0.1*is)/max, is = -9...9 without 0; a candidate replaces the best when it raises
 * sumlx^2/suml2. Codes are written with the offset nmax added.
 */
static float fit_signed_scale(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)(-nmax) / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = 0.0f;
        suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

void kestrel_quantize_row_q6_K_ref(const float *x, kestrel_block_q6_K *dst, size_t n) {
    int8_t L[KESTREL_QK_K];
    float scales[16];
    for (size_t b = 0; b < n / KESTREL_QK_K; b++) {
        const float *xb = x + b * KESTREL_QK_K;
        float max_scale = 0.0f, max_abs = 0.0f;
        for (int k = 0; k < 16; k++) {
            scales[k] = fit_signed_scale(16, 32, xb + 16 * k, L + 16 * k);
            float a = fabsf(scales[k]);
            if (a > max_abs) {
                max_abs = a;
                max_scale = scales[k];
            }
        }
        if (max_abs < GROUP_EPS) {
            memset(&dst[b], 0, sizeof dst[b]);
            continue;
        }
        const float iscale = -128.0f / max_scale;
        dst[b].d = kestrel_f32_to_f16_1(1.0f / iscale);
        for (int k = 0; k < 16; k++) {
            int s = nearest_int(iscale * scales[k]);
            dst[b].scales[k] = (int8_t)(s > 127 ? 127 : s);
        }
        const float dd = kestrel_f16_to_f32_1(dst[b].d);
        for (int k = 0; k < 16; k++) {
            const float d = dd * (float)dst[b].scales[k];
            if (d == 0.0f) continue;
            for (int i = 0; i < 16; i++) L[16 * k + i] = (int8_t)(clampi(nearest_int(xb[16 * k + i] / d), -32, 31) + 32);
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *ql = dst[b].ql + 64 * h;
            uint8_t *qh = dst[b].qh + 32 * h;
            const int8_t *Lh = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
                ql[l] = (uint8_t)((q1 & 0x0F) | ((q3 & 0x0F) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0x0F) | ((q4 & 0x0F) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

void kestrel_dequantize_row_q6_K_ref(const kestrel_block_q6_K *src, float *y, size_t n) {
    for (size_t b = 0; b < n / KESTREL_QK_K; b++) {
        const float d = kestrel_f16_to_f32_1(src[b].d);
        float *yb = y + b * KESTREL_QK_K;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = src[b].ql + 64 * h;
            const uint8_t *qh = src[b].qh + 32 * h;
            const int8_t *sc = src[b].scales + 8 * h;
            float *yh = yb + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                yh[l] = d * (float)sc[is] * (float)q1;
                yh[l + 32] = d * (float)sc[is + 2] * (float)q2;
                yh[l + 64] = d * (float)sc[is + 4] * (float)q3;
                yh[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}
