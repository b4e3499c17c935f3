import CKestrelKernels
import ArgumentParser
import Foundation
import Kestrel

/// The workloads `kestrel profile` knows.
enum ProfileWorkload: String, CaseIterable, ExpressibleByArgument {
    /// One query against many rows with a chosen one-to-many kernel (--op --dtype --dim --count --isa).
    case scan
    /// A square matrix product through the Tensor backend (--size).
    case matmul
}

/// Everything `kestrel profile` measured, as printed with `--json`.
struct ProfileResult: Codable {
    var workload: String
    var calls: Int
    var observation: ComponentObservation
    /// Utilisation of each logical CPU during the measured calls, percent.
    var coreUtilizationPercent: [Double]
    /// The roofs the operation was placed against (nil when they could not be measured).
    var peaks: MachinePeaks?
    var rooflineUnavailableReason: String?
    var findings: [BottleneckFinding]
}

/// `kestrel profile`: runs one operation many times under every probe at once — latency
/// percentiles, process usage, per-core utilisation, hardware counters (or why they are
/// unavailable), its place on the roofline — and explains the bottlenecks found.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Profile a built-in workload or a chosen kernel: latency, probes, counters, roofline, bottlenecks.",
        discussion: """
            The roofline uses this machine's roofs (1 thread: an FMA loop on kestrel_axpy_f32 at the \
            active ISA level, and a STREAM triad), measured once and cached in \
            $XDG_CACHE_HOME/kestrel/roofline.json or ~/.cache/kestrel/roofline.json (--remeasure \
            refreshes them). The matmul workload holds BLAS to one thread so it is judged against \
            the one-thread compute roof.
            """
    )

    @Option(help: "Workload: scan (a one-to-many kernel) or matmul.")
    var workload: ProfileWorkload = .scan

    @Option(help: "scan: distance (dot, l2sq, cosine, hamming, jaccard). Default l2sq.")
    var op = "l2sq"

    @Option(help: "scan: stored type (f32, f16, bf16, i8, b1). Default f32.")
    var dtype = "f32"

    @Option(help: "scan: elements per vector (bits for b1).")
    var dim = 768

    @Option(help: "scan: stored rows per query.")
    var count = 100_000

    @Option(help: "scan: tier (auto = the active one, scalar, avx2, avx512, avx512vnni, neon, neondot).")
    var isa = "auto"

    @Option(help: "matmul: square size N.")
    var size = 512

    @Option(help: "Calls measured (each one timed; stops early after 5 s).")
    var calls = 50

    @Flag(help: "Measure the roofs again instead of using the cached ones.")
    var remeasure = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard calls >= 1, calls <= 1_000_000 else { throw ValidationError("--calls must be in 1...1000000") }
        switch workload {
        case .scan:
            do { _ = try scanSpec() } catch { throw ValidationError(KernelBenchSpec.flagMessage(error)) }
        case .matmul:
            guard size >= 1, size <= 8192 else { throw ValidationError("--size must be in 1...8192") }
        }
    }

    func scanSpec() throws(KestrelError) -> KernelBenchSpec {
        try KernelBenchSpec.validate(op: op, dtype: dtype, dim: dim, count: count, isa: isa)
    }

    func run() throws {
        let result = try profile()
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            e.dateEncodingStrategy = .iso8601
            e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try e.encode(result), as: UTF8.self))
        } else {
            print(Self.text(result), terminator: "")
        }
    }

    /// Builds the workload, measures it and analyses the observation.
    func profile() throws -> ProfileResult {
        let blasThreads = BLASThreads.count
        defer { if BLASThreads.count != blasThreads { try? BLASThreads.setCount(blasThreads) } }
        let w: Workload
        switch workload {
        case .scan: w = try Workload.scan(scanSpec())
        case .matmul:
            try BLASThreads.setCount(1)
            w = try Workload.matmul(size)
        }
        var peaks: MachinePeaks?
        var unavailable: String?
        do {
            peaks = try RooflineProbe.cachedPeaks(threads: 1, flopsKernel: FMAPeak.axpyKernel(), remeasure: remeasure)
        } catch {
            unavailable = "\(error)"
        }
        var profiler = ComponentProfiler(roofline: peaks.map(RooflineModel.init))
        profiler.calls = calls
        profiler.maxNanoseconds = 5_000_000_000
        let coresBefore = try? SystemProbe.coreTimes()
        let observation = try profiler.profile(w.name, flopsPerCall: w.flopsPerCall, bytesPerCall: w.bytesPerCall, w.call)
        let coresAfter = try? SystemProbe.coreTimes()
        try w.checkFailures()
        let cores = coresBefore.flatMap { b in coresAfter.map { SystemProbe.coreUtilization(from: b, to: $0) } } ?? []
        return ProfileResult(workload: w.name, calls: Int(observation.latency?.count ?? 0), observation: observation,
                             coreUtilizationPercent: cores, peaks: peaks, rooflineUnavailableReason: unavailable,
                             findings: BottleneckDetector().analyze([observation]))
    }

    /// The human-readable profile.
    static func text(_ r: ProfileResult) -> String {
        let o = r.observation
        var s = "Profile: \(r.workload), \(r.calls) calls\n"
        s += "environment: \(BenchmarkEnvironment.cpuModelName), ISA level \(ISALevel.active.rawValue), "
            + "\(SystemProbe.activeProcessorCount) active cores\n\n"
        if let l = o.latency {
            s += "Latency per call: \(l.line)\n" + l.histogramText(width: 40) + "\n"
        }
        if let u = o.usage {
            s += "Process: CPU \(Format.fixed(u.cpuPercent, 0))% of one core (\(Format.fixed(u.cpuPercentOfMachine, 0))% of the machine) "
                + "over \(Format.fixed(u.wallSeconds, 2)) s; RSS \(mib(u.residentBytes)), peak \(mib(u.peakResidentBytes)); "
                + "page faults \(u.minorFaults) minor, \(u.majorFaults) major; context switches \(u.voluntaryContextSwitches) "
                + "voluntary, \(u.involuntaryContextSwitches) involuntary\n"
        }
        if !r.coreUtilizationPercent.isEmpty {
            s += "Per-core utilisation: " + r.coreUtilizationPercent.enumerated()
                .map { "cpu\($0.offset) \(Format.fixed($0.element, 0))%" }.joined(separator: ", ") + "\n"
        }
        if let m = o.memory {
            s += "Memory: \(Format.fixed(m.usedFraction * 100, 1))% used of \(mib(m.totalBytes)) (machine or cgroup)\n"
        }
        s += "\nHardware counters (perf_event_open):\n"
        if let c = o.counters {
            s += c.lines.map { "  \($0)\n" }.joined()
        } else {
            s += "  not read\n"
        }
        s += "\nRoofline: "
        if let p = r.peaks {
            s += "roofs \(Format.fixed(p.peakFlopsPerSecond / 1e9, 1)) GFLOP/s (\(p.flopsKernel)), "
                + "\(Format.fixed(p.memoryBandwidthBytesPerSecond / 1e9, 2)) GB/s (\(p.bandwidthKernel)), ridge "
                + "\(Format.fixed(p.ridgePoint, 2)) FLOP/B; measured \(p.measuredAt)\n"
            s += "  " + (o.roofline?.line ?? "not classified (no FLOP/byte counts)") + "\n"
        } else {
            s += "unavailable (\(r.rooflineUnavailableReason ?? "no peaks"))\n"
        }
        s += "\nFindings:\n"
        if r.findings.isEmpty { s += "  none: no threshold crossed\n" }
        for f in r.findings {
            s += "  [\(f.severity.rawValue)] \(f.summary)\n    → \(f.recommendation)\n"
        }
        return s
    }

    static func mib(_ bytes: UInt64) -> String { Format.fixed(Double(bytes) / 1_048_576, 1) + " MiB" }
}
