@_exported import KestrelTensor

/// ggml tensor element types Kestrel reads and writes, with their GGUF type ids as raw values.
/// Layouts: Documentation/Quantization.md.
public enum GGMLType: UInt32, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q4_K = 12, q6_K = 14, q8_K = 15, bf16 = 30

    /// Elements per block (1 for f32, f16, bf16).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q4_K, .q6_K, .q8_K: 256
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q8_1: 36
        case .q4_K: 144
        case .q6_K: 210
        case .q8_K: 292
        }
    }

    /// Lower-case name as `kestrel quantize --format` spells it (`q4_k` for Q4_K).
    public var description: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .bf16: "bf16"
        case .q4_0: "q4_0"
        case .q4_1: "q4_1"
        case .q5_0: "q5_0"
        case .q5_1: "q5_1"
        case .q8_0: "q8_0"
        case .q8_1: "q8_1"
        case .q4_K: "q4_k"
        case .q6_K: "q6_k"
        case .q8_K: "q8_k"
        }
    }
}

/// How the elements of an integer scheme share scales.
public enum QuantizationGranularity: Sendable, Hashable {
    /// One scale (and zero point) for the whole tensor.
    case perTensor
    /// One per index along `axis` (e.g. per output channel of a weight matrix: axis 0).
    case perChannel(axis: Int)
    /// One per run of `size` consecutive elements along the last axis (32, 64 or 128).
    case perGroup(size: Int)
}

/// An integer quantization scheme: 8 or 4 bits, symmetric (zero point 0) or asymmetric.
public struct IntegerScheme: Sendable, Hashable {
    /// 8 or 4.
    public var bits: Int
    /// Symmetric schemes store no zero point.
    public var symmetric: Bool
    /// How elements share scales.
    public var granularity: QuantizationGranularity

    /// A scheme; the quantizer that uses it validates `bits` and the granularity.
    public init(bits: Int, symmetric: Bool, granularity: QuantizationGranularity) {
        self.bits = bits
        self.symmetric = symmetric
        self.granularity = granularity
    }
}

/// What a ``QuantizedTensor``'s bytes hold.
public enum QuantizationFormat: Sendable, Hashable {
    /// A ggml block stream: rows of the last axis cut into blocks, blocks back to back.
    case ggml(GGMLType)
    /// An integer scheme (layout of codes, scales and zero points: Documentation/Quantization.md).
    case integer(IntegerScheme)
}

/// A quantized tensor: its logical shape, its format and one byte payload holding everything
/// needed to dequantize it (codes and scales). Value type; thread-safe to share.
public struct QuantizedTensor: Sendable, Hashable {
    /// Logical shape of the float tensor it encodes.
    public let shape: [Int]
    /// Format of `data`.
    public let format: QuantizationFormat
    /// The payload, laid out as the format documents.
    public let data: [UInt8]

    /// Wraps a payload. Quantizers validate `data` against `shape` and `format` on dequantize.
    public init(shape: [Int], format: QuantizationFormat, data: [UInt8]) {
        self.shape = shape
        self.format = format
        self.data = data
    }

    /// Number of logical elements (the product of `shape`; 1 for a scalar shape `[]`).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A quantizer: float tensor in, ``QuantizedTensor`` out, and back.
///
/// Conformers are value types holding only their configuration, so they are `Sendable` and
/// may be used from any thread.
public protocol Quantizer: Sendable {
    /// The format this quantizer produces.
    var format: QuantizationFormat { get }

    /// Quantizes a float tensor (any dtype convertible to f32).
    /// - Throws: `nonFiniteValue(index:)` (flat index of the first NaN/Inf),
    ///   `invalidArgument`/`dimensionMismatch` for shapes the format cannot hold.
    func quantize(_ x: Tensor) throws(KestrelError) -> QuantizedTensor

    /// Dequantizes to an f32 tensor of `q.shape`.
    /// - Throws: `invalidArgument` when `q.format` is not this quantizer's, `corruptFile` when the
    ///   payload is truncated or inconsistent with the shape (never reads out of bounds).
    func dequantize(_ q: QuantizedTensor) throws(KestrelError) -> Tensor

    /// Bytes of the payload for a tensor of `shape` (scales included).
    /// - Throws: as ``quantize(_:)`` for shapes the format cannot hold; `capacityExceeded` on overflow.
    func quantizedByteCount(shape: [Int]) throws(KestrelError) -> Int
}

extension Quantizer {
    /// Payload bits per logical value, scales and zero points included (e.g. 8.5 for Q8_0).
    public func effectiveBitsPerValue(shape: [Int]) throws(KestrelError) -> Double {
        let n = shape.reduce(1, *)
        guard n > 0 else { return 0 }
        return Double(try quantizedByteCount(shape: shape)) * 8 / Double(n)
    }
}
