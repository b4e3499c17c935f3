extension Tensor {
    /// Element offset (in elements, from the storage base) of `indices`, validated.
    func storageIndex(_ indices: [Int]) throws(KestrelError) -> Int {
        guard indices.count == shape.rank else {
            throw .dimensionMismatch(expected: shape.dims, actual: indices)
        }
        var off = offset
        for (axis, i) in indices.enumerated() {
            guard i >= 0 && i < shape.dims[axis] else {
                throw .invalidArgument(name: "indices",
                                       reason: "index \(i) out of range 0..<\(shape.dims[axis]) on axis \(axis) of shape \(shape)")
            }
            off += i * strides[axis]
        }
        return off
    }

    /// The element at `indices`, as the storage type `T`.
    /// - Throws: `KestrelError.invalidArgument` for an index out of range or when `T` does not
    ///   store this tensor's dtype; `KestrelError.dimensionMismatch` for the wrong number of indices.
    /// - Complexity: O(rank).
    public func element<T: TensorElement>(at indices: [Int], as type: T.Type) throws(KestrelError) -> T {
        guard T.isStorage(of: dtype) else {
            throw .invalidArgument(name: "as", reason: "\(T.self) does not store \(dtype) elements")
        }
        let i = try storageIndex(indices)
        return storage.baseAddress.load(fromByteOffset: i * dtype.byteSize, as: T.self)
    }

    /// Overwrites the element at `indices` with a value of the storage type `T`.
    /// Copies first when the storage is shared (copy-on-write).
    /// - Throws: as ``element(at:as:)``; `KestrelError.capacityExceeded` when the copy fails.
    /// - Complexity: O(rank), or O(n) when a copy is needed.
    public mutating func setElement<T: TensorElement>(_ value: T, at indices: [Int]) throws(KestrelError) {
        guard T.isStorage(of: dtype) else {
            throw .invalidArgument(name: "value", reason: "\(T.self) does not store \(dtype) elements")
        }
        _ = try storageIndex(indices)  // validate before a possible copy
        try makeUnique()
        let i = try storageIndex(indices)
        storage.baseAddress.storeBytes(of: value, toByteOffset: i * dtype.byteSize, as: T.self)
    }

    /// The element at `indices` converted to f32 (exact for every dtype).
    /// - Throws: as ``element(at:as:)`` for bad indices.
    /// - Complexity: O(rank).
    public func scalar(at indices: [Int]) throws(KestrelError) -> Float {
        let i = try storageIndex(indices)
        return ElementCodec.load(storage.baseAddress + i * dtype.byteSize, dtype)
    }

    /// Stores `value` at `indices`, converted to the dtype (f16/bf16 round to nearest even;
    /// integers round to nearest even and saturate). Copies first when the storage is shared.
    /// - Throws: as ``setElement(_:at:)``; `KestrelError.nonFiniteValue` for NaN/Inf into an integer dtype.
    public mutating func setScalar(_ value: Float, at indices: [Int]) throws(KestrelError) {
        _ = try storageIndex(indices)
        try makeUnique()
        let i = try storageIndex(indices)
        try ElementCodec.store(value, storage.baseAddress + i * dtype.byteSize, dtype, index: 0)
    }

    /// All elements in row-major order as the storage type `T`.
    /// - Throws: `KestrelError.invalidArgument` when `T` does not store this dtype.
    /// - Complexity: O(n).
    public func toArray<T: TensorElement>(of type: T.Type) throws(KestrelError) -> [T] {
        guard T.isStorage(of: dtype) else {
            throw .invalidArgument(name: "of", reason: "\(T.self) does not store \(dtype) elements")
        }
        let n = shape.elementCount
        return [T](unsafeUninitializedCapacity: n) { buf, count in
            if let base = buf.baseAddress, n > 0 {
                StridedCopy.gather(from: elementBase, dims: shape.dims, strides: strides,
                                   elementSize: dtype.byteSize, to: UnsafeMutableRawPointer(base))
            }
            count = n
        }
    }

    /// All elements in row-major order converted to f32 (exact for every dtype).
    /// - Complexity: O(n).
    public func scalars() -> [Float] {
        let n = shape.elementCount
        var out = [Float](repeating: 0, count: n)
        if n == 0 { return out }
        let base = elementBase
        let size = dtype.byteSize
        var k = 0
        // forEachOffset only throws what its body throws; this body does not.
        try? StridedCopy.forEachOffset(dims: shape.dims, strides: strides) { off in
            out[k] = ElementCodec.load(base + off * size, dtype)
            k += 1
        }
        return out
    }

    /// Calls `body` with the f32 elements in row-major order, contiguous. A non-contiguous
    /// view is first gathered into a temporary contiguous copy (O(n) time and memory);
    /// a contiguous one is passed in place. The pointer is valid only inside `body`.
    /// - Throws: `KestrelError.invalidArgument` when the dtype is not f32; whatever `body` throws.
    public func withUnsafeBufferPointer<R>(
        _ body: (UnsafeBufferPointer<Float>) throws(KestrelError) -> R
    ) throws(KestrelError) -> R {
        try withUnsafeBufferPointer(as: Float.self, body)
    }

    /// Calls `body` with the elements in row-major order as the storage type `T`, contiguous;
    /// as ``withUnsafeBufferPointer(_:)`` for any dtype.
    /// - Throws: `KestrelError.invalidArgument` when `T` does not store this dtype; whatever `body` throws.
    public func withUnsafeBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws(KestrelError) -> R
    ) throws(KestrelError) -> R {
        guard T.isStorage(of: dtype) else {
            throw .invalidArgument(name: "as", reason: "\(T.self) does not store \(dtype) elements")
        }
        if isContiguous {
            let p = elementBase.assumingMemoryBound(to: T.self)
            return try body(UnsafeBufferPointer(start: p, count: shape.elementCount))
        }
        let copy = try materialized()
        return try copy.withUnsafeBufferPointer(as: T.self, body)
    }

    /// Calls `body` with mutable access to the f32 elements in row-major order. The tensor is
    /// first made unique and contiguous (copying its elements if the storage is shared or the
    /// view has gaps), so writes never reach other views.
    /// - Throws: `KestrelError.invalidArgument` when the dtype is not f32; whatever `body` throws.
    /// - Complexity: O(1), or O(n) when a copy is needed.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(KestrelError) -> R
    ) throws(KestrelError) -> R {
        try withUnsafeMutableBufferPointer(as: Float.self, body)
    }

    /// As ``withUnsafeMutableBufferPointer(_:)`` for any dtype, as the storage type `T`.
    /// - Throws: `KestrelError.invalidArgument` when `T` does not store this dtype; whatever `body` throws.
    public mutating func withUnsafeMutableBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws(KestrelError) -> R
    ) throws(KestrelError) -> R {
        guard T.isStorage(of: dtype) else {
            throw .invalidArgument(name: "as", reason: "\(T.self) does not store \(dtype) elements")
        }
        try makeUniqueContiguous()
        let p = elementBase.assumingMemoryBound(to: T.self)
        return try body(UnsafeMutableBufferPointer(start: p, count: shape.elementCount))
    }
}
