/// The extents of a ``Tensor``: one non-negative size per axis, outermost first.
///
/// A `Shape` is validated on creation: no negative extent, and an element count that fits in
/// `Int` (so every later size computation is overflow-free). Rank 0 is a scalar with one
/// element; any zero extent makes an empty shape. Value type, thread-safe.
public struct Shape: Sendable, Hashable, CustomStringConvertible {
    /// The size of each axis, outermost first.
    public let dims: [Int]
    /// The product of ``dims`` (1 for rank 0, 0 when any extent is 0).
    public let elementCount: Int

    /// Creates a shape from its extents.
    /// - Throws: `KestrelError.invalidArgument` for a negative extent, or when the element
    ///   count overflows `Int`.
    /// - Complexity: O(rank).
    public init(_ dims: [Int]) throws(KestrelError) {
        var count = 1
        var span = 1  // product with zero extents counted as 1: bounds every stride and offset
        var overflowed = false
        for (axis, d) in dims.enumerated() {
            guard d >= 0 else {
                throw .invalidArgument(name: "shape", reason: "axis \(axis) has negative extent \(d) in \(dims)")
            }
            let (p, o1) = span.multipliedReportingOverflow(by: Swift.max(d, 1))
            span = p
            count = count &* d
            overflowed = overflowed || o1
        }
        // A zero extent does not excuse huge other extents: strides must stay representable.
        guard !overflowed else {
            throw .invalidArgument(name: "shape", reason: "element count of \(dims) overflows Int")
        }
        self.dims = dims
        self.elementCount = count
    }

    /// Creates a shape from a variadic list of extents (`try Shape(2, 3)`).
    /// - Throws: as ``init(_:)``.
    public init(_ dims: Int...) throws(KestrelError) { try self.init(dims) }

    /// Internal initializer for dimensions already known to be valid.
    init(unchecked dims: [Int], count: Int) {
        self.dims = dims
        self.elementCount = count
    }

    /// The shape of a scalar (rank 0, one element).
    public static let scalar = Shape(unchecked: [], count: 1)

    /// Number of axes.
    public var rank: Int { dims.count }

    /// True when the shape holds no element.
    public var isEmpty: Bool { elementCount == 0 }

    /// Row-major (C-order) strides in elements: the last axis has stride 1.
    /// - Complexity: O(rank).
    public var contiguousStrides: [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        var s = 1
        for axis in stride(from: dims.count - 1, through: 0, by: -1) {
            strides[axis] = s
            s *= Swift.max(dims[axis], 1)
        }
        return strides
    }

    /// The extent of `axis`.
    /// - Throws: `KestrelError.invalidArgument` when `axis` is not in `0..<rank`.
    public func extent(_ axis: Int) throws(KestrelError) -> Int {
        guard axis >= 0 && axis < dims.count else {
            throw .invalidArgument(name: "axis", reason: "axis \(axis) out of range for rank \(dims.count) shape \(self)")
        }
        return dims[axis]
    }

    /// The shape written as `[2, 3]` (what every error message uses).
    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
