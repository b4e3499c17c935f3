import CKestrelKernels
import Kestrel

/// A one-to-many scan's throughput next to this machine's memory bandwidth.
struct ScanBandwidth: Sendable, Equatable {
    /// Tier whose kernel was timed.
    var level: ISALevel
    /// Rows scanned per call and elements per row.
    var rows: Int
    var dim: Int
    /// Median nanoseconds per row.
    var nanosecondsPerRow: Double
    /// Bytes of stored rows read per second, GB/s (10^9 B/s).
    var scanGigabytesPerSecond: Double
    /// Single-thread STREAM triad in the same run, GB/s.
    var streamGigabytesPerSecond: Double
}

/// Speedups over scalar of one tier at each size of a sweep.
struct TierSpeedups: Sendable, Equatable {
    var level: ISALevel
    /// One per swept size, in the sweep's order.
    var speedups: [Double]
}

/// Tensor matmul against a direct sgemm call: time ratios with their bootstrap intervals.
struct MatmulOverhead: Sendable, Equatable {
    /// The size N of the N×N·N×N product.
    var n: Int
    /// Tensor `matmul(a, b, into:)` time / direct `cblas_sgemm` time (ratio of medians).
    var ratioInto: ConfidenceInterval
    /// Tensor `matmul(a, b)` (allocating its result) time / direct time.
    var ratioAllocating: ConfidenceInterval
    /// Median seconds of the direct call.
    var sgemmSeconds: Double
    /// Largest |Tensor − direct| over the product.
    var maxAbsDifference: Double

    /// GFLOP/s of the direct call (2·n³ FLOPs).
    var sgemmGigaflops: Double { 2 * Double(n) * Double(n) * Double(n) / sgemmSeconds / 1e9 }

    /// The time ratio candidate/baseline from a comparison's speedup (baseline/candidate), interval inverted.
    static func timeRatio(_ speedup: ConfidenceInterval) -> ConfidenceInterval {
        ConfidenceInterval(estimate: 1 / speedup.estimate, lower: 1 / speedup.upper, upper: 1 / speedup.lower,
                           level: speedup.level)
    }
}

/// The measurements behind the `simd` suite. ``KernelSIMDProbe`` times the real kernels; tests
/// inject fixed numbers to check how the suite judges them.
protocol SIMDMeasuring {
    /// An interleaved comparison of the pair kernel `op`/`dtype` over `dim` elements: scalar
    /// (baseline) against `level` (the one candidate).
    func pairComparison(op: BenchOp, dtype: BenchDType, dim: Int, level: ISALevel) throws -> ComparisonResult
    /// The f32 l2sq scan's throughput at `level` and the STREAM triad.
    func scanBandwidth(level: ISALevel) throws -> ScanBandwidth
    /// An interleaved comparison of the l2sq scans of two stored types at `level` (baseline first).
    func scanComparison(baseline: BenchDType, candidate: BenchDType, level: ISALevel) throws -> ComparisonResult
    /// An interleaved comparison of a conversion/math kernel: scalar (baseline) against `level`.
    func mathComparison(_ kernel: MiscKernel, level: ISALevel) throws -> ComparisonResult
    /// f32 dot speedups over scalar at each of `dims`, for every tier of `levels` with its own
    /// function (tiers that inherit a lower tier's function are left out).
    func dotSpeedupSweep(dims: [Int], levels: [ISALevel]) throws -> [TierSpeedups]
    /// Per-query latency of one f32 l2sq query against the latency case's rows, at `level`.
    func queryLatency(level: ISALevel) throws -> LatencySummary
    /// Tensor matmul against a direct sgemm call at `n`³, interleaved.
    func matmul(n: Int) throws -> MatmulOverhead
}

/// The `simd` suite: the kernel targets of issue 2, measured with the kernel-bench machinery
/// (`KernelCatalog`, `BenchVectors`, `measure`, `StreamTriad`, `MatmulBench`) and judged
/// with ``BenchmarkTarget``.
struct SIMDSuite {
    let probe: any SIMDMeasuring
    var settings: SuiteSettings
    var charts: BenchmarkCharts
    /// Tiers this CPU runs (a parameter so tests can pretend to be another CPU).
    var supported: [ISALevel] = ISALevel.supported
    /// The tier in use (`KESTREL_ISA` caps it); scans and math run at this tier.
    var active: ISALevel = ISALevel.active

    static let name = "simd"

    /// Registers every case.
    /// - Throws: `ProfilingError` for a duplicate case name.
    func register(into suite: inout BenchmarkSuite) throws {
        let dim = settings.dim
        for (level, need) in [(ISALevel.avx2, 4.0), (.avx512, 8.0)] {
            try suite.register(BenchmarkCase(
                name: "simd.dot-f32-\(dim).\(level.rawValue)-vs-scalar", suite: Self.name,
                summary: "f32 dot product of two \(dim)-element vectors, \(level.rawValue) kernel against the scalar "
                    + "reference, interleaved; speedup = scalar median / \(level.rawValue) median.",
                target: .atLeast(need, "×", metric: "\(level.rawValue) speedup over scalar (issue 2)"),
                skipReason: { skipReason(level) },
                run: { _ in
                    .speedup(try probe.pairComparison(op: .dot, dtype: .f32, dim: dim, level: level))
                }))
        }
        try suite.register(BenchmarkCase(
            name: "simd.l2sq-f32-scan.stream-fraction", suite: Self.name,
            summary: "One f32 query against \(settings.scanRows) × \(dim) f32 rows (l2sq_f32_many, \(active.rawValue)): "
                + "GB/s of rows read as a percentage of the single-thread STREAM triad of the same run.",
            target: .atLeast(80, "%", metric: "scan bandwidth / STREAM triad (issue 2)"),
            run: { _ in Self.scanFractionOutcome(try probe.scanBandwidth(level: active)) }))
        try suite.register(BenchmarkCase(
            name: "simd.i8-vs-f32-scan", suite: Self.name,
            summary: "l2sq scan of \(settings.scanRows) × \(dim) rows, int8 rows against f32 rows (\(active.rawValue)), "
                + "interleaved; speedup in vectors per second.",
            target: .atLeast(2.5, "×", metric: "int8 scan speedup over the f32 scan (issue 2)"),
            run: { _ in .speedup(try probe.scanComparison(baseline: .f32, candidate: .i8, level: active)) }))
        try suite.register(BenchmarkCase(
            name: "simd.f16-vs-f32-scan", suite: Self.name,
            summary: "l2sq scan of \(settings.scanRows) × \(dim) rows, f16 rows against f32 rows (\(active.rawValue)), "
                + "interleaved; speedup in vectors per second (no target: f16 halves the bytes read).",
            run: { _ in .speedup(try probe.scanComparison(baseline: .f32, candidate: .f16, level: active)) }))
        for kernel in [MiscKernel.exp_f32, .softmax_f32] {
            try suite.register(BenchmarkCase(
                name: "simd.\(kernel.rawValue.replacingOccurrences(of: "_", with: "-"))-\(settings.mathLength).vs-scalar",
                suite: Self.name,
                summary: "\(kernel.rawValue) over \(settings.mathLength) floats in [-10, 10), \(active.rawValue) against "
                    + "scalar, interleaved (no target in issue 2).",
                skipReason: { active == .scalar ? "the active level is scalar: no vector tier to compare" : nil },
                run: { _ in .speedup(try probe.mathComparison(kernel, level: active)) }))
        }
        try suite.register(BenchmarkCase(
            name: "simd.dot-f32.speedup-vs-dim", suite: Self.name,
            summary: "f32 dot speedup over scalar of every tier up to the active one with its own kernel at dims "
                + "\(settings.sweepDims.map(String.init).joined(separator: ", ")); value: the best tier at the "
                + "largest dim (chart speedup-vs-dim with --plot).",
            run: { _ in
                try sweepOutcome(try probe.dotSpeedupSweep(dims: settings.sweepDims, levels: supported.filter { $0 <= active }))
            }))
        try suite.register(BenchmarkCase(
            name: "simd.l2sq-f32-query-latency", suite: Self.name,
            summary: "Latency of one query against \(settings.queryRows) × \(dim) f32 rows (l2sq_f32_many, "
                + "\(active.rawValue)), \(settings.queries) queries timed one by one; value: median.",
            run: { _ in Self.latencyOutcome(try probe.queryLatency(level: active)) }))
        let n = settings.matmulSize
        try suite.register(BenchmarkCase(
            name: "simd.matmul-\(n).tensor-vs-sgemm", suite: Self.name,
            summary: "Tensor matmul(a, b, into:) against a direct cblas_sgemm on the same \(n)×\(n) buffers "
                + "(MatmulBench's problem), interleaved in random order, BLAS on \(settings.matmulThreads) thread(s); "
                + "value: time ratio of medians (1 = no overhead) with its interval.",
            target: BenchmarkTarget(metric: "Tensor time / direct sgemm time (issue 2: within 5%)", unit: "×",
                                    maximum: 1.05, maximumExclusive: false),
            run: { _ in Self.matmulOutcome(try probe.matmul(n: n)) }))
    }

    /// Why the `level` dot case cannot run here, nil when it can.
    func skipReason(_ level: ISALevel) -> String? {
        if !supported.contains(level) {
            return "this CPU has no \(level.rawValue) (tiers here: \(supported.map(\.rawValue).joined(separator: ", ")))"
        }
        if level > active {
            return "\(level.rawValue) is above the active level \(active.rawValue) (KESTREL_ISA caps it)"
        }
        return nil
    }

    // MARK: - Outcomes from measurements (pure, tested with injected numbers)

    /// Scan GB/s as a percentage of the STREAM triad.
    static func scanFractionOutcome(_ s: ScanBandwidth) -> BenchmarkOutcome {
        let percent = s.streamGigabytesPerSecond > 0 ? s.scanGigabytesPerSecond / s.streamGigabytesPerSecond * 100 : .nan
        return BenchmarkOutcome(
            value: percent, unit: "%",
            metrics: ["scan_gb_per_s": s.scanGigabytesPerSecond, "stream_gb_per_s": s.streamGigabytesPerSecond,
                      "ns_per_row": s.nanosecondsPerRow],
            notes: ["\(s.level.rawValue): \(Format.fixed(s.scanGigabytesPerSecond, 2)) GB/s of rows read vs STREAM triad "
                + "\(Format.fixed(s.streamGigabytesPerSecond, 2)) GB/s (1 thread; STREAM counts 3 arrays, not the "
                + "write-allocate read)"])
    }

    /// The best tier's speedup at the largest size, every point as a metric, and the chart.
    func sweepOutcome(_ tiers: [TierSpeedups]) throws -> BenchmarkOutcome {
        let dims = settings.sweepDims
        guard !dims.isEmpty, !tiers.isEmpty else {
            throw KestrelError.unsupported("no vector tier on this CPU: nothing to sweep")
        }
        var metrics: [String: Double] = [:]
        for t in tiers {
            for (d, s) in zip(dims, t.speedups) { metrics["\(t.level.rawValue)@\(d)"] = s }
        }
        let plotted = tiers.filter { t in t.speedups.count == dims.count && t.speedups.allSatisfy { $0 > 0 && $0.isFinite } }
        if !plotted.isEmpty {
            charts.add(LineChartSpec(
                fileName: "speedup-vs-dim", title: "f32 dot: speedup over scalar against vector length",
                xLabel: "elements per vector", yLabel: "speedup over scalar (×)",
                series: plotted.map { ChartSeries(name: $0.level.rawValue, x: dims.map(Double.init), y: $0.speedups) },
                logX: true))
        }
        let best = tiers.map { $0.speedups.last ?? .nan }.filter(\.isFinite).max() ?? .nan
        return BenchmarkOutcome(value: best, unit: "×", higherIsBetter: true, metrics: metrics)
    }

    /// The median latency (ns) with the distribution, p99 and queries per second.
    static func latencyOutcome(_ l: LatencySummary) -> BenchmarkOutcome {
        BenchmarkOutcome(
            value: Double(l.p50), unit: "ns", higherIsBetter: false, latency: l,
            metrics: ["p99_ns": Double(l.p99), "queries_per_s": l.mean > 0 ? 1e9 / l.mean : .nan])
    }

    /// Tensor (into) / direct sgemm with its interval; the allocating form as a metric.
    static func matmulOutcome(_ r: MatmulOverhead) -> BenchmarkOutcome {
        var note = "matmul(a, b) allocating its result: \(Format.fixed(r.ratioAllocating.estimate, 3))× the direct call "
            + "[\(Format.fixed(r.ratioAllocating.lower, 3)), \(Format.fixed(r.ratioAllocating.upper, 3))]"
        if r.ratioAllocating.lower > r.ratioInto.upper {
            note += " (the extra is allocating and faulting in \((r.n * r.n * 4) >> 10) KiB per call; "
                + "matmul(into:) or a BufferPool avoids it)"
        }
        return BenchmarkOutcome(
            value: r.ratioInto.estimate, unit: "×", interval: r.ratioInto, higherIsBetter: false,
            metrics: ["ratio_allocating": r.ratioAllocating.estimate, "sgemm_gflop_per_s": r.sgemmGigaflops,
                      "sgemm_ms": r.sgemmSeconds * 1e3, "max_abs_difference": r.maxAbsDifference],
            notes: [note])
    }
}
