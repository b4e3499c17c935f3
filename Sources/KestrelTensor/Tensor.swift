#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An n-dimensional array over 64-byte-aligned storage, with value semantics.
///
/// A tensor is a view: ``shape``, ``strides`` (in elements) and ``offset`` (in elements) into
/// an ``AlignedBuffer`` of ``dtype`` elements. Views made by slicing, selecting, transposing,
/// permuting or reshaping share that buffer — nothing is copied — until one of them is
/// mutated: a mutation on a tensor whose buffer is shared first copies the tensor's own
/// elements into fresh contiguous storage (copy-on-write), so other views never change.
/// Strides are never negative. Freshly created tensors are contiguous (row-major).
///
/// Thread-safety: a `Tensor` is a value; copies may be read and mutated on different threads
/// (copy-on-write as for `Array`). Do not mutate one variable from two threads at once.
public struct Tensor: Sendable, CustomStringConvertible {
    /// Backing storage, possibly shared with other views.
    var storage: AlignedBuffer
    /// Extent of each axis.
    public private(set) var shape: Shape
    /// Step in elements between neighbours along each axis (non-negative; 0 only on axes of extent <= 1).
    public private(set) var strides: [Int]
    /// Index in elements of the first element within the storage.
    public private(set) var offset: Int
    /// Element type.
    public let dtype: DType

    /// Assembles a view; callers guarantee it stays inside `storage`.
    init(storage: AlignedBuffer, shape: Shape, strides: [Int], offset: Int, dtype: DType) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.dtype = dtype
        assert(Self.fits(storage: storage, shape: shape, strides: strides, offset: offset, dtype: dtype))
    }

    /// A fresh contiguous tensor (uninitialised unless `zeroed`), from `pool` when given.
    /// - Throws: `KestrelError.capacityExceeded` when the byte count overflows, exceeds physical
    ///   memory or allocation fails.
    init(allocating shape: Shape, dtype: DType, zeroed: Bool, pool: BufferPool? = nil) throws(KestrelError) {
        let bytes = try SizeCheck.bytes(shape.elementCount, dtype.byteSize)
        let buffer: AlignedBuffer
        if let pool {
            buffer = try pool.acquire(byteCount: bytes, zeroed: zeroed)
        } else {
            buffer = try AlignedBuffer(byteCount: bytes, zeroed: zeroed)
        }
        self.init(storage: buffer, shape: shape, strides: shape.contiguousStrides, offset: 0, dtype: dtype)
    }

    // MARK: Creation

    /// A tensor of zeros.
    /// - Parameters:
    ///   - shape: extents; any may be 0 (an empty tensor).
    ///   - dtype: element type (default f32).
    ///   - pool: take the storage from this pool (it returns there when the last view dies).
    /// - Throws: `KestrelError.capacityExceeded` when the byte count overflows or allocation fails.
    /// - Complexity: O(n) time and memory.
    public static func zeros(_ shape: Shape, dtype: DType = .f32, pool: BufferPool? = nil) throws(KestrelError) -> Tensor {
        try Tensor(allocating: shape, dtype: dtype, zeroed: true, pool: pool)
    }

    /// A tensor of zeros with the given extents.
    /// - Throws: `KestrelError.invalidArgument` for bad extents; otherwise as ``zeros(_:dtype:pool:)-(Shape,_,_)``.
    public static func zeros(_ dims: [Int], dtype: DType = .f32, pool: BufferPool? = nil) throws(KestrelError) -> Tensor {
        try zeros(Shape(dims), dtype: dtype, pool: pool)
    }

    /// A tensor with every element equal to `value` converted to `dtype`
    /// (f16/bf16 round to nearest even; integers round to nearest even and saturate).
    /// - Throws: `KestrelError.nonFiniteValue` when `value` is NaN/Inf and `dtype` is an
    ///   integer type; `KestrelError.capacityExceeded` as ``zeros(_:dtype:pool:)-(Shape,_,_)``.
    /// - Complexity: O(n).
    public static func filled(_ value: Float, shape: Shape, dtype: DType = .f32) throws(KestrelError) -> Tensor {
        let t = try Tensor(allocating: shape, dtype: dtype, zeroed: false)
        let n = shape.elementCount
        let base = t.storage.baseAddress
        switch dtype {
        case .f32:
            base.initializeMemory(as: Float.self, repeating: value, count: n)
        case .f16, .bf16:
            base.initializeMemory(as: UInt16.self, repeating: try ElementCodec.encode16(value, dtype), count: n)
        case .int8:
            base.initializeMemory(as: Int8.self, repeating: try ElementCodec.int8(value, index: 0), count: n)
        case .uint8:
            base.initializeMemory(as: UInt8.self, repeating: try ElementCodec.uint8(value, index: 0), count: n)
        }
        return t
    }

    /// As ``filled(_:shape:dtype:)`` with extents given as an array.
    /// - Throws: `KestrelError.invalidArgument` for bad extents; otherwise as ``filled(_:shape:dtype:)``.
    public static func filled(_ value: Float, shape dims: [Int], dtype: DType = .f32) throws(KestrelError) -> Tensor {
        try filled(value, shape: Shape(dims), dtype: dtype)
    }

    /// A contiguous tensor holding `values` in row-major order.
    /// - Parameters:
    ///   - values: `shape.elementCount` elements.
    ///   - dtype: the storage type; defaults to `T.naturalDType` (pass `.bf16` for bfloat16 bit patterns).
    /// - Throws: `KestrelError.dimensionMismatch` when the count does not match the shape,
    ///   `KestrelError.invalidArgument` when `T` does not store `dtype`.
    /// - Complexity: O(n).
    public init<T: TensorElement>(_ values: [T], shape: Shape, dtype: DType? = nil) throws(KestrelError) {
        let dt = dtype ?? T.naturalDType
        guard T.isStorage(of: dt) else {
            throw .invalidArgument(name: "dtype", reason: "\(T.self) values cannot be stored as \(dt)")
        }
        guard values.count == shape.elementCount else {
            throw .dimensionMismatch(expected: shape.dims, actual: [values.count])
        }
        try self.init(allocating: shape, dtype: dt, zeroed: false)
        let base = storage.baseAddress
        values.withUnsafeBytes { src in
            if let s = src.baseAddress { base.copyMemory(from: s, byteCount: src.count) }
        }
    }

    /// As ``init(_:shape:dtype:)-(_,Shape,_)`` with extents given as an array.
    /// - Throws: `KestrelError.invalidArgument` for bad extents; otherwise as the `Shape` version.
    public init<T: TensorElement>(_ values: [T], shape dims: [Int], dtype: DType? = nil) throws(KestrelError) {
        try self.init(values, shape: Shape(dims), dtype: dtype)
    }

    /// A rank-0 f32 tensor holding `value`.
    /// - Throws: `KestrelError.capacityExceeded` when even 64 bytes cannot be allocated.
    public init(scalar value: Float) throws(KestrelError) {
        let buffer = try AlignedBuffer(byteCount: 4)
        buffer.baseAddress.storeBytes(of: value, as: Float.self)
        self.init(storage: buffer, shape: .scalar, strides: [], offset: 0, dtype: .f32)
    }

    // MARK: Properties

    /// Number of elements (product of the extents).
    public var elementCount: Int { shape.elementCount }

    /// Number of axes.
    public var rank: Int { shape.rank }

    /// True when the elements are laid out row-major without gaps (strides of axes with
    /// extent 1 are ignored; empty tensors count as contiguous).
    public var isContiguous: Bool {
        if shape.elementCount == 0 { return true }
        var expected = 1
        for axis in stride(from: shape.rank - 1, through: 0, by: -1) {
            let d = shape.dims[axis]
            if d != 1 && strides[axis] != expected { return false }
            expected *= d
        }
        return true
    }

    /// Address of the storage block, for identity checks (two views share storage exactly
    /// when their addresses are equal). Valid only while some view of the storage is alive;
    /// do not dereference it.
    public var storageAddress: UnsafeRawPointer { UnsafeRawPointer(storage.baseAddress) }

    /// True when `self` and `other` are views of the same storage block.
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// Address of the first element (storage base plus `offset` elements).
    var elementBase: UnsafeMutableRawPointer { storage.baseAddress + offset * dtype.byteSize }

    /// `"Tensor(f32, [2, 3])"`.
    public var description: String { "Tensor(\(dtype), \(shape))" }

    // MARK: Invariants

    /// True when the view stays inside its storage; used by tests (and `assert`s in debug).
    public func checkInvariants() -> Bool {
        strides.count == shape.rank
            && Self.fits(storage: storage, shape: shape, strides: strides, offset: offset, dtype: dtype)
    }

    static func fits(storage: AlignedBuffer, shape: Shape, strides: [Int], offset: Int, dtype: DType) -> Bool {
        guard offset >= 0, strides.allSatisfy({ $0 >= 0 }) else { return false }
        if shape.elementCount == 0 { return true }
        var last = offset
        for (d, s) in zip(shape.dims, strides) { last += (d - 1) * s }
        return (last + 1) * dtype.byteSize <= storage.byteCount
    }

    // MARK: Copy-on-write

    /// Makes the storage exclusively ours before a write. A shared view is copied into
    /// fresh contiguous storage (only its own elements).
    mutating func makeUnique() throws(KestrelError) {
        if !isKnownUniquelyReferenced(&storage) {
            self = try materialized()
        }
    }

    /// Unique and contiguous, copying when either fails.
    mutating func makeUniqueContiguous() throws(KestrelError) {
        if !isKnownUniquelyReferenced(&storage) || !isContiguous {
            self = try materialized()
        }
    }

    /// A contiguous copy in fresh storage (always copies).
    /// - Throws: `KestrelError.capacityExceeded` when allocation fails.
    func materialized(pool: BufferPool? = nil) throws(KestrelError) -> Tensor {
        let out = try Tensor(allocating: shape, dtype: dtype, zeroed: false, pool: pool)
        StridedCopy.gather(from: elementBase, dims: shape.dims, strides: strides,
                           elementSize: dtype.byteSize, to: out.storage.baseAddress)
        return out
    }
}
