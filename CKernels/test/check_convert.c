/* check_convert.c — f32 <-> f16 / bf16 conversions: bit for bit over every half pattern and rounding boundary. */
#include "neon_check.h"

/* Conversions                                                                          */
/* ------------------------------------------------------------------------------------ */

/* f32 values around every rounding boundary of the 16-bit format, NaNs and random patterns. */
static size_t build_boundaries(int fmt, uint32_t *v, size_t cap) {
    size_t k = 0;
#define PUSH(x)                                             \
    do {                                                    \
        uint32_t px_ = (x);                                 \
        if (k + 2 <= cap) v[k++] = px_, v[k++] = px_ ^ 0x80000000u; \
    } while (0)
    if (fmt == FMT_F16) {
        for (uint32_t h = 0; h < 0x7c00u; h++) {
            double lo = kestrel_f16_to_f32_1((uint16_t)h);
            double hi = h == 0x7bffu ? 65536.0 : kestrel_f16_to_f32_1((uint16_t)(h + 1));
            uint32_t mid = fbits((float)((lo + hi) / 2)); /* exact: one bit more than f16 */
            PUSH(mid - 1);
            PUSH(mid);
            PUSH(mid + 1);
            PUSH(fbits((float)lo) + 1);
            PUSH(fbits((float)hi) - 1);
        }
    } else {
        for (uint32_t h = 0; h < 0x7f80u; h++) {
            uint32_t lo = h << 16, mid = lo + 0x8000u;
            PUSH(mid - 1);
            PUSH(mid);
            PUSH(mid + 1);
            PUSH(lo + 1);
            PUSH(lo + 0xffffu);
        }
    }
    static const uint32_t nans[] = {0x7f800001u, 0x7f800fffu, 0x7f801000u, 0x7f802000u, 0x7f810000u, 0x7fa00000u,
                                    0x7fbfffffu, 0x7fc00000u, 0x7fc00001u, 0x7fffffffu, 0x7f800000u, 0x7f7fffffu,
                                    0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x33000000u, 0x33000001u,
                                    0x477fefffu, 0x477ff000u, 0x477ff001u, 0x38800000u, 0x387fffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) PUSH(nans[i]);
    for (int i = 0; i < 65536; i++) PUSH(0x7f800001u + rnd_u32() % 0x7fffffu); /* random NaN payloads */
    for (int i = 0; i < 65536; i++) PUSH(rnd_u32());
#undef PUSH
    return k;
}

void test_to_u16(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    int fmt = e->kind == K_F32_TO_F16 ? FMT_F16 : FMT_BF16;
    kestrel_f32_to_u16_fn ft = FN(kestrel_f32_to_u16_fn, t, e->off), fs = FN(kestrel_f32_to_u16_fn, s, e->off);
    uint32_t *vals = (uint32_t *)g_fr;
    size_t nv = build_boundaries(fmt, vals, SCRATCH_ELEMS);
    /* sizes x layouts over slices of the boundary set, then the whole set in two placements */
    for (size_t si = 0; si < N_SIZES; si++) {
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            size_t n = k_sizes[si];
            set_ctx("n=%zu layout=%zu", n, li);
            float *src = place(AR_A, n * 4, lay_off(k_layouts[li].a, 4));
            size_t start = rnd_below(nv - n);
            memcpy(src, vals + start, n * 4);
            uint16_t *out = place(AR_OUT, n * 2, lay_off(k_layouts[li].out, 2));
            uint16_t *ref = place(AR_OUT2, n * 2, END);
            guard_t g = guard_set(AR_OUT, out, n * 2);
            ft(src, out, n);
            fs(src, ref, n);
            guard_ok(&g);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (out[i] != ref[i] && !bad++) first = i;
            check(bad == 0, "%zu mismatches; first at %zu: 0x%08x -> 0x%04x, scalar 0x%04x", bad, first,
                  bad ? fbits(src[first]) : 0, bad ? out[first] : 0, bad ? ref[first] : 0);
        }
    }
    for (long off = END; off <= 1; off += 2) {
        set_ctx("all %zu boundary/NaN/random values, offset %ld", nv, off);
        float *src = place(AR_A, nv * 4, lay_off(off, 4));
        memcpy(src, vals, nv * 4);
        uint16_t *out = place(AR_OUT, nv * 2, lay_off(off, 2));
        uint16_t *ref = place(AR_OUT2, nv * 2, END);
        ft(src, out, nv);
        fs(src, ref, nv);
        size_t bad = 0, first = 0, ref_bad = 0;
        for (size_t i = 0; i < nv; i++) {
            uint16_t expect = fmt == FMT_F16 ? kestrel_f32_to_f16_1(src[i]) : kestrel_f32_to_bf16_1(src[i]);
            ref_bad += ref[i] != expect;
            if (out[i] != ref[i] && !bad++) first = i;
        }
        check(ref_bad == 0, "the scalar table disagrees with the shared helper at %zu values", ref_bad);
        check(bad == 0, "%zu mismatches; first at %zu: 0x%08x -> 0x%04x, scalar 0x%04x", bad, first, fbits(src[first]),
              out[first], ref[first]);
    }
}

void test_from_u16(const entry_t *e, const kestrel_kernel_table *t, const kestrel_kernel_table *s) {
    kestrel_u16_to_f32_fn ft = FN(kestrel_u16_to_f32_fn, t, e->off), fs = FN(kestrel_u16_to_f32_fn, s, e->off);
    for (size_t si = 0; si < N_SIZES; si++) {
        for (size_t li = 0; li < N_LAYOUTS; li++) {
            size_t n = k_sizes[si];
            set_ctx("n=%zu layout=%zu", n, li);
            uint16_t *src = place(AR_A, n * 2, lay_off(k_layouts[li].a, 2));
            for (size_t i = 0; i < n; i++) src[i] = (uint16_t)rnd_u32();
            float *out = place(AR_OUT, n * 4, lay_off(k_layouts[li].out, 4));
            float *ref = place(AR_OUT2, n * 4, END);
            guard_t g = guard_set(AR_OUT, out, n * 4);
            ft(src, out, n);
            fs(src, ref, n);
            guard_ok(&g);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (fbits(out[i]) != fbits(ref[i]) && !bad++) first = i;
            check(bad == 0, "%zu mismatches; first 0x%04x -> 0x%08x, scalar 0x%08x", bad, bad ? src[first] : 0,
                  bad ? fbits(out[first]) : 0, bad ? fbits(ref[first]) : 0);
        }
    }
    /* every one of the 65536 patterns, flush against the guard page and misaligned */
    size_t n = 65536;
    for (long off = END; off <= 1; off += 2) {
        set_ctx("all 65536 patterns, offset %ld", off);
        uint16_t *src = place(AR_A, n * 2, lay_off(off, 2));
        for (size_t i = 0; i < n; i++) src[i] = (uint16_t)i;
        float *out = place(AR_OUT, n * 4, lay_off(off, 4));
        float *ref = place(AR_OUT2, n * 4, END);
        ft(src, out, n);
        fs(src, ref, n);
        size_t bad = 0, first = 0, nan_only = 1;
        for (size_t i = 0; i < n; i++) {
            if (fbits(out[i]) != fbits(ref[i])) {
                if (!bad++) first = i;
                if (!(isnan(out[i]) && isnan(ref[i]))) nan_only = 0;
            }
        }
        check(bad == 0, "%zu of 65536 patterns differ%s; first 0x%04zx -> 0x%08x, scalar 0x%08x", bad,
              bad && nan_only ? " (all NaN payload/quiet-bit differences)" : "", first, fbits(out[first]), fbits(ref[first]));
    }
}

/* ------------------------------------------------------------------------------------ */
