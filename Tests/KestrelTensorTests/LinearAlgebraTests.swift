import KestrelTensor
import Testing
import _KestrelTestSupport

/// LAPACK results checked by their defining identities, in Double on the test side.
/// Tolerances: f32 LAPACK is backward stable, errors ~ c·n·2^-24·‖A‖; 1e-5·‖A‖ at these sizes.
@Suite struct LinearAlgebraTests {
    /// Row-major product of [m, k] and [k, n] arrays, in Double.
    func product(_ a: [Float], _ b: [Float], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for l in 0..<k { out[i * n + j] += Double(a[i * k + l]) * Double(b[l * n + j]) } } }
        return out
    }

    func expectIdentity(_ g: [Double], _ n: Int, tol: Double, _ what: String) {
        for i in 0..<n { for j in 0..<n {
            #expect(Swift.abs(g[i * n + j] - (i == j ? 1 : 0)) <= tol, "\(what) [\(i),\(j)] = \(g[i * n + j])")
        } }
    }

    func transpose(_ a: [Float], _ r: Int, _ c: Int) -> [Float] {
        (0..<(r * c)).map { a[($0 % r) * c + $0 / r] }
    }

    /// A = Q1 · diag(5, 3, 1) · Q2ᵀ with Q1 the first 3 columns of the 4×4 Hadamard/2 and Q2 a rotation.
    @Test func svdRecoversConstructedSingularValues() throws {
        let h: [Float] = [1, 1, 1, 1, -1, 1, 1, 1, -1, 1, -1, -1].map { $0 / 2 }  // rows: [1,1,1],[1,-1,1],[1,1,-1],[1,-1,-1] / 2
        let q1 = [Float](h)
        let (c, s) = (Float(0.6), Float(0.8))
        let q2: [Float] = [c, -s, 0, s, c, 0, 0, 0, 1]
        let sv: [Float] = [5, 3, 1]
        var us = q1
        for i in 0..<4 { for j in 0..<3 { us[i * 3 + j] *= sv[j] } }
        let a = product(us, transpose(q2, 3, 3), 4, 3, 3).map { Float($0) }
        let result = try LinearAlgebra.svd(Tensor(a, shape: [4, 3]))
        let got = result.singularValues.scalars()
        for (g, w) in zip(got, sv) { #expect(Swift.abs(g - w) <= 5e-5 * 5, "\(got)") }
        try checkSVD(a, 4, 3, result)
    }

    func checkSVD(_ a: [Float], _ m: Int, _ n: Int, _ r: LinearAlgebra.SVD) throws {
        let k = Swift.min(m, n)
        #expect(r.u.shape.dims == [m, k] && r.singularValues.shape.dims == [k] && r.vt.shape.dims == [k, n])
        let u = r.u.scalars(), s = r.singularValues.scalars(), vt = r.vt.scalars()
        #expect(zip(s, s.dropFirst()).allSatisfy { $0 >= $1 } && s.allSatisfy { $0 >= 0 }, "sorted: \(s)")
        let norm = Double(s.first ?? 0)
        var us = u
        for i in 0..<m { for j in 0..<k { us[i * k + j] *= s[j] } }
        let rebuilt = product(us, vt, m, k, n)
        for i in 0..<(m * n) { #expect(Swift.abs(rebuilt[i] - Double(a[i])) <= 1e-5 * Swift.max(norm, 1), "U·S·Vᵀ [\(i)]") }
        expectIdentity(product(transpose(u, m, k), u, k, m, k), k, tol: 1e-5, "UᵀU")
        expectIdentity(product(vt, transpose(vt, k, n), k, n, k), k, tol: 1e-5, "VᵀV")
    }

    @Test func svdOfRandomWideTallAndViewMatrices() throws {
        for (m, n) in [(7, 5), (5, 7), (1, 6), (6, 1), (1, 1)] {
            let a = try Tensor.random([m, n], seed: UInt64(m * 10 + n))
            try checkSVD(a.scalars(), m, n, try LinearAlgebra.svd(a))
        }
        let view = try Tensor.random([6, 4], seed: 3).transposed()  // non-contiguous input
        try checkSVD(view.scalars(), 4, 6, try LinearAlgebra.svd(view))
        let empty = try LinearAlgebra.svd(try Tensor.zeros([0, 3]))
        #expect(empty.u.shape.dims == [0, 0] && empty.vt.shape.dims == [0, 3])
    }

    @Test func symmetricEigenSatisfiesDefinition() throws {
        let n = 6
        let r = try Tensor.random([n, n], seed: 42).scalars()
        var a = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = (r[i * n + j] + r[j * n + i]) / 2 } }
        let e = try LinearAlgebra.symmetricEigen(Tensor(a, shape: [n, n]))
        let values = e.values.scalars(), v = e.vectors.scalars()
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "ascending \(values)")
        let av = product(a, v, n, n, n)
        for j in 0..<n { for i in 0..<n {
            #expect(Swift.abs(av[i * n + j] - Double(values[j]) * Double(v[i * n + j])) <= 1e-5, "A·v = λ·v, column \(j)")
        } }
        expectIdentity(product(transpose(v, n, n), v, n, n, n), n, tol: 1e-5, "VᵀV")
        // Only the lower triangle is read.
        var garbage = a
        for i in 0..<n { for j in (i + 1)..<n { garbage[i * n + j] = 1000 } }
        let g = try LinearAlgebra.symmetricEigen(Tensor(garbage, shape: [n, n]))
        expectClose(g.values, e.values, rel: 1e-5, abs: 1e-5, "lower triangle only")
        // Known spectrum: diag(3, -1, 2) -> [-1, 2, 3].
        let d = try LinearAlgebra.symmetricEigen(Tensor([3, 0, 0, 0, -1, 0, 0, 0, 2] as [Float], shape: [3, 3]))
        #expect(d.values.scalars() == [-1, 2, 3])
    }

    @Test func leastSquaresRecoversExactSolutions() throws {
        // Overdetermined, consistent: b = A·x exactly representable (small integers).
        let a: [Float] = [1, 0, 1, 1, 1, 0, 0, 1, 1, 2, 1, 0, 1, 2, 3, 0, 0, 1]  // 6×3, full rank
        let x: [Float] = [2, -1, 3]
        let b = product(a, x, 6, 3, 1).map { Float($0) }
        let r = try LinearAlgebra.leastSquares(Tensor(a, shape: [6, 3]), Tensor(b, shape: [6]))
        #expect(r.rank == 3 && r.solution.shape.dims == [3])
        for (g, w) in zip(r.solution.scalars(), x) { #expect(Swift.abs(g - w) <= 1e-5 * 4, "\(r.solution.scalars())") }
        // Several right-hand sides, and an inconsistent one whose residual is orthogonal to A's columns.
        let b2 = try Tensor((0..<12).map { Float($0 % 5) - 2 }, shape: [6, 2])
        let r2 = try LinearAlgebra.leastSquares(Tensor(a, shape: [6, 3]), b2)
        let xs = r2.solution.scalars()
        let ax = product(a, xs, 6, 3, 2), bv = b2.scalars()
        let resid = (0..<12).map { Float(Double(bv[$0]) - ax[$0]) }
        let atr = product(transpose(a, 6, 3), resid, 3, 6, 2)
        #expect(atr.allSatisfy { Swift.abs($0) <= 1e-4 }, "Aᵀ·r = \(atr)")
        // Underdetermined: minimum-norm solution of [1 1] x = 2 is [1, 1].
        let u = try LinearAlgebra.leastSquares(Tensor([1, 1] as [Float], shape: [1, 2]), Tensor([2] as [Float], shape: [1]))
        expectClose(u.solution, try Tensor([1, 1] as [Float], shape: [2]), rel: 1e-6, abs: 1e-6, "min norm")
        // Rank-deficient: duplicated column.
        let dup = try LinearAlgebra.leastSquares(Tensor([1, 1, 2, 2, 3, 3] as [Float], shape: [3, 2]),
                                                  Tensor([2, 4, 6] as [Float], shape: [3]))
        #expect(dup.rank == 1)
        expectClose(dup.solution, try Tensor([1, 1] as [Float], shape: [2]), rel: 1e-5, abs: 1e-5, "rank deficient")
    }

    @Test func errors() throws {
        let sq = try Tensor.zeros([2, 3])
        let square = #expect(throws: KestrelError.self) { try LinearAlgebra.symmetricEigen(sq) }
        #expect(square == .dimensionMismatch(expected: [2, 2], actual: [2, 3]))
        let e1 = #expect(throws: KestrelError.self) { try LinearAlgebra.svd(try Tensor.zeros([2])) }
        #expect({ if case .invalidArgument(name: "a", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let e2 = #expect(throws: KestrelError.self) { try LinearAlgebra.svd(try Tensor.zeros([2, 2], dtype: .uint8)) }
        #expect({ if case .unsupported(_)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        #expect(throws: KestrelError.nonFiniteValue(index: 3)) {
            try LinearAlgebra.svd(try Tensor([1, 2, 3, .nan] as [Float], shape: [2, 2]))
        }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) {
            try LinearAlgebra.leastSquares(try Tensor.zeros([2, 2]), try Tensor([1, .infinity] as [Float], shape: [2]))
        }
        let ls = #expect(throws: KestrelError.self) {
            try LinearAlgebra.leastSquares(try Tensor.zeros([3, 2]), try Tensor.zeros([4]))
        }
        #expect(ls == .dimensionMismatch(expected: [3], actual: [4]))
        let e3 = #expect(throws: KestrelError.self) { try LinearAlgebra.leastSquares(sq, try Tensor.zeros([2, 1, 1])) }
        #expect({ if case .invalidArgument(name: "b", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        #expect(try LinearAlgebra.symmetricEigen(try Tensor.zeros([0, 0])).values.elementCount == 0)
        #expect(try LinearAlgebra.leastSquares(try Tensor.zeros([0, 3]), try Tensor.zeros([0])).solution.scalars() == [0, 0, 0])
    }
}
