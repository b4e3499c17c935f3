/// Constants of the GGUF container shared by the reader and the writer.
enum GGUFFormat {
    /// "GGUF" as the first four bytes, read as a little-endian UInt32.
    static let magic: UInt32 = 0x4655_4747
    /// The version ``GGUFWriter`` writes.
    static let writtenVersion: UInt32 = 3
    static let defaultAlignment = 32
    static let alignmentKey = "general.alignment"
    /// ggml's GGML_MAX_DIMS.
    static let maxDimensions = 4
    /// Nesting limit of metadata arrays: bounds recursion on hostile input (real files use 1 level).
    static let maxArrayDepth = 16
    /// Type ids below this are defined by ggml (some not read by Kestrel); above it, unknown.
    static let ggmlTypeIdLimit: UInt32 = 40
}

/// The validating GGUF reader behind ``GGUFFile``: a cursor over the whole file. Every read is
/// bounds-checked against the bytes that remain, and every count is bounded by those bytes before
/// anything is allocated, so no input makes it read out of bounds, trap or allocate more than a
/// small multiple of the file size.
struct GGUFParser {
    struct Parsed {
        var version: Int
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    let bytes: UnsafeRawBufferPointer
    let path: String?
    private var pos = 0
    private var section: String?

    init(bytes: UnsafeRawBufferPointer, path: String?) {
        self.bytes = bytes
        self.path = path
    }

    private var remaining: Int { bytes.count - pos }

    private func corrupt(_ reason: String) -> KestrelError {
        .corruptFile(path: path, section: section, reason: reason)
    }

    private mutating func need(_ n: Int, _ what: String) throws(KestrelError) {
        guard n <= remaining else {
            throw corrupt("\(what) at offset \(pos) needs \(n) bytes, the file has \(remaining) left")
        }
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(KestrelError) -> T {
        try need(MemoryLayout<T>.size, what)
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: pos, as: T.self))
        pos += MemoryLayout<T>.size
        return v
    }

    /// A 64-bit count or length that must fit in `Int`.
    private mutating func count(_ what: String) throws(KestrelError) -> Int {
        let at = pos
        let v = try load(UInt64.self, what)
        guard let n = Int(exactly: v) else { throw corrupt("\(what) \(v) at offset \(at) exceeds the largest size") }
        return n
    }

    private mutating func string(_ what: String) throws(KestrelError) -> String {
        let at = pos
        let n = try count("\(what) length")
        guard n <= remaining else {
            throw corrupt("\(what) at offset \(at) has length \(n), past the end of the file (\(remaining) bytes left)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
        guard let s = String(validating: raw, as: UTF8.self) else { throw corrupt("\(what) at offset \(at) is not valid UTF-8") }
        pos += n
        return s
    }

    private mutating func valueType(_ what: String) throws(KestrelError) -> GGUFValueType {
        let at = pos
        let raw = try load(UInt32.self, what)
        guard let t = GGUFValueType(rawValue: raw) else { throw corrupt("\(what) at offset \(at) is \(raw), not a GGUF value type") }
        return t
    }

    private mutating func value(_ type: GGUFValueType, depth: Int, key: String) throws(KestrelError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, "value of \(key)"))
        case .int8: return .int8(try load(Int8.self, "value of \(key)"))
        case .uint16: return .uint16(try load(UInt16.self, "value of \(key)"))
        case .int16: return .int16(try load(Int16.self, "value of \(key)"))
        case .uint32: return .uint32(try load(UInt32.self, "value of \(key)"))
        case .int32: return .int32(try load(Int32.self, "value of \(key)"))
        case .uint64: return .uint64(try load(UInt64.self, "value of \(key)"))
        case .int64: return .int64(try load(Int64.self, "value of \(key)"))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, "value of \(key)")))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, "value of \(key)")))
        case .bool:
            let at = pos
            let b = try load(UInt8.self, "value of \(key)")
            guard b <= 1 else { throw corrupt("bool value of \(key) at offset \(at) is \(b), not 0 or 1") }
            return .bool(b == 1)
        case .string: return .string(try string("string value of \(key)"))
        case .array:
            let at = pos
            guard depth < GGUFFormat.maxArrayDepth else {
                throw corrupt("array of \(key) at offset \(at) nests deeper than \(GGUFFormat.maxArrayDepth) levels")
            }
            let elementType = try valueType("array element type of \(key)")
            let countAt = pos
            let n = try count("array length of \(key)")
            guard n <= remaining / elementType.minimumEncodedSize else {
                throw corrupt("array of \(key) at offset \(countAt) claims \(n) \(elementType) elements, more than the \(remaining) bytes left can hold")
            }
            var elements: [GGUFValue] = []
            elements.reserveCapacity(n)
            for _ in 0..<n { elements.append(try value(elementType, depth: depth + 1, key: key)) }
            return .array(elementType: elementType, elements)
        }
    }

    mutating func parse() throws(KestrelError) -> Parsed {
        // Header: magic, version, tensor count, metadata count (24 bytes).
        section = nil
        let magic = try load(UInt32.self, "magic")
        guard magic == GGUFFormat.magic else {
            throw corrupt("bad magic 0x\(String(magic, radix: 16)) at offset 0 (expected \"GGUF\")")
        }
        let rawVersion = try load(UInt32.self, "version")
        guard let version = Int(exactly: rawVersion), GGUFFile.supportedVersions.contains(version) else {
            throw .unsupportedVersion(found: Int(rawVersion), supported: GGUFFile.supportedVersions)
        }
        let tensorCountAt = pos
        let tensorCount = try count("tensor count")
        let kvCountAt = pos
        let kvCount = try count("metadata count")
        // Each tensor info takes at least 24 bytes, each key/value at least 13.
        guard tensorCount <= remaining / 24 else {
            throw corrupt("tensor count \(tensorCount) at offset \(tensorCountAt) exceeds what the file can hold")
        }
        guard kvCount <= remaining / 13 else {
            throw corrupt("metadata count \(kvCount) at offset \(kvCountAt) exceeds what the file can hold")
        }

        section = "metadata"
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let at = pos
            let key = try string("key of metadata entry \(i)")
            guard metadata[key] == nil else { throw corrupt("duplicate metadata key \(String(reflecting: key)) at offset \(at)") }
            let t = try valueType("value type of \(key)")
            metadata[key] = try value(t, depth: 0, key: key)
            keys.append(key)
        }
        var alignment = GGUFFormat.defaultAlignment
        if let a = metadata[GGUFFormat.alignmentKey] {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0 else {
                throw corrupt("\(GGUFFormat.alignmentKey) is \(a); it must be a uint32 power of two")
            }
            alignment = Int(v)
        }

        section = "tensor infos"
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var names: Set<String> = []
        for i in 0..<tensorCount {
            let at = pos
            let name = try string("name of tensor \(i)")
            guard names.insert(name).inserted else { throw corrupt("duplicate tensor name \(String(reflecting: name)) at offset \(at)") }
            let ndAt = pos
            let nd = try load(UInt32.self, "dimension count of \(name)")
            guard nd <= GGUFFormat.maxDimensions else {
                throw corrupt("tensor \(name) at offset \(ndAt) has \(nd) dimensions (at most \(GGUFFormat.maxDimensions))")
            }
            var dims: [Int] = []
            for d in 0..<Int(nd) {
                let dAt = pos
                let v = try load(UInt64.self, "dimension \(d) of \(name)")
                guard let e = Int(exactly: v) else { throw corrupt("dimension \(d) of \(name) at offset \(dAt) is \(v), too large") }
                dims.append(e)
            }
            let typeAt = pos
            let rawType = try load(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                if rawType < GGUFFormat.ggmlTypeIdLimit { throw .unsupported("ggml type \(rawType) of tensor \(name) in \(path ?? "GGUF bytes")") }
                throw corrupt("type of \(name) at offset \(typeAt) is \(rawType), not a ggml type")
            }
            let offsetAt = pos
            let offset = try count("data offset of \(name)")
            guard offset % alignment == 0 else {
                throw corrupt("data offset \(offset) of \(name) at offset \(offsetAt) is not a multiple of the alignment \(alignment)")
            }
            // The product with zero extents counted as 1 must fit too (Kestrel's `Shape` rule, which
            // keeps strides representable): a zero extent does not excuse huge other extents.
            var elements = 1, span = 1
            for e in dims {
                let (p, o) = span.multipliedReportingOverflow(by: max(e, 1))
                guard !o else { throw corrupt("dimensions \(dims) of \(name) at offset \(ndAt) overflow the element count") }
                span = p
                elements *= e
            }
            let rowLength = dims.first ?? 1
            guard rowLength % type.blockSize == 0 else {
                throw corrupt("row length \(rowLength) of \(name) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            // elements / blockSize * bytesPerBlock ≤ elements * 4 for every type except f32 (×4): check the product.
            let (byteCount, o) = (elements / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
            guard !o else { throw corrupt("dimensions \(dims) of \(name) at offset \(ndAt) overflow the byte count") }
            tensors.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset, byteCount: byteCount))
        }

        section = "tensor data"
        // The data section starts at the next multiple of the alignment, and every tensor's data
        // is followed by zero padding up to the alignment: writers (gguf-py, llama.cpp) emit it and
        // llama.cpp's loader requires it, so a file cut anywhere is recognised as truncated.
        let (padded, o) = pos.addingReportingOverflow(alignment - 1)
        guard !o else { throw corrupt("data section offset overflows") }
        let dataOffset = padded & ~(alignment - 1)
        guard dataOffset <= bytes.count else {
            throw corrupt("the data section starts at offset \(dataOffset), past the end of the file (\(bytes.count) bytes)")
        }
        let dataBytes = bytes.count - dataOffset
        for t in tensors {
            let (end, o1) = t.byteCount.addingReportingOverflow(alignment - 1)
            let paddedCount = end & ~(alignment - 1)
            guard !o1, t.offset <= dataBytes, paddedCount <= dataBytes - t.offset else {
                throw corrupt("tensor \(t.name) (\(t.byteCount) bytes padded to \(alignment) at data offset \(t.offset), file offset \(dataOffset + min(t.offset, dataBytes))) runs past the end of the file (\(bytes.count) bytes)")
            }
        }
        // Ties (two tensors at one offset) keep file order, so the message names them in that order.
        let byOffset = tensors.enumerated().filter { $0.element.byteCount > 0 }
            .sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }.map(\.element)
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw corrupt("tensor \(a.name) (data offset \(a.offset), \(a.byteCount) bytes) overlaps tensor \(b.name) (data offset \(b.offset))")
        }
        return Parsed(version: version, metadata: metadata, keys: keys, tensors: tensors, alignment: alignment, dataOffset: dataOffset)
    }
}
