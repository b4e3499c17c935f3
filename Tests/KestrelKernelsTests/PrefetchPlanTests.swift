import Foundation
import CKestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport

/// The prefetch plan chosen at start-up: the per-CPU rule, the environment override grammar, the
/// checks of `kestrel_set_prefetch_plan`, and that no plan changes a single result bit.
///
/// Serialized, and every test that replaces or checks the process-wide plan holds
/// `withPrefetchPlanExclusive` (other test targets share the process); other suites running
/// meanwhile are unaffected, since every plan returns identical results (what this suite verifies).
@Suite(.serialized) struct PrefetchPlanTests {
    // MARK: - CPU description and rule

    @Test func thisCPUIsDescribed() {
        let cpu = CPUDescription.current
        #expect(["intel", "amd", "arm", "other"].contains(cpu.vendor))
        #if arch(x86_64) && os(Linux)
        // CPUID leaf 4 / 0x8000001D, or /sys: every x86 Linux machine this project runs on reports these.
        #expect(!cpu.vendorID.isEmpty)
        #expect(cpu.family > 0)
        #expect(cpu.l1dBytes >= 16 << 10 && cpu.l1dBytes <= 1 << 20, "L1d \(cpu.l1dBytes)")
        #expect(cpu.l2Bytes >= 128 << 10, "L2 \(cpu.l2Bytes)")
        #expect(cpu.lineBytes == 64)
        #endif
        #if arch(arm64)
        #expect(cpu.vendor == "arm")
        #endif
    }

    @Test func ruleDependsOnVendor() {
        func rule(_ vendor: kestrel_cpu_vendor) -> PrefetchPlan {
            var c = kestrel_cpu_description()
            c.vendor = vendor
            c.l1d_bytes = 32 << 10
            c.l2_bytes = 1 << 20
            c.l3_bytes = 32 << 20
            return withUnsafePointer(to: c) { PrefetchPlan(kestrel_prefetch_rule($0)) }
        }
        let intel = rule(KESTREL_VENDOR_INTEL), amd = rule(KESTREL_VENDOR_AMD), other = rule(KESTREL_VENDOR_OTHER)
        let arm = rule(KESTREL_VENDOR_ARM)
        for p in [intel, amd, other, arm] {
            #expect(p.source == .rule)
            #expect(!p.reason.isEmpty)
            // Graph walks read random rows no hardware prefetcher predicts: prefetched everywhere.
            #expect(p.graphAhead == 3 && p.graphMaxLines == 16)
            for b in [p.scanBytesF32, p.scanBytesF16, p.scanBytesI8] {
                #expect((0...PrefetchPlan.maxScanBytes).contains(b))
            }
        }
        // Intel: every scan prefetches (measured: no software prefetch loses on every scan).
        #expect(intel.scanBytesF32 > 0 && intel.scanBytesF16 > 0 && intel.scanBytesI8 > 0)
        #expect(intel.scanLongRowBytes == 0)
        #expect(intel.scanBytes(elementBytes: 4, rowBytes: 3072) == 6144)
        // AMD: long rows (the 768-d f32 scan, 3 KiB) are left to the hardware prefetchers, short
        // rows keep the shipped distances (Documentation/Tuning.md, "Prefetch distance").
        #expect(amd.scanLongRowBytes == 2048)
        #expect(amd.scanBytes(elementBytes: 4, rowBytes: 3072) == 0)
        #expect(amd.scanBytes(elementBytes: 2, rowBytes: 1536) == 6144)
        #expect(amd.scanBytes(elementBytes: 1, rowBytes: 768) == 8192)
        #expect(amd.scanBytes(elementBytes: 4, rowBytes: 512) == 6144)
        // What nobody measured keeps the distances the kernels shipped with.
        #expect(other.scanBytesF32 == 6144 && other.scanBytesI8 == 8192 && other.scanLongRowBytes == 0)
        #expect(arm.scanBytesF32 == 6144 && arm.scanBytesI8 == 8192 && arm.scanLongRowBytes == 0)
        // A NULL description is an unknown CPU.
        #expect(PrefetchPlan(kestrel_prefetch_rule(nil)) == other)
    }

    @Test func startupPlanIsTheRuleUnlessTheEnvironmentSaysOtherwise() {
        withPrefetchPlanExclusive {
            PrefetchPlan.restoreStartup()
            let current = PrefetchPlan.current
            let env = PrefetchPlan.applyingEnvironment(
                scan: getenvString("KESTREL_PREFETCH"), graph: getenvString("KESTREL_GRAPH_PREFETCH"), to: .rule)
            #expect(current == env.plan)
            #expect(PrefetchPlan.rejectedEnvironment == env.rejected)
        }
    }

    // MARK: - Environment grammar

    @Test func environmentOverridesParse() {
        let base = PrefetchPlan(scanBytesF32: 6144, scanBytesF16: 6144, scanBytesI8: 8192, graphAhead: 3,
                                graphMaxLines: 16, source: .rule, reason: "base")
        func scan(_ s: String?) -> (PrefetchPlan, [String]) {
            let r = PrefetchPlan.applyingEnvironment(scan: s, graph: nil, to: base)
            return (r.plan, r.rejected)
        }
        for same in [nil, "", "auto"] as [String?] {
            let (p, rejected) = scan(same)
            #expect(p == base && rejected.isEmpty, "\(String(describing: same))")
        }
        for (text, bytes) in [("off", 0), ("0", 0), ("64", 64), ("4096", 4096), ("6k", 6144), ("12K", 12288),
                              ("1048576", 1 << 20), ("1024k", 1 << 20)] {
            let (p, rejected) = scan(text)
            #expect(rejected.isEmpty, "\(text)")
            #expect(p.scanBytesF32 == bytes && p.scanBytesF16 == bytes && p.scanBytesI8 == bytes, "\(text)")
            #expect(p.graphAhead == 3 && p.source == .environment)
        }
        // A scan distance from the environment applies to every row length.
        var amdLike = base
        amdLike.scanLongRowBytes = 2048
        let lifted = PrefetchPlan.applyingEnvironment(scan: "4096", graph: nil, to: amdLike).plan
        #expect(lifted.scanLongRowBytes == 0 && lifted.scanBytes(elementBytes: 4, rowBytes: 3072) == 4096)
        #expect(PrefetchPlan.applyingEnvironment(scan: "auto", graph: "off", to: amdLike).plan.scanLongRowBytes == 2048)
        // Bad values: the base stays in force, the variable is reported, nothing crashes.
        for bad in ["garbage", "-1", "63", "1048577", "1025k", "99999999999999999999999", "4096x", "k", " 4096",
                    "4096 ", "0x100", "OFF", "6kk", "1e4"] {
            let (p, rejected) = scan(bad)
            #expect(p == base, "\(bad)")
            #expect(rejected == ["KESTREL_PREFETCH"], "\(bad)")
        }
        // The graph part.
        let off = PrefetchPlan.applyingEnvironment(scan: nil, graph: "off", to: base)
        #expect(off.plan.graphAhead == 0 && off.plan.scanBytesF32 == 6144 && off.rejected.isEmpty)
        let two = PrefetchPlan.applyingEnvironment(scan: "off", graph: "2", to: base)
        #expect(two.plan.graphAhead == 2 && two.plan.scanBytesI8 == 0 && two.rejected.isEmpty)
        for bad in ["17", "-3", "many", "2k"] {
            let r = PrefetchPlan.applyingEnvironment(scan: "4096", graph: bad, to: base)
            #expect(r.plan.graphAhead == 3 && r.plan.scanBytesF32 == 4096, "\(bad)")
            #expect(r.rejected == ["KESTREL_GRAPH_PREFETCH"], "\(bad)")
        }
        let both = PrefetchPlan.applyingEnvironment(scan: "x", graph: "y", to: base)
        #expect(both.plan == base && both.rejected == ["KESTREL_PREFETCH", "KESTREL_GRAPH_PREFETCH"])
    }

    @Test func outOfRangePlansAreRefusedAndChangeNothing() throws {
        try withPrefetchPlanExclusive {
            defer { PrefetchPlan.restoreStartup() }
            let before = PrefetchPlan.current
            let bad = [
                before.withScanBytes(PrefetchPlan.maxScanBytes + 1),
                PrefetchPlan(scanBytesF32: 0, scanBytesF16: -1, scanBytesI8: 0, graphAhead: 3, graphMaxLines: 16),
                PrefetchPlan(scanBytesF32: 0, scanBytesF16: 0, scanBytesI8: 0, graphAhead: 17, graphMaxLines: 16),
                PrefetchPlan(scanBytesF32: 0, scanBytesF16: 0, scanBytesI8: 0, graphAhead: 3, graphMaxLines: 0),
                PrefetchPlan(scanBytesF32: 0, scanBytesF16: 0, scanBytesI8: 0, graphAhead: 3, graphMaxLines: 65),
            ]
            for plan in bad {
                #expect(throws: KestrelError.self) { try plan.activate() }
                #expect(PrefetchPlan.current == before)
            }
            var c = kestrel_prefetch_current()
            c.scan_bytes.0 = KESTREL_PREFETCH_MAX_BYTES + 1
            #expect(kestrel_set_prefetch_plan(&c) == KESTREL_ERR_INVALID_ARGUMENT)
            let custom = PrefetchPlan(scanBytesF32: 128, scanBytesF16: 256, scanBytesI8: 512, graphAhead: 1, graphMaxLines: 2)
            try custom.activate()
            let now = PrefetchPlan.current
            #expect(now.scanBytesF32 == 128 && now.scanBytesF16 == 256 && now.scanBytesI8 == 512)
            #expect(now.graphAhead == 1 && now.graphMaxLines == 2 && now.source == .call)
            #expect(kestrel_set_prefetch_plan(nil) == KESTREL_OK)
            #expect(PrefetchPlan.current == before)
        }
    }

    // MARK: - Results do not depend on the plan

    /// Plans a scan may run under: off, distances below one row, about the rule's, several passes
    /// and the maximum, for every row length; and the Intel and AMD rules (long rows without).
    static func plans() -> [PrefetchPlan] {
        let base = PrefetchPlan.current
        let distances = [0, 64, 1000, 6144, 8192, 40_000, PrefetchPlan.maxScanBytes]
        func rule(_ vendor: kestrel_cpu_vendor) -> PrefetchPlan {
            var c = kestrel_cpu_description()
            c.vendor = vendor
            return withUnsafePointer(to: c) { PrefetchPlan(kestrel_prefetch_rule($0)) }
        }
        var amdShortLimit = rule(KESTREL_VENDOR_AMD)
        amdShortLimit.scanLongRowBytes = 100
        return distances.map { base.withScanBytes($0) }
            + [rule(KESTREL_VENDOR_INTEL), rule(KESTREL_VENDOR_AMD), amdShortLimit]
    }

    @Test func floatScansAreBitIdenticalUnderEveryPlan() throws {
        try withPrefetchPlanExclusive {
            defer { PrefetchPlan.restoreStartup() }
            var rng = SeededRNG(seed: 0x9F)
            for (dim, count) in [(1, 9), (17, 70), (100, 130), (768, 41), (768, 200), (3000, 12)] {
                let q32 = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
                let b32 = (0..<(dim * count)).map { _ in Float.random(in: -1...1, using: &rng) }
                var q16 = [UInt16](repeating: 0, count: dim), b16 = [UInt16](repeating: 0, count: dim * count)
                kestrel_f32_to_f16(q32, &q16, dim)
                kestrel_f32_to_f16(b32, &b16, dim * count)
                var qb = [UInt16](repeating: 0, count: dim), bb = [UInt16](repeating: 0, count: dim * count)
                kestrel_f32_to_bf16(q32, &qb, dim)
                kestrel_f32_to_bf16(b32, &bb, dim * count)
                for level in ISALevel.supported {
                    let t = try #require(level.kernels).pointee
                    var reference: [[UInt32]] = []
                    for (k, plan) in Self.plans().enumerated() {
                        try plan.activate()
                        var outs: [[UInt32]] = []
                        for f in [t.dot_f32_many!, t.l2sq_f32_many!, t.cosine_f32_many!] {
                            var out = [Float](repeating: -7, count: count)
                            #expect(f(q32, b32, dim, count, dim, &out) == KESTREL_OK)
                            outs.append(out.map(\.bitPattern))
                        }
                        for f in [t.dot_f16_many!, t.l2sq_f16_many!, t.cosine_f16_many!] {
                            var out = [Float](repeating: -7, count: count)
                            #expect(f(q16, b16, dim, count, dim, &out) == KESTREL_OK)
                            outs.append(out.map(\.bitPattern))
                        }
                        for f in [t.dot_bf16_many!, t.l2sq_bf16_many!, t.cosine_bf16_many!] {
                            var out = [Float](repeating: -7, count: count)
                            #expect(f(qb, bb, dim, count, dim, &out) == KESTREL_OK)
                            outs.append(out.map(\.bitPattern))
                        }
                        if k == 0 {
                            reference = outs
                            // And the one-pair kernel of the same tier, row by row (off plan).
                            b32.withUnsafeBufferPointer { b in
                                for r in 0..<count {
                                    let p = t.l2sq_f32!(q32, b.baseAddress! + r * dim, dim)
                                    #expect(p.bitPattern == outs[1][r], "\(level) l2sq_f32 dim \(dim) row \(r)")
                                }
                            }
                        } else {
                            #expect(outs == reference, "\(level) dim \(dim) count \(count): plan \(plan) differs from off")
                        }
                    }
                }
            }
        }
    }

    @Test func integerScansAreBitIdenticalUnderEveryPlan() throws {
        try withPrefetchPlanExclusive {
            defer { PrefetchPlan.restoreStartup() }
            var rng = SeededRNG(seed: 0x1F)
            for (dim, count) in [(1, 9), (31, 70), (100, 130), (768, 41), (768, 200), (5000, 12)] {
                let q = (0..<dim).map { _ in Int8.random(in: .min ... .max, using: &rng) }
                let base = (0..<(dim * count)).map { _ in Int8.random(in: .min ... .max, using: &rng) }
                let uq = q.map { UInt8(bitPattern: $0) }, ub = base.map { UInt8(bitPattern: $0) }
                for level in ISALevel.supported {
                    let t = try #require(level.kernels).pointee
                    var reference: [[UInt32]] = []
                    for (k, plan) in Self.plans().enumerated() {
                        try plan.activate()
                        var outs: [[UInt32]] = []
                        for f in [t.dot_i8_many!, t.l2sq_i8_many!] {
                            var out = [Int32](repeating: -7, count: count)
                            #expect(f(q, base, dim, count, dim, &out) == KESTREL_OK)
                            outs.append(out.map { UInt32(bitPattern: $0) })
                        }
                        var cos = [Float](repeating: -7, count: count)
                        #expect(t.cosine_i8_many!(q, base, dim, count, dim, &cos) == KESTREL_OK)
                        outs.append(cos.map(\.bitPattern))
                        var ham = [UInt32](repeating: .max, count: count)
                        #expect(t.hamming_b1_many!(uq, ub, dim, count, dim, &ham) == KESTREL_OK)
                        outs.append(ham)
                        var jac = [Float](repeating: -7, count: count)
                        #expect(t.jaccard_b1_many!(uq, ub, dim, count, dim, &jac) == KESTREL_OK)
                        outs.append(jac.map(\.bitPattern))
                        if k == 0 {
                            reference = outs
                            base.withUnsafeBufferPointer { b in
                                for r in 0..<count {
                                    let p = t.l2sq_i8!(q, b.baseAddress! + r * dim, dim)
                                    #expect(Int64(Int32(bitPattern: outs[1][r])) == p, "\(level) l2sq_i8 dim \(dim) row \(r)")
                                }
                            }
                        } else {
                            #expect(outs == reference, "\(level) dim \(dim) count \(count): plan \(plan) differs from off")
                        }
                    }
                }
            }
        }
    }
}

/// The value of an environment variable, or nil.
private func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}
