/*
 * Process-level helpers that are not kernels but need the C library directly: returning freed
 * memory to the OS, and the CPU description and software-prefetch plan chosen once at start-up
 * (the rule is documented in Documentation/Tuning.md, "Prefetch distance").
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/kestrel_internal.h"

#if KESTREL_X86
#include <cpuid.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int kestrel_release_free_memory(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* CPU description and the prefetch plan (kestrel_kernels.h, "CPU description and ...")       */
/* ------------------------------------------------------------------------------------------ */

static kestrel_cpu_description g_cpu;
static kestrel_prefetch_plan g_startup_plan;
static int g_env_rejected;
static pthread_once_t g_tuning_once = PTHREAD_ONCE_INIT;

/* The plan in force, one atomic per field: scans read only what they need. */
static _Atomic uint32_t g_scan_bytes[KESTREL_SCAN_CLASSES];
static _Atomic uint32_t g_long_row;
static _Atomic uint32_t g_graph_ahead, g_graph_lines;
static _Atomic int g_source;
static _Atomic(const char *) g_reason;

#if KESTREL_X86
/* Size of one cache described by the deterministic cache leaf (4 on Intel, 0x8000001D on AMD). */
static void read_cache_leaf(unsigned leaf, kestrel_cpu_description *c) {
    for (unsigned sub = 0; sub < 16; sub++) {
        unsigned a, b, cx, d;
        __cpuid_count(leaf, sub, a, b, cx, d);
        unsigned type = a & 0x1f, level = (a >> 5) & 7;
        if (type == 0) break;
        uint64_t line = (b & 0xfff) + 1, parts = ((b >> 12) & 0x3ff) + 1, ways = ((b >> 22) & 0x3ff) + 1;
        uint64_t size = ways * parts * line * ((uint64_t)cx + 1);
        if (level == 1 && type == 1) {
            c->l1d_bytes = size;
            c->line_bytes = (uint32_t)line;
        } else if (level == 2 && type != 2) {
            c->l2_bytes = size;
        } else if (level == 3 && type != 2) {
            c->l3_bytes = size;
        }
    }
}

static void describe_x86(kestrel_cpu_description *c) {
    unsigned a, b, cx, d;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf == 0) return;
    __cpuid(0, a, b, cx, d);
    memcpy(c->vendor_id, &b, 4);
    memcpy(c->vendor_id + 4, &d, 4);
    memcpy(c->vendor_id + 8, &cx, 4);
    c->vendor_id[12] = 0;
    if (strcmp(c->vendor_id, "GenuineIntel") == 0) c->vendor = KESTREL_VENDOR_INTEL;
    else if (strcmp(c->vendor_id, "AuthenticAMD") == 0 || strcmp(c->vendor_id, "HygonGenuine") == 0)
        c->vendor = KESTREL_VENDOR_AMD;
    if (max_leaf >= 1) {
        __cpuid(1, a, b, cx, d);
        unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        unsigned ext_family = (a >> 20) & 0xff, ext_model = (a >> 16) & 0xf;
        c->family = base_family == 0xf ? base_family + ext_family : base_family;
        /* Intel extends the model for families 6 and 15, AMD for family 15 (and above). */
        int extend = base_family == 0xf || (c->vendor == KESTREL_VENDOR_INTEL && base_family == 6);
        c->model = extend ? (ext_model << 4) + base_model : base_model;
    }
    unsigned ext = __get_cpuid_max(0x80000000u, NULL);
    if (c->vendor == KESTREL_VENDOR_INTEL && max_leaf >= 4) {
        read_cache_leaf(4, c);
    } else if (c->vendor == KESTREL_VENDOR_AMD) {
        int topo = 0;
        if (ext >= 0x80000001u) {
            __cpuid(0x80000001u, a, b, cx, d);
            topo = (cx >> 22) & 1; /* TopologyExtensions: leaf 0x8000001D is valid */
        }
        if (topo && ext >= 0x8000001Du) read_cache_leaf(0x8000001Du, c);
        if (c->l1d_bytes == 0 && ext >= 0x80000005u) {
            __cpuid(0x80000005u, a, b, cx, d);
            c->l1d_bytes = (uint64_t)(cx >> 24) << 10;
            c->line_bytes = cx & 0xff;
        }
        if (c->l2_bytes == 0 && ext >= 0x80000006u) {
            __cpuid(0x80000006u, a, b, cx, d);
            c->l2_bytes = (uint64_t)(cx >> 16) << 10;
            c->l3_bytes = (uint64_t)(d >> 18) * 512 * 1024;
        }
    }
}
#endif

#if defined(__linux__)
/* Fills the cache sizes the CPUID leaves did not give from /sys (Linux, any architecture). */
static void describe_sysfs(kestrel_cpu_description *c) {
    for (int i = 0; i < 8; i++) {
        char path[96], type[32] = "";
        unsigned level = 0, kib = 0, line = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        int ok = fscanf(f, "%u", &level) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (ok && (f = fopen(path, "r")) != NULL) {
            ok = fscanf(f, "%31s", type) == 1;
            fclose(f);
        }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (ok && (f = fopen(path, "r")) != NULL) {
            ok = fscanf(f, "%uK", &kib) == 1;
            fclose(f);
        }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/coherency_line_size", i);
        if (ok && (f = fopen(path, "r")) != NULL) {
            if (fscanf(f, "%u", &line) != 1) line = 0;
            fclose(f);
        }
        if (!ok || strcmp(type, "Instruction") == 0) continue;
        uint64_t bytes = (uint64_t)kib << 10;
        if (level == 1 && c->l1d_bytes == 0) {
            c->l1d_bytes = bytes;
            if (c->line_bytes == 0) c->line_bytes = line;
        } else if (level == 2 && c->l2_bytes == 0) {
            c->l2_bytes = bytes;
        } else if (level == 3 && c->l3_bytes == 0) {
            c->l3_bytes = bytes;
        }
    }
}
#endif

#if defined(__APPLE__)
static uint64_t sysctl_u64(const char *name) {
    uint64_t v = 0;
    size_t len = sizeof v;
    if (sysctlbyname(name, &v, &len, NULL, 0) != 0) return 0;
    return len == 4 ? (uint64_t)(uint32_t)v : v;
}
#endif

/*
 * The per-CPU rule. Constants and the measurements behind them: Documentation/Tuning.md,
 * "Prefetch distance". The graph-walk prefetch (random rows no hardware prefetcher can
 * predict) is the same everywhere.
 */
enum {
    GRAPH_AHEAD = 3,      /* 2-4 measured alike on 100k x 128 f32; more overflow the miss slots */
    GRAPH_MAX_LINES = 16, /* whole rows up to 1 KiB */
};

/*
 * Scan distances, per stored element width (bytes ahead of the pass being read). Measured on
 * Intel (Cascade Lake when the kernels landed; Emerald Rapids in this rule's session: 2-8 KiB
 * alike, no software prefetch 0.57-0.69x on f16 / int8 scans, ~0.9x on f32).
 */
#define SCAN_4BYTE 6144u
#define SCAN_2BYTE 6144u
#define SCAN_1BYTE 8192u
/*
 * AMD Zen: rows of at least this many bytes are left to the hardware prefetchers. Reported on an
 * EPYC (AVX2, 1 MiB L2 per core, 32 MiB L3): the f32 768-d scan (3 KiB rows) with the distances
 * above reads 57 % of STREAM, while SimSIMD's cdist, which has no software prefetch and reads one
 * row at a time, reads 81-90 %; shorter rows (several rows of a pass in one 4 KiB page, which the
 * per-page hardware streamers do not follow) keep the distances above, since no AMD measurement
 * says otherwise and on Intel dropping them costs 30-40 %.
 */
#define AMD_LONG_ROW 2048u

kestrel_prefetch_plan kestrel_prefetch_rule(const kestrel_cpu_description *cpu) {
    kestrel_prefetch_plan p;
    memset(&p, 0, sizeof p);
    p.graph_ahead = GRAPH_AHEAD;
    p.graph_max_lines = GRAPH_MAX_LINES;
    p.source = KESTREL_PREFETCH_FROM_RULE;
    kestrel_cpu_vendor v = cpu ? cpu->vendor : KESTREL_VENDOR_OTHER;
    p.scan_bytes[KESTREL_SCAN_4BYTE] = SCAN_4BYTE;
    p.scan_bytes[KESTREL_SCAN_2BYTE] = SCAN_2BYTE;
    p.scan_bytes[KESTREL_SCAN_1BYTE] = SCAN_1BYTE;
    switch (v) {
    case KESTREL_VENDOR_INTEL:
        p.reason = "Intel: 6 KiB (f32, f16) / 8 KiB (int8) ahead; no software prefetch loses on every scan";
        break;
    case KESTREL_VENDOR_AMD:
        p.scan_long_row_bytes = AMD_LONG_ROW;
        p.reason = "AMD: rows >= 2 KiB left to the hardware prefetchers; shorter rows 6 KiB / 8 KiB ahead";
        break;
    case KESTREL_VENDOR_ARM:
        p.reason = "arm64: 6 KiB / 8 KiB ahead, as the NEON tiers shipped (not re-measured)";
        break;
    default:
        p.reason = "other CPU: 6 KiB / 8 KiB ahead, as shipped (not measured)";
        break;
    }
    return p;
}

/* "off", "0", or a decimal count (with an optional k suffix when `kib`) in [lo, hi]; -1 when invalid. */
static long parse_count(const char *s, int kib, long lo, long hi) {
    if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) return 0;
    long v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > hi * 1024L) return -1; /* stops long before overflow */
    }
    if (kib && (*p == 'k' || *p == 'K')) {
        v *= 1024;
        p++;
    }
    if (*p != 0 || v < lo || v > hi) return -1;
    return v;
}

static int is_auto(const char *s) { return s == NULL || *s == 0 || strcmp(s, "auto") == 0; }

kestrel_prefetch_plan kestrel_prefetch_apply_env(kestrel_prefetch_plan base, const char *scan, const char *graph,
                                                 int *rejected) {
    int bad = 0, applied = 0;
    if (!is_auto(scan)) {
        long v = parse_count(scan, 1, 64, (long)KESTREL_PREFETCH_MAX_BYTES);
        if (v < 0) {
            bad |= 1;
        } else {
            for (int i = 0; i < KESTREL_SCAN_CLASSES; i++) base.scan_bytes[i] = (uint32_t)v;
            base.scan_long_row_bytes = 0;
            applied = 1;
        }
    }
    if (!is_auto(graph)) {
        long v = parse_count(graph, 0, 1, (long)KESTREL_GRAPH_PREFETCH_MAX_AHEAD);
        if (v < 0) {
            bad |= 2;
        } else {
            base.graph_ahead = (uint32_t)v;
            applied = 1;
        }
    }
    if (applied) {
        base.source = KESTREL_PREFETCH_FROM_ENV;
        base.reason = "set by KESTREL_PREFETCH / KESTREL_GRAPH_PREFETCH in the environment";
    }
    if (rejected) *rejected = bad;
    return base;
}

static void store_plan(const kestrel_prefetch_plan *p) {
    for (int i = 0; i < KESTREL_SCAN_CLASSES; i++)
        atomic_store_explicit(&g_scan_bytes[i], p->scan_bytes[i], memory_order_relaxed);
    atomic_store_explicit(&g_long_row, p->scan_long_row_bytes, memory_order_relaxed);
    atomic_store_explicit(&g_graph_ahead, p->graph_ahead, memory_order_relaxed);
    atomic_store_explicit(&g_graph_lines, p->graph_max_lines, memory_order_relaxed);
    atomic_store_explicit(&g_reason, p->reason, memory_order_relaxed);
    atomic_store_explicit(&g_source, (int)p->source, memory_order_release);
}

static void tuning_init(void) {
    kestrel_cpu_description *c = &g_cpu;
#if KESTREL_X86
    describe_x86(c);
#elif KESTREL_ARM64
    c->vendor = KESTREL_VENDOR_ARM;
#endif
#if defined(__linux__)
    describe_sysfs(c);
#elif defined(__APPLE__)
    if (c->l1d_bytes == 0) c->l1d_bytes = sysctl_u64("hw.l1dcachesize");
    if (c->l2_bytes == 0) c->l2_bytes = sysctl_u64("hw.l2cachesize");
    if (c->l3_bytes == 0) c->l3_bytes = sysctl_u64("hw.l3cachesize");
    if (c->line_bytes == 0) c->line_bytes = (uint32_t)sysctl_u64("hw.cachelinesize");
#endif
    g_startup_plan = kestrel_prefetch_apply_env(kestrel_prefetch_rule(c), getenv("KESTREL_PREFETCH"),
                                                getenv("KESTREL_GRAPH_PREFETCH"), &g_env_rejected);
    store_plan(&g_startup_plan);
}

static inline void tuning_ensure(void) { pthread_once(&g_tuning_once, tuning_init); }

const kestrel_cpu_description *kestrel_cpu_describe(void) {
    tuning_ensure();
    return &g_cpu;
}

kestrel_prefetch_plan kestrel_prefetch_current(void) {
    tuning_ensure();
    kestrel_prefetch_plan p;
    memset(&p, 0, sizeof p);
    p.source = (kestrel_prefetch_source)atomic_load_explicit(&g_source, memory_order_acquire);
    for (int i = 0; i < KESTREL_SCAN_CLASSES; i++)
        p.scan_bytes[i] = atomic_load_explicit(&g_scan_bytes[i], memory_order_relaxed);
    p.scan_long_row_bytes = atomic_load_explicit(&g_long_row, memory_order_relaxed);
    p.graph_ahead = atomic_load_explicit(&g_graph_ahead, memory_order_relaxed);
    p.graph_max_lines = atomic_load_explicit(&g_graph_lines, memory_order_relaxed);
    p.reason = atomic_load_explicit(&g_reason, memory_order_relaxed);
    return p;
}

int kestrel_prefetch_env_rejected(void) {
    tuning_ensure();
    return g_env_rejected;
}

kestrel_status kestrel_set_prefetch_plan(const kestrel_prefetch_plan *plan) {
    tuning_ensure();
    if (plan == NULL) {
        store_plan(&g_startup_plan);
        return KESTREL_OK;
    }
    for (int i = 0; i < KESTREL_SCAN_CLASSES; i++)
        if (plan->scan_bytes[i] > KESTREL_PREFETCH_MAX_BYTES) return KESTREL_ERR_INVALID_ARGUMENT;
    if (plan->graph_ahead > KESTREL_GRAPH_PREFETCH_MAX_AHEAD || plan->graph_max_lines < 1 || plan->graph_max_lines > 64)
        return KESTREL_ERR_INVALID_ARGUMENT;
    kestrel_prefetch_plan p = *plan;
    p.source = KESTREL_PREFETCH_FROM_CALL;
    if (p.reason == NULL) p.reason = "set by kestrel_set_prefetch_plan";
    store_plan(&p);
    return KESTREL_OK;
}

size_t kestrel_scan_prefetch_bytes(size_t elem_bytes, size_t row_bytes) {
    tuning_ensure();
    const uint32_t long_row = atomic_load_explicit(&g_long_row, memory_order_relaxed);
    if (long_row != 0 && row_bytes >= long_row) return 0;
    int cls = elem_bytes >= 4 ? KESTREL_SCAN_4BYTE : elem_bytes == 2 ? KESTREL_SCAN_2BYTE : KESTREL_SCAN_1BYTE;
    return atomic_load_explicit(&g_scan_bytes[cls], memory_order_relaxed);
}
