/// Quantizers by name, as the command line and configuration files spell them, and the quantizer
/// that reads back any ``QuantizedTensor``. Stateless; thread-safe.
public enum QuantizerCatalog {
    /// The names ``quantizer(named:group:symmetric:)`` accepts: the ggml block formats, f16/bf16,
    /// and the integer schemes `int8` and `int4`.
    public static let names = ["q8_0", "q8_1", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k", "f16", "bf16", "int8", "int4"]

    /// The quantizer a name stands for.
    /// - Parameters:
    ///   - name: one of ``names`` (case-insensitive).
    ///   - group: integer schemes only: per-group scales over runs of 32, 64 or 128 elements of the
    ///     last axis; nil means per channel along axis 0 (one scale per row of a weight matrix).
    ///   - symmetric: integer schemes only: zero point 0 (true) or an asymmetric zero point.
    /// - Throws: `invalidArgument(name: "format")` for an unknown name, `invalidArgument(name: "group")`
    ///   for a group with a ggml or half-precision format or a size the integer schemes refuse.
    public static func quantizer(named name: String, group: Int? = nil, symmetric: Bool = true) throws(KestrelError) -> any Quantizer {
        let key = name.lowercased()
        switch key {
        case "int8", "int4":
            let bits = key == "int8" ? 8 : 4
            let granularity: QuantizationGranularity = group.map { .perGroup(size: $0) } ?? .perChannel(axis: 0)
            do {
                return try IntegerQuantizer(scheme: IntegerScheme(bits: bits, symmetric: symmetric, granularity: granularity))
            } catch {
                if group != nil, case .invalidArgument(_, let reason) = error { throw .invalidArgument(name: "group", reason: reason) }
                throw error
            }
        default:
            guard let type = GGMLType.allCases.first(where: { $0.description == key }), type != .q8_K, type != .f32 else {
                throw .invalidArgument(name: "format", reason: "unknown format '\(name)' (use \(names.joined(separator: ", ")))")
            }
            guard group == nil else {
                throw .invalidArgument(name: "group", reason: "applies to int8 and int4, not \(key) (its block size is fixed)")
            }
            return try quantizer(for: .ggml(type))
        }
    }

    /// The quantizer that produced (and dequantizes) tensors of `format`.
    /// - Throws: `invalidArgument` for a format no quantizer here reads (q8_K, an integer scheme
    ///   with bits other than 4 and 8).
    public static func quantizer(for format: QuantizationFormat) throws(KestrelError) -> any Quantizer {
        switch format {
        case .ggml(let t) where t == .f16 || t == .bf16: return try HalfPrecisionQuantizer(t)
        case .ggml(let t): return try GGMLQuantizer(t)
        case .integer(let scheme): return try IntegerQuantizer(scheme: scheme)
        }
    }
}
