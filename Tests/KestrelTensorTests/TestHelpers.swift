import KestrelTensor
import Testing
import _KestrelTestSupport

/// Layout variants used to feed views (not just fresh tensors) to the backends.
enum Layout: Int, CaseIterable {
    /// Fresh contiguous tensor.
    case contiguous
    /// Transpose view of a contiguous tensor of the swapped shape (BLAS reads it with a flag).
    case transposedView
    /// Inner-axis slice of a wider tensor: rows have a pitch larger than their length.
    case paddedRows
    /// Every other element of the innermost axis: no unit stride anywhere (must be packed).
    case everyOther
    /// Outermost axis sliced out of a larger tensor (non-zero offset, contiguous inside).
    case offsetSlice
    /// f16 storage (converted to f32 by the backends).
    case half
}

/// A tensor with logical extents `dims` (rank 2 or 3), values uniform in [-1, 1], laid out as `layout`.
func makeView(_ dims: [Int], _ layout: Layout, seed: UInt64) throws -> Tensor {
    let r = dims.count
    switch layout {
    case .contiguous:
        return try Tensor.random(dims, seed: seed)
    case .transposedView:
        var swapped = dims
        swapped.swapAt(r - 1, r - 2)
        let v = try Tensor.random(swapped, seed: seed).transposed()
        #expect(v.shape.dims == dims)
        return v
    case .paddedRows:
        var wide = dims
        wide[r - 1] += 3
        return try Tensor.random(wide, seed: seed).slice(axis: r - 1, 1..<(1 + dims[r - 1]))
    case .everyOther:
        return try Tensor.random(dims + [2], seed: seed).select(axis: r, index: 1)
    case .offsetSlice:
        var tall = dims
        tall[0] += 2
        return try Tensor.random(tall, seed: seed).slice(axis: 0, 2..<(2 + dims[0]))
    case .half:
        return try Tensor.random(dims, seed: seed, dtype: .f16)
    }
}

/// The same values with every element replaced by its absolute value (contiguous f32).
func absolute(_ t: Tensor) throws -> Tensor {
    try Tensor(t.scalars().map { Swift.abs($0) }, shape: t.shape)
}

/// Checks `got` against `want` element by element: |got - want| <= tol[i] (or exact NaN/Inf match).
func expectWithin(_ got: Tensor, _ want: Tensor, tolerance tol: [Float],
                  _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.shape == want.shape, "\(what()): shape \(got.shape) vs \(want.shape)", sourceLocation: sourceLocation)
    guard got.shape == want.shape else { return }
    let g = got.scalars(), w = want.scalars()
    var worst = 0
    var failures = 0
    for i in 0..<g.count {
        let ok: Bool
        if g[i].isNaN || w[i].isNaN { ok = g[i].isNaN && w[i].isNaN }
        else if g[i].isInfinite || w[i].isInfinite { ok = g[i] == w[i] }
        else { ok = Swift.abs(g[i] - w[i]) <= tol[i] }
        if !ok {
            failures += 1
            worst = i
        }
    }
    #expect(failures == 0,
            "\(what()): \(failures) elements off, e.g. [\(worst)] got \(g[worst]) want \(w[worst]) tol \(tol[worst])",
            sourceLocation: sourceLocation)
}

/// Uniform tolerance `abs + rel * |want|`.
func expectClose(_ got: Tensor, _ want: Tensor, rel: Float = 1e-5, abs: Float = 1e-6,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    let tol = want.scalars().map { abs + rel * Swift.abs($0) }
    expectWithin(got, want, tolerance: tol, what(), sourceLocation: sourceLocation)
}

