import Foundation
import Kestrel

/// `kestrel kernel-bench --prefetch-sweep off,4096,…`: one scan timed under several software-prefetch
/// distances in the same process, interleaved round by round (the order rotates each round), with a
/// STREAM triad in every round, so that a user on any CPU can see which distance wins there.
struct PrefetchSweep {
    /// One distance of the sweep.
    struct Option: Sendable, Equatable {
        /// As typed ("off", "6144", "rule").
        let label: String
        /// Bytes ahead this scan gets (0 = no software prefetch).
        let bytes: Int
        /// The plan put in force while it is timed: the rule itself, or the start-up plan with
        /// every scan distance set to `bytes` for every row length.
        let plan: PrefetchPlan
    }

    /// The result of one option over every round.
    struct Row: Sendable {
        let option: Option
        /// GB/s of rows read, one per round.
        let gigabytesPerSecond: [Double]
    }

    let spec: KernelBenchSpec
    let options: [Option]
    let rounds: Int
    let policy: TimingPolicy
    let triad: StreamTriad
    let seed: UInt64

    /// Parses "off,2048,6k,rule" (the same grammar as `KESTREL_PREFETCH`; "rule" is this CPU's
    /// rule for the scan's dtype).
    /// - Throws: `KestrelError.invalidArgument` for an empty list or a value the grammar rejects.
    static func parse(_ text: String, dtype: BenchDType, dim: Int) throws(KestrelError) -> [Option] {
        let rule = PrefetchPlan.rule
        var out: [Option] = []
        for raw in text.split(separator: ",") {
            let token = raw.trimmingCharacters(in: .whitespaces)
            if token == "rule" {
                out.append(Option(label: "rule", bytes: scanBytes(rule, dtype, dim: dim), plan: rule))
                continue
            }
            let zero = PrefetchPlan(scanBytesF32: 0, scanBytesF16: 0, scanBytesI8: 0, graphAhead: 0, graphMaxLines: 1)
            let (plan, rejected) = PrefetchPlan.applyingEnvironment(scan: token, graph: nil, to: zero)
            guard rejected.isEmpty, token != "auto", !token.isEmpty else {
                throw .invalidArgument(
                    name: "prefetch-sweep",
                    reason: "'\(token)' is not off, rule or a byte count in 64...\(PrefetchPlan.maxScanBytes) (k suffix: KiB)")
            }
            out.append(Option(label: token, bytes: plan.scanBytesF32,
                              plan: PrefetchPlan.current.withScanBytes(plan.scanBytesF32)))
        }
        guard !out.isEmpty else { throw .invalidArgument(name: "prefetch-sweep", reason: "empty list") }
        return out
    }

    /// The scan distance `plan` gives a scan of packed `dtype` rows of `dim` elements.
    static func scanBytes(_ plan: PrefetchPlan, _ dtype: BenchDType, dim: Int) -> Int {
        let element: Int
        switch dtype {
        case .f32: element = 4
        case .f16, .bf16: element = 2
        case .i8, .b1: element = 1
        }
        return plan.scanBytes(elementBytes: element, rowBytes: dtype.bytes(dim: dim))
    }

    /// Runs every round and prints the table (or JSON lines); restores the start-up plan after.
    /// - Throws: `KestrelError` when buffers cannot be allocated or a kernel fails.
    func run(json: Bool, emit: (String) -> Void) throws(KestrelError) {
        guard let table = spec.isa.kernels?.pointee else { throw .unsupported("ISA level \(spec.isa.rawValue)") }
        let vectors = try BenchVectors(dtype: spec.dtype, dim: spec.dim, count: spec.count, seed: seed)
        let out = try AlignedBuffer(byteCount: 4 * spec.count, zeroed: true)
        let kernel = try KernelCatalog.distance(
            table, op: spec.op, dtype: spec.dtype, shape: .many, vectors: vectors, out: out)
        defer { PrefetchPlan.restoreStartup() }
        let loadBefore = MachineLoad.oneMinute()
        let bytesPerVector = Double(spec.dtype.bytes(dim: spec.dim))
        var results = [[Double]](repeating: [], count: options.count)
        var triads: [Double] = []
        for round in 0..<rounds {
            triads.append(try triad.run().gigabytesPerSecond)
            for k in 0..<options.count {
                let i = (k + round) % options.count
                try options[i].plan.activate()
                let m = measure(policy, kernel.run)
                results[i].append(BenchStatistics.gigabytesPerSecond(
                    bytes: bytesPerVector, nanoseconds: m.nanosecondsPerCall / Double(spec.count)))
            }
        }
        let loadAfter = MachineLoad.oneMinute()
        let triadMedian = Self.median(triads)
        let rule = Self.scanBytes(PrefetchPlan.rule, spec.dtype, dim: spec.dim)
        let ruleIndex = options.firstIndex { $0.label == "rule" } ?? options.firstIndex { $0.bytes == rule }
        if json {
            emit(JSONLine([
                ("kind", .string("prefetch-sweep")), ("op", .string(spec.op.rawValue)),
                ("dtype", .string(spec.dtype.rawValue)), ("dim", .int(spec.dim)), ("count", .int(spec.count)),
                ("isa", .string(spec.isa.rawValue)), ("rounds", .int(rounds)), ("rule_bytes", .int(rule)),
                ("triad_gb_per_s", .double(JSONLine.rounded(triadMedian))),
                ("loadavg_before", loadBefore.map { .double($0) } ?? .null),
                ("loadavg_after", loadAfter.map { .double($0) } ?? .null),
            ]).text)
        } else {
            emit("prefetch sweep: \(spec.kernelName) dim \(spec.dim) x \(spec.count) on \(spec.isa.rawValue); "
                + "cpu: \(ISALevel.cpuName)")
            emit("\(rounds) rounds, options interleaved (order rotated each round), each timed as kernel-bench "
                + "(median of >= \(policy.repetitions) samples, >= \(policy.minSeconds) s); "
                + "load average \(loadBefore.map { Format.fixed($0, 2) } ?? "?") before, "
                + "\(loadAfter.map { Format.fixed($0, 2) } ?? "?") after")
            emit("STREAM triad (\(triad.threads) thread, one per round): median \(Format.fixed(triadMedian, 2)) GB/s "
                + "(\(Format.fixed(triads.min() ?? 0, 2))–\(Format.fixed(triads.max() ?? 0, 2)))")
            emit("this CPU's rule for this scan: \(rule == 0 ? "off" : "\(rule) bytes") (\(PrefetchPlan.rule.reason))")
            emit("")
            emit("distance".padding(toLength: 10, withPad: " ", startingAt: 0)
                + "  GB/s median (min–max)      % of triad   vs rule")
        }
        for (i, o) in options.enumerated() {
            let med = Self.median(results[i])
            let vsRule = ruleIndex.map { med / Self.median(results[$0]) }
            if json {
                emit(JSONLine([
                    ("kind", .string("prefetch-option")), ("distance", .string(o.label)), ("bytes", .int(o.bytes)),
                    ("gb_per_s_median", .double(JSONLine.rounded(med))),
                    ("gb_per_s_min", .double(JSONLine.rounded(results[i].min() ?? 0))),
                    ("gb_per_s_max", .double(JSONLine.rounded(results[i].max() ?? 0))),
                    ("fraction_of_triad", .double(JSONLine.rounded(med / triadMedian))),
                    ("vs_rule", vsRule.map { .double(JSONLine.rounded($0)) } ?? .null),
                ]).text)
            } else {
                let range = "\(Format.fixed(med, 2)) (\(Format.fixed(results[i].min() ?? 0, 2))–"
                    + "\(Format.fixed(results[i].max() ?? 0, 2)))"
                emit(o.label.padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                    + range.padding(toLength: 26, withPad: " ", startingAt: 0) + " "
                    + "\(Format.fixed(100 * med / triadMedian, 1)) %".padding(toLength: 12, withPad: " ", startingAt: 0)
                    + (vsRule.map { Format.fixed($0, 3) + "×" } ?? "-"))
            }
        }
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
