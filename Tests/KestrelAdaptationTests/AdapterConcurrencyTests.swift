import Foundation
import KestrelKernels
import KestrelTensor
import Testing
@testable import KestrelAdaptation

/// One writer, many readers: readers of `apply` never see a mixture of two parameter sets.
/// Run under ThreadSanitizer in CI (.ci/tsan-tests).
@Suite struct AdapterConcurrencyTests {
    /// The writer installs parameter sets θ_c = c · 1 (c = 1, 2, ...) and also takes real training
    /// steps; a reader applying to x = 1 gets y_j = 1 + s·r·d·c² for every j under θ_c, so a torn
    /// read shows as unequal outputs or a value of no installed c. Readers also check that what
    /// they see never goes back in time between installs.
    @Test func readersSeeWholeParameterSets() async throws {
        let d = 64, r = 2
        let a = try MicroLoRA(dimension: d, rank: r, seed: 1, training: AdapterTraining(learningRate: 0))
        let n = a.parameterCount
        let rounds = 400
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                var rng = SplitMix64(seed: 2)
                for c in 1...rounds {
                    let zeros = [Float](repeating: 0, count: n)
                    a.engine.install(AdapterFileState(dIn: d, dOut: d, rank: r, alpha: Float(r), form: .residual,
                                                      training: AdapterTraining(learningRate: 0), ewc: nil,
                                                      consolidated: false, steps: c,
                                                      arrays: [Float](repeating: Float(c), count: n) + zeros + zeros + zeros + zeros + zeros))
                    // lr = 0 steps publish the same θ_c again through the real step path.
                    var x = [Float](repeating: 0, count: d)
                    rng.fillFloats(&x, d)
                    _ = try a.step(.squared(input: x, target: x))
                }
                return 0
            }
            for _ in 0..<3 {
                group.addTask {
                    let x = [Float](repeating: 1, count: d)
                    var y = [Float](repeating: 0, count: d)
                    var bad = 0, lastC = 0.0
                    for _ in 0..<(rounds * 10) {
                        try x.withUnsafeBufferPointer { (xp) throws(KestrelError) in
                            try y.withUnsafeMutableBufferPointer { (yp) throws(KestrelError) in try a.apply(xp, base: nil, into: yp) }
                        }
                        if y.contains(where: { $0 != y[0] }) { bad += 1; continue }
                        let c2 = Double(y[0] - 1) / Double(r * d)
                        if c2 == 0 { continue } // the initial set (B = 0)
                        let c = c2.squareRoot().rounded()
                        if abs(c * c - c2) > 1e-3 * c2 || c < lastC { bad += 1 }
                        lastC = c
                    }
                    return bad
                }
            }
            var total = 0
            for try await f in group { total += f }
            return total
        }
        #expect(failures == 0)
        #expect(a.parameters == [Float](repeating: Float(rounds), count: n))
    }
}
