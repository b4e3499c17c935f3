import CKestrelKernels
import ArgumentParser
import Foundation
import Kestrel

/// `kestrel kernel-bench`: times the C kernels of any tier this CPU runs.
///
/// Three modes: one one-to-many scan (`--op --dtype --dim --count --isa`), the memory bandwidth
/// (`--stream`), or every kernel at every tier with the target checks (`--all`).
struct KernelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel-bench",
        abstract: "Time the SIMD kernels: one scan, STREAM bandwidth, or every kernel at every tier (--all).",
        discussion: """
            Default mode scans one query against --count stored vectors with the chosen tier's \
            one-to-many kernel (<op>_<dtype>_many) and reports ns per vector and GB/s of stored \
            vectors read. Inputs come from a seeded RNG (--seed) in 64-byte aligned buffers. Timing: \
            a warm-up, then samples until >= --min-time seconds and >= --repetitions samples; the \
            median sample is reported (CLOCK_MONOTONIC).

            Valid pairs: f32, f16, bf16, i8 with dot, l2sq, cosine; b1 with hamming, jaccard \
            (for b1, --dim counts bits and must be a multiple of 8).
            """
    )

    @Option(help: "Distance: dot, l2sq, cosine, hamming, jaccard. Default l2sq.")
    var op: String?

    @Option(help: "Stored type: f32, f16, bf16, i8, b1. Default f32.")
    var dtype: String?

    @Option(help: "Elements per vector (bits for b1). Default 768.")
    var dim: Int?

    @Option(help: "Stored vectors scanned per query. Default 100000.")
    var count: Int?

    @Option(help: "Tier: auto (the active one, capped by KESTREL_ISA), scalar, avx2, avx512, avx512vnni, neon, neondot.")
    var isa: String?

    @Flag(help: "Print one JSON object per line.")
    var json = false

    @Flag(help: "Measure memory bandwidth with a STREAM-style triad instead.")
    var stream = false

    @Option(help: "Threads of the --stream triad (also used by --all's triad). Default 1.")
    var threads: Int?

    @Option(help: "MiB per triad array (3 arrays; keep far above the last-level cache). Default 64.")
    var streamMib: Int?

    @Flag(help: "Every kernel at every tier this CPU runs, then the issue's target checks.")
    var all = false

    @Flag(help: "With --all: exit with status 2 when a target check fails.")
    var strict = false

    @Option(help: "Minimum timed seconds per kernel.")
    var minTime = 0.2

    @Option(help: "Minimum timed samples per kernel (the median is reported).")
    var repetitions = 5

    @Option(help: "Seed of the input generator (SplitMix64).")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp(
        "Time the scan under each software-prefetch distance of this list, interleaved: off, rule, bytes (k: KiB).",
        discussion: "Example: --prefetch-sweep off,2k,4k,6k,8k,16k,rule. Prints GB/s (median and range over --rounds) "
            + "and the fraction of a STREAM triad run in every round. KESTREL_PREFETCH=<bytes>|off then makes a choice stick."))
    var prefetchSweep: String?

    @Option(help: "Rounds of --prefetch-sweep (each times every distance once).")
    var rounds = 5

    @Option(help: ArgumentHelp(
        "Also write query.npy, base.npy and out.npy (the scan's results) to this directory.",
        discussion: "bf16 is stored as raw <u2 bits and b1 as packed |u1 bytes. Used by Benchmarks/peers."))
    var dumpDir: String?

    func validate() throws {
        guard minTime > 0, minTime <= 60 else { throw ValidationError("--min-time must be in (0, 60] seconds") }
        guard repetitions >= 1, repetitions <= 1000 else { throw ValidationError("--repetitions must be in 1...1000") }
        if all && stream { throw ValidationError("--all already runs the STREAM triad; pass one of --all, --stream") }
        let scanOptions = op != nil || dtype != nil || dim != nil || count != nil || isa != nil || dumpDir != nil
        if (all || stream) && scanOptions {
            throw ValidationError(
                "--op, --dtype, --dim, --count, --isa and --dump-dir describe one scan; --all and --stream use fixed sizes")
        }
        if !all && !stream && (threads != nil || streamMib != nil) {
            throw ValidationError("--threads and --stream-mib apply to --stream and --all")
        }
        if strict && !all { throw ValidationError("--strict applies to --all") }
        if prefetchSweep != nil && (all || stream || dumpDir != nil) {
            throw ValidationError("--prefetch-sweep times one scan; it does not combine with --all, --stream or --dump-dir")
        }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be in 1...100") }
        if let list = prefetchSweep {
            do {
                let spec = try spec()
                _ = try PrefetchSweep.parse(list, dtype: spec.dtype, dim: spec.dim)
            } catch { throw ValidationError(error.description) }
        }
        if all || stream {
            guard (1...4096).contains(streamMib ?? 64) else { throw ValidationError("--stream-mib must be in 1...4096") }
            do { try triad.validate() } catch { throw ValidationError(error.description) }
        } else {
            do { _ = try spec() } catch { throw ValidationError(KernelBenchSpec.flagMessage(error)) }
        }
    }

    func run() throws {
        if stream {
            let r = try triad.run()
            if json {
                print(JSONLine([
                    ("kind", .string("stream")), ("threads", .int(triad.threads)),
                    ("array_mib", .int(triad.arrayBytes >> 20)),
                    ("passes", .int(triad.passes)), ("gb_per_s", .double(JSONLine.rounded(r.gigabytesPerSecond))),
                ]).text)
            } else {
                print("STREAM triad, 3 x \(triad.arrayBytes >> 20) MiB f64, \(triad.threads) thread(s), best of \(triad.passes): "
                    + "\(Format.fixed(r.gigabytesPerSecond, 2)) GB/s")
            }
            return
        }
        if all {
            let suite = KernelBenchSuite(policy: policy, stream: triad, seed: seed, json: json)
            let checks = try suite.run()
            if strict && checks.contains(where: { $0.status == .fail }) { throw ExitCode(2) }
            return
        }
        if let list = prefetchSweep {
            let spec = try spec()
            let sweep = PrefetchSweep(spec: spec, options: try PrefetchSweep.parse(list, dtype: spec.dtype, dim: spec.dim), rounds: rounds,
                                      policy: policy, triad: StreamTriad(), seed: seed)
            try sweep.run(json: json) { print($0); fflush(nil) }
            return
        }
        let result = try runScan(try spec())
        print(json ? result.jsonLine.text : result.text)
    }

    private var policy: TimingPolicy { TimingPolicy(minSeconds: minTime, repetitions: repetitions) }

    private var triad: StreamTriad {
        StreamTriad(arrayBytes: min(max(streamMib ?? 64, 0), 4096) << 20, threads: threads ?? 1)
    }

    private func spec() throws(KestrelError) -> KernelBenchSpec {
        try KernelBenchSpec.validate(
            op: op ?? "l2sq", dtype: dtype ?? "f32", dim: dim ?? 768, count: count ?? 100_000, isa: isa ?? "auto")
    }

    /// Generates the inputs, times the scan and optionally dumps inputs and results.
    private func runScan(_ spec: KernelBenchSpec) throws(KestrelError) -> KernelBenchResult {
        guard let table = spec.isa.kernels?.pointee else { throw .unsupported("ISA level \(spec.isa.rawValue)") }
        let vectors = try BenchVectors(dtype: spec.dtype, dim: spec.dim, count: spec.count, seed: seed)
        let out = try AlignedBuffer(byteCount: 4 * spec.count, zeroed: true)
        let kernel = try KernelCatalog.distance(
            table, op: spec.op, dtype: spec.dtype, shape: .many, vectors: vectors, out: out)
        let m = measure(policy, kernel.run)
        if let dir = dumpDir {
            try NPYFile.makeDirectory(dir)
            let descr = NPYFile.descr(spec.dtype)
            let width = spec.dtype == .b1 ? spec.dim / 8 : spec.dim
            try NPYFile.write(path: dir + "/query.npy", descr: descr, shape: [width],
                              data: vectors.query.baseAddress, byteCount: vectors.query.byteCount)
            try NPYFile.write(path: dir + "/base.npy", descr: descr, shape: [spec.count, width],
                              data: vectors.base.baseAddress, byteCount: vectors.base.byteCount)
            try NPYFile.write(path: dir + "/out.npy", descr: KernelCatalog.manyOutputDescr(op: spec.op, dtype: spec.dtype),
                              shape: [spec.count], data: out.baseAddress, byteCount: 4 * spec.count)
        }
        return KernelBenchResult(spec: spec, nanosecondsPerVector: m.nanosecondsPerCall / Double(spec.count))
    }
}
