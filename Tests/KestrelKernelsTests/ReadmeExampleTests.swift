import KestrelKernels
import Testing

/// README.md's KestrelKernels sample, line for line (with `print` replaced by checks), so it is
/// known to compile against the public API and to give the values its comments state.
@Suite struct ReadmeExampleTests {
    @Test func kernelsTour() throws {
        // README: KestrelKernels
        let a: [Float] = [1, 2, 3], b: [Float] = [4, 5, 6]
        let d = try Distance.l2sq(a, b)                                  // 27, on the best SIMD tier
        let base: [Float] = [4, 5, 6, 1, 2, 3]                           // two rows of 3
        let scan = try Distance.l2sq(query: a, rows: base)               // [27, 0]
        let exact = try Distance.dot([Int8](repeating: -128, count: 4096),
                                     [Int8](repeating: -128, count: 4096)) // 67108864, as Int64
        let p = try VectorMath.softmax([1, 2, 3] as [Float])             // sums to 1
        let half = try Conversion.bfloat16(a)                            // [BFloat16], round to nearest even
        let pinned = try Distance.cosine(a, b, tier: .scalar)            // the reference tier
        var caught: KestrelError?
        do {
            _ = try Distance.dot(a, [1, 2] as [Float])
        } catch {
            caught = error       // KestrelError.dimensionMismatch(expected: [3], actual: [2])
        }

        #expect(d == 27)
        #expect(scan == [27, 0])
        #expect(exact == 67_108_864)
        #expect(abs(p.reduce(0, +) - 1) < 1e-6 && p[2] > p[1] && p[1] > p[0])
        #expect(half.map(\.floatValue) == a)
        // 1 - 32 / (sqrt(14) * sqrt(77)), from the Double formula.
        #expect(abs(Double(pinned) - (1 - 32 / (14.0.squareRoot() * 77.0.squareRoot()))) < 1e-6)
        #expect(ISALevel.supported.contains(ISALevel.active))
        #expect(caught == .dimensionMismatch(expected: [3], actual: [2]))
    }
}
