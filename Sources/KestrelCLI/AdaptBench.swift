import Foundation
import Kestrel

/// The measurement behind `kestrel adapt-bench --dim D --rank R`: per-call latencies of the fused
/// training step and of `apply` on one adapter, plus the Swift heap allocations per step.
///
/// Samples (inputs, targets, results, negatives) are generated from a seed before timing and
/// cycled through; every step and every apply is timed on its own with ``MonotonicClock`` into an
/// HdrHistogram (``LatencyRecorder``). Timings include one clock reading's overhead, which is
/// reported beside them (not subtracted).
struct AdaptBench {
    enum Loss: String, CaseIterable, Sendable { case squared, binary, contrastive }

    var dim: Int
    var rank: Int
    var loss: Loss
    var ewc: Bool
    var steps: Int
    var warmup: Int
    var negatives: Int = 8
    var optimizer: AdapterOptimizer = .adamDefault
    var seed: UInt64 = 1

    struct Result {
        var step: LatencyRecorder
        var apply: LatencyRecorder
        var allocationsPerStep: Double?
        /// Allocations the counter saw while 16 arrays were made (16 when it works): shows a 0 above is a measurement.
        var counterProbe: Int?
        var isa: String
        var finalLoss: Double
    }

    /// Builds the adapter (MicroLoRA up to rank 8, LoRA above) and its feedback.
    /// - Throws: `KestrelError` for sizes the adapters refuse.
    func makeAdapter() throws(KestrelError) -> any Adapter {
        let training = AdapterTraining(learningRate: 1e-3, optimizer: optimizer, clipNorm: 10)
        let e = ewc ? EWCConfiguration(lambda: 0.1, fisherDecay: 0.99) : nil
        if rank <= MicroLoRA.maxRank {
            return try MicroLoRA(dimension: dim, rank: rank, seed: seed, training: training, ewc: e, maxNegatives: negatives)
        }
        return try LoRA(dimension: dim, rank: rank, seed: seed, training: training, ewc: e, maxNegatives: negatives)
    }

    func feedback(count: Int) -> [AdapterFeedback] {
        var rng = SplitMix64(seed: seed &+ 1)
        let unit = 1 / Float(dim).squareRoot()
        func v(_ n: Int, _ scale: Float) -> [Float] {
            var a = [Float](repeating: 0, count: n)
            a.withUnsafeMutableBufferPointer { rng.fillFloats($0.baseAddress!, n, scale: scale) }
            return a
        }
        return (0..<count).map { i in
            switch loss {
            case .squared: return .squared(input: v(dim, 1), target: v(dim, 1))
            case .binary: return .binary(query: v(dim, unit), result: v(dim, unit), label: i % 2 == 0 ? 1 : -1)
            case .contrastive:
                return .contrastive(query: v(dim, unit), positive: v(dim, unit), negatives: v(negatives * dim, unit),
                                    temperature: 0.1)
            }
        }
    }

    /// Runs warm-up, the allocation count and the timed loops.
    /// - Throws: `KestrelError` from the adapter (a rejected step stops the run).
    func run() throws -> Result {
        let adapter = try makeAdapter()
        let samples = feedback(count: 64)
        if ewc { // EWC on means the penalty is live: consolidate once after a few steps.
            for i in 0..<16 { _ = try adapter.step(samples[i % samples.count]) }
            adapter.consolidate()
        }
        for i in 0..<warmup { _ = try adapter.step(samples[i % samples.count]) }
        // Allocations, on their own untimed pass (the hook slows every allocation).
        let counted = min(steps, 1000)
        let (_, allocations) = try SwiftAllocationCounter.counting { () throws -> Int in
            for i in 0..<counted { _ = try adapter.step(samples[i % samples.count]) }
            return counted
        }
        let (_, probe) = SwiftAllocationCounter.counting { () -> Int in
            (0..<16).reduce(0) { s, i in s + [Int](repeating: i, count: 8 + i).count }
        }
        var stepRec = try LatencyRecorder(), applyRec = try LatencyRecorder()
        var last = 0.0
        for i in 0..<steps {
            let f = samples[i % samples.count]
            let t0 = MonotonicClock.now()
            let r = try adapter.step(f)
            stepRec.record(MonotonicClock.now() &- t0)
            last = r.loss
        }
        let xs = samples.map(\.input)
        var y = [Float](repeating: 0, count: dim)
        try y.withUnsafeMutableBufferPointer { (yp) throws(KestrelError) in
            for i in 0..<max(steps, 1000) {
                try xs[i % xs.count].withUnsafeBufferPointer { (xp) throws(KestrelError) in
                    let t0 = MonotonicClock.now()
                    try adapter.apply(xp, base: nil, into: yp)
                    applyRec.record(MonotonicClock.now() &- t0)
                }
            }
        }
        return Result(step: stepRec, apply: applyRec, allocationsPerStep: allocations.map { Double($0) / Double(counted) },
                      counterProbe: probe, isa: adapter.isa, finalLoss: last)
    }
}
