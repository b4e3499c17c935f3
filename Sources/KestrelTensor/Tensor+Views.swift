extension Tensor {
    /// Validates an axis against the rank.
    func checkAxis(_ axis: Int, name: String = "axis") throws(KestrelError) {
        guard axis >= 0 && axis < shape.rank else {
            throw .invalidArgument(name: name, reason: "axis \(axis) out of range for rank \(shape.rank) shape \(shape)")
        }
    }

    /// The elements with index in `range` along `axis`: a view sharing storage (no copy).
    /// - Throws: `KestrelError.invalidArgument` for a bad axis or a range outside `0...extent`.
    /// - Complexity: O(rank).
    public func slice(axis: Int, _ range: Range<Int>) throws(KestrelError) -> Tensor {
        try checkAxis(axis)
        let extent = shape.dims[axis]
        guard range.lowerBound >= 0 && range.upperBound <= extent else {
            throw .invalidArgument(name: "range", reason: "\(range) outside 0..<\(extent) on axis \(axis) of shape \(shape)")
        }
        var dims = shape.dims
        dims[axis] = range.count
        let newShape = try Shape(dims)
        // An empty slice keeps offset 0 so it can never point past the storage.
        let newOffset = newShape.elementCount == 0 ? offset : offset + range.lowerBound * strides[axis]
        return Tensor(storage: storage, shape: newShape, strides: strides, offset: newOffset, dtype: dtype)
    }

    /// The sub-tensor at `index` along `axis`, with that axis removed: a view (no copy).
    /// - Throws: `KestrelError.invalidArgument` for a bad axis or an index outside `0..<extent`.
    /// - Complexity: O(rank).
    public func select(axis: Int, index: Int) throws(KestrelError) -> Tensor {
        try checkAxis(axis)
        guard index >= 0 && index < shape.dims[axis] else {
            throw .invalidArgument(name: "index", reason: "index \(index) outside 0..<\(shape.dims[axis]) on axis \(axis) of shape \(shape)")
        }
        var dims = shape.dims
        var st = strides
        dims.remove(at: axis)
        st.remove(at: axis)
        return Tensor(storage: storage, shape: try Shape(dims), strides: st,
                      offset: offset + index * strides[axis], dtype: dtype)
    }

    /// The tensor with its axes reordered: axis `i` of the result is axis `axes[i]` of `self`.
    /// A view (no copy); usually not contiguous afterwards.
    /// - Throws: `KestrelError.invalidArgument` unless `axes` is a permutation of `0..<rank`.
    /// - Complexity: O(rank).
    public func permuted(_ axes: [Int]) throws(KestrelError) -> Tensor {
        guard axes.count == shape.rank, axes.sorted() == Array(0..<shape.rank) else {
            throw .invalidArgument(name: "axes", reason: "\(axes) is not a permutation of the axes of shape \(shape)")
        }
        let dims = axes.map { shape.dims[$0] }
        return Tensor(storage: storage, shape: Shape(unchecked: dims, count: shape.elementCount),
                      strides: axes.map { strides[$0] }, offset: offset, dtype: dtype)
    }

    /// The tensor with its last two axes swapped (the matrix transpose, batched for rank 3+).
    /// A view (no copy).
    /// - Throws: `KestrelError.invalidArgument` when the rank is below 2.
    public func transposed() throws(KestrelError) -> Tensor {
        guard shape.rank >= 2 else {
            throw .invalidArgument(name: "self", reason: "transpose needs rank >= 2, got shape \(shape)")
        }
        var axes = Array(0..<shape.rank)
        axes.swapAt(shape.rank - 1, shape.rank - 2)
        return try permuted(axes)
    }

    /// The same elements (row-major order) with new extents; one extent may be `-1` and is inferred.
    ///
    /// A contiguous tensor is reshaped as a view (no copy). A non-contiguous one is first
    /// copied into fresh contiguous storage (O(n)), so `reshaped` never throws for layout
    /// reasons; check ``sharesStorage(with:)`` if the distinction matters.
    /// - Throws: `KestrelError.dimensionMismatch` when the element counts differ (naming both
    ///   shapes); `KestrelError.invalidArgument` for negative extents or more than one `-1`.
    public func reshaped(_ dims: [Int]) throws(KestrelError) -> Tensor {
        var dims = dims
        let inferred = dims.indices.filter { dims[$0] == -1 }
        guard inferred.count <= 1 else {
            throw .invalidArgument(name: "shape", reason: "at most one -1 extent allowed in \(dims)")
        }
        if let i = inferred.first {
            var known = dims
            known[i] = 1
            let rest = try Shape(known).elementCount
            guard rest > 0, shape.elementCount % rest == 0 else {
                throw .dimensionMismatch(expected: shape.dims, actual: dims)
            }
            dims[i] = shape.elementCount / rest
        }
        let newShape = try Shape(dims)
        guard newShape.elementCount == shape.elementCount else {
            throw .dimensionMismatch(expected: shape.dims, actual: newShape.dims)
        }
        let base = isContiguous ? self : try materialized()
        return Tensor(storage: base.storage, shape: newShape, strides: newShape.contiguousStrides,
                      offset: newShape.elementCount == 0 ? 0 : base.offset, dtype: dtype)
    }

    /// As ``reshaped(_:)-([Int])`` with a validated ``Shape``.
    /// - Throws: `KestrelError.dimensionMismatch` when the element counts differ.
    public func reshaped(_ newShape: Shape) throws(KestrelError) -> Tensor {
        try reshaped(newShape.dims)
    }

    /// `self` when already contiguous (no copy), else a contiguous copy in fresh storage.
    /// - Throws: `KestrelError.capacityExceeded` when the copy cannot be allocated.
    /// - Complexity: O(1) or O(n).
    public func contiguous() throws(KestrelError) -> Tensor {
        isContiguous ? self : try materialized()
    }
}
