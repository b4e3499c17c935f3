import Foundation
import Kestrel

/// The `quantization` suite of `kestrel benchmark` (issue 16's targets): fixture bytes
/// reproduced, memory per format, error on Gaussian weights, quantize throughput, and quantized
/// GEMV against f32 `cblas_sgemv` in the same run.
struct QuantizationSuite {
    static let name = "quantization"
    /// GEMV side (rows = columns); 4096 in a full run as the issue states, 1024 with `--quick`.
    var gemvSize: Int
    /// Floats quantized per throughput sample.
    var throughputFloats: Int
    /// Timed samples per throughput figure (the fastest counts).
    var samples: Int
    /// The ggml-quants fixtures: beside the sources this binary was built from (a checkout), or nil.
    var fixtures: URL?
    /// The timed measurements (the tests inject fixed figures).
    var probe: any QuantizationTimingProbe

    init(settings: SuiteSettings, fixtures: URL? = QuantizationSuite.checkoutFixtures(),
         probe: any QuantizationTimingProbe = MeasuredQuantizationTiming()) {
        self.probe = probe
        let quick = settings.dim < SuiteSettings.full.dim || settings.queries < SuiteSettings.full.queries
        gemvSize = quick ? 1024 : 4096
        throughputFloats = quick ? 1 << 18 : 1 << 22
        samples = quick ? 3 : 7
        self.fixtures = fixtures
    }

    /// `Tests/Fixtures/ggml-quants` of the checkout this file was compiled from, when it exists.
    static func checkoutFixtures() -> URL? {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // Suites, KestrelCLI, Sources, package root
        let dir = url.appendingPathComponent("Tests/Fixtures/ggml-quants", isDirectory: true)
        return FileManager.default.fileExists(atPath: dir.appendingPathComponent("inputs.bin").path) ? dir : nil
    }

    /// Gaussian weights (Box–Muller on SplitMix64), `rows × 256`.
    static func gaussian(rows: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<(rows * 256)).map { _ in
            let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 1e-300), u2 = Double(rng.next() >> 11) * 0x1p-53
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    func register(into suite: inout BenchmarkSuite) throws {
        let fixtures = self.fixtures, n = gemvSize, floats = throughputFloats, samples = self.samples, probe = self.probe
        try suite.register(BenchmarkCase(
            name: "quantization.fixture-bytes", suite: Self.name,
            summary: "Share of llama.cpp's reference bytes reproduced by quantizing the ggml-quants fixture inputs "
                + "(Q8_0 … Q6_K, active tier) and of its dequantized floats reproduced bit for bit.",
            target: .atLeast(100, "%", metric: "bit-exact with ggml (issue 16)"),
            run: { _ in
                guard let fixtures else {
                    return BenchmarkOutcome(value: .nan, unit: "%", notes: ["fixtures not found (run from a checkout)"])
                }
                return try Self.fixtureOutcome(fixtures)
            }))
        for (format, limit) in [("int8", 0.26), ("q4_0", 0.16)] {
            try suite.register(BenchmarkCase(
                name: "quantization.\(format)-memory", suite: Self.name,
                summary: "Bytes of a 4096 × 4096 weight matrix in \(format == "int8" ? "int8 per channel (one f32 scale per row)" : "Q4_0") "
                    + "over its f32 bytes, scales included.",
                target: .below(limit + 1e-9, "×", metric: "≤ \(limit)× f32 (issue 16)"),
                run: { _ in
                    let q = try QuantizerCatalog.quantizer(named: format)
                    let bytes = try q.quantizedByteCount(shape: [4096, 4096])
                    return BenchmarkOutcome(value: Double(bytes) / Double(4096 * 4096 * 4), unit: "×", higherIsBetter: false,
                                            metrics: ["bytes": Double(bytes), "bits_per_value": try q.effectiveBitsPerValue(shape: [4096, 4096])])
                }))
        }
        for (format, minimum) in [("int8", 40.0), ("q8_0", 40.0), ("q4_0", 20.0), ("q4_k", 20.0)] {
            try suite.register(BenchmarkCase(
                name: "quantization.\(format)-snr", suite: Self.name,
                summary: "Signal-to-noise ratio of \(format) on 64 × 256 standard-normal weights (seeded), "
                    + "10·log10(Σx² / Σ(x − x̂)²).",
                target: .atLeast(minimum, "dB", metric: "error bound (project target)"),
                run: { _ in
                    let x = try Tensor(Self.gaussian(rows: 64, seed: 16), shape: [64, 256])
                    let r = try QuantizationReport(name: format, tensor: x, quantizer: try QuantizerCatalog.quantizer(named: format))
                    return BenchmarkOutcome(value: r.snrDB, unit: "dB", higherIsBetter: true,
                                            metrics: ["rmse": r.rmse, "max_abs_error": r.maxAbsError, "cosine": r.cosineSimilarity])
                }))
        }
        for format in ["int8", "q8_0"] {
            try suite.register(BenchmarkCase(
                name: "quantization.\(format)-quantize-throughput", suite: Self.name,
                summary: "GB/s of f32 input quantized to \(format) on one thread (\(floats) floats, best of \(samples)).",
                target: .atLeast(1, "GB/s", metric: "≥ 1 GB/s per core (issue 16)"),
                run: { _ in
                    let seconds = try probe.quantizeSeconds(format: format, floats: floats, samples: samples)
                    return BenchmarkOutcome(value: Double(floats * 4) / seconds / 1e9, unit: "GB/s", higherIsBetter: true)
                }))
        }
        let gemv = GEMVRun(size: n, measure: probe.gemvRows)
        for (contender, minimum) in [("q8_0 x q8_0", 2.0), ("q4_0 x q8_0", 3.0)] {
            try suite.register(BenchmarkCase(
                name: "quantization.\(contender.prefix(4))-gemv-vs-sgemv", suite: Self.name,
                summary: "\(contender) GEMV (activations quantized in the call) against f32 cblas_sgemv on the same "
                    + "\(n) × \(n) problem, 1 thread, interleaved in one run (kestrel quant-bench).",
                target: .atLeast(minimum, "×", metric: "speed-up over sgemv (issue 16)"),
                run: { _ in
                    let row = try gemv.row(contender)
                    return BenchmarkOutcome(value: row.speedupVsSgemv, unit: "×", higherIsBetter: true,
                                            metrics: ["min_speedup": row.minSpeedupVsSgemv, "gb_per_s": row.gigabytesPerSecond])
                }))
        }
    }

    /// Quantizes every fixture input row and dequantizes every fixture block stream; the share of
    /// bytes and of float bit patterns equal to the reference files.
    static func fixtureOutcome(_ dir: URL) throws -> BenchmarkOutcome {
        func read(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: dir.appendingPathComponent(name))) }
        func floats(_ b: [UInt8]) -> [Float] {
            stride(from: 0, to: b.count, by: 4).map { Float(bitPattern: UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24) }
        }
        let inputs = floats(try read("inputs.bin"))
        var same = 0, total = 0, sameFloats = 0, totalFloats = 0
        for type in [GGMLType.q8_0, .q8_1, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K] {
            let file = type.description.uppercased()  // Q8_0 … Q4_K, as the fixture files are named
            let want = try read("\(file).quant.bin")
            let got = try GGMLBlocks.quantize(inputs, rowLength: 256, as: type)
            same += zip(want, got).filter { $0 == $1 }.count
            total += max(want.count, got.count)
            let wantFloats = floats(try read("\(file).dequant.bin"))
            let back = try GGMLBlocks.dequantize(want, as: type, elementCount: inputs.count, allowNonFiniteScales: true)
            sameFloats += zip(wantFloats, back).filter { $0.bitPattern == $1.bitPattern }.count
            totalFloats += max(wantFloats.count, back.count)
        }
        let bytesShare = 100 * Double(same) / Double(max(1, total)), floatShare = 100 * Double(sameFloats) / Double(max(1, totalFloats))
        return BenchmarkOutcome(value: min(bytesShare, floatShare), unit: "%", higherIsBetter: true,
                                metrics: ["bytes_percent": bytesShare, "floats_percent": floatShare, "bytes": Double(total)])
    }

    /// Runs `kestrel quant-bench`'s measurement once, when the first GEMV case needs it.
    final class GEMVRun: @unchecked Sendable {  // the suite runs its cases in order on one thread
        let size: Int
        let measure: @Sendable (Int) throws -> [QuantBenchRow]
        private var rows: [QuantBenchRow]?
        init(size: Int, measure: @escaping @Sendable (Int) throws -> [QuantBenchRow]) {
            self.size = size
            self.measure = measure
        }

        func row(_ name: String) throws -> QuantBenchRow {
            if rows == nil { rows = try measure(size) }
            guard let r = rows?.first(where: { $0.name == name }) else {
                throw KestrelError.invalidArgument(name: "contender", reason: "quant-bench has no \(name)")
            }
            return r
        }
    }
}

/// The timed parts of the quantization suite.
protocol QuantizationTimingProbe: Sendable {
    /// Seconds of the fastest of `samples` quantizations of `floats` Gaussian floats (rows of 256) to `format`, 1 thread.
    func quantizeSeconds(format: String, floats: Int, samples: Int) throws -> Double
    /// `kestrel quant-bench`'s rows on an n × n problem.
    func gemvRows(_ n: Int) throws -> [QuantBenchRow]
}

/// The real measurements.
struct MeasuredQuantizationTiming: QuantizationTimingProbe {
    func quantizeSeconds(format: String, floats: Int, samples: Int) throws -> Double {
        let quantizer: any Quantizer = format == "q8_0" ? try GGMLQuantizer(.q8_0, threads: 1)
            : try QuantizerCatalog.quantizer(named: format)
        let x = try Tensor(QuantizationSuite.gaussian(rows: floats / 256, seed: 17), shape: [floats / 256, 256])
        var best = Double.infinity
        for _ in 0..<max(1, samples) {
            let t0 = MonotonicClock.now()
            _ = try quantizer.quantize(x)
            best = min(best, Double(MonotonicClock.elapsed(since: t0)) * 1e-9)
        }
        return best
    }

    func gemvRows(_ n: Int) throws -> [QuantBenchRow] { try QuantBench(rows: n, columns: n, reps: 15).run() }
}
