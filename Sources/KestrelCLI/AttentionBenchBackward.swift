import Foundation
import Kestrel

/// `kestrel attention-bench --backward`: each timed round runs the forward pass (which saves the
/// log-sum-exp) and then the backward pass on its O and log-sum-exp, so the backward ÷ forward
/// ratio of issue 17's target ("backward ≤ 3× the forward at N = 2048") comes from calls
/// interleaved under the same machine load.
struct AttentionBenchBackward {
    /// Forward and backward timings of the same rounds.
    var forward: AttentionTiming
    var backward: AttentionTiming
    /// The gradients of the last backward call.
    var gradients: AttentionGradients
    /// The output of the last forward call.
    var output: AttentionOutput

    /// Backward median over forward median, wall clock.
    var wallRatio: Double { backward.medianMs / forward.medianMs }
    /// Backward over forward median process CPU time (all threads), or nil when not measured.
    var cpuRatio: Double? {
        guard let b = backward.cpuMedianMs, let f = forward.cpuMedianMs, f > 0 else { return nil }
        return b / f
    }

    /// The extra keys of the JSON line, after the forward's.
    var jsonFields: [(String, Any)] {
        [("backward_median_ms", backward.medianMs), ("backward_min_ms", backward.minMs),
         ("backward_over_forward", wallRatio), ("forward_cpu_ms", forward.cpuMedianMs ?? .nan),
         ("backward_cpu_ms", backward.cpuMedianMs ?? .nan), ("backward_over_forward_cpu", cpuRatio ?? .nan)]
    }

    /// Runs `warmup` untimed forward + backward pairs, then `reps` timed rounds of one forward
    /// (into a preallocated output) followed by one backward with `outputGradient` as dO.
    static func measure(_ kernel: AttentionBenchKernel, q: Tensor, k: Tensor, v: Tensor, outputGradient: Tensor,
                        options: AttentionOptions, warmup: Int, reps: Int) throws -> AttentionBenchBackward {
        let s = q.shape.dims
        var out = AttentionOutput(output: try Tensor.zeros(s), logSumExp: try Tensor.zeros(Array(s.dropLast())))
        var grads: AttentionGradients?
        // The backward contender follows the forward one in every round (warm-ups included), so
        // it always differentiates the forward call just made.
        let t = try AttentionBench.time([
            { try kernel.forward(q, k, v, options, into: &out) },
            { grads = try kernel.backward(q, k, v, out, outputGradient: outputGradient, options) },
        ], warmup: warmup, reps: reps)
        guard let grads else { throw KestrelError.invalidArgument(name: "reps", reason: "no backward call ran") }
        return AttentionBenchBackward(forward: t[0], backward: t[1], gradients: grads, output: out)
    }

    /// dO for a run: the `--dout` file (shape [B, H, NQ, D], finite) or seeded uniform [-1, 1)
    /// values from `seed + 3` (Q, K, V take `seed` … `seed + 2`).
    static func outputGradient(_ s: AttentionBenchShape, path: String?, seed: UInt64) throws -> Tensor {
        guard let path else { return try Tensor.random(s.queryDims, seed: seed &+ 3) }
        let g = try AttentionBench.readInput(path, flag: "dout", expected: s.queryDims)
        if let i = try g.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
            throw KestrelError.invalidArgument(name: "dout", reason: "non-finite value at flat index \(i)")
        }
        return g
    }

    /// Why `--backward` cannot run with these flags (exit 2), or nil: the KV-cache decode path
    /// has no backward pass.
    static func unsupportedReason(cache: String?) -> String? {
        cache.map { "--backward with --cache \($0): the KV-cache decode path has no backward pass" }
    }
}

extension AttentionBenchKernel {
    /// One backward pass of the library kernel (FlashAttention with its default backward tiles and
    /// tile products, or NaiveAttention) given the forward pass's output and log-sum-exp.
    func backward(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ forward: AttentionOutput, outputGradient: Tensor,
                  _ options: AttentionOptions) throws(KestrelError) -> AttentionGradients {
        let kernel: any AttentionBackwardKernel = self == .flash ? FlashAttention() : NaiveAttention()
        return try kernel.backward(query: q, key: k, value: v, output: forward.output, logSumExp: forward.logSumExp,
                                   outputGradient: outputGradient, options: options)
    }

    /// The `backward_impl` field: kernel, backward tile products and tiles, active ISA tier.
    func backwardImplementation(headDim d: Int) -> String {
        switch self {
        case .naive: return "kestrel-naive backward (blas, \(ISALevel.active.rawValue))"
        case .flash:
            let f = FlashAttention(), b = f.blockSizes ?? .standardBackward(headDimension: d)
            let products = f.tileProducts == .automatic
                ? FlashAttention.TileProducts.resolvedBackward(headDimension: d, blockSizes: b) : f.tileProducts
            return "kestrel-flash backward (\(products) tiles \(b.query)x\(b.key), \(ISALevel.active.rawValue))"
        }
    }
}
