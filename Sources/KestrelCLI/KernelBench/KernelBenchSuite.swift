import CKestrelKernels
import Kestrel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One measured kernel of the `--all` table.
struct SuiteRow: Sendable {
    /// "pair", "many", "convert" or "math".
    let group: String
    /// Table entry, e.g. `dot_f32`, `l2sq_f32_many`, `f32_to_f16`.
    let kernel: String
    /// Elements per vector (bits for b1; elements per call for convert/math).
    let dim: Int
    /// Rows per call (1 except for one-to-many scans).
    let count: Int
    let isa: ISALevel
    /// Median nanoseconds per call.
    let nanosecondsPerCall: Double
    /// Bytes read per call (distances: both vectors, or every stored row; convert/math: read + written).
    let bytesPerCall: Int
    /// Median scalar nanoseconds per call of the same kernel.
    let scalarNanosecondsPerCall: Double
    /// The lower tier whose function this tier's table reuses (then not measured again).
    let sameAs: ISALevel?

    var nanosecondsPerVector: Double { nanosecondsPerCall / Double(count) }
    var gigabytesPerSecond: Double {
        BenchStatistics.gigabytesPerSecond(bytes: Double(bytesPerCall), nanoseconds: nanosecondsPerCall)
    }
    var speedup: Double { BenchStatistics.speedup(baseline: scalarNanosecondsPerCall, candidate: nanosecondsPerCall) }

    /// The row's JSON line (`"kind":"kernel"`).
    var jsonLine: JSONLine {
        JSONLine([
            ("kind", .string("kernel")), ("group", .string(group)), ("kernel", .string(kernel)),
            ("dim", .int(dim)), ("count", .int(count)), ("isa", .string(isa.rawValue)),
            ("ns_per_call", .double(JSONLine.rounded(nanosecondsPerCall))),
            ("ns_per_vector", .double(JSONLine.rounded(nanosecondsPerVector))),
            ("gb_per_s", .double(JSONLine.rounded(gigabytesPerSecond))),
            ("speedup_vs_scalar", .double(JSONLine.rounded(speedup, significantDigits: 4))),
            ("same_as", sameAs.map { .string($0.rawValue) } ?? .null),
        ])
    }
}

/// A PASS/FAIL/SKIP check of a performance target of the foundation issue.
struct TargetCheck: Sendable, Equatable {
    enum Status: String, Sendable { case pass = "PASS", fail = "FAIL", skip = "SKIP" }

    let name: String
    /// The measured ratio (nil when skipped).
    let measured: Double?
    /// The ratio required to pass (measured >= threshold).
    let threshold: Double
    let detail: String

    var status: Status {
        guard let measured else { return .skip }
        return measured >= threshold ? .pass : .fail
    }

    /// Evaluates `measured >= threshold`.
    static func ratio(_ name: String, measured: Double?, threshold: Double, detail: String) -> TargetCheck {
        TargetCheck(name: name, measured: measured, threshold: threshold, detail: detail)
    }

    var jsonLine: JSONLine {
        JSONLine([
            ("kind", .string("target")), ("name", .string(name)),
            ("measured", measured.map { .double(JSONLine.rounded($0, significantDigits: 4)) } ?? .null),
            ("threshold", .double(threshold)), ("status", .string(status.rawValue)), ("detail", .string(detail)),
        ])
    }

    var text: String {
        let value = measured.map { Format.fixed($0, 2) } ?? "-"
        return "\(status.rawValue)  \(Format.left(name, 64)) measured \(Format.right(value, 6))  (need >= \(Format.fixed(threshold, 2)))  \(detail)"
    }
}

/// `kestrel kernel-bench --all`: every kernel at every tier this CPU runs, a STREAM triad, and
/// the target checks. Runs single-threaded except the triad when `stream.threads > 1`.
struct KernelBenchSuite {
    /// Vector length of the one-pair distances.
    var pairDim = 768
    /// Vector length and row count of the one-to-many scans (the 100k x 768 scan).
    var scanDim = 768
    var scanCount = 100_000
    /// Elements per call of the conversion and math kernels.
    var miscCount = 4096
    /// Timing of every kernel.
    var policy = TimingPolicy()
    var stream = StreamTriad()
    var seed: UInt64 = 42
    /// Tiers measured, lowest first (scalar must be first: it is the baseline).
    var levels: [ISALevel] = ISALevel.supported
    /// One JSON object per line instead of tables.
    var json = false
    /// Where lines go (stdout by default, flushed per line so a piped run shows progress; a
    /// collector in tests).
    var emit: (String) -> Void = {
        print($0)
        fflush(nil)
    }

    /// Measures everything and returns the target checks (already printed).
    /// - Throws: `KestrelError` when a buffer cannot be allocated or a kernel reports an error.
    func run() throws(KestrelError) -> [TargetCheck] {
        guard levels.first == .scalar else { throw .invalidArgument(name: "levels", reason: "must start with scalar") }
        let start = MonotonicClock.nanoseconds()
        let load = MachineLoad.oneMinute()
        if json {
            emit(JSONLine([
                ("kind", .string("machine")), ("cpu", .string(ISALevel.cpuName)),
                ("tiers", .string(levels.map(\.rawValue).joined(separator: " "))),
                ("active_cpus", .int(MachineLoad.activeProcessors)),
                ("prefetch", .string(PrefetchPlan.current.summary)),
                ("loadavg_1m", load.map { .double($0) } ?? .null),
            ]).text)
        } else {
            emit("kestrel kernel-bench --all")
            emit("cpu: \(ISALevel.cpuName) (\(MachineLoad.activeProcessors) active); "
                + "tiers: \(levels.map(\.rawValue).joined(separator: " "))"
                + (load.map { "; load average before the run: \(Format.fixed($0, 2))" } ?? ""))
            emit("prefetch: \(PrefetchPlan.current.summary)")
            emit("timing: median of >= \(policy.repetitions) samples, >= \(policy.minSeconds) s per kernel; "
                + "single thread; speedup = scalar time / tier time")
            emit("")
        }

        let triad = try stream.run()
        if json {
            emit(JSONLine([
                ("kind", .string("stream")), ("threads", .int(stream.threads)),
                ("array_mib", .int(stream.arrayBytes >> 20)), ("passes", .int(stream.passes)),
                ("gb_per_s", .double(JSONLine.rounded(triad.gigabytesPerSecond))),
            ]).text)
        } else {
            emit("STREAM triad a[i] = b[i] + s*c[i], 3 x \(stream.arrayBytes >> 20) MiB f64, \(stream.threads) thread(s), "
                + "best of \(stream.passes): \(Format.fixed(triad.gigabytesPerSecond, 2)) GB/s")
            emit("")
        }

        var rows: [String: SuiteRow] = [:]  // "kernel@isa"
        func record(_ r: SuiteRow) { rows["\(r.kernel)@\(r.isa.rawValue)"] = r }

        // One pair, then one-to-many; one dtype's data at a time (the f32 scan alone is 300 MB).
        header("One pair, dim \(pairDim): ns per call (speedup over scalar)", cell: 18)
        for dtype in BenchDType.allCases {
            let v = try BenchVectors(dtype: dtype, dim: pairDim, count: 1, seed: seed)
            let out = try AlignedBuffer(byteCount: 4, zeroed: true)
            for op in dtype.ops {
                let name = "\(op.rawValue)_\(dtype.rawValue)"
                let measured = try measureLevels(group: "pair", kernel: name, dim: pairDim, count: 1,
                                                 bytes: 2 * dtype.bytes(dim: pairDim)) { t throws(KestrelError) in
                    try KernelCatalog.distance(t, op: op, dtype: dtype, shape: .pair, vectors: v, out: out)
                }
                measured.forEach(record)
                line(name, measured, cell: 18, many: false)
            }
        }

        if !json { emit("") }
        header("One query vs \(scanCount) rows, dim \(scanDim) (b1: bits): ns per row, GB/s of rows read (speedup)",
               cell: 26)
        for dtype in BenchDType.allCases {
            let v = try BenchVectors(dtype: dtype, dim: scanDim, count: scanCount, seed: seed)
            let out = try AlignedBuffer(byteCount: 4 * scanCount, zeroed: true)
            for op in dtype.ops {
                let name = "\(op.rawValue)_\(dtype.rawValue)_many"
                let measured = try measureLevels(group: "many", kernel: name, dim: scanDim, count: scanCount,
                                                 bytes: dtype.bytes(dim: scanDim) * scanCount) { t throws(KestrelError) in
                    try KernelCatalog.distance(t, op: op, dtype: dtype, shape: .many, vectors: v, out: out)
                }
                measured.forEach(record)
                line(name, measured, cell: 26, many: true)
            }
        }

        if !json { emit("") }
        header("Conversions and math, n = \(miscCount): ns per call (speedup over scalar)", cell: 18)
        let w = try MiscWorkspace(n: miscCount, seed: seed)
        for k in MiscKernel.allCases {
            let measured = try measureLevels(group: k.group, kernel: k.rawValue, dim: miscCount, count: 1,
                                             bytes: k.bytesMoved(n: miscCount)) { t throws(KestrelError) in
                try KernelCatalog.misc(t, k, w)
            }
            measured.forEach(record)
            line(k.rawValue, measured, cell: 18, many: false)
        }
        if !json && rows.values.contains(where: { $0.sameAs != nil }) {
            emit("* this tier's table entry is the same function as a lower tier's (inherited; not measured again)")
        }

        let checks = targets(rows: rows, triad: triad)
        if !json {
            emit("")
            emit("Targets")
        }
        for c in checks { emit(json ? c.jsonLine.text : c.text) }
        if !json {
            let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
            emit("")
            emit("total \(Format.fixed(seconds, 1)) s")
        }
        return checks
    }

    /// The targets from the measured rows.
    func targets(rows: [String: SuiteRow], triad: StreamTriad.Result) -> [TargetCheck] {
        var checks: [TargetCheck] = []
        for (level, need) in [(ISALevel.avx2, 4.0), (.avx512, 8.0)] {
            let r = rows["dot_f32@\(level.rawValue)"]
            checks.append(.ratio(
                "f32 dot, dim \(pairDim), one pair: \(level.rawValue) vs scalar", measured: r?.speedup, threshold: need,
                detail: r.map { "\(Format.nanoseconds($0.nanosecondsPerCall)) ns vs \(Format.nanoseconds($0.scalarNanosecondsPerCall)) ns" }
                    ?? "\(level.rawValue) not supported here"))
        }
        let best = levels.last ?? .scalar
        let f32 = rows["l2sq_f32_many@\(best.rawValue)"]
        checks.append(.ratio(
            "f32 l2sq scan \(scanCount) x \(scanDim) (\(best.rawValue)): GB/s / STREAM triad",
            measured: f32.map { $0.gigabytesPerSecond / triad.gigabytesPerSecond }, threshold: 0.8,
            detail: f32.map { "\(Format.fixed($0.gigabytesPerSecond, 2)) GB/s vs \(Format.fixed(triad.gigabytesPerSecond, 2)) GB/s" } ?? "-"))
        let i8 = rows["l2sq_i8_many@\(best.rawValue)"]
        var ratio: Double?
        if let f32, let i8 { ratio = BenchStatistics.speedup(baseline: f32.nanosecondsPerCall, candidate: i8.nanosecondsPerCall) }
        checks.append(.ratio(
            "i8 vs f32 l2sq scan \(scanCount) x \(scanDim) (\(best.rawValue)): vectors/s", measured: ratio,
            threshold: 2.5,
            detail: (f32 != nil && i8 != nil)
                ? "\(Format.nanoseconds(i8!.nanosecondsPerVector)) vs \(Format.nanoseconds(f32!.nanosecondsPerVector)) ns/row" : "-"))
        return checks
    }

    // MARK: - measuring and printing

    /// Times one kernel at every tier; a tier whose table entry is the same function as an
    /// already measured tier's reuses that measurement.
    private func measureLevels(
        group: String, kernel: String, dim: Int, count: Int, bytes: Int,
        bind: (kestrel_kernel_table) throws(KestrelError) -> BoundKernel
    ) throws(KestrelError) -> [SuiteRow] {
        var seen: [UnsafeRawPointer: (ISALevel, Double)] = [:]
        var scalarNs = Double.nan
        var out: [SuiteRow] = []
        for level in levels {
            guard let table = level.kernels?.pointee else { throw .unsupported("ISA level \(level.rawValue)") }
            let k = try bind(table)
            let ns: Double
            let sameAs: ISALevel?
            if let (first, time) = seen[k.address] {
                ns = time
                sameAs = first
            } else {
                ns = measure(policy, k.run).nanosecondsPerCall
                sameAs = nil
                seen[k.address] = (level, ns)
            }
            if level == .scalar { scalarNs = ns }
            let row = SuiteRow(group: group, kernel: kernel, dim: dim, count: count, isa: level, nanosecondsPerCall: ns,
                               bytesPerCall: bytes, scalarNanosecondsPerCall: scalarNs, sameAs: sameAs)
            out.append(row)
            if json { emit(row.jsonLine.text) }
        }
        return out
    }

    private func header(_ title: String, cell: Int) {
        guard !json else { return }
        emit(title)
        emit(Format.left("kernel", 20) + levels.map { Format.left($0.rawValue, cell) }.joined())
    }

    private func line(_ name: String, _ rows: [SuiteRow], cell: Int, many: Bool) {
        guard !json else { return }
        var s = Format.left(name, 20)
        for r in rows {
            var c: String
            if many {
                c = "\(Format.nanoseconds(r.nanosecondsPerVector)) \(Format.fixed(r.gigabytesPerSecond, 1))GB/s"
            } else {
                c = Format.nanoseconds(r.nanosecondsPerCall)
            }
            if r.isa != .scalar { c += " \(Format.fixed(r.speedup, 1))x" }
            if r.sameAs != nil { c += "*" }
            s += Format.left(c, cell)
        }
        emit(s)
    }
}
