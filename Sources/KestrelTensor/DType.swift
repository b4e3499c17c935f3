/// The element type of a ``Tensor``'s storage.
///
/// Computation in the backends is f32; the other types are storage formats that convert
/// to and from f32 (``Tensor/converted(to:)``). `DType` is a trivial value type: thread-safe.
public enum DType: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// IEEE 754 binary32.
    case f32
    /// IEEE 754 binary16, stored as its `UInt16` bit pattern.
    case f16
    /// bfloat16 (the high half of a binary32), stored as its `UInt16` bit pattern.
    case bf16
    /// Signed 8-bit integer.
    case int8
    /// Unsigned 8-bit integer.
    case uint8

    /// Bytes per element: 4, 2, 2, 1, 1.
    public var byteSize: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .int8, .uint8: return 1
        }
    }

    /// True for the floating-point types (f32, f16, bf16).
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16: return true
        case .int8, .uint8: return false
        }
    }

    /// The lower-case name ("f32", "bf16", ...).
    public var description: String { rawValue }
}
