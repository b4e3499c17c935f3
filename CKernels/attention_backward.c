/* Elementwise pieces of the attention backward pass (kestrel_attention_backward.h); portable C. */
#include <math.h>

#include "include/kestrel_attention_backward.h"
#include "internal/kestrel_internal.h"

void kestrel_attention_bwd_delta_f32(size_t rows, size_t d, const float *dout, size_t dout_stride, const float *out,
                                     size_t out_stride, float *delta) {
    for (size_t r = 0; r < rows; r++) {
        const float *g = dout + r * dout_stride, *o = out + r * out_stride;
        double sum = 0.0; /* one value per row: double costs nothing here and keeps D exact to f32 */
        for (size_t t = 0; t < d; t++) sum += (double)g[t] * (double)o[t];
        delta[r] = (float)sum;
    }
}

void kestrel_attention_bwd_probs_f32(const kestrel_attention_args *a, size_t rows, ptrdiff_t j0, size_t cols, float *s,
                                     size_t lds, const float *lse) {
    for (size_t r = 0; r < rows; r++) {
        float *sr = s + r * lds;
        const float l = lse[r];
        if (l == -INFINITY) { /* the row sees no key: P = 0 (not exp(-inf + inf) = NaN) */
            for (size_t c = 0; c < cols; c++) sr[c] = 0.0f;
            continue;
        }
        const ptrdiff_t pos = a->diag + (ptrdiff_t)r;
        ptrdiff_t hi = (ptrdiff_t)a->kv_len, lo = 0;
        if (a->causal && pos + 1 < hi) hi = pos + 1;
        if (a->window_left >= 0 && pos - a->window_left > lo) lo = pos - a->window_left;
        /* visible columns [c0, c1) of this block */
        ptrdiff_t c0 = lo - j0, c1 = hi - j0;
        if (c0 < 0) c0 = 0;
        if (c1 > (ptrdiff_t)cols) c1 = (ptrdiff_t)cols;
        if (c1 < c0) c1 = c0;
        const float *br = a->bias ? a->bias + r * a->bias_stride + j0 : NULL;
        for (ptrdiff_t c = 0; c < c0; c++) sr[c] = -INFINITY;
        if (br)
            for (ptrdiff_t c = c0; c < c1; c++) sr[c] = sr[c] + br[c] - l;
        else
            for (ptrdiff_t c = c0; c < c1; c++) sr[c] -= l;
        for (ptrdiff_t c = c1; c < (ptrdiff_t)cols; c++) sr[c] = -INFINITY;
        kestrel_exp_f32(sr, sr, cols); /* exp(-inf) = 0 for masked keys */
    }
}

void kestrel_attention_bwd_dscores_f32(size_t rows, size_t cols, const float *p, size_t ldp, float *dp, size_t lddp,
                                       const float *delta) {
    for (size_t r = 0; r < rows; r++) {
        const float *pr = p + r * ldp;
        float *gr = dp + r * lddp;
        const float dr = delta[r];
        for (size_t c = 0; c < cols; c++) {
            const float x = pr[c] * (gr[c] - dr);
            gr[c] = pr[c] == 0.0f ? 0.0f : x;
        }
    }
}
