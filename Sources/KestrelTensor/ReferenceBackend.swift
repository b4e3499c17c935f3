#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The oracle: every operation as plain Swift loops over elements read one by one
/// (``Tensor/scalars()``), accumulating in `Double` in sequential order, rounding once to f32.
///
/// It is slow on purpose (O(M·N·K) scalar multiply-adds, no blocking) and shares no code
/// with ``AcceleratedBackend`` beyond argument validation, so the two can check each other.
/// Thread-safe (stateless).
public struct ReferenceBackend: Backend {
    /// `"reference"`.
    public let name = "reference"

    /// Creates the reference backend.
    public init() {}

    /// See ``Backend/matmul(_:_:transposeA:transposeB:)``. Double accumulation.
    /// - Complexity: O(B·M·N·K).
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws(KestrelError) -> Tensor {
        let a = try OperandChecks.f32(a, "a"), b = try OperandChecks.f32(b, "b")
        let aOp = transposeA ? try a.transposed() : a
        let bOp = transposeB ? try b.transposed() : b
        let p = try OperandChecks.matmulPlan(aOp, bOp)
        // Allocate through Tensor so an impossible size throws instead of trapping.
        var result = try Tensor.zeros(Shape(p.outDims))
        if result.elementCount == 0 || p.k == 0 { return result }
        let av = aOp.scalars(), bv = bOp.scalars()
        let aBatch = aOp.rank == 3 ? p.m * p.k : 0
        let bBatch = bOp.rank == 3 ? p.k * p.n : 0
        try result.withUnsafeMutableBufferPointer { out in
            for batch in 0..<p.batch {
                for i in 0..<p.m {
                    for j in 0..<p.n {
                        var acc = 0.0
                        for l in 0..<p.k {
                            acc += Double(av[batch * aBatch + i * p.k + l]) * Double(bv[batch * bBatch + l * p.n + j])
                        }
                        out[(batch * p.m + i) * p.n + j] = Float(acc)
                    }
                }
            }
        }
        return result
    }

    /// See ``Backend/matvec(_:_:transposeA:)``. Double accumulation. O(M·K).
    public func matvec(_ a: Tensor, _ x: Tensor, transposeA: Bool) throws(KestrelError) -> Tensor {
        let a = try OperandChecks.f32(a, "a"), x = try OperandChecks.f32(x, "x")
        let aOp = transposeA ? try a.transposed() : a
        let (m, k) = try OperandChecks.matvecPlan(aOp, x)
        var result = try Tensor.zeros([m])
        if m == 0 || k == 0 { return result }
        let av = aOp.scalars(), xv = x.scalars()
        try result.withUnsafeMutableBufferPointer { out in
            for i in 0..<m {
                var acc = 0.0
                for l in 0..<k { acc += Double(av[i * k + l]) * Double(xv[l]) }
                out[i] = Float(acc)
            }
        }
        return result
    }

    /// Lanes of `axis`: (outer, n, inner) with element (o, j, i) at (o * n + j) * inner + i.
    private func lanes(_ x: Tensor, axis: Int) throws(KestrelError) -> (outer: Int, n: Int, inner: Int) {
        try x.checkAxis(axis)
        let d = x.shape.dims
        return (d[..<axis].reduce(1, *), d[axis], d[(axis + 1)...].reduce(1, *))
    }

    /// See ``Backend/softmax(_:axis:)``. Double arithmetic. O(n).
    public func softmax(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor {
        let x = try OperandChecks.f32(x, "x")
        let (outer, n, inner) = try lanes(x, axis: axis)
        if x.elementCount == 0 { return try Tensor.zeros(x.shape) }
        let v = x.scalars()
        var out = [Float](repeating: 0, count: v.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let idx = (0..<n).map { (o * n + $0) * inner + i }
                let lane = idx.map { Double(v[$0]) }
                if lane.contains(where: { $0.isNaN || $0 == .infinity }) {
                    for t in idx { out[t] = .nan }
                    continue
                }
                let m = lane.max() ?? -.infinity
                if m == -.infinity { continue }  // fully masked lane: zeros
                let e = lane.map { exp($0 - m) }
                let s = e.reduce(0, +)
                for (t, ev) in zip(idx, e) { out[t] = Float(ev / s) }
            }
        }
        return try Tensor(out, shape: x.shape)
    }

    private func elementwise(_ a: Tensor, _ b: Tensor, _ op: (Double, Double) -> Double) throws(KestrelError) -> Tensor {
        let a = try OperandChecks.f32(a, "a"), b = try OperandChecks.f32(b, "b")
        let bn = try OperandChecks.elementwise(a, b)
        let av = a.scalars(), bv = b.scalars()
        var out = [Float](repeating: 0, count: av.count)
        for i in 0..<av.count { out[i] = Float(op(Double(av[i]), Double(bv[i % bn]))) }
        return try Tensor(out, shape: a.shape)
    }

    /// See ``Backend/add(_:_:)``. O(n).
    public func add(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor { try elementwise(a, b, +) }

    /// See ``Backend/mul(_:_:)``. O(n).
    public func mul(_ a: Tensor, _ b: Tensor) throws(KestrelError) -> Tensor { try elementwise(a, b, *) }

    /// See ``Backend/scale(_:by:)``. O(n).
    public func scale(_ x: Tensor, by alpha: Float) throws(KestrelError) -> Tensor {
        let x = try OperandChecks.f32(x, "x")
        return try Tensor(x.scalars().map { Float(Double(alpha) * Double($0)) }, shape: x.shape)
    }

    /// See ``Backend/rmsNorm(_:weight:eps:)``. Double arithmetic. O(n).
    public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws(KestrelError) -> Tensor {
        let x = try OperandChecks.f32(x, "x")
        let n = try OperandChecks.norm(x, eps: eps, params: [(weight, "weight")])
        let w = try weight.map { (t: Tensor) throws(KestrelError) in try OperandChecks.f32(t, "weight").scalars() }
        let v = x.scalars()
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<(n == 0 ? 0 : v.count / n) {
            var ss = 0.0
            for i in 0..<n { ss += Double(v[r * n + i]) * Double(v[r * n + i]) }
            let inv = 1 / (ss / Double(n) + Double(eps)).squareRoot()
            for i in 0..<n { out[r * n + i] = Float(Double(v[r * n + i]) * inv * Double(w?[i] ?? 1)) }
        }
        return try Tensor(out, shape: x.shape)
    }

    /// See ``Backend/layerNorm(_:weight:bias:eps:)``. Double arithmetic, two passes. O(n).
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws(KestrelError) -> Tensor {
        let x = try OperandChecks.f32(x, "x")
        let n = try OperandChecks.norm(x, eps: eps, params: [(weight, "weight"), (bias, "bias")])
        let w = try weight.map { (t: Tensor) throws(KestrelError) in try OperandChecks.f32(t, "weight").scalars() }
        let bs = try bias.map { (t: Tensor) throws(KestrelError) in try OperandChecks.f32(t, "bias").scalars() }
        let v = x.scalars()
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<(n == 0 ? 0 : v.count / n) {
            var s = 0.0
            for i in 0..<n { s += Double(v[r * n + i]) }
            let mean = s / Double(n)
            var ss = 0.0
            for i in 0..<n { ss += (Double(v[r * n + i]) - mean) * (Double(v[r * n + i]) - mean) }
            let inv = 1 / (ss / Double(n) + Double(eps)).squareRoot()
            for i in 0..<n {
                let y = (Double(v[r * n + i]) - mean) * inv * Double(w?[i] ?? 1) + Double(bs?[i] ?? 0)
                out[r * n + i] = Float(y)
            }
        }
        return try Tensor(out, shape: x.shape)
    }

    private func reduce(_ x: Tensor, axis: Int, _ lane: ([Float]) -> Float) throws(KestrelError) -> Tensor {
        let x = try OperandChecks.f32(x, "x")
        let dims = try OperandChecks.reducedDims(x, axis: axis)
        let (outer, n, inner) = try lanes(x, axis: axis)
        var result = try Tensor.zeros(dims)  // throws (not traps) when impossibly large
        if result.elementCount == 0 { return result }
        let v = x.scalars()
        try result.withUnsafeMutableBufferPointer { out in
            for o in 0..<outer {
                for i in 0..<inner { out[o * inner + i] = lane((0..<n).map { v[(o * n + $0) * inner + i] }) }
            }
        }
        return result
    }

    private static func sumLane(_ v: [Float]) -> Float { Float(v.reduce(0.0) { $0 + Double($1) }) }
    private static func maxLane(_ v: [Float]) -> Float {
        if v.contains(where: \.isNaN) { return .nan }
        return v.max() ?? -.infinity
    }

    /// See ``Backend/sum(_:axis:)``. Double accumulation. O(n).
    public func sum(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor { try reduce(x, axis: axis, Self.sumLane) }

    /// See ``Backend/max(_:axis:)``. O(n).
    public func max(_ x: Tensor, axis: Int) throws(KestrelError) -> Tensor { try reduce(x, axis: axis, Self.maxLane) }

    /// See ``Backend/sum(_:)``. Double accumulation. O(n).
    public func sum(_ x: Tensor) throws(KestrelError) -> Float { Self.sumLane(try OperandChecks.f32(x, "x").scalars()) }

    /// See ``Backend/max(_:)``. O(n).
    public func max(_ x: Tensor) throws(KestrelError) -> Float { Self.maxLane(try OperandChecks.f32(x, "x").scalars()) }
}
