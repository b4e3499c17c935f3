import CKestrelKernels
import Kestrel

/// Times the real C kernels for the `simd` suite. Data comes from `BenchVectors` /
/// `MiscWorkspace` (seeded), kernels are bound with `KernelCatalog`, absolute times use the
/// kernel-bench `measure`, ratios use ``Comparison`` (interleaved rounds, bootstrap interval).
/// Buffers live only for the duration of one call, so the large scans never overlap in memory.
struct KernelSIMDProbe: SIMDMeasuring {
    var settings: SuiteSettings

    func pairComparison(op: BenchOp, dtype: BenchDType, dim: Int, level: ISALevel) throws -> ComparisonResult {
        let v = try BenchVectors(dtype: dtype, dim: dim, count: 1, seed: settings.seed)
        let out = try AlignedBuffer(byteCount: 4, zeroed: true)
        let scalar = try KernelCatalog.distance(try Self.table(.scalar), op: op, dtype: dtype, shape: .pair, vectors: v, out: out)
        let tier = try KernelCatalog.distance(try Self.table(level), op: op, dtype: dtype, shape: .pair, vectors: v, out: out)
        return try withExtendedLifetime((v, out)) {
            try Comparison.run(baseline: Self.subject("scalar", scalar), candidates: [Self.subject(level.rawValue, tier)],
                               options: settings.fastComparison)
        }
    }

    func scanBandwidth(level: ISALevel) throws -> ScanBandwidth {
        // The triad first, so its 3 arrays are freed before the scan's rows are allocated.
        let triad = try StreamTriad(arrayBytes: settings.streamArrayBytes, threads: 1).run()
        let v = try BenchVectors(dtype: .f32, dim: settings.dim, count: settings.scanRows, seed: settings.seed)
        let out = try AlignedBuffer(byteCount: 4 * settings.scanRows, zeroed: true)
        let k = try KernelCatalog.distance(try Self.table(level), op: .l2sq, dtype: .f32, shape: .many, vectors: v, out: out)
        let m = withExtendedLifetime((v, out)) { measure(settings.policy, k.run) }
        let perRow = m.nanosecondsPerCall / Double(settings.scanRows)
        return ScanBandwidth(
            level: level, rows: settings.scanRows, dim: settings.dim, nanosecondsPerRow: perRow,
            scanGigabytesPerSecond: BenchStatistics.gigabytesPerSecond(
                bytes: Double(BenchDType.f32.bytes(dim: settings.dim)), nanoseconds: perRow),
            streamGigabytesPerSecond: triad.gigabytesPerSecond)
    }

    func scanComparison(baseline: BenchDType, candidate: BenchDType, level: ISALevel) throws -> ComparisonResult {
        let t = try Self.table(level)
        let rows = settings.scanRows
        let vb = try BenchVectors(dtype: baseline, dim: settings.dim, count: rows, seed: settings.seed)
        let vc = try BenchVectors(dtype: candidate, dim: settings.dim, count: rows, seed: settings.seed)
        let ob = try AlignedBuffer(byteCount: 4 * rows, zeroed: true)
        let oc = try AlignedBuffer(byteCount: 4 * rows, zeroed: true)
        let kb = try KernelCatalog.distance(t, op: .l2sq, dtype: baseline, shape: .many, vectors: vb, out: ob)
        let kc = try KernelCatalog.distance(t, op: .l2sq, dtype: candidate, shape: .many, vectors: vc, out: oc)
        return try withExtendedLifetime((vb, vc, ob, oc)) {
            try Comparison.run(baseline: Self.subject("\(baseline.rawValue) scan", kb),
                               candidates: [Self.subject("\(candidate.rawValue) scan", kc)],
                               options: settings.scanComparison)
        }
    }

    func mathComparison(_ kernel: MiscKernel, level: ISALevel) throws -> ComparisonResult {
        let w = try MiscWorkspace(n: settings.mathLength, seed: settings.seed)
        let scalar = try KernelCatalog.misc(try Self.table(.scalar), kernel, w)
        let tier = try KernelCatalog.misc(try Self.table(level), kernel, w)
        return try withExtendedLifetime(w) {
            try Comparison.run(baseline: Self.subject("scalar", scalar), candidates: [Self.subject(level.rawValue, tier)],
                               options: settings.fastComparison)
        }
    }

    func dotSpeedupSweep(dims: [Int], levels: [ISALevel]) throws -> [TierSpeedups] {
        let vector = levels.filter { $0 != .scalar }
        var speedups = [ISALevel: [Double]]()
        var inherits = Set<ISALevel>()
        for dim in dims {
            let v = try BenchVectors(dtype: .f32, dim: dim, count: 1, seed: settings.seed)
            let out = try AlignedBuffer(byteCount: 4, zeroed: true)
            try withExtendedLifetime((v, out)) { () throws in
                let scalar = try KernelCatalog.distance(try Self.table(.scalar), op: .dot, dtype: .f32, shape: .pair,
                                                        vectors: v, out: out)
                let base = measure(settings.sweepPolicy, scalar.run).nanosecondsPerCall
                var seen: Set<UnsafeRawPointer> = [scalar.address]
                for level in vector {
                    let k = try KernelCatalog.distance(try Self.table(level), op: .dot, dtype: .f32, shape: .pair,
                                                       vectors: v, out: out)
                    // A tier reusing a lower tier's function is the same line: not measured again.
                    guard seen.insert(k.address).inserted else {
                        inherits.insert(level)
                        continue
                    }
                    let ns = measure(settings.sweepPolicy, k.run).nanosecondsPerCall
                    speedups[level, default: []].append(BenchStatistics.speedup(baseline: base, candidate: ns))
                }
            }
        }
        return vector.filter { !inherits.contains($0) }.compactMap { level in
            speedups[level].map { TierSpeedups(level: level, speedups: $0) }
        }
    }

    func queryLatency(level: ISALevel) throws -> LatencySummary {
        let t = try Self.table(level)
        guard let scan = t.l2sq_f32_many else { throw KestrelError.unsupported("l2sq_f32_many at \(level.rawValue)") }
        let dim = settings.dim, rows = settings.queryRows
        let v = try BenchVectors(dtype: .f32, dim: dim, count: rows, seed: settings.seed)
        // 64 distinct queries, so no call sees the previous call's query in registers or L1.
        let queryCount = 64
        let queries = try AlignedBuffer(byteCount: 4 * dim * queryCount, zeroed: true)
        var rng = SplitMix64(seed: settings.seed &+ 1)
        rng.fillFloats(queries.typed(Float.self), dim * queryCount)
        let out = try AlignedBuffer(byteCount: 4 * rows, zeroed: true)
        let q = UnsafePointer(queries.typed(Float.self)), base = UnsafePointer(v.base.typed(Float.self))
        let o = out.typed(Float.self)
        var i = 0
        var failures = 0
        var profiler = ComponentProfiler()
        profiler.calls = settings.queries
        profiler.warmUpCalls = 5
        profiler.useCounters = false
        profiler.maxNanoseconds = 20_000_000_000
        let observation = try withExtendedLifetime((v, queries, out)) {
            try profiler.profile("l2sq_f32_many query") {
                if scan(q + (i % queryCount) * dim, base, dim, rows, dim, o) != KESTREL_OK { failures += 1 }
                i += 1
            }
        }
        guard failures == 0 else { throw KestrelError.backendFailure(routine: "kestrel_l2sq_f32_many", code: failures) }
        guard let latency = observation.latency else { throw KestrelError.unsupported("no latency recorded") }
        return latency
    }

    func matmul(n: Int) throws -> MatmulOverhead {
        let previous = BLASThreads.count
        try BLASThreads.setCount(settings.matmulThreads)
        defer { try? BLASThreads.setCount(previous) }
        let p = try MatmulBench().squareProblem(n)
        // Comparison subjects cannot throw: remember the first error and report it after timing.
        var failure: (any Error)?
        func subject(_ name: String, _ body: @escaping () throws -> Void) -> ComparisonSubject {
            ComparisonSubject(name) {
                do { try body() } catch { if failure == nil { failure = error } }
            }
        }
        let c = try Comparison.run(
            baseline: subject("cblas_sgemm", p.sgemm),
            candidates: [subject("Tensor matmul(into:)", p.tensorInto), subject("Tensor matmul", p.tensorAllocating)],
            options: settings.matmulComparison)
        if let failure { throw failure }
        guard c.candidates.count == 2 else { throw KestrelError.unsupported("matmul comparison returned no candidates") }
        return MatmulOverhead(
            n: n, ratioInto: MatmulOverhead.timeRatio(c.candidates[0].speedup),
            ratioAllocating: MatmulOverhead.timeRatio(c.candidates[1].speedup),
            sgemmSeconds: c.baselineStatistics.median / 1e9, maxAbsDifference: p.maxAbsDifference())
    }

    // MARK: - helpers

    static func table(_ level: ISALevel) throws(KestrelError) -> kestrel_kernel_table {
        guard let t = level.kernels?.pointee else { throw .unsupported("ISA level \(level.rawValue) on this CPU") }
        return t
    }

    /// A comparison subject calling a bound kernel once; its result goes to `blackHole`.
    static func subject(_ name: String, _ k: BoundKernel) -> ComparisonSubject {
        ComparisonSubject(name) { blackHole(k.run()) }
    }
}
