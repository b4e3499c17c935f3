/// The `.kqt` container of one ``QuantizedTensor``: a small checksummed header (format, shape)
/// followed by the payload unchanged. What `kestrel quantize` writes without `--raw` and
/// `kestrel dequantize` reads. Byte layout: Documentation/FileFormats.md, "Quantized tensor files".
///
/// Decoding never reads outside the bytes it is given and throws `corruptFile` for anything the
/// format forbids (bad magic, unknown codes, a rank above ``maximumRank``, dimensions whose product
/// overflows, a payload length that disagrees with the bytes present, either checksum wrong), so a
/// truncated or altered file is refused before its payload is used.
/// Thread-safety: stateless; every function may be called from any thread.
public enum QuantizedTensorFile {
    /// The first four bytes: `KQTF`.
    public static let magic: [UInt8] = Array("KQTF".utf8)
    /// The version this code writes and the versions it reads.
    public static let version = 1
    /// Largest rank the container holds.
    public static let maximumRank = 8
    /// Bytes before the dimensions (magic … payload checksum).
    static let fixedHeaderBytes = 32

    /// Serialises `q` (header, then `q.data`).
    /// - Throws: `invalidArgument` for a rank above ``maximumRank``, a negative dimension, or a
    ///   scheme field out of the container's range (bits, axis or group size above 2³²−1).
    /// - Complexity: O(payload bytes) for the checksum and the copy.
    public static func encode(_ q: QuantizedTensor) throws(KestrelError) -> [UInt8] {
        guard q.shape.count <= maximumRank else {
            throw .invalidArgument(name: "shape", reason: "rank \(q.shape.count) is above the container's \(maximumRank)")
        }
        guard q.shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument(name: "shape", reason: "negative dimension in \(q.shape)")
        }
        var kind: UInt8 = 0, ggmlID: UInt8 = 0, bits: UInt8 = 0, symmetric: UInt8 = 0, granularity: UInt8 = 0
        var parameter: UInt32 = 0
        switch q.format {
        case .ggml(let t):
            kind = 1
            ggmlID = UInt8(t.rawValue)  // every GGUF id Kestrel knows is below 256
        case .integer(let s):
            kind = 2
            guard let b = UInt8(exactly: s.bits) else {
                throw .invalidArgument(name: "bits", reason: "\(s.bits) does not fit the container")
            }
            bits = b
            symmetric = s.symmetric ? 1 : 0
            switch s.granularity {
            case .perTensor: granularity = 1
            case .perChannel(let axis):
                granularity = 2
                guard let a = UInt32(exactly: axis) else { throw .invalidArgument(name: "axis", reason: "\(axis) does not fit the container") }
                parameter = a
            case .perGroup(let size):
                granularity = 3
                guard let g = UInt32(exactly: size) else { throw .invalidArgument(name: "group", reason: "\(size) does not fit the container") }
                parameter = g
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(fixedHeaderBytes + 8 * q.shape.count + 4 + q.data.count)
        out += magic
        append(UInt16(version), to: &out)
        out += [kind, ggmlID, bits, symmetric, granularity, 0]
        append(parameter, to: &out)
        append(UInt32(q.shape.count), to: &out)
        append(UInt64(q.data.count), to: &out)
        append(CRC32C.checksum(q.data), to: &out)
        for d in q.shape { append(UInt64(d), to: &out) }
        append(CRC32C.checksum(out), to: &out)
        out += q.data
        return out
    }

    /// Parses a container.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - path: named in errors (nil for bytes that did not come from a file).
    /// - Throws: `corruptFile(path:section:reason:)` with section `"header"` or `"payload"`;
    ///   `unsupportedVersion` for a version this code does not read.
    /// - Complexity: O(bytes) for the checksums and the copy of the payload.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String? = nil) throws(KestrelError) -> QuantizedTensor {
        func corrupt(_ reason: String, _ section: String = "header") -> KestrelError {
            .corruptFile(path: path, section: section, reason: reason)
        }
        guard bytes.count >= fixedHeaderBytes + 4 else {
            throw corrupt("\(bytes.count) bytes, shorter than the \(fixedHeaderBytes + 4)-byte minimum header")
        }
        guard Array(bytes[0..<4]) == magic else { throw corrupt("bad magic (not a Kestrel quantized tensor file)") }
        let v = Int(load(UInt16.self, bytes, 4))
        guard v == version else { throw .unsupportedVersion(found: v, supported: version...version) }
        let kind = bytes[6], ggmlID = bytes[7], bits = bytes[8], symmetric = bytes[9], granularity = bytes[10]
        guard bytes[11] == 0 else { throw corrupt("reserved byte 11 is \(bytes[11]), not 0") }
        let parameter = load(UInt32.self, bytes, 12)
        let rank = Int(load(UInt32.self, bytes, 16))
        guard rank <= maximumRank else { throw corrupt("rank \(rank) is above \(maximumRank)") }
        let payloadCount = load(UInt64.self, bytes, 20)
        let payloadCRC = load(UInt32.self, bytes, 28)
        let headerEnd = fixedHeaderBytes + 8 * rank  // ≤ 96: no overflow
        guard bytes.count >= headerEnd + 4 else { throw corrupt("truncated in the dimensions (\(bytes.count) bytes)") }
        let headerCRC = load(UInt32.self, bytes, headerEnd)
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<headerEnd])) == headerCRC else {
            throw corrupt("header checksum mismatch")
        }
        var shape: [Int] = []
        var elements = 1
        for i in 0..<rank {
            guard let d = Int(exactly: load(UInt64.self, bytes, fixedHeaderBytes + 8 * i)) else {
                throw corrupt("dimension \(i) does not fit in Int")
            }
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw corrupt("the product of the dimensions overflows") }
            elements = p
            shape.append(d)
        }
        let format: QuantizationFormat
        switch kind {
        case 1:
            guard let t = GGMLType(rawValue: UInt32(ggmlID)) else { throw corrupt("unknown ggml type id \(ggmlID)") }
            guard bits == 0, symmetric == 0, granularity == 0, parameter == 0 else {
                throw corrupt("integer-scheme fields set in a ggml-format header")
            }
            format = .ggml(t)
        case 2:
            guard ggmlID == 0, symmetric <= 1 else { throw corrupt("bad integer-scheme fields") }
            let g: QuantizationGranularity
            switch granularity {
            case 1 where parameter == 0: g = .perTensor
            case 2: g = .perChannel(axis: Int(parameter))
            case 3: g = .perGroup(size: Int(parameter))
            default: throw corrupt("unknown granularity code \(granularity) (parameter \(parameter))")
            }
            format = .integer(IntegerScheme(bits: Int(bits), symmetric: symmetric == 1, granularity: g))
        default:
            throw corrupt("unknown format kind \(kind)")
        }
        let start = headerEnd + 4
        guard UInt64(bytes.count - start) == payloadCount else {
            throw corrupt("header says \(payloadCount) payload bytes, the file holds \(bytes.count - start)", "payload")
        }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[start...])
        guard CRC32C.checksum(payload) == payloadCRC else { throw corrupt("payload checksum mismatch", "payload") }
        return QuantizedTensor(shape: shape, format: format, data: Array(payload))
    }

    /// ``decode(_:path:)`` over an array.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws(KestrelError) -> QuantizedTensor {
        // Array.withUnsafeBytes rethrows untyped: carry the result out as a Result.
        let r = bytes.withUnsafeBytes { raw in Result { () throws(KestrelError) in try decode(raw, path: path) } }
        return try r.get()
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
