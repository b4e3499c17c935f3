import KestrelTensor
import PropertyBased
import Testing
import _KestrelTestSupport

/// AcceleratedBackend (BLAS + C kernels) against ReferenceBackend (Double loops).
///
/// Matmul tolerance per element: 2·K·2^-24·Σ_k |a_ik·b_kj| + 1e-30 — the standard bound for f32
/// dot products accumulated in any order (γ_K ≈ K·u), with a factor 2 of slack for BLAS's
/// FMA/blocking and the final rounding. Dropping or doubling one term of the sum (magnitude
/// ~0.25 on average for inputs in [-1, 1]) overshoots it by orders of magnitude.
@Suite struct BackendAgreementTests {
    let ref = ReferenceBackend()
    let acc = AcceleratedBackend()

    func checkMatmul(_ a: Tensor, _ b: Tensor, ta: Bool, tb: Bool, _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        // Bits are compared below: hold BLAS at one thread for both products, whatever other
        // suites' parallel regions do to the process-wide count meanwhile.
        try BLASThreads.singleThreaded { try checkMatmulAtOneBLASThread(a, b, ta: ta, tb: tb, what, sourceLocation: sourceLocation) }
    }

    private func checkMatmulAtOneBLASThread(_ a: Tensor, _ b: Tensor, ta: Bool, tb: Bool, _ what: String,
                                            sourceLocation: SourceLocation) throws {
        let got = try acc.matmul(a, b, transposeA: ta, transposeB: tb)
        let want = try ref.matmul(a, b, transposeA: ta, transposeB: tb)
        let bound = try ref.matmul(absolute(a), absolute(b), transposeA: ta, transposeB: tb)
        let k = Float(ta ? a.shape.dims[a.rank - 2] : a.shape.dims[a.rank - 1])
        let tol = bound.scalars().map { 2 * k * 0x1p-24 * $0 + 1e-30 }
        expectWithin(got, want, tolerance: tol, what, sourceLocation: sourceLocation)
        #expect(got.isContiguous && got.dtype == .f32, sourceLocation: sourceLocation)
        // The into-variant fills every element (NaN-prefilled) within the same bound. Not bit-equal
        // to `got`: other tests change the process-wide BLAS thread count between the two calls,
        // and OpenBLAS may then split the sums differently.
        var out = try Tensor.filled(.nan, shape: got.shape)
        try acc.matmul(a, b, transposeA: ta, transposeB: tb, into: &out)
        expectWithin(out, want, tolerance: tol, "\(what): into-variant", sourceLocation: sourceLocation)
    }

    /// Random M, K, N in 1...9 (so 1×N gemv rows, N=1 columns and 1×1 occur), every batching mode,
    /// both transposes and every layout of each operand.
    @Test func matmulAgreesOnRandomShapesAndLayouts() async {
        await propertyCheck(count: 150, input: Gen.int(in: 1...9), Gen.int(in: 1...9), Gen.int(in: 1...9),
                            Gen.int(in: 0...3), Gen.int(in: 0...Int(Int32.max))) { m, k, n, mode, variant in
            var rng = SeededRNG(seed: UInt64(variant))
            let ta = Bool.random(using: &rng), tb = Bool.random(using: &rng)
            let la = Layout.allCases.randomElement(using: &rng)!, lb = Layout.allCases.randomElement(using: &rng)!
            let batch = Int.random(in: 1...4, using: &rng)
            // mode: 0 rank2·rank2, 1 rank3·rank3, 2 rank3·rank2 (broadcast right), 3 rank2·rank3.
            let aBatched = mode == 1 || mode == 2, bBatched = mode == 1 || mode == 3
            let aDims = (aBatched ? [batch] : []) + (ta ? [k, m] : [m, k])
            let bDims = (bBatched ? [batch] : []) + (tb ? [n, k] : [k, n])
            let a = try makeView(aDims, la, seed: UInt64(variant) &+ 1)
            let b = try makeView(bDims, lb, seed: UInt64(variant) &+ 2)
            try checkMatmul(a, b, ta: ta, tb: tb, "m\(m) k\(k) n\(n) mode\(mode) B\(batch) \(la)\(ta ? "ᵀ" : "")·\(lb)\(tb ? "ᵀ" : "")")
        }
    }

    /// Sizes past the BLAS kernels' register blocks and odd in every dimension.
    @Test func matmulAgreesOnOddLargerSizes() throws {
        let cases: [(Int, Int, Int)] = [(1, 1, 1), (1, 257, 300), (300, 257, 1), (33, 17, 65), (64, 64, 64), (2, 129, 3)]
        for (i, (m, k, n)) in cases.enumerated() {
            let a = try Tensor.random([m, k], seed: UInt64(100 + i)), b = try Tensor.random([k, n], seed: UInt64(200 + i))
            try checkMatmul(a, b, ta: false, tb: false, "\(m)x\(k)x\(n)")
            try checkMatmul(try a.transposed().contiguous(), b, ta: true, tb: false, "\(m)x\(k)x\(n) Aᵀ")
            try checkMatmul(a, try b.transposed().contiguous(), ta: false, tb: true, "\(m)x\(k)x\(n) Bᵀ")
        }
        // Decode-like: [B, 1, K] · [K, N] folds into one [B, K] · [K, N] product.
        let q = try Tensor.random([5, 1, 40], seed: 1), w = try Tensor.random([40, 23], seed: 2)
        try checkMatmul(q, w, ta: false, tb: false, "batched rows")
        // Batch slices with an offset, stacked evenly: the folded path with a non-zero offset.
        let big = try Tensor.random([6, 7, 9], seed: 3).slice(axis: 0, 2..<5)
        try checkMatmul(big, w.slice(axis: 0, 0..<9), ta: false, tb: false, "offset batch fold")
    }

    @Test func matmulEmptyAndZeroK() throws {
        let e = try acc.matmul(try Tensor.zeros([0, 3]), try Tensor.random([3, 4], seed: 1))
        #expect(e.shape.dims == [0, 4])
        let z = try acc.matmul(try Tensor.zeros([2, 0]), try Tensor.zeros([0, 3]))
        #expect(z.shape.dims == [2, 3] && z.scalars() == [Float](repeating: 0, count: 6))
        let zr = try ref.matmul(try Tensor.zeros([2, 0]), try Tensor.zeros([0, 3]))
        #expect(zr.scalars() == z.scalars())
        let eb = try acc.matmul(try Tensor.zeros([0, 2, 3]), try Tensor.zeros([3, 4]))
        #expect(eb.shape.dims == [0, 2, 4])
    }

    @Test func matmulErrorsNameBothShapes() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4, 5])
        for backend in [ref, acc] as [any Backend] {
            // b must have a's 3 columns as rows: expected [3, 5], got [4, 5].
            let e = #expect(throws: KestrelError.self) { try backend.matmul(a, b) }
            #expect(e == .dimensionMismatch(expected: [3, 5], actual: [4, 5]), "\(backend.name)")
            // Batched: a [2, 2, 3] needs b [2, 3, 1]; [3, 3, 1] has the wrong batch.
            let batch = #expect(throws: KestrelError.self) {
                try backend.matmul(try Tensor.zeros([2, 2, 3]), try Tensor.zeros([3, 3, 1]))
            }
            #expect(batch == .dimensionMismatch(expected: [2, 3, 1], actual: [3, 3, 1]), "\(backend.name)")
            let e1 = #expect(throws: KestrelError.self) { try backend.matmul(try Tensor.zeros([3]), b) }
            #expect({ if case .invalidArgument(name: "a", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
            let e2 = #expect(throws: KestrelError.self) { try backend.matmul(try Tensor.zeros([1, 1, 2, 3]), b) }
            #expect({ if case .invalidArgument(name: "a", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
            let e3 = #expect(throws: KestrelError.self) { try backend.matmul(try Tensor.zeros([2, 3], dtype: .int8), b) }
            #expect({ if case .unsupported(_)? = e3 { true } else { false } }(), "\(String(describing: e3))")
            let e4 = #expect(throws: KestrelError.self) { try backend.matvec(a, try Tensor.zeros([2])) }
            #expect(e4 == .dimensionMismatch(expected: [3], actual: [2]))
            let e5 = #expect(throws: KestrelError.self) { try backend.matvec(a, try Tensor.zeros([3, 1])) }
            #expect({ if case .invalidArgument(name: "x", reason: _)? = e5 { true } else { false } }(), "\(String(describing: e5))")
        }
        var wrong = try Tensor.zeros([3, 3])
        let into = #expect(throws: KestrelError.self) { try acc.matmul(a, try Tensor.zeros([3, 4]), into: &wrong) }
        #expect(into == .dimensionMismatch(expected: [2, 4], actual: [3, 3]))
        var int8 = try Tensor.zeros([2, 4], dtype: .int8)
        let e6 = #expect(throws: KestrelError.self) { try acc.matmul(a, try Tensor.zeros([3, 4]), into: &int8) }
        #expect({ if case .invalidArgument(name: "out", reason: _)? = e6 { true } else { false } }(), "\(String(describing: e6))")
    }

    @Test func matmulIntoNeverWritesThroughSharedViews() throws {
        let a = try Tensor.random([3, 4], seed: 1), b = try Tensor.random([4, 2], seed: 2)
        let keep = try Tensor.zeros([3, 2])
        var out = keep
        try acc.matmul(a, b, into: &out)
        #expect(keep.scalars().allSatisfy { $0 == 0 })
        #expect(!out.sharesStorage(with: keep))
        // A unique contiguous result buffer is reused in place.
        let address = out.storageAddress
        try acc.matmul(a, b, into: &out)
        #expect(out.storageAddress == address)
    }

    @Test func matvecAgrees() async {
        await propertyCheck(count: 60, input: Gen.int(in: 1...12), Gen.int(in: 1...12), Gen.int(in: 0...Int(Int32.max))) { m, k, variant in
            var rng = SeededRNG(seed: UInt64(variant))
            let ta = Bool.random(using: &rng)
            let layout = Layout.allCases.randomElement(using: &rng)!
            let a = try makeView(ta ? [k, m] : [m, k], layout, seed: UInt64(variant))
            // x as a strided column of a bigger matrix.
            let x = try Tensor.random([k, 3], seed: UInt64(variant) &+ 9).select(axis: 1, index: 2)
            let got = try acc.matvec(a, x, transposeA: ta)
            let want = try ref.matvec(a, x, transposeA: ta)
            let bound = try ref.matvec(absolute(a), absolute(x), transposeA: ta)
            expectWithin(got, want, tolerance: bound.scalars().map { 2 * Float(k) * 0x1p-24 * $0 + 1e-30 },
                         "matvec m\(m) k\(k) \(layout) ta=\(ta)")
        }
    }

    /// Element-wise ops and reductions, at every kernel tier this CPU runs.
    @Test func elementwiseAndReductionsAgreeAtEveryTier() async throws {
        for level in ISALevel.supported {
            let fast = try AcceleratedBackend(level: level)
            #expect(fast.level == level)
            await propertyCheck(count: 25, input: Gen.int(in: 1...6), Gen.int(in: 1...40), Gen.int(in: 0...Int(Int32.max))) { rows, cols, variant in
                var rng = SeededRNG(seed: UInt64(variant))
                let layout = Layout.allCases.randomElement(using: &rng)!
                let a = try makeView([rows, cols], layout, seed: UInt64(variant))
                let b = try makeView([rows, cols], .transposedView, seed: UInt64(variant) &+ 1)
                let bias = try Tensor.random([cols], seed: UInt64(variant) &+ 2)
                // add/mul/scale: one rounding per element, identical to Double-then-round.
                expectClose(try fast.add(a, b), try ref.add(a, b), rel: 0, abs: 0, "\(level) add \(layout)")
                expectClose(try fast.mul(a, b), try ref.mul(a, b), rel: 0, abs: 0, "\(level) mul")
                expectClose(try fast.add(a, bias), try ref.add(a, bias), rel: 0, abs: 0, "\(level) add broadcast")
                expectClose(try fast.mul(a, bias), try ref.mul(a, bias), rel: 0, abs: 0, "\(level) mul broadcast")
                expectClose(try fast.scale(a, by: -1.75), try ref.scale(a, by: -1.75), rel: 0, abs: 0, "\(level) scale")
                // Sums: f32 accumulation of n terms of |x| <= 1: error <= n·2^-24·sum|x| (abs bound below).
                for axis in 0..<2 {
                    let n = Float(axis == 0 ? rows : cols)
                    let absSum = try ref.sum(absolute(a), axis: axis).scalars()
                    expectWithin(try fast.sum(a, axis: axis), try ref.sum(a, axis: axis),
                                 tolerance: absSum.map { 2 * n * 0x1p-24 * $0 + 1e-30 }, "\(level) sum axis \(axis)")
                    expectClose(try fast.max(a, axis: axis), try ref.max(a, axis: axis), rel: 0, abs: 0, "\(level) max axis \(axis)")
                }
                let total = try ref.sum(absolute(a))
                #expect(Swift.abs(try fast.sum(a) - (try ref.sum(a))) <= 2 * Float(rows * cols) * 0x1p-24 * total + 1e-30)
                #expect(try fast.max(a) == (try ref.max(a)))
            }
        }
    }

    @Test func elementwiseErrorsAndEdges() throws {
        for backend in [ref, acc] as [any Backend] {
            let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([3, 2])
            let add = #expect(throws: KestrelError.self) { try backend.add(a, b) }
            #expect(add == .dimensionMismatch(expected: [2, 3], actual: [3, 2]), "\(backend.name)")
            let mul = #expect(throws: KestrelError.self) { try backend.mul(a, try Tensor.zeros([2])) }
            #expect(mul == .dimensionMismatch(expected: [2, 3], actual: [2]), "\(backend.name)")
            let e7 = #expect(throws: KestrelError.self) { try backend.sum(a, axis: 2) }
            #expect({ if case .invalidArgument(name: "axis", reason: _)? = e7 { true } else { false } }(), "\(String(describing: e7))")
            let e8 = #expect(throws: KestrelError.self) { try backend.max(a, axis: -1) }
            #expect({ if case .invalidArgument(name: "axis", reason: _)? = e8 { true } else { false } }(), "\(String(describing: e8))")
            let e9 = #expect(throws: KestrelError.self) { try backend.softmax(a, axis: 2) }
            #expect({ if case .invalidArgument(name: "axis", reason: _)? = e9 { true } else { false } }(), "\(String(describing: e9))")
            let empty = try Tensor.zeros([0, 3])
            #expect(try backend.sum(empty) == 0)
            #expect(try backend.max(empty) == -.infinity)
            #expect(try backend.sum(empty, axis: 0).scalars() == [0, 0, 0])
            #expect(try backend.max(empty, axis: 0).scalars() == [-.infinity, -.infinity, -.infinity])
            #expect(try backend.sum(empty, axis: 1).shape.dims == [0])
            #expect(try backend.add(empty, try Tensor.zeros([3])).shape.dims == [0, 3])
            let withNaN = try Tensor([1, .nan, 3, 4] as [Float], shape: [2, 2])
            #expect(try backend.max(withNaN).isNaN)
            let colMax = try backend.max(withNaN, axis: 0).scalars()
            #expect(colMax[0] == 3 && colMax[1].isNaN)
            #expect(try backend.max(withNaN, axis: 1).scalars()[0].isNaN)
        }
    }
}

extension BackendAgreementTests {
    /// Empty products whose extents multiply past Int.max are rejected, never trapped on.
    @Test func hugeEmptyProductsThrow() throws {
        let a = try Tensor.zeros([1 << 40, 0, 0]), b = try Tensor.zeros([0, 1 << 40])
        let e10 = #expect(throws: KestrelError.self) { try AcceleratedBackend().matmul(a, b) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e10 { true } else { false } }(), "\(String(describing: e10))")
        let e11 = #expect(throws: KestrelError.self) { try ReferenceBackend().matmul(a, b) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e11 { true } else { false } }(), "\(String(describing: e11))")
    }
}

extension BackendAgreementTests {
    /// Results too large to allocate throw for both backends (inputs themselves are empty).
    @Test func unallocatableResultsThrow() throws {
        let a = try Tensor.zeros([1 << 31, 0]), b = try Tensor.zeros([0, 1 << 31])
        let e12 = #expect(throws: KestrelError.self) { try AcceleratedBackend().matmul(a, b) }
        #expect(e12 == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: Int.max))
        let e13 = #expect(throws: KestrelError.self) { try ReferenceBackend().matmul(a, b) }
        #expect(e13 == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: Int.max))
        let tall = try Tensor.zeros([1 << 62, 0])
        let e14 = #expect(throws: KestrelError.self) { try AcceleratedBackend().matvec(tall, try Tensor.zeros([0])) }
        #expect(e14 == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: Int.max))
        let e15 = #expect(throws: KestrelError.self) { try ReferenceBackend().matvec(tall, try Tensor.zeros([0])) }
        #expect(e15 == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: Int.max))
        // Huge-but-empty reductions and softmax return at once.
        let wide = try Tensor.zeros([1 << 40, 0])
        for backend in [ReferenceBackend(), AcceleratedBackend()] as [any Backend] {
            let wideSum = #expect(throws: KestrelError.self) { try backend.sum(wide, axis: 1) }  // [2^40] result
            #expect(wideSum == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: 1 << 42), "\(backend.name)")
            #expect(try backend.softmax(wide, axis: 0).elementCount == 0)
            #expect(try backend.softmax(wide, axis: 1).elementCount == 0)
            #expect(try backend.rmsNorm(wide, weight: nil, eps: 0).elementCount == 0)
            #expect(try backend.sum(wide) == 0)
            #expect(try backend.max(wide, axis: 0).shape.dims == [0])
        }
    }
}

extension BackendAgreementTests {
    /// NaN and Inf propagate through every route (sgemm, the M=1 and N=1 gemv paths, matvec).
    @Test func nonFiniteValuesPropagate() throws {
        var a = try Tensor.random([3, 4], seed: 1)
        try a.setScalar(.nan, at: [1, 2])
        let b = try Tensor.random([4, 5], seed: 2)
        for backend in [ref, acc] as [any Backend] {
            let c = try backend.matmul(a, b).scalars()
            #expect((0..<15).allSatisfy { c[$0].isNaN == ($0 / 5 == 1) }, "\(backend.name) sgemm")
            let row = try backend.matmul(try a.slice(axis: 0, 1..<2), b).scalars()
            #expect(row.allSatisfy { $0.isNaN }, "\(backend.name) M=1")
            let col = try backend.matmul(a, try b.slice(axis: 1, 0..<1)).scalars()
            #expect(col.map(\.isNaN) == [false, true, false], "\(backend.name) N=1")
            var inf = try Tensor.filled(1, shape: [2, 2])
            try inf.setScalar(.infinity, at: [0, 0])
            let ones = try Tensor.filled(1, shape: [2])
            let mv = try backend.matvec(inf, ones).scalars()
            #expect(mv == [.infinity, 2], "\(backend.name) matvec")
        }
    }
}
