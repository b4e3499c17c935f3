import Foundation
import Kestrel
import KestrelBenchmarkKit

@testable import KestrelCLI

/// Injected measurements for the benchmark suites: fixed numbers, no clock, no kernels.
enum Fakes {
    /// A fixed environment (no git, no clock calibration, no /proc reads).
    static let environment = BenchmarkEnvironment(
        cpuModel: "Test CPU", architecture: "x86_64", logicalCores: 2, activeCores: 2, isaLevel: "avx2",
        operatingSystem: "Linux test", toolchain: "Swift compiler 6.3", buildConfiguration: "release",
        libraryVersion: "0.1.0", gitCommit: "unknown", physicalMemoryBytes: 1 << 34,
        clock: ClockCalibration(source: "test", overheadNanoseconds: 20, resolutionNanoseconds: 1, batches: 1))

    /// Baseline samples around 100 ns with a little spread, so intervals have a width.
    static let baseline: [Double] = (0..<40).map { 100 + Double($0 % 5) }

    /// A comparison whose speedup is exactly `speedup` (ratio of medians), with a narrow interval,
    /// or a wide one (candidate times spread ±50 %) when `noisy`.
    static func comparison(_ speedup: Double, noisy: Bool = false, candidate: String = "candidate") throws -> KestrelProfiling.ComparisonResult {
        let c = baseline.enumerated().map { i, b in
            noisy ? (100 / speedup) * (0.5 + Double((i * 7) % 40) / 39) : b / speedup
        }
        var options = ComparisonOptions()
        options.bootstrapResamples = 500  // plenty for a fixed interval; keeps the debug-build tests fast
        return try Comparison.analyze(baselineName: "baseline", baseline: baseline, candidates: [(candidate, c)],
                                      options: options)
    }

    static func latency(_ values: [UInt64]) throws -> LatencySummary {
        var r = try LatencyRecorder()
        for v in values { r.record(v) }
        return r.summary()
    }
}

/// SIMD measurements given as numbers.
struct FakeSIMDProbe: SIMDMeasuring {
    var dotSpeedup: [ISALevel: Double] = [.avx2: 11, .avx512: 20]
    var scanGBps = 10.0
    var streamGBps = 11.0
    var i8Speedup = 3.5
    var i8Noisy = false
    var f16Speedup = 1.9
    var mathSpeedup = 15.0
    var matmulRatio = 1.01
    var failScan = false

    func pairComparison(op: BenchOp, dtype: BenchDType, dim: Int, level: ISALevel) throws -> KestrelProfiling.ComparisonResult {
        try Fakes.comparison(dotSpeedup[level] ?? 1, candidate: level.rawValue)
    }
    func scanBandwidth(level: ISALevel) throws -> ScanBandwidth {
        if failScan { throw KestrelError.backendFailure(routine: "fake scan", code: 1) }
        return ScanBandwidth(level: level, rows: 100, dim: 768, nanosecondsPerRow: 3072 / scanGBps,
                             scanGigabytesPerSecond: scanGBps, streamGigabytesPerSecond: streamGBps)
    }
    func scanComparison(baseline: BenchDType, candidate: BenchDType, level: ISALevel) throws -> KestrelProfiling.ComparisonResult {
        candidate == .i8 ? try Fakes.comparison(i8Speedup, noisy: i8Noisy) : try Fakes.comparison(f16Speedup)
    }
    func mathComparison(_ kernel: MiscKernel, level: ISALevel) throws -> KestrelProfiling.ComparisonResult {
        try Fakes.comparison(mathSpeedup)
    }
    func dotSpeedupSweep(dims: [Int], levels: [ISALevel]) throws -> [TierSpeedups] {
        levels.filter { $0 != .scalar }.enumerated().map { i, l in
            TierSpeedups(level: l, speedups: dims.map { Double($0).squareRoot() / 4 + Double(i) })
        }
    }
    func queryLatency(level: ISALevel) throws -> LatencySummary {
        try Fakes.latency((0..<200).map { 2_000_000 + UInt64($0) * 1_000 })
    }
    func matmul(n: Int) throws -> MatmulOverhead {
        MatmulOverhead(n: n, ratioInto: ConfidenceInterval(estimate: matmulRatio, lower: matmulRatio - 0.004,
                                                           upper: matmulRatio, level: 0.95),
                       ratioAllocating: ConfidenceInterval(estimate: 1.2, lower: 1.18, upper: 1.22, level: 0.95),
                       sgemmSeconds: 1e-3, maxAbsDifference: 0)
    }
}

/// HNSW figures given as numbers: the speedup over the exact scan is exactly (N / 100)^exponent
/// (flat scan QPS 1e8 / N, HNSW 4 × flat QPS… at the operating point), three ef points per size
/// with recall 0.90, 0.96 and 0.99 (the operating point is ef 32, recall 0.96).
struct FakeHNSWProbe: HNSWMeasuring {
    var exponent = 0.8
    /// Sizes at which no ef reaches the recall target.
    var noOperatingPointAt: Set<Int> = []

    static func speedup(_ n: Int, exponent: Double) -> Double { pow(Double(n) / 100, exponent) }

    func figures(count: Int) throws -> HNSWBenchmarkFigures {
        var c = HNSWBenchmarkConfiguration()
        c.count = count
        let flat = 1e8 / Double(count)
        let op = flat * Self.speedup(count, exponent: exponent)
        let reached = !noOperatingPointAt.contains(count)
        let points = [HNSWBenchmarkPoint(ef: 16, qps: op * 2, recall: 0.90),
                      HNSWBenchmarkPoint(ef: 32, qps: op, recall: reached ? 0.96 : 0.93),
                      HNSWBenchmarkPoint(ef: 64, qps: op / 2, recall: reached ? 0.99 : 0.94)]
        return HNSWBenchmarkFigures(configuration: c, buildSeconds: Double(count) * 1e-5, indexBytes: count * 400,
                                    flatScanQPS: flat, flatBatchQPS: flat * 3, points: points,
                                    operatingPoint: reached ? points[1] : nil)
    }
}

/// Memory measurements given as numbers.
struct FakeMemoryProbe: MemoryMeasuring {
    var triad = 12.0
    var flops = 30e9
    var f16Bytes = 2 * 7680
    var int8Bytes = 7680
    var hits = 2997
    var misses = 3
    var recorderNs = 18.0
    var startupMs: [Double] = [40, 20, 21, 19, 22]
    var startupSkip: String?

    func streamTriad(threads: Int) throws -> Double { triad * Double(threads) }
    func peakFlops() throws -> PeakFlops { PeakFlops(flopsPerSecond: flops, kernel: "fake FMA") }
    func storageFootprint() throws -> StorageFootprint {
        StorageFootprint(elements: 7680, f32Bytes: 4 * 7680, f16Bytes: f16Bytes, int8Bytes: int8Bytes,
                         f16MaxAbsError: 2.4e-4, int8MaxAbsError: 3.9e-3)
    }
    func bufferPoolWorkload() throws -> PoolWorkload {
        PoolWorkload(requests: 1000, statistics: BufferPool.Statistics(hits: hits, misses: misses, bytesHeld: 1 << 18,
                                                                       blocksHeld: 3, evictions: 0),
                     pooledNanosecondsPerRequest: 6000, freshNanosecondsPerRequest: 8000)
    }
    func recorderCost() throws -> RecorderCost {
        RecorderCost(single: ConfidenceInterval(estimate: recorderNs, lower: recorderNs * 0.98, upper: recorderNs * 1.02,
                                                level: 0.95),
                     concurrent: recorderNs + 3, timerOverheadPerCall: 0.001, method: "fake")
    }
    func startupSkipReason() -> String? { startupSkip }
    func startupMilliseconds() throws -> [Double] { startupMs }
}

extension SuiteCatalog {
    /// The standard suite names with the simd, hnsw and memory suites on fake probes.
    static func fake(simd: FakeSIMDProbe = FakeSIMDProbe(), hnsw: FakeHNSWProbe = FakeHNSWProbe(),
                     memory: FakeMemoryProbe = FakeMemoryProbe(), mcp: FakeMCPProbe = FakeMCPProbe(),
                     wasm: FakeWasmProbe = FakeWasmProbe(),
                     supported: [ISALevel] = [.scalar, .avx2, .avx512], active: ISALevel = .avx512) -> SuiteCatalog {
        SuiteCatalog(entries: [
            .built("simd") { suite, context in
                try SIMDSuite(probe: simd, settings: context.settings, charts: context.charts, supported: supported,
                              active: active).register(into: &suite)
            },
            .built("flash-attention") { suite, context in
                try FlashAttentionSuite(settings: context.settings, probe: FakeAttentionTiming()).register(into: &suite)
            },
            .built("hnsw") { suite, context in
                try HNSWSuite(settings: context.settings, charts: context.charts, probe: hnsw).register(into: &suite)
            },
            .built("quantization") { suite, context in
                // Real cases (fixtures, memory, SNR) but for the timings (fixed figures).
                try QuantizationSuite(settings: context.settings, probe: FakeQuantBench()).register(into: &suite)
            },
            .built("adaptation") { suite, context in
                try AdaptationSuite(settings: context.settings, probe: FakeAdaptationProbe()).register(into: &suite)
            },
            .built("memory") { suite, context in
                try MemorySuite(probe: memory, settings: context.settings, cores: 2).register(into: &suite)
            },
            .built("mcp") { suite, context in
                try MCPSuite(probe: mcp, settings: context.settings).register(into: &suite)
            },
            .built("wasm-simd") { suite, context in
                try WasmSIMDSuite(probe: wasm, settings: context.settings).register(into: &suite)
            },
        ])
    }
}

extension SuiteCatalog {
    /// ``fake(simd:hnsw:memory:supported:active:)`` with the `adaptation` entry marked as not built,
    /// for the tests of how a suite whose module has not landed is reported.
    static func fakeWithAbsentAdaptation() -> SuiteCatalog {
        var c = SuiteCatalog.fake()
        if let i = c.entries.firstIndex(where: { $0.name == "adaptation" }) {
            c.entries[i] = .absent("adaptation", module: "KestrelAdaptation")
        }
        return c
    }
}

/// Fixed adaptation figures: every strategy within 10 % of the sweep, the tuned ef on target.
struct FakeAdaptationProbe: AdaptationMeasuring, Sendable {
    var patientRegret = 1.04
    var heldOutRecall = 0.96
    var qpsRatio = 0.95

    func regrets() throws -> [AutotunerRegretFigures] {
        AdaptationSuite.strategies.map { s in
            AutotunerRegretFigures(strategy: s, regret: s == "patient" ? patientRegret : 1.2, tuningSeconds: 0.5, samples: 100,
                                   chosen: "batchSize=64 threads=1", best: "batchSize=64 threads=2")
        }
    }

    func hnswEf() throws -> HNSWEfFigures {
        HNSWEfFigures(requestedRecall: 0.95, chosenEf: 32, heldOutRecall: heldOutRecall, chosenQPS: 1000 * qpsRatio,
                      sweepBestQPS: 1000, sweepBestEf: 32, tuningSeconds: 0.2)
    }

    /// Step p99 in ns (the target is < 5000 at d = 768).
    var stepP99: Double = 3000

    func adapterStep(_ bench: AdaptBench) throws -> AdaptStepCases.Figures {
        AdaptStepCases.Figures(stepP50: 1500, stepP99: stepP99, stepP999: 9000, samples: bench.steps,
                               applyP50: 250, applyP99: 400, allocationsPerStep: 0, isa: "avx512")
    }
}

/// Collects what a runner writes.
final class OutputCollector: @unchecked Sendable {
    var out = ""
    var err = ""
}

extension BenchmarkRunner {
    /// A runner over `catalog` with a fixed environment, no progress and collected output.
    static func test(_ catalog: SuiteCatalog, output: OutputCollector) -> BenchmarkRunner {
        BenchmarkRunner(
            catalog: catalog, environment: { Fakes.environment }, progress: BenchmarkProgressPrinter(enabled: false) { _ in },
            out: { output.out += $0 }, err: { output.err += $0 }, colors: false, loadAverage: { nil })
    }
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-cli-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Fixed timings: quantizing runs at 4 GB/s; quant-bench rows sgemv 1 ms, Q8_0 0.4 ms, Q4_0 0.25 ms.
struct FakeQuantBench: QuantizationTimingProbe {
    func quantizeSeconds(format: String, floats: Int, samples: Int) throws -> Double { Double(floats * 4) / 4e9 }
    func gemvRows(_ n: Int) throws -> [QuantBenchRow] { Self.rows }

    static let rows: [QuantBenchRow] = [("f32 sgemv", 1e-3), ("q8_0 x q8_0", 4e-4), ("q4_0 x q8_0", 2.5e-4)].map { name, t in
        QuantBenchRow(name: name, weightBytes: 1 << 20, seconds: t, minSeconds: t, speedupVsSgemv: 1e-3 / t, minSpeedupVsSgemv: 1e-3 / t)
    }
}

/// Fixed attention timings: NaiveAttention takes N² / 2²⁰ ms (causal or not), FlashAttention
/// `flashShare` of that when causal and twice that share otherwise. The backward takes
/// `backwardRatio` × the forward's CPU time (forward 40 ms of CPU, 50 ms of wall) and
/// `backwardWallRatio` × its wall time; `reportsCPU` false leaves the CPU times out.
struct FakeAttentionTiming: AttentionTimingProbe {
    var flashShare = 0.25
    var backwardRatio = 2.5
    var backwardWallRatio = 2.8
    var reportsCPU = true

    func backwardTimings(_ shape: AttentionBenchShape, causal: Bool, threads: Int, reps: Int) throws -> AttentionBackwardTiming {
        AttentionBackwardTiming(
            forward: AttentionTiming(medianMs: 50, minMs: 45, cpuMedianMs: reportsCPU ? 40 : nil),
            backward: AttentionTiming(medianMs: 50 * backwardWallRatio, minMs: 45 * backwardWallRatio,
                                      cpuMedianMs: reportsCPU ? 40 * backwardRatio : nil))
    }

    func timings(_ shape: AttentionBenchShape, causal: Bool, threads: Int, reps: Int) throws -> AttentionPairTiming {
        let naive = Double(shape.seqQ * shape.seqKV) / Double(1 << 20)
        let flash = naive * flashShare * (causal ? 1 : 2)
        return AttentionPairTiming(flash: AttentionTiming(medianMs: flash, minMs: flash * 0.9),
                                   naive: AttentionTiming(medianMs: naive, minMs: naive * 0.95))
    }
}

/// Fixed `kestrel mcp` measurements: initialize in 20 ms (SDK 30 ms), round trips 200…400 µs
/// with ours and 10…12 ms with the SDK's polling transport.
struct FakeMCPProbe: MCPMeasuring {
    var skip: String? = nil
    var initializeMs: [Double] = [25, 20, 21]
    var roundTripUs: [Double] = (0..<100).map { 200 + Double($0) * 2 }
    var sdkRoundTripUs: [Double] = (0..<100).map { 10_000 + Double($0) * 20 }
    var failure: KestrelError? = nil

    func skipReason() -> String? { skip }

    func measure() throws -> MCPBenchResult {
        if let failure { throw failure }
        return MCPBenchResult(transports: [
            .init(transport: "blocking", initializeMilliseconds: initializeMs, roundTripMicroseconds: roundTripUs),
            .init(transport: "sdk", initializeMilliseconds: initializeMs.map { $0 + 10 }, roundTripMicroseconds: sdkRoundTripUs),
        ])
    }
}

/// Fixed wasmtime figures: simd128 7.5× (f32 dot), 6.8× (L2), 10× (int8 dot), 4× (softmax) over
/// the scalar module, and 2× the AVX2 time for the f32 dot.
struct FakeWasmProbe: WasmSIMDMeasuring {
    var skip: String? = nil
    var failure: KestrelError? = nil
    var int8Scalar = 700.0
    var kernels: [WasmSIMDMeasurement.Kernel] = [
        .init(label: "dot f32", n: 768, ns: ["simd128": 80, "scalar": 600, "avx2": 40]),
        .init(label: "l2sq f32", n: 768, ns: ["simd128": 100, "scalar": 680, "avx2": 45]),
        .init(label: "dot i8", n: 768, ns: ["simd128": 70, "scalar": 700, "avx2": 30]),
        .init(label: "softmax f32", n: 1024, ns: ["simd128": 1500, "scalar": 6000, "avx2": 450]),
    ]

    func skipReason() -> String? { skip }

    func measure(labels: [String], reps: Int) throws -> WasmSIMDMeasurement {
        if let failure { throw failure }
        var ks = kernels.filter { labels.contains($0.label) }
        if let i = ks.firstIndex(where: { $0.label == "dot i8" }) { ks[i].ns["scalar"] = int8Scalar }
        return WasmSIMDMeasurement(engine: "wasmtime", engineVersion: "test", machine: "x86_64", load: [0.5, 0.5, 0.5],
                                   reps: reps, tiers: ["avx2"], kernels: ks)
    }
}
