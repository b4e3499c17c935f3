import Benchmark
import KestrelBenchmarkSupport
import KestrelQuantization

// KestrelQuantization re-exports modules that also define `blackHole`; the harness's is used here.
import func Benchmark.blackHole

/// One 1024 × 1024 f32 tensor (1 << 20 floats, 4 MiB) of seeded values over many binades.
final class IntegerSchemeInput: @unchecked Sendable {
    static let rows = 1024, columns = 1024
    let tensor: Tensor

    init() {
        var rng = SplitMix64(seed: 16)
        let n = Self.rows * Self.columns
        let values = (0..<n).map { _ in rng.nextSignedUnit() * Float(1 << Int(rng.next() % 8)) }
        tensor = try! Tensor(values, shape: [Self.rows, Self.columns])
    }

    static let shared = IntegerSchemeInput()
}

/// Registers the integer-scheme benchmarks (and the analysis ones below): quantizing 1 << 20 floats (one call per iteration;
/// throughput × 4 MiB = bytes of f32 input per second) with int8 and int4 at several
/// granularities, one dequantization, and the tensor core's plain f32 → int8 conversion
/// (`Tensor.converted(to: .int8)`, round and saturate, no scale) as the baseline of the same run.
/// Each quantization allocates its payload and a few small arrays, a fixed count that
/// `Thresholds/` pins.
func registerIntegerSchemeBenchmarks() {
    let n = IntegerSchemeInput.rows * IntegerSchemeInput.columns
    let cases: [(String, IntegerScheme)] = [
        ("int8.sym.perTensor", IntegerScheme(bits: 8, symmetric: true, granularity: .perTensor)),
        ("int8.sym.perChannel0", IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0))),
        ("int8.asym.perChannel1", IntegerScheme(bits: 8, symmetric: false, granularity: .perChannel(axis: 1))),
        ("int8.asym.perGroup128", IntegerScheme(bits: 8, symmetric: false, granularity: .perGroup(size: 128))),
        ("int4.sym.perGroup32", IntegerScheme(bits: 4, symmetric: true, granularity: .perGroup(size: 32))),
        ("int4.asym.perChannel0", IntegerScheme(bits: 4, symmetric: false, granularity: .perChannel(axis: 0))),
    ]
    for (name, scheme) in cases {
        let q = try! IntegerQuantizer(scheme: scheme)
        Benchmark("quantize.\(name).\(n)") { benchmark, input in
            for _ in benchmark.scaledIterations { blackHole(try q.quantize(input.tensor)) }
        } setup: { IntegerSchemeInput.shared }
    }
    let q8 = try! IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0)))
    Benchmark("dequantize.int8.sym.perChannel0.\(n)") { benchmark, payload in
        for _ in benchmark.scaledIterations { blackHole(try q8.dequantize(payload)) }
    } setup: { try q8.quantize(IntegerSchemeInput.shared.tensor) }
    Benchmark("baseline.convertedToInt8.\(n)") { benchmark, input in
        for _ in benchmark.scaledIterations { blackHole(try input.tensor.converted(to: .int8)) }
    } setup: { IntegerSchemeInput.shared }
    registerAnalysisBenchmarks()
}

/// Inputs of the analysis benchmarks: a 256 × 256 calibration sample and an 8-layer model of
/// 64 × 256 tensors with different scales (seeded).
final class AnalysisInput: @unchecked Sendable {
    let sample: Tensor
    let layers: [NamedTensor]

    init() {
        var rng = SplitMix64(seed: 61)
        sample = try! Tensor((0..<65_536).map { _ in rng.nextSignedUnit() }, shape: [256, 256])
        layers = (0..<8).map { l in
            let scale = Float(1 << (l % 4))
            return NamedTensor("layer\(l)", try! Tensor((0..<16_384).map { _ in rng.nextSignedUnit() * scale }, shape: [64, 256]))
        }
    }

    static let shared = AnalysisInput()
}

/// Registers the analysis benchmarks: a full ``QuantizationReport`` (quantize, dequantize and the
/// Double statistics) of the 1 << 20-float tensor, an MSE clip search over 256 channels of 256
/// values (71 ratios), and a memory-budget plan over 8 layers × 4 candidates (every candidate
/// evaluated on every layer, then the exact frontier search).
func registerAnalysisBenchmarks() {
    let n = IntegerSchemeInput.rows * IntegerSchemeInput.columns
    let int8 = IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0))
    let q8 = try! IntegerQuantizer(scheme: int8)
    Benchmark("report.int8.sym.perChannel0.\(n)") { benchmark, input in
        for _ in benchmark.scaledIterations { blackHole(try QuantizationReport(tensor: input.tensor, quantizer: q8)) }
    } setup: { IntegerSchemeInput.shared }
    let calibrator = try! Calibrator(scheme: int8, method: .mseSearch)
    Benchmark("calibrate.mseSearch71.int8.perChannel0.65536") { benchmark, input in
        for _ in benchmark.scaledIterations { blackHole(try calibrator.calibrate([input.sample])) }
    } setup: { AnalysisInput.shared }
    let planner = MixedPrecisionPlanner(candidates: [
        q8,
        try! IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: true, granularity: .perGroup(size: 32))),
        try! IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: false, granularity: .perChannel(axis: 0))),
        try! HalfPrecisionQuantizer(.bf16),
    ])
    Benchmark("plan.memoryBudget.8x16384.c4") { benchmark, input in
        let budget = 8 * 16_384  // one byte per value on average
        for _ in benchmark.scaledIterations { blackHole(try planner.plan(input.layers, constraint: .memoryBudget(bytes: budget))) }
    } setup: { AnalysisInput.shared }
}
