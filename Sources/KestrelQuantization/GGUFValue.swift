/// The type tag of a GGUF metadata value, with its GGUF id as raw value.
public enum GGUFValueType: UInt32, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// Fixed-size scalars (little-endian; bool is one byte, 0 or 1).
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    /// A u64 byte length and UTF-8 bytes.
    case string = 8
    /// A u32 element type, a u64 count and the elements (which may be arrays).
    case array = 9
    /// 64-bit scalars (added in GGUF version 2).
    case uint64 = 10, int64 = 11, float64 = 12

    /// Fewest bytes one value of this type takes in a file (a string or array header when empty).
    /// Used to bound counts by the bytes that remain before anything is allocated.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12
        }
    }

    /// Lower-case name ("uint8", "float32", "array", …).
    public var description: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .uint32: "uint32"
        case .int32: "int32"
        case .float32: "float32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "uint64"
        case .int64: "int64"
        case .float64: "float64"
        }
    }
}

/// A typed GGUF metadata value. Arrays carry their element type (so an empty array keeps it) and may
/// nest. Value type; thread-safe to share.
public enum GGUFValue: Sendable, Hashable, CustomStringConvertible {
    /// An unsigned 8-bit integer.
    case uint8(UInt8)
    /// A signed 8-bit integer.
    case int8(Int8)
    /// An unsigned 16-bit integer.
    case uint16(UInt16)
    /// A signed 16-bit integer.
    case int16(Int16)
    /// An unsigned 32-bit integer (`general.alignment` must be one).
    case uint32(UInt32)
    /// A signed 32-bit integer.
    case int32(Int32)
    /// An unsigned 64-bit integer.
    case uint64(UInt64)
    /// A signed 64-bit integer.
    case int64(Int64)
    /// An IEEE binary32 value (any bits, NaN included).
    case float32(Float)
    /// An IEEE binary64 value.
    case float64(Double)
    /// A boolean (one byte in the file).
    case bool(Bool)
    /// UTF-8 text (GGUF stores a 64-bit byte length and no terminator).
    case string(String)
    /// Elements all of `elementType` (``GGUFWriter`` refuses a mismatch).
    case array(elementType: GGUFValueType, [GGUFValue])

    /// The value's type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value of any integer type as `Int`, or nil (not an integer, or a `uint64` above `Int.max`).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A `float32` or `float64` value as `Double`, or nil.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: nil
        }
    }

    /// The text of a `string`, or nil.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value of a `bool`, or nil.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements of an `array`, or nil.
    public var arrayValue: [GGUFValue]? {
        if case .array(_, let a) = self { return a }
        return nil
    }

    /// The value as written in Swift source (`uint32(32)`, `array<string>[…]`).
    public var description: String {
        switch self {
        case .string(let s): return "string(\(String(reflecting: s)))"
        case .array(let t, let a): return "array<\(t)>[\(a.map(\.description).joined(separator: ", "))]"
        case .uint8(let v): return "uint8(\(v))"
        case .int8(let v): return "int8(\(v))"
        case .uint16(let v): return "uint16(\(v))"
        case .int16(let v): return "int16(\(v))"
        case .uint32(let v): return "uint32(\(v))"
        case .int32(let v): return "int32(\(v))"
        case .uint64(let v): return "uint64(\(v))"
        case .int64(let v): return "int64(\(v))"
        case .float32(let v): return "float32(\(v))"
        case .float64(let v): return "float64(\(v))"
        case .bool(let v): return "bool(\(v))"
        }
    }

    /// True when both values have the same type and the same bits: unlike `==`, a NaN equals the
    /// same NaN and -0.0 differs from +0.0 (what a file round trip must preserve).
    /// - Complexity: O(size of the value).
    public func isIdentical(to other: GGUFValue) -> Bool {
        switch (self, other) {
        case (.float32(let x), .float32(let y)): return x.bitPattern == y.bitPattern
        case (.float64(let x), .float64(let y)): return x.bitPattern == y.bitPattern
        case (.array(let t, let xs), .array(let u, let ys)):
            return t == u && xs.count == ys.count && zip(xs, ys).allSatisfy { $0.isIdentical(to: $1) }
        default: return self == other
        }
    }

    /// The first element (depth-first) whose type differs from its array's declared element type,
    /// as a path of indices, or nil when the value is consistent.
    func firstTypeMismatch() -> [Int]? {
        guard case .array(let t, let elements) = self else { return nil }
        for (i, e) in elements.enumerated() {
            if e.type != t { return [i] }
            if let inner = e.firstTypeMismatch() { return [i] + inner }
        }
        return nil
    }
}
