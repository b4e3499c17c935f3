import CKestrelKernels
import ArgumentParser
import Foundation
import Kestrel

/// What `kestrel analyze` explains.
enum AnalyzeTarget: String, CaseIterable, ExpressibleByArgument {
    /// Per-query latency distribution of a scan and the latency/tail rules.
    case latency
    /// Memory of the machine and process, storage per type, buffer reuse.
    case memory
    /// The machine's roofs and where the built-in kernels sit under them.
    case roofline
    /// Cost against size (power-law fit) and against threads (Amdahl fit).
    case scaling
}

/// `kestrel analyze --target latency|memory|roofline|scaling`: measures built-in workloads
/// and explains what limits them, with recommendations from the bottleneck rules.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Explain latency, memory, roofline position or scaling of the built-in workloads.",
        discussion: """
            latency: one f32 query against 10000 x 768 rows, timed per call (HdrHistogram percentiles). \
            memory: machine/process memory, bytes per stored type measured from Tensor conversions, \
            BufferPool reuse. roofline: this machine's 1-thread roofs (cached; --remeasure) and the f32, \
            f16 and int8 scans and a 512³ matmul (BLAS on 1 thread) placed under them. scaling: the f32 \
            l2sq scan at growing row counts fitted to a·n^b + c, and the 100k-row scan split over 1…T \
            threads with parallelFor fitted to Amdahl's law.
            """
    )

    @Option(help: "What to analyze: latency, memory, roofline, scaling.")
    var target: AnalyzeTarget

    @Option(help: "scaling: most threads of the Amdahl series (default: the active processors, at least 2).")
    var threads: Int?

    @Flag(help: "Smaller sizes and fewer samples.")
    var quick = false

    @Flag(help: "roofline: measure the roofs again instead of using the cached ones.")
    var remeasure = false

    @Option(help: "memory: report quantizing --in to this format (\(QuantizerCatalog.names.joined(separator: ", "))).")
    var quantization: String?

    @Option(name: .customLong("in"), help: "memory with --quantization: a .npy tensor or a GGUF file (every tensor, or --tensor).")
    var input: String?

    @Option(help: "memory with a GGUF --in: only this tensor.")
    var tensor: String?

    @Option(help: "memory with --quantization, int8/int4: scale groups of 32, 64 or 128 (default: one scale per row).")
    var group: Int?

    @Option(help: "memory with --quantization: also recommend which tensors stay at f16/f32 so that every tensor's SNR is at least this many dB.")
    var minSnr: Double?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be in 1...256") }
        if threads != nil && target != .scaling { throw ValidationError("--threads applies to --target scaling") }
        if remeasure && target != .roofline { throw ValidationError("--remeasure applies to --target roofline") }
        let quantizationFlags = quantization != nil || input != nil || tensor != nil || group != nil || minSnr != nil
        if quantizationFlags {
            guard target == .memory else { throw ValidationError("--quantization, --in, --tensor, --group and --min-snr apply to --target memory") }
            guard let quantization, input != nil else { throw ValidationError("--quantization and --in go together") }
            guard QuantizerCatalog.names.contains(quantization.lowercased()) else {
                throw ValidationError("--quantization must be one of \(QuantizerCatalog.names.joined(separator: ", "))")
            }
            if group != nil && !["int8", "int4"].contains(quantization.lowercased()) {
                throw ValidationError("--group applies to int8 and int4 only")
            }
            if let minSnr, !minSnr.isFinite { throw ValidationError("--min-snr must be a finite number of dB") }
        }
    }

    func run() throws {
        let settings = quick ? SuiteSettings.quick : SuiteSettings.full
        let text: String
        switch target {
        case .latency: text = try Self.latency(settings)
        case .memory:
            if let quantization, let input {
                text = try Self.quantizationMemory(input: input, tensor: tensor, format: quantization, group: group, minSNR: minSnr)
            } else {
                text = try Self.memory(settings)
            }
        case .roofline: text = try Self.roofline(settings, remeasure: remeasure)
        case .scaling: text = try Self.scaling(settings, maxThreads: threads ?? max(2, SystemProbe.activeProcessorCount))
        }
        print(text, terminator: "")
    }

    // MARK: - latency

    static func latency(_ s: SuiteSettings) throws -> String {
        let spec = try KernelBenchSpec.validate(op: "l2sq", dtype: "f32", dim: s.dim, count: s.queryRows, isa: "auto")
        let w = try Workload.scan(spec)
        var profiler = ComponentProfiler()
        profiler.calls = s.queries * 2
        profiler.maxNanoseconds = 10_000_000_000
        let o = try profiler.profile(w.name, w.call)
        try w.checkFailures()
        var out = "Latency of \(w.name), \(o.latency?.count ?? 0) calls\n\n"
        if let l = o.latency {
            out += l.line + "\n" + "tail ratio p99/p50: \(Format.fixed(l.tailRatio, 2))\n\n" + l.histogramText(width: 40)
        }
        if let c = o.counters { out += "\nCounters: " + c.lines.joined(separator: "; ") + "\n" }
        return out + findingsText(BottleneckDetector().analyze([o]))
    }

    // MARK: - memory

    static func memory(_ s: SuiteSettings) throws -> String {
        let probe = SystemMemoryProbe(settings: s)
        let m = SystemProbe.memoryStatus()
        let sample = try SystemProbe.processSample()
        var out = "Memory\n\nmachine (or cgroup): \(mib(m.totalBytes)) total, \(mib(m.availableBytes)) available "
            + "(\(Format.fixed(m.usedFraction * 100, 1))% used)\n"
        out += "this process: RSS \(mib(sample.residentBytes)), peak \(mib(sample.peakResidentBytes))\n\n"
        let f = try probe.storageFootprint()
        let perVector = Double(f.f32Bytes) / Double(f.elements) * Double(s.dim)
        out += "Storage of a \(s.storageRows) x \(s.dim) tensor (bytes of Tensor.converted buffers):\n"
        for (name, bytes, error) in [("f32", f.f32Bytes, 0.0), ("f16", f.f16Bytes, f.f16MaxAbsError),
                                     ("int8", f.int8Bytes, f.int8MaxAbsError)] {
            let oneMillion = Double(bytes) / Double(f.elements) * Double(s.dim) * 1e6
            out += "  \(Format.left(name, 5)) \(Format.right(String(bytes), 12)) B  "
                + "\(Format.right(Format.fixed(StorageFootprint.reduction(bytes, f.f32Bytes), 0), 3))% smaller than f32  "
                + "1M vectors: \(Format.fixed(oneMillion / 1_073_741_824, 2)) GiB  max abs error \(Format.fixed(error, 5))\n"
        }
        out += "  (f32: \(Int(perVector)) B per \(s.dim)-element vector)\n\n"
        let pool = try probe.bufferPoolWorkload()
        out += "BufferPool, \(pool.requests) requests x 3 scratch tensors: hit rate \(Format.fixed(pool.hitRatePercent, 1))% "
            + "(\(pool.statistics.hits) hits, \(pool.statistics.misses) misses, \(pool.statistics.bytesHeld) B held); "
            + "\(Format.nanoseconds(pool.pooledNanosecondsPerRequest)) ns per request pooled vs "
            + "\(Format.nanoseconds(pool.freshNanosecondsPerRequest)) ns fresh\n"
        let after = try SystemProbe.processSample()
        let o = ComponentObservation(component: "process", usage: SystemProbe.usage(from: sample, to: after),
                                     memory: SystemProbe.memoryStatus())
        return out + findingsText(BottleneckDetector().analyze([o]))
    }

    /// The memory a quantization saves on real tensors, with the error it costs, most sensitive
    /// tensor first; optionally the mixed-precision plan that keeps every tensor above an SNR.
    static func quantizationMemory(input: String, tensor: String?, format: String, group: Int?, minSNR: Double?) throws -> String {
        let tensors = try FloatSource.read(input, tensor: tensor, all: true)
        let quantizer = try QuantizerCatalog.quantizer(named: format, group: group)
        // Tensors the format cannot hold (a row length not a multiple of its block) are listed, not fatal.
        var usable: [NamedTensor] = []
        var skipped: [String] = []
        for t in tensors {
            do {
                _ = try quantizer.quantizedByteCount(shape: t.tensor.shape.dims)
                if let bad = try t.tensor.toArray(of: Float.self).firstIndex(where: { !$0.isFinite }) {
                    throw KestrelError.nonFiniteValue(index: bad)
                }
                usable.append(t)
            } catch {
                skipped.append("\(t.name) \(ShapeText.format(t.tensor.shape.dims)): \(error)")
            }
        }
        let model = try ModelQuantizationReport(usable, quantizer: quantizer)
        var out = "Memory of \(input) quantized to \(format)\(group.map { " (groups of \($0))" } ?? "") "
            + "— \(model.layers.count) tensor\(model.layers.count == 1 ? "" : "s"), most sensitive (lowest SNR) first\n\n"
        out += QuantizationTable.render(model.layers)
        out += "\ntotal: \(model.bytesBefore) B as f32 → \(model.bytesAfter) B (\(Format.fixed(Double(model.bytesAfter) / Double(max(1, model.bytesBefore)), 4))×, "
            + "\(Format.fixed(model.reductionPercent, 1))% smaller)\n"
        for s in skipped { out += "skipped: \(s)\n" }
        if let minSNR {
            let candidates: [any Quantizer] = [quantizer, try QuantizerCatalog.quantizer(named: "int8"), try QuantizerCatalog.quantizer(named: "f16")]
            let plan = try MixedPrecisionPlanner(candidates: candidates).plan(usable, constraint: .minimumSNR(dB: minSNR))
            out += "\nMixed precision for SNR ≥ \(Format.fixed(minSNR, 1)) dB on every tensor: \(plan.totalBytes) B "
                + "(\(Format.fixed(100 * (1 - Double(plan.totalBytes) / Double(max(1, plan.bytesBefore))), 1))% smaller than f32)\n"
            let names = ["\(format)", "int8", "f16"]
            for c in plan.choices {
                let choice = c.candidate.map { names[$0] } ?? "f32 (kept)"
                out += "  \(Format.left(c.name, 40)) \(Format.left(choice, 12)) SNR \(Format.fixed(c.report.snrDB, 2)) dB\n"
            }
        }
        return out
    }

    // MARK: - roofline

    static func roofline(_ s: SuiteSettings, remeasure: Bool) throws -> String {
        // The workloads are single-threaded measurements: the matmul too.
        try BLASThreads.singleThreaded { try rooflineSingleThreaded(s, remeasure: remeasure) }
    }

    private static func rooflineSingleThreaded(_ s: SuiteSettings, remeasure: Bool) throws -> String {
        let peaks = try RooflineProbe.cachedPeaks(threads: 1, flopsKernel: FMAPeak.axpyKernel(), remeasure: remeasure)
        let model = RooflineModel(peaks: peaks)
        var out = "Roofline (1 thread)\n\ncompute roof: \(Format.fixed(peaks.peakFlopsPerSecond / 1e9, 1)) GFLOP/s "
            + "(\(peaks.flopsKernel))\nbandwidth roof: \(Format.fixed(peaks.memoryBandwidthBytesPerSecond / 1e9, 2)) GB/s "
            + "(\(peaks.bandwidthKernel))\nridge point: \(Format.fixed(peaks.ridgePoint, 2)) FLOP/B; measured \(peaks.measuredAt)\n\n"
        var workloads: [Workload] = []
        for dtype in ["f32", "f16", "i8"] {
            workloads.append(try Workload.scan(try KernelBenchSpec.validate(
                op: "l2sq", dtype: dtype, dim: s.dim, count: s.scanRows, isa: "auto")))
        }
        workloads.append(try Workload.matmul(s.matmulSize))
        var observations: [ComponentObservation] = []
        out += Format.left("workload", 48) + Format.left("FLOP/B", 9) + Format.left("bound", 9)
            + Format.left("GFLOP/s", 10) + Format.left("GB/s", 9) + "% of roof\n"
        for w in workloads {
            let m = measure(s.policy) { w.call(); return 0 }
            try w.checkFailures()
            let p = try model.classify(flops: w.flopsPerCall, bytes: w.bytesPerCall, seconds: m.nanosecondsPerCall / 1e9)
            observations.append(ComponentObservation(component: w.name, roofline: p))
            out += Format.left(w.name, 48) + Format.left(Format.fixed(p.arithmeticIntensity, 3), 9)
                + Format.left(p.bound.rawValue, 9) + Format.left(Format.fixed(p.achievedFlopsPerSecond / 1e9, 2), 10)
                + Format.left(Format.fixed(p.achievedBytesPerSecond / 1e9, 2), 9) + Format.fixed(p.percentOfRoof, 0) + "%\n"
        }
        out += "(int8 kernels: integer operations counted as FLOPs)\n"
        if observations.contains(where: { ($0.roofline?.percentOfRoof ?? 0) > 100 }) {
            out += "Above 100%: the compute roof is a streaming FMA loop (axpy: 2 loads and 1 store per FMA), so "
                + "register-blocked code (BLAS) and int8 dot-product instructions (VNNI: 4 multiply-adds per lane) "
                + "exceed it; the bandwidth roof is the one that binds the scans.\n"
        }
        return out + findingsText(BottleneckDetector().analyze(observations))
    }

    // MARK: - scaling

    static func scaling(_ s: SuiteSettings, maxThreads: Int) throws -> String {
        let dim = s.dim
        // Rows from 1/8 to 2× the scan of the benchmark (12.5k … 200k at full size): mostly
        // beyond the last-level cache, where one regime (memory bandwidth) holds and a single
        // power law describes it; smaller sizes would mix cache-resident and streaming costs.
        let sizes = (0..<5).map { (s.scanRows / 8) << $0 }
        let maxRows = max(sizes.last ?? 0, s.scanRows)
        let v = try BenchVectors(dtype: .f32, dim: dim, count: maxRows, seed: s.seed)
        let out = try AlignedBuffer(byteCount: 4 * maxRows, zeroed: true)
        guard let kernel = ISALevel.active.kernels?.pointee.l2sq_f32_many else {
            throw KestrelError.unsupported("l2sq_f32_many at \(ISALevel.active.rawValue)")
        }
        let scan = ScanShard(kernel: kernel, query: UnsafePointer(v.query.typed(Float.self)),
                             base: UnsafePointer(v.base.typed(Float.self)), out: out.typed(Float.self), dim: dim)
        var text = "Scaling of l2sq_f32_many (\(ISALevel.active.rawValue)), dim \(dim)\n\nCost against rows scanned:\n"
        let sizeReport = try withExtendedLifetime((v, out)) {
            try ScalingAnalysis.sizes(sizes) { n in scan.run(0..<n) }
        }
        for (n, t) in zip(sizeReport.sizes, sizeReport.medianNanoseconds) {
            text += "  \(Format.right(String(n), 7)) rows  \(Format.right(Format.fixed(t / 1e6, 3), 9)) ms  "
                + "\(Format.right(Format.nanoseconds(t / Double(n)), 6)) ns/row  "
                + "fit \(Format.fixed(sizeReport.predict(n) / 1e6, 3)) ms\n"
        }
        let fit = sizeReport.fit
        text += "fit: cost = \(String(format: "%.4g", fit.a))·n^\(Format.fixed(fit.b, 3)) + \(String(format: "%.4g", fit.c)) ns "
            + "(\(fit.complexity); R² \(Format.fixed(fit.rSquared, 4)), rms relative error \(Format.fixed(fit.rmsRelativeError * 100, 1))%)\n"
        for n in [1_000_000, 10_000_000] {
            text += "prediction at \(n) rows: \(Format.fixed(sizeReport.predict(n) / 1e6, 2)) ms\n"
        }

        let counts = Array(1...max(2, maxThreads))
        let rows = s.scanRows
        text += "\nCost against threads (\(rows) rows split into equal parts with parallelFor):\n"
        let threadReport = try withExtendedLifetime((v, out)) {
            try ScalingAnalysis.threads(counts) { t in
                try? parallelFor(0..<rows, threads: t, grain: (rows + t - 1) / t) { r in scan.run(r) }
            }
        }
        for (t, ns) in zip(threadReport.threads, threadReport.medianNanoseconds) {
            text += "  \(Format.right(String(t), 3)) thread(s)  \(Format.fixed(ns / 1e6, 3)) ms  "
                + "speedup \(Format.fixed(threadReport.medianNanoseconds[0] / ns, 2))x\n"
        }
        let a = threadReport.fit
        text += "Amdahl fit: serial fraction \(Format.fixed(a.serialFraction * 100, 1))% "
            + "(rms relative error \(Format.fixed(a.rmsRelativeError * 100, 1))%); predicted speedup "
            + [4, 8, 16, 64].map { "\($0) threads \(Format.fixed(a.speedup(threads: $0), 2))x" }.joined(separator: ", ")
            + "; limit " + (a.maximumSpeedup.isFinite ? "\(Format.fixed(a.maximumSpeedup, 1))x" : "none") + "\n"
        if maxThreads > SystemProbe.activeProcessorCount {
            text += "note: more threads than the \(SystemProbe.activeProcessorCount) active processors: the extra ones only oversubscribe\n"
        }
        text += "note: a memory-bound scan scales with memory bandwidth, not cores: a large serial fraction here means the "
            + "bus is saturated, not that the code is serial\n"
        return text
    }

    // MARK: - helpers

    static func findingsText(_ findings: [BottleneckFinding]) -> String {
        var s = "\nFindings:\n"
        if findings.isEmpty { s += "  none: no threshold crossed\n" }
        for f in findings { s += "  [\(f.severity.rawValue)] \(f.component): \(f.summary)\n    → \(f.recommendation)\n" }
        return s
    }

    static func mib(_ bytes: UInt64) -> String { Format.fixed(Double(bytes) / 1_048_576, 1) + " MiB" }
}

/// A slice of the scaling scan: rows `range` of one f32 l2sq scan, callable from any thread
/// (each call writes only its own rows of `out`).
struct ScanShard: @unchecked Sendable {
    let kernel: kestrel_many_f32_fn
    let query: UnsafePointer<Float>
    let base: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let dim: Int

    func run(_ rows: Range<Int>) {
        _ = kernel(query, base + rows.lowerBound * dim, dim, rows.count, dim, out + rows.lowerBound)
    }
}
