import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

@Suite struct PruningTests {
    @Test func magnitudePruningRemovesTheSmallestFirst() throws {
        // Ties in magnitude: the lower index goes first.
        let r = try Pruner.magnitude(Tensor([1, -1, 1, 2, 0.5] as [Float], shape: [5]), sparsity: 0.4)
        #expect(r.mask == [false, true, true, true, false])
        #expect(r.pruned.scalars() == [0, -1, 1, 2, 0])
        #expect(r.keptCount == 3 && abs(r.sparsity - 0.4) < 1e-12)

        var rng = SeededRNG(seed: 4)
        let x = (0..<1000).map { _ in (rng.gaussian() * 8).rounded() / 8 }  // many ties
        for s in [0, 0.35, 0.5, 0.9, 1] {
            let p = try Pruner.magnitude(Tensor(x, shape: [10, 100]), sparsity: s)
            let k = Int((s * 1000).rounded(.down))
            #expect(p.mask.filter { !$0 }.count == k)
            let keptMin = zip(x, p.mask).filter { $1 }.map { abs($0.0) }.min() ?? .infinity
            let prunedMax = zip(x, p.mask).filter { !$1 }.map { abs($0.0) }.max() ?? 0
            #expect(prunedMax <= keptMin)
            #expect(p.pruned.scalars() == zip(x, p.mask).map { $1 ? $0 : 0 })
            let sse = zip(x, p.mask).reduce(0.0) { $0 + ($1.1 ? 0 : Double($1.0) * Double($1.0)) }
            #expect(p.report.squaredError == sse)
            #expect(p.report.bytesAfter == (1000 - k) * 4 + 125)
            #expect(p.report.bytesBefore == 4000)
        }
    }

    @Test func twoOfFourKeepsTheLargestTwoOfEveryFour() throws {
        let r = try Pruner.structured(Tensor([1, -3, 2, -2, 0, 0, 0, 5] as [Float], shape: [1, 8]), keep: 2, of: 4)
        #expect(r.mask == [false, true, true, false, true, false, false, true])  // ties: lower index kept
        var rng = SeededRNG(seed: 6)
        let x = (0..<4 * 64).map { _ in rng.gaussian() }
        let p = try Pruner.structured(Tensor(x, shape: [4, 64]), keep: 2, of: 4)
        for run in stride(from: 0, to: x.count, by: 4) {
            let kept = (run..<run + 4).filter { p.mask[$0] }
            let pruned = (run..<run + 4).filter { !p.mask[$0] }
            #expect(kept.count == 2)
            #expect(pruned.map { abs(x[$0]) }.max()! <= kept.map { abs(x[$0]) }.min()!)
        }
        #expect(p.sparsity == 0.5)
        // 128 kept values at 4 bytes plus 2 bits of position each.
        #expect(p.report.bytesAfter == 128 * 4 + 128 * 2 / 8)
        #expect(p.report.reductionPercent == 100 * (1 - Double(544) / 1024))
    }

    @Test func badPruningInput() throws {
        #expect(throws: KestrelError.invalidArgument(name: "x", reason: "the last axis of shape [2, 6] must be a multiple of 4")) {
            try Pruner.structured(Tensor.zeros([2, 6]), keep: 2, of: 4)
        }
        #expect(throws: KestrelError.invalidArgument(name: "n:m", reason: "need 1 <= n <= m <= 256, got 5:4")) {
            try Pruner.structured(Tensor.zeros([2, 8]), keep: 5, of: 4)
        }
        #expect(throws: KestrelError.invalidArgument(name: "sparsity", reason: "must be in 0...1, got 1.5")) {
            try Pruner.magnitude(Tensor.zeros([2, 8]), sparsity: 1.5)
        }
        #expect(throws: KestrelError.nonFiniteValue(index: 2)) {
            try Pruner.magnitude(Tensor([0, 1, .infinity] as [Float], shape: [3]), sparsity: 0.5)
        }
        #expect(throws: KestrelError.self) { try Pruner.structured(Tensor(scalar: 1), keep: 1, of: 1) }
        let e = try Pruner.magnitude(Tensor.zeros([0]), sparsity: 0.5)
        #expect(e.mask.isEmpty && e.sparsity == 0 && e.report.rmse == 0)
    }
}
