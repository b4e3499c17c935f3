/// A Swift type that can be stored in a ``Tensor`` element by element.
///
/// `Float` is f32, `Int8` is int8, `UInt8` is uint8, and `UInt16` carries the raw bit patterns
/// of f16 or bf16 (f16 unless a `dtype` says otherwise).
public protocol TensorElement: Sendable {
    /// The dtype used when none is given.
    static var naturalDType: DType { get }
    /// True when a tensor of `dtype` stores this type.
    static func isStorage(of dtype: DType) -> Bool
}

extension Float: TensorElement {
    /// `.f32`.
    public static var naturalDType: DType { .f32 }
    /// True for `.f32`.
    public static func isStorage(of dtype: DType) -> Bool { dtype == .f32 }
}

extension Int8: TensorElement {
    /// `.int8`.
    public static var naturalDType: DType { .int8 }
    /// True for `.int8`.
    public static func isStorage(of dtype: DType) -> Bool { dtype == .int8 }
}

extension UInt8: TensorElement {
    /// `.uint8`.
    public static var naturalDType: DType { .uint8 }
    /// True for `.uint8`.
    public static func isStorage(of dtype: DType) -> Bool { dtype == .uint8 }
}

extension UInt16: TensorElement {
    /// `.f16` (pass `dtype: .bf16` for bfloat16 bit patterns).
    public static var naturalDType: DType { .f16 }
    /// True for `.f16` and `.bf16` (bit patterns).
    public static func isStorage(of dtype: DType) -> Bool { dtype == .f16 || dtype == .bf16 }
}
