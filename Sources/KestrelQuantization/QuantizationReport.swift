import Foundation

/// Error and size figures of one tensor stored lossily (quantized or pruned), against the original.
///
/// Definitions (x original, y reconstruction, n elements; sums in Double):
/// - `rmse = √(Σ(x−y)² / n)`; `maxAbsError = max |x−y|`;
/// - `snrDB = 10·log10(Σx² / Σ(x−y)²)`: +∞ when the error is 0, −∞ when the signal is 0 and the
///   error is not;
/// - `cosineSimilarity = Σxy / √(Σx²·Σy²)`: 1 when both are all zero, 0 when only one is;
/// - `effectiveBits = 8·bytesAfter / n`; `reductionPercent = 100·(1 − bytesAfter/bytesBefore)`.
/// An empty tensor has rmse 0, max error 0, SNR +∞, cosine 1, effective bits 0, reduction 0.
///
/// Value type; thread-safe.
public struct QuantizationReport: Sendable, Hashable {
    /// Name of the tensor or layer (empty when none was given).
    public var name: String
    /// Logical shape.
    public let shape: [Int]
    /// What stores it: a format name such as "int8 sym per-channel(0)", "q4_0", "2:4 pruned".
    public let format: String
    /// Number of elements.
    public let elementCount: Int
    /// Sum of squared errors Σ(x−y)² (Double), the additive figure the planner adds up.
    public let squaredError: Double
    /// Σx² of the original (Double).
    public let signalEnergy: Double
    /// Root-mean-square error.
    public let rmse: Double
    /// Largest absolute error.
    public let maxAbsError: Double
    /// Signal-to-noise ratio in decibels.
    public let snrDB: Double
    /// Cosine similarity of original and reconstruction.
    public let cosineSimilarity: Double
    /// Stored bits per element, scales and metadata included.
    public let effectiveBits: Double
    /// Bytes of the original (elements × its dtype's size).
    public let bytesBefore: Int
    /// Bytes stored afterwards.
    public let bytesAfter: Int

    /// Size reduction in percent (`100·(1 − after/before)`; 0 for an empty tensor).
    public var reductionPercent: Double {
        bytesBefore == 0 ? 0 : 100 * (1 - Double(bytesAfter) / Double(bytesBefore))
    }

    /// Compares `original` with `reconstruction` (same count, row-major).
    /// - Throws: `dimensionMismatch` when the counts differ or `shape` does not hold `original.count` elements.
    /// - Complexity: O(n), one pass.
    public init(name: String = "", shape: [Int], format: String, original: [Float], reconstruction: [Float],
                bytesBefore: Int, bytesAfter: Int) throws(KestrelError) {
        guard original.count == reconstruction.count, shape.reduce(1, *) == original.count else {
            throw .dimensionMismatch(expected: [original.count], actual: [reconstruction.count])
        }
        var see: Double = 0, sxx: Double = 0, syy: Double = 0, sxy: Double = 0, mx: Double = 0
        for i in 0..<original.count {
            let x = Double(original[i]), y = Double(reconstruction[i])
            let d = x - y
            see += d * d
            sxx += x * x
            syy += y * y
            sxy += x * y
            mx = Swift.max(mx, abs(d))
        }
        let n = original.count
        self.name = name
        self.shape = shape
        self.format = format
        elementCount = n
        squaredError = see
        signalEnergy = sxx
        rmse = n == 0 ? 0 : (see / Double(n)).squareRoot()
        maxAbsError = mx
        if see == 0 {
            snrDB = .infinity
        } else {
            snrDB = sxx == 0 ? -.infinity : 10 * (log10(sxx / see))
        }
        if sxx == 0 && syy == 0 {
            cosineSimilarity = 1
        } else if sxx == 0 || syy == 0 {
            cosineSimilarity = 0
        } else {
            cosineSimilarity = sxy / (sxx * syy).squareRoot()
        }
        effectiveBits = n == 0 ? 0 : 8 * Double(bytesAfter) / Double(n)
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
    }

    /// Quantizes and dequantizes `x` with `quantizer` and reports the result; `bytesAfter` is the
    /// payload size, `bytesBefore` the elements times `x`'s dtype size.
    /// - Throws: whatever `quantizer` throws on `x`.
    /// - Complexity: one quantize and one dequantize, plus O(n).
    public init(name: String = "", tensor x: Tensor, quantizer: some Quantizer) throws(KestrelError) {
        let q = try quantizer.quantize(x)
        let y = try quantizer.dequantize(q)
        let original = x.dtype == .f32 ? x.scalars() : try x.converted(to: .f32).scalars()
        try self.init(name: name, shape: x.shape.dims, format: quantizer.format.displayName, original: original,
                      reconstruction: y.scalars(), bytesBefore: x.shape.elementCount * x.dtype.byteSize,
                      bytesAfter: q.data.count)
    }
}

extension QuantizationFormat {
    /// A short, stable name of the format for reports and plans: the ggml type's name ("q4_0",
    /// "f16") or e.g. "int8 sym per-channel(0)", "int4 asym per-group(32)".
    public var displayName: String {
        switch self {
        case .ggml(let t): return t.description
        case .integer(let s):
            let g: String
            switch s.granularity {
            case .perTensor: g = "per-tensor"
            case .perChannel(let a): g = "per-channel(\(a))"
            case .perGroup(let n): g = "per-group(\(n))"
            }
            return "int\(s.bits) \(s.symmetric ? "sym" : "asym") \(g)"
        }
    }
}
