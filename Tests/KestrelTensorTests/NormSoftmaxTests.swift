import KestrelTensor
import PropertyBased
import Testing
import _KestrelTestSupport

/// Softmax and normalisation against hand-computed values and the reference, at every tier.
@Suite struct NormSoftmaxTests {
    let ref = ReferenceBackend()

    func backends() throws -> [AcceleratedBackend] {
        try ISALevel.supported.map { try AcceleratedBackend(level: $0) }
    }

    @Test func softmaxRowsSumToOneAlongEveryAxis() async throws {
        for fast in try backends() {
            await propertyCheck(count: 20, input: Gen.int(in: 1...5), Gen.int(in: 1...33), Gen.int(in: 1...4),
                                Gen.int(in: 0...Int(Int32.max))) { a, b, c, seed in
                let x = try Tensor.random([a, b, c], seed: UInt64(seed), in: -8...8)
                let view = try x.permuted([1, 0, 2])  // non-contiguous input
                for axis in 0..<3 {
                    let y = try fast.softmax(view, axis: axis)
                    // The kernel's contract: each output within 2 ulp-ish of exp ratios; compare with
                    // the Double reference at 1e-5 relative (exp error 2 ulp plus sum rounding).
                    expectClose(y, try ref.softmax(view, axis: axis), rel: 1e-5, abs: 1e-7, "\(fast.level) axis \(axis)")
                    let sums = try ref.sum(y, axis: axis).scalars()
                    let n = Float(view.shape.dims[axis])
                    #expect(sums.allSatisfy { Swift.abs($0 - 1) <= n * 0x1p-23 + 1e-6 }, "\(fast.level) axis \(axis) sums \(sums)")
                }
            }
        }
    }

    @Test func softmaxSpecialValues() throws {
        for backend in try backends().map({ $0 as any Backend }) + [ref] {
            let masked = try Tensor([-.infinity, -.infinity, 0, 0] as [Float], shape: [2, 2])
            #expect(try backend.softmax(masked, axis: 1).scalars() == [0, 0, 0.5, 0.5], "\(backend.name)")
            let withNaN = try Tensor([1, .nan, 2, 3] as [Float], shape: [2, 2])
            let y = try backend.softmax(withNaN, axis: 1).scalars()
            #expect(y[0].isNaN && y[1].isNaN && !y[2].isNaN, "\(backend.name)")
            let hand = try backend.softmax(try Tensor([0, Float(1.0986122886681098)] as [Float], shape: [2]), axis: 0).scalars()
            #expect(Approx.equal(hand[0], 0.25, rel: 1e-6) && Approx.equal(hand[1], 0.75, rel: 1e-6), "\(hand)")
            #expect(try backend.softmax(try Tensor.zeros([3, 0]), axis: 1).shape.dims == [3, 0])
        }
    }

    /// x = [1, 2, 3, 4]: mean square 7.5; mean 2.5, variance 1.25.
    @Test func normsMatchHandComputedValues() throws {
        let x = try Tensor([1, 2, 3, 4, -4, -3, -2, -1] as [Float], shape: [2, 4])
        let w = try Tensor([1, 0.5, 2, -1] as [Float], shape: [4])
        let b = try Tensor([0, 1, 0, -1] as [Float], shape: [4])
        let eps: Float = 1e-5
        let r: Double = 1 / (7.5 + Double(eps)).squareRoot()
        let xw: [Double] = [1, 1, 6, -4, -4, -1.5, -4, 1]  // x·w
        let rmsWant: [Float] = xw.map { Float($0 * r) }
        let l: Double = 1 / (1.25 + Double(eps)).squareRoot()
        let centred: [Double] = [-1.5, -0.5, 0.5, 1.5]  // both rows centre to the same values
        let wv: [Double] = [1, 0.5, 2, -1], bv: [Double] = [0, 1, 0, -1]
        var lnWant: [Float] = []
        for i in 0..<8 { lnWant.append(Float(centred[i % 4] * l * wv[i % 4] + bv[i % 4])) }
        for backend in try backends().map({ $0 as any Backend }) + [ref] {
            // f32 arithmetic: a few roundings of values near 1 — 4 ulp.
            expectClose(try backend.rmsNorm(x, weight: w, eps: eps), try Tensor(rmsWant, shape: [2, 4]),
                        rel: 5e-7, abs: 0, "\(backend.name) rmsnorm")
            expectClose(try backend.layerNorm(x, weight: w, bias: b, eps: eps), try Tensor(lnWant, shape: [2, 4]),
                        rel: 5e-7, abs: 5e-7, "\(backend.name) layernorm")
            let plain = try backend.layerNorm(x, weight: nil, bias: nil, eps: 0).scalars()
            #expect(Approx.equal(plain[0], Float(-1.5 / 1.25.squareRoot()), rel: 5e-7))
        }
    }

    @Test func normsAgreeWithReferenceOnViews() async throws {
        for fast in try backends() {
            await propertyCheck(count: 20, input: Gen.int(in: 1...5), Gen.int(in: 1...70), Gen.int(in: 0...Int(Int32.max))) { rows, n, seed in
                let x = try makeView([rows, n], .transposedView, seed: UInt64(seed))
                let w = try Tensor.random([n], seed: UInt64(seed) &+ 1, in: 0.5...2)
                let b = try Tensor.random([n], seed: UInt64(seed) &+ 2)
                // Relative error of the scale factor ~ n·2^-24 from the f32 sum of squares.
                let rel = Float(n + 8) * 0x1p-24
                expectClose(try fast.rmsNorm(x, weight: w, eps: 1e-6), try ref.rmsNorm(x, weight: w, eps: 1e-6),
                            rel: rel, abs: 1e-6, "\(fast.level) rms n\(n)")
                expectClose(try fast.layerNorm(x, weight: w, bias: b, eps: 1e-6),
                            try ref.layerNorm(x, weight: w, bias: b, eps: 1e-6),
                            rel: rel, abs: 4 * rel, "\(fast.level) ln n\(n)")
            }
        }
    }

    @Test func normErrors() throws {
        let x = try Tensor.zeros([2, 4])
        for backend in [ref, AcceleratedBackend()] as [any Backend] {
            let weight = #expect(throws: KestrelError.self) { try backend.rmsNorm(x, weight: try Tensor.zeros([3]), eps: 1e-5) }
            #expect(weight == .dimensionMismatch(expected: [4], actual: [3]), "\(backend.name)")
            let e1 = #expect(throws: KestrelError.self) { try backend.layerNorm(x, weight: nil, bias: try Tensor.zeros([2, 4]), eps: 0) }
            #expect(e1 == .dimensionMismatch(expected: [4], actual: [2, 4]))
            let e2 = #expect(throws: KestrelError.self) { try backend.rmsNorm(x, weight: nil, eps: -1) }
            #expect({ if case .invalidArgument(name: "eps", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
            let e3 = #expect(throws: KestrelError.self) { try backend.rmsNorm(x, weight: nil, eps: .nan) }
            #expect({ if case .invalidArgument(name: "eps", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
            let e4 = #expect(throws: KestrelError.self) { try backend.rmsNorm(try Tensor(scalar: 1), weight: nil, eps: 0) }
            #expect({ if case .invalidArgument(name: "x", reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
            #expect(try backend.rmsNorm(try Tensor.zeros([3, 0]), weight: nil, eps: 1).shape.dims == [3, 0])
            #expect(try backend.layerNorm(try Tensor.zeros([0, 5]), weight: nil, bias: nil, eps: 1).shape.dims == [0, 5])
        }
    }
}
