import Foundation
import Kestrel

/// The sizes of one attention problem: Q [batch, heads, seqQ, headDim], K and V
/// [batch, kvHeads, seqKV, headDim].
struct AttentionBenchShape: Sendable, Equatable, CustomStringConvertible {
    var batch: Int, heads: Int, kvHeads: Int, seqQ: Int, seqKV: Int, headDim: Int

    var queryDims: [Int] { [batch, heads, seqQ, headDim] }
    var keyDims: [Int] { [batch, kvHeads, seqKV, headDim] }
    var description: String { "B=\(batch) H=\(heads) HKV=\(kvHeads) NQ=\(seqQ) NK=\(seqKV) D=\(headDim)" }
}

/// The kernels `kestrel attention-bench --kernel` names.
enum AttentionBenchKernel: String, CaseIterable, Sendable {
    case flash, naive

    /// The library kernel (FlashAttention with its default tiles and tile products).
    var kernel: any AttentionKernel { self == .flash ? FlashAttention() : NaiveAttention() }

    /// One forward pass writing into `out`: FlashAttention's `forward(…into:)` (no output
    /// allocation, pooled scratch), NaiveAttention's allocating call.
    func forward(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ options: AttentionOptions,
                 into out: inout AttentionOutput) throws(KestrelError) {
        switch self {
        case .flash: try FlashAttention().forward(query: q, key: k, value: v, options: options, into: &out)
        case .naive: out = try NaiveAttention().forward(query: q, key: k, value: v, options: options)
        }
    }

    /// The `impl` field of the JSON line: kernel, tile products and tiles, active ISA tier.
    func implementation(headDim d: Int) -> String {
        switch self {
        case .naive: return "kestrel-naive (blas, \(ISALevel.active.rawValue))"
        case .flash:
            let f = FlashAttention(), b = f.blockSizes ?? .standard(headDimension: d)
            let products = f.tileProducts == .automatic ? FlashAttention.TileProducts.resolved(headDimension: d, blockSizes: b) : f.tileProducts
            return "kestrel-flash (\(products) tiles \(b.query)x\(b.key), \(ISALevel.active.rawValue))"
        }
    }

    /// Bytes a forward pass holds besides Q, K, V and O: the kernel's declared workspace for the
    /// workers it uses (FlashAttention: one tile scratch per worker; NaiveAttention: one NQ × NK
    /// score matrix per worker) plus the log-sum-exp rows it returns (B · H · NQ f32). The inputs
    /// are f32 and contiguous, so no converted copy is made. Exact for the current kernels, which
    /// allocate nothing else per call.
    /// - Throws: `capacityExceeded` when a size overflows.
    func peakExtraBytes(_ s: AttentionBenchShape, threads: Int) throws(KestrelError) -> Int {
        let lse = try SizeCheck.bytes(s.batch, s.heads, s.seqQ, 4)
        let workspace: Int
        switch self {
        case .naive:
            workspace = try NaiveAttention.workspaceBytes(nq: s.seqQ, nk: s.seqKV, threads: min(threads, s.batch * s.heads))
        case .flash:
            let b = FlashAttention().blockSizes ?? .standard(headDimension: s.headDim)
            let tasks = try SizeCheck.product(s.batch, s.heads, (s.seqQ + b.query - 1) / b.query)
            workspace = try FlashAttention.workspaceBytes(headDimension: s.headDim, blockSizes: b, threads: min(threads, tasks))
        }
        let (total, overflow) = workspace.addingReportingOverflow(lse)
        guard !overflow else { throw .capacityExceeded(limit: Int.max - lse, requested: workspace) }
        return total
    }
}

/// Median and minimum milliseconds of one contender.
struct AttentionTiming: Sendable, Equatable {
    var medianMs: Double
    var minMs: Double
    /// Median process CPU time (all threads) per call, milliseconds; nil when not measured.
    /// Under load the wall clock mostly measures the scheduler, while CPU time counts only the
    /// time this process ran.
    var cpuMedianMs: Double? = nil
}

/// The timing loop of `kestrel attention-bench` and the flash-attention suite.
enum AttentionBench {
    /// Runs every contender `warmup` times untimed, then `reps` rounds in which each contender
    /// runs once, timed alone by the package clock (``MonotonicClock``): interleaving spreads
    /// machine noise over all contenders alike. Each call's process CPU time (all threads) is
    /// recorded beside its wall time. Returns one timing per contender.
    static func time(_ contenders: [() throws -> Void], warmup: Int, reps: Int) throws -> [AttentionTiming] {
        for c in contenders {
            for _ in 0..<warmup { try c() }
        }
        var samples = [[Double]](repeating: [], count: contenders.count)
        var cpu = [[Double]](repeating: [], count: contenders.count)
        for _ in 0..<reps {
            for (i, c) in contenders.enumerated() {
                let c0 = AnnBenchClock.processCPU(), t0 = MonotonicClock.now()
                try c()
                samples[i].append(Double(MonotonicClock.elapsed(since: t0)) * 1e-6)
                cpu[i].append((AnnBenchClock.processCPU() - c0) * 1e3)
            }
        }
        return zip(samples, cpu).map { wall, cpu in
            AttentionTiming(medianMs: BenchStatistics.median(wall) ?? .nan, minMs: wall.min() ?? .nan,
                            cpuMedianMs: BenchStatistics.median(cpu))
        }
    }

    /// Why the command cannot run this problem (exit 2), or nil. Heads that are not a multiple of
    /// the K/V heads have no grouped-query mapping; a problem whose tensors and workspace exceed
    /// the machine's memory cannot be held.
    static func unsupportedReason(_ s: AttentionBenchShape, kernel: AttentionBenchKernel, threads: Int,
                                  physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory) -> String? {
        guard s.heads % s.kvHeads == 0 else {
            return "\(s.heads) query heads are not a multiple of \(s.kvHeads) K/V heads (grouped-query attention needs H % HKV == 0)"
        }
        do throws(KestrelError) {
            let q = try SizeCheck.bytes(s.batch, s.heads, s.seqQ, s.headDim, 4)
            let kv = try SizeCheck.bytes(s.batch, s.kvHeads, s.seqKV, s.headDim, 4)
            let extra = try kernel.peakExtraBytes(s, threads: threads)
            let total = Double(q) * 2 + Double(kv) * 2 + Double(extra)
            if total > Double(physicalMemory) * 0.8 {
                return String(format: "needs %.1f GiB (Q, K, V, O and %@ workspace), more than 80%% of this machine's %.1f GiB",
                              total / 1073741824, kernel.rawValue, Double(physicalMemory) / 1073741824)
            }
        } catch .capacityExceeded(let limit, let requested) {
            return String(format: "a buffer of %.1f GiB exceeds the %.1f GiB allocation limit (SizeCheck)",
                          Double(requested) / 1073741824, Double(limit) / 1073741824)
        } catch {
            return "sizes overflow: \(error)"
        }
        return nil
    }

    /// Seeded uniform [-1, 1) inputs for runs without files: Q from `seed`, K from `seed + 1`,
    /// V from `seed + 2` (``Tensor/random(_:seed:in:dtype:)``).
    static func randomInputs(_ s: AttentionBenchShape, seed: UInt64) throws(KestrelError) -> (q: Tensor, k: Tensor, v: Tensor) {
        (try Tensor.random(s.queryDims, seed: seed), try Tensor.random(s.keyDims, seed: seed &+ 1),
         try Tensor.random(s.keyDims, seed: seed &+ 2))
    }

    /// Reads one input file and checks it has the shape the flags describe.
    /// - Throws: `invalidArgument` naming the flag and both shapes when they differ; the
    ///   reader's `corruptFile`/`io` errors.
    static func readInput(_ path: String, flag: String, expected: [Int]) throws(KestrelError) -> Tensor {
        let t = try Tensor.readNPY(URL(fileURLWithPath: path))
        guard t.shape.dims == expected else {
            throw .invalidArgument(name: flag, reason: "\(path) has shape \(t.shape.dims), the flags give \(expected)")
        }
        return t
    }
}
