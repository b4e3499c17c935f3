/*
 * CPU feature detection and the per-tier function tables.
 * Tables are built once (pthread_once); the active table pointer is an atomic that the
 * plain kernel names load with acquire ordering.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal/kestrel_internal.h"

#if KESTREL_X86
#include <cpuid.h>
#endif
#if KESTREL_ARM64 && defined(__linux__)
#include <sys/auxv.h>
#endif

static kestrel_kernel_table g_tables[KESTREL_ISA_COUNT];
static int g_supported[KESTREL_ISA_COUNT];
static uint32_t g_features;
static char g_cpu_name[64] = "unknown";
static _Atomic(const kestrel_kernel_table *) g_active;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *const g_isa_names[KESTREL_ISA_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni", "neon",
                                                           "neondot"};

#if KESTREL_X86
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect_x86(void) {
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    if (c & bit_SSE4_2) f |= KESTREL_CPU_SSE42;
    if (c & bit_FMA) f |= KESTREL_CPU_FMA;
    if (c & bit_F16C) f |= KESTREL_CPU_F16C;
    int osxsave = (c & bit_OSXSAVE) != 0;
    int avx = (c & bit_AVX) != 0;
    if (osxsave && avx) {
        uint64_t xcr0 = read_xcr0();
        if ((xcr0 & 0x6) == 0x6) f |= KESTREL_CPU_OS_AVX;          /* XMM + YMM */
        if ((xcr0 & 0xe6) == 0xe6) f |= KESTREL_CPU_OS_AVX512;     /* + opmask, ZMM_Hi256, Hi16_ZMM */
    }
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (b & (1u << 5)) f |= KESTREL_CPU_AVX2;
        if (b & (1u << 16)) f |= KESTREL_CPU_AVX512F;
        if (b & (1u << 17)) f |= KESTREL_CPU_AVX512DQ;
        if (b & (1u << 30)) f |= KESTREL_CPU_AVX512BW;
        if (b & (1u << 31)) f |= KESTREL_CPU_AVX512VL;
        if (c & (1u << 11)) f |= KESTREL_CPU_AVX512VNNI;
        if (c & (1u << 14)) f |= KESTREL_CPU_AVX512VPOPCNTDQ;
        unsigned sub = a;
        if (sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            if (a & (1u << 4)) f |= KESTREL_CPU_AVXVNNI;
            if (a & (1u << 5)) f |= KESTREL_CPU_AVX512BF16;
        }
    }
    g_features = f;

    unsigned ext = __get_cpuid_max(0x80000000u, NULL);
    if (ext >= 0x80000004u) {
        unsigned regs[12];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
        char name[49];
        memcpy(name, regs, 48);
        name[48] = 0;
        const char *s = name;
        while (*s == ' ') s++;
        strncpy(g_cpu_name, s, sizeof g_cpu_name - 1);
        g_cpu_name[sizeof g_cpu_name - 1] = 0;
    }

    uint32_t need2 = KESTREL_CPU_AVX2 | KESTREL_CPU_FMA | KESTREL_CPU_F16C | KESTREL_CPU_OS_AVX;
    uint32_t need512 = need2 | KESTREL_CPU_AVX512F | KESTREL_CPU_AVX512BW | KESTREL_CPU_AVX512VL |
                       KESTREL_CPU_AVX512DQ | KESTREL_CPU_OS_AVX512;
    g_supported[KESTREL_ISA_AVX2] = (f & need2) == need2;
    g_supported[KESTREL_ISA_AVX512] = (f & need512) == need512;
    g_supported[KESTREL_ISA_AVX512VNNI] = g_supported[KESTREL_ISA_AVX512] && (f & KESTREL_CPU_AVX512VNNI);
}
#endif

#if KESTREL_ARM64
static void detect_arm64(void) {
    uint32_t f = KESTREL_CPU_NEON;
#if defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
    if (hw & HWCAP_ASIMDDP) f |= KESTREL_CPU_NEON_DOTPROD;
    if (hw & HWCAP_ASIMDHP) f |= KESTREL_CPU_NEON_FP16;
#elif defined(__APPLE__)
    f |= KESTREL_CPU_NEON_DOTPROD | KESTREL_CPU_NEON_FP16; /* every Apple arm64 CPU has both */
#endif
    g_features = f;
    g_supported[KESTREL_ISA_NEON] = 1;
    g_supported[KESTREL_ISA_NEONDOT] = (f & KESTREL_CPU_NEON_DOTPROD) != 0;
}
#endif

/* The tier a tier falls back to for kernels it does not implement. */
static kestrel_isa parent_of(kestrel_isa isa) {
    switch (isa) {
    case KESTREL_ISA_AVX512: return KESTREL_ISA_AVX2;
    case KESTREL_ISA_AVX512VNNI: return KESTREL_ISA_AVX512;
    case KESTREL_ISA_NEONDOT: return KESTREL_ISA_NEON;
    default: return KESTREL_ISA_SCALAR;
    }
}

static void build_table(kestrel_isa isa) {
    kestrel_kernel_table *t = &g_tables[isa];
    if (isa != KESTREL_ISA_SCALAR) *t = g_tables[parent_of(isa)];
    t->isa = isa;
    kestrel_register_distance_float(t, isa);
    kestrel_register_distance_int(t, isa);
    kestrel_register_convert(t, isa);
    kestrel_register_math(t, isa);
    kestrel_register_quant_blocks(t, isa);

    kestrel_register_qdot(t, isa);
    /* attention forward (issue 17) */
    kestrel_register_attention(t, isa);
    /* attention backward (issue 17) */
    kestrel_register_attention_backward(t, isa);
    /* KV-cache decode (issue 18) */
    kestrel_register_decode(t, isa);
}

static void init_once(void) {
    g_supported[KESTREL_ISA_SCALAR] = 1;
#if KESTREL_X86
    detect_x86();
#elif KESTREL_ARM64
    detect_arm64();
#endif
    /* Ascending order: each tier starts from an already built parent. */
    for (int i = 0; i < KESTREL_ISA_COUNT; i++)
        if (g_supported[i]) build_table((kestrel_isa)i);

    kestrel_isa best = KESTREL_ISA_SCALAR;
    for (int i = 0; i < KESTREL_ISA_COUNT; i++)
        if (g_supported[i]) best = (kestrel_isa)i;

    const char *env = getenv("KESTREL_ISA");
    kestrel_isa forced;
    if (env && *env && strcmp(env, "auto") != 0 && kestrel_isa_parse(env, &forced) == KESTREL_OK) {
        /* Never above what this machine runs: an unsupported request falls back to its best supported ancestor. */
        while (!g_supported[forced] && forced != KESTREL_ISA_SCALAR) forced = parent_of(forced);
        best = forced;
    }
    atomic_store_explicit(&g_active, &g_tables[best], memory_order_release);
}

static inline void ensure_init(void) { pthread_once(&g_once, init_once); }

uint32_t kestrel_cpu_features(void) {
    ensure_init();
    return g_features;
}

const char *kestrel_cpu_name(void) {
    ensure_init();
    return g_cpu_name;
}

int kestrel_isa_supported(kestrel_isa isa) {
    ensure_init();
    if ((unsigned)isa >= KESTREL_ISA_COUNT) return 0;
    return g_supported[isa];
}

const char *kestrel_isa_name(kestrel_isa isa) {
    if ((unsigned)isa >= KESTREL_ISA_COUNT) return "unknown";
    return g_isa_names[isa];
}

kestrel_status kestrel_isa_parse(const char *name, kestrel_isa *out) {
    if (name == NULL || out == NULL) return KESTREL_ERR_NULL_POINTER;
    for (int i = 0; i < KESTREL_ISA_COUNT; i++) {
        if (strcmp(name, g_isa_names[i]) == 0) {
            *out = (kestrel_isa)i;
            return KESTREL_OK;
        }
    }
    return KESTREL_ERR_INVALID_ARGUMENT;
}

const kestrel_kernel_table *kestrel_kernels_for(kestrel_isa isa) {
    ensure_init();
    if ((unsigned)isa >= KESTREL_ISA_COUNT || !g_supported[isa]) return NULL;
    return &g_tables[isa];
}

const kestrel_kernel_table *kestrel_kernels(void) {
    const kestrel_kernel_table *t = atomic_load_explicit(&g_active, memory_order_acquire);
    if (__builtin_expect(t == NULL, 0)) {
        ensure_init();
        t = atomic_load_explicit(&g_active, memory_order_acquire);
    }
    return t;
}

kestrel_isa kestrel_active_isa(void) { return kestrel_kernels()->isa; }

kestrel_status kestrel_set_active_isa(kestrel_isa isa) {
    ensure_init();
    if ((unsigned)isa >= KESTREL_ISA_COUNT || !g_supported[isa]) return KESTREL_ERR_UNSUPPORTED_ISA;
    atomic_store_explicit(&g_active, &g_tables[isa], memory_order_release);
    return KESTREL_OK;
}

/* ---- plain names: forward to the active tier ---- */

#define FWD_DIST(name, T, R) \
    R kestrel_##name(const T *a, const T *b, size_t n) { return kestrel_kernels()->name(a, b, n); }
FWD_DIST(dot_f32, float, float)
FWD_DIST(l2sq_f32, float, float)
FWD_DIST(cosine_f32, float, float)
FWD_DIST(dot_f16, uint16_t, float)
FWD_DIST(l2sq_f16, uint16_t, float)
FWD_DIST(cosine_f16, uint16_t, float)
FWD_DIST(dot_bf16, uint16_t, float)
FWD_DIST(l2sq_bf16, uint16_t, float)
FWD_DIST(cosine_bf16, uint16_t, float)
FWD_DIST(dot_i8, int8_t, int64_t)
FWD_DIST(l2sq_i8, int8_t, int64_t)
FWD_DIST(cosine_i8, int8_t, float)
FWD_DIST(hamming_b1, uint8_t, uint64_t)
FWD_DIST(jaccard_b1, uint8_t, float)

#define FWD_MANY(name, T, O)                                                                          \
    kestrel_status kestrel_##name(const T *q, const T *base, size_t dim, size_t count, size_t stride, \
                                  O *out) {                                                           \
        return kestrel_kernels()->name(q, base, dim, count, stride, out);                             \
    }
FWD_MANY(dot_f32_many, float, float)
FWD_MANY(l2sq_f32_many, float, float)
FWD_MANY(cosine_f32_many, float, float)
FWD_MANY(dot_f16_many, uint16_t, float)
FWD_MANY(l2sq_f16_many, uint16_t, float)
FWD_MANY(cosine_f16_many, uint16_t, float)
FWD_MANY(dot_bf16_many, uint16_t, float)
FWD_MANY(l2sq_bf16_many, uint16_t, float)
FWD_MANY(cosine_bf16_many, uint16_t, float)
FWD_MANY(dot_i8_many, int8_t, int32_t)
FWD_MANY(l2sq_i8_many, int8_t, int32_t)
FWD_MANY(cosine_i8_many, int8_t, float)
FWD_MANY(hamming_b1_many, uint8_t, uint32_t)
FWD_MANY(jaccard_b1_many, uint8_t, float)

void kestrel_f32_to_f16(const float *src, uint16_t *dst, size_t n) { kestrel_kernels()->f32_to_f16(src, dst, n); }
void kestrel_f16_to_f32(const uint16_t *src, float *dst, size_t n) { kestrel_kernels()->f16_to_f32(src, dst, n); }
void kestrel_f32_to_bf16(const float *src, uint16_t *dst, size_t n) { kestrel_kernels()->f32_to_bf16(src, dst, n); }
void kestrel_bf16_to_f32(const uint16_t *src, float *dst, size_t n) { kestrel_kernels()->bf16_to_f32(src, dst, n); }

void kestrel_exp_f32(const float *x, float *y, size_t n) { kestrel_kernels()->exp_f32(x, y, n); }
void kestrel_softmax_f32(const float *x, float *y, size_t n) { kestrel_kernels()->softmax_f32(x, y, n); }
void kestrel_axpy_f32(float alpha, const float *x, float *y, size_t n) { kestrel_kernels()->axpy_f32(alpha, x, y, n); }
void kestrel_scale_f32(float alpha, const float *x, float *y, size_t n) { kestrel_kernels()->scale_f32(alpha, x, y, n); }
void kestrel_add_f32(const float *a, const float *b, float *out, size_t n) { kestrel_kernels()->add_f32(a, b, out, n); }
void kestrel_mul_f32(const float *a, const float *b, float *out, size_t n) { kestrel_kernels()->mul_f32(a, b, out, n); }
float kestrel_sum_f32(const float *x, size_t n) { return kestrel_kernels()->sum_f32(x, n); }
float kestrel_max_f32(const float *x, size_t n) { return kestrel_kernels()->max_f32(x, n); }
float kestrel_sumsq_f32(const float *x, size_t n) { return kestrel_kernels()->sumsq_f32(x, n); }
