import ArgumentParser
import Foundation
import Kestrel

/// `kestrel attention-bench`: times one attention forward pass on .npy inputs — the
/// peer-benchmark contract of issue 17 that outside harnesses run beside PyTorch's
/// `scaled_dot_product_attention` on the same files (Documentation/Attention.md).
///
/// The last stdout line is one JSON object `{"median_ms","min_ms","reps","peak_extra_bytes","impl"}`
/// (with `--cache`, also `"cache_bytes","gb_per_s"`; with `--backward`, also `"backward_median_ms",
/// "backward_min_ms","backward_over_forward","forward_cpu_ms","backward_cpu_ms","backward_over_forward_cpu",
/// "backward_impl"`);
/// a problem it cannot run exits 2 after printing `{"unsupported": "why"}`; any other failure
/// exits non-zero with a message on standard error.
struct AttentionBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention-bench",
        abstract: "Time one attention forward pass (FlashAttention or NaiveAttention) on .npy inputs.",
        discussion: """
            Q is [B, H, NQ, D], K and V are [B, HKV, NK, D], little-endian float32 C-order .npy; query head h \
            reads K/V head h / (H / HKV). Causal is bottom-right aligned: query i sees key j iff j <= i + (NK - NQ); \
            --window W also needs j >= i + (NK - NQ) - W. Without --q/--k/--v the inputs are seeded uniform [-1, 1) \
            values (--seed). Inputs are checked for NaN/Inf once, untimed. W untimed calls, then R timed ones \
            (only the attention call is timed); O of the last \
            call goes to --out. peak_extra_bytes: the kernel's workspace for the threads used plus the log-sum-exp \
            rows the call returns (B*H*NQ*4), i.e. everything the call holds besides Q, K, V and O. \
            --cache f32|f16|int8 appends K/V to a KV cache (one sequence per batch item; --paged: blocks of --block \
            tokens, --window evicts) untimed and times the decode path (NQ <= 8, the new tokens being the cache's last \
            positions); the JSON then adds cache_bytes (K+V bytes read per call, in the storage type) and gb_per_s \
            (cache_bytes over min_ms), and peak_extra_bytes is the caches' allocated storage. \
            --backward: each round runs the forward (saving the log-sum-exp), then the backward pass with dO from \
            --dout (or seeded random, seed + 3), both timed; the JSON adds backward_median_ms, backward_min_ms, \
            backward_over_forward (median ratio), forward_cpu_ms and backward_cpu_ms (median process CPU time per \
            call, all threads), backward_over_forward_cpu and backward_impl; --dq/--dk/--dv write the last gradients.
            Exit 2 after printing {"unsupported": "why"}: H not a multiple of HKV, an unknown --kernel, buffers \
            beyond the allocation limit, or --backward with --cache. Bad flags exit 64; unreadable or malformed files, shapes that disagree \
            with the flags and non-finite inputs exit 1.
            """
    )

    @Option(help: "Query .npy [B, H, NQ, D] (with --k and --v; without all three, seeded random inputs).")
    var q: String?
    @Option(help: "Key .npy [B, HKV, NK, D].")
    var k: String?
    @Option(help: "Value .npy [B, HKV, NK, D].")
    var v: String?
    @Option(help: "Write the output O [B, H, NQ, D] of the last call here (float32 .npy).")
    var out: String?
    @Option(help: "Batch size B.")
    var batch: Int = 1
    @Option(help: "Query heads H.")
    var heads: Int = 8
    @Option(name: .customLong("kv-heads"), help: "K/V heads HKV (default H).")
    var kvHeads: Int?
    @Option(name: .customLong("seq-q"), help: "Query length NQ.")
    var seqQ: Int
    @Option(name: .customLong("seq-kv"), help: "Key/value length NK (default NQ).")
    var seqKV: Int?
    @Option(name: .customLong("head-dim"), help: "Head dimension D.")
    var headDim: Int = 64
    @Option(help: "1: causal mask (bottom-right aligned), 0: none.")
    var causal: Int = 0
    @Option(help: "Score scale (default 1/sqrt(D)).")
    var scale: Float?
    @Option(help: "Worker threads.")
    var threads: Int = 1
    @Option(help: "Untimed calls before the timed ones.")
    var warmup: Int = 1
    @Option(help: "Timed calls.")
    var reps: Int = 5
    @Option(help: "Kernel: flash or naive.")
    var kernel: String = "flash"
    @Option(help: "Sliding window: each query also sees only keys j >= i + (NK - NQ) - W.")
    var window: Int?
    @Option(help: "Seed of the random inputs used without --q/--k/--v.")
    var seed: UInt64 = 17
    @Option(help: "Route K/V through a KV cache storing f32, f16 or int8 rows and time the decode path (NQ <= 8).")
    var cache: String?
    @Flag(help: "With --cache: a paged cache (block table) instead of a contiguous one.")
    var paged = false
    @Option(help: "Tokens per block of --paged.")
    var block: Int = 16
    @Flag(help: "Also time the backward pass: each round runs the forward, then the backward on its output.")
    var backward = false
    @Option(help: "With --backward: dO = dL/dO .npy [B, H, NQ, D] (default seeded random values).")
    var dout: String?
    @Option(help: "With --backward: write dQ [B, H, NQ, D] of the last call here (float32 .npy).")
    var dq: String?
    @Option(help: "With --backward: write dK [B, HKV, NK, D] of the last call here.")
    var dk: String?
    @Option(help: "With --backward: write dV [B, HKV, NK, D] of the last call here.")
    var dv: String?

    var shape: AttentionBenchShape {
        AttentionBenchShape(batch: batch, heads: heads, kvHeads: kvHeads ?? heads, seqQ: seqQ, seqKV: seqKV ?? seqQ,
                            headDim: headDim)
    }

    func validate() throws {
        for (name, value) in [("--batch", batch), ("--heads", heads), ("--kv-heads", kvHeads ?? heads), ("--seq-q", seqQ),
                              ("--seq-kv", seqKV ?? seqQ), ("--head-dim", headDim), ("--threads", threads), ("--reps", reps)]
        where value < 1 {
            throw ValidationError("\(name) must be >= 1, got \(value)")
        }
        guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0, got \(warmup)") }
        guard causal == 0 || causal == 1 else { throw ValidationError("--causal must be 0 or 1, got \(causal)") }
        if let window, window < 0 { throw ValidationError("--window must be >= 0, got \(window)") }
        if let scale, !scale.isFinite { throw ValidationError("--scale must be finite") }
        let files = [q, k, v].compactMap { $0 }.count
        guard files == 0 || files == 3 else { throw ValidationError("give all of --q, --k and --v, or none (random inputs)") }
        for (name, value) in [("--dout", dout), ("--dq", dq), ("--dk", dk), ("--dv", dv)] where value != nil && !backward {
            throw ValidationError("\(name) needs --backward")
        }
    }

    func run() throws {
        guard let kernelValue = AttentionBenchKernel(rawValue: kernel) else {
            try Self.unsupported("kernel '\(kernel)' (this build has \(AttentionBenchKernel.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let s = shape
        if let why = AttentionBench.unsupportedReason(s, kernel: kernelValue, threads: threads) { try Self.unsupported(why) }
        let inputs: (q: Tensor, k: Tensor, v: Tensor)
        if let q, let k, let v {
            inputs = (try AttentionBench.readInput(q, flag: "q", expected: s.queryDims),
                      try AttentionBench.readInput(k, flag: "k", expected: s.keyDims),
                      try AttentionBench.readInput(v, flag: "v", expected: s.keyDims))
        } else {
            inputs = try AttentionBench.randomInputs(s, seed: seed)
        }
        // Inputs are scanned once here, so the timed calls skip the kernel's own scan (PyTorch has none).
        for (name, t) in [("q", inputs.q), ("k", inputs.k), ("v", inputs.v)] {
            if let i = try t.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
                throw KestrelError.invalidArgument(name: name, reason: "non-finite value at flat index \(i)")
            }
        }
        if backward, let why = AttentionBenchBackward.unsupportedReason(cache: cache) { try Self.unsupported(why) }
        if let cache {
            if let why = AttentionBenchCachedDecode.unsupportedReason(s, storage: cache, window: window, paged: paged, block: block) {
                try Self.unsupported(why)
            }
            let decode = try AttentionBenchCachedDecode(s, q: inputs.q, k: inputs.k, v: inputs.v, storage: cache, paged: paged,
                                                        block: block, window: window, causal: causal == 1, scale: scale, threads: threads)
            var last: Tensor?
            let timing = try AttentionBench.time([{ last = try decode.run() }], warmup: warmup, reps: reps)[0]
            if let out, let last { try last.writeNPY(to: URL(fileURLWithPath: out)) }
            print(jsonLine([("median_ms", timing.medianMs), ("min_ms", timing.minMs), ("reps", reps),
                            ("peak_extra_bytes", decode.allocatedBytes), ("impl", decode.implementation),
                            ("cache_bytes", decode.cacheBytes), ("gb_per_s", Double(decode.cacheBytes) / (timing.minMs * 1e6))]))
            return
        }
        let options = AttentionOptions(scale: scale, causal: causal == 1, windowLeft: window, threads: threads,
                                       checksFiniteness: false)
        if backward {
            let dO = try AttentionBenchBackward.outputGradient(s, path: dout, seed: seed)
            let r = try AttentionBenchBackward.measure(kernelValue, q: inputs.q, k: inputs.k, v: inputs.v, outputGradient: dO,
                                                       options: options, warmup: warmup, reps: reps)
            if let out { try r.output.output.writeNPY(to: URL(fileURLWithPath: out)) }
            for (path, g) in [(dq, r.gradients.query), (dk, r.gradients.key), (dv, r.gradients.value)] {
                if let path { try g.writeNPY(to: URL(fileURLWithPath: path)) }
            }
            print(jsonLine([("median_ms", r.forward.medianMs), ("min_ms", r.forward.minMs), ("reps", reps),
                            ("peak_extra_bytes", try kernelValue.peakExtraBytes(s, threads: threads)),
                            ("impl", kernelValue.implementation(headDim: s.headDim))]
                           + r.jsonFields + [("backward_impl", kernelValue.backwardImplementation(headDim: s.headDim))]))
            return
        }
        // The output is allocated once, outside the timed calls (FlashAttention writes into it).
        var last = AttentionOutput(output: try Tensor.zeros(s.queryDims), logSumExp: try Tensor.zeros([s.batch, s.heads, s.seqQ]))
        let timing = try AttentionBench.time([{ try kernelValue.forward(inputs.q, inputs.k, inputs.v, options, into: &last) }],
                                             warmup: warmup, reps: reps)[0]
        if let out { try last.output.writeNPY(to: URL(fileURLWithPath: out)) }
        print(jsonLine([("median_ms", timing.medianMs), ("min_ms", timing.minMs), ("reps", reps),
                        ("peak_extra_bytes", try kernelValue.peakExtraBytes(s, threads: threads)),
                        ("impl", kernelValue.implementation(headDim: s.headDim))]))
    }

    /// Prints `{"unsupported": why}` and exits 2.
    static func unsupported(_ why: String) throws -> Never {
        print(jsonLine([("unsupported", why)]))
        throw ExitCode(2)
    }
}
