import Foundation

/// Builds a GGUF file (version 3, little-endian): metadata key/values and tensors in f32, f16, bf16
/// or any ggml block format, each tensor's data aligned to ``alignment`` and zero-padded.
///
/// Keys and tensors are written in the order they were first added; setting a key again replaces
/// its value in place. Tensors are kept by reference (a ``Tensor`` is copy-on-write) until
/// ``write(to:)`` or ``serialized()``.
///
/// Thread-safety: a value type; do not mutate one variable from two threads at once.
public struct GGUFWriter: Sendable {
    private enum Payload: Sendable {
        case tensor(Tensor)
        case bytes([UInt8])
    }

    private struct Entry: Sendable {
        var info: GGUFTensorInfo
        var payload: Payload
    }

    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var entries: [Entry] = []
    private var names: Set<String> = []
    private var nextOffset = 0

    /// Alignment of tensor data in bytes (32 unless `general.alignment` was set).
    public private(set) var alignment = GGUFFormat.defaultAlignment

    /// An empty file: no metadata, no tensors.
    public init() {}

    /// Sets a metadata value (replacing an earlier one for the same key, in place).
    /// `general.alignment` sets ``alignment``; it must be set before any tensor is added.
    /// - Throws: `invalidArgument(name: "value")` when an array element's type differs from the
    ///   array's element type (the reason gives its index path), or for a `general.alignment` that
    ///   is not a `uint32` power of two, or that changes once tensors were added.
    /// - Complexity: O(size of `value`).
    public mutating func setValue(_ value: GGUFValue, forKey key: String) throws(KestrelError) {
        if let path = value.firstTypeMismatch() {
            throw .invalidArgument(name: "value", reason: "array element \(path) of \(key) does not have the array's element type")
        }
        if key == GGUFFormat.alignmentKey {
            guard case .uint32(let v) = value, v > 0, v & (v - 1) == 0 else {
                throw .invalidArgument(name: "value", reason: "\(key) must be a uint32 power of two, not \(value)")
            }
            guard entries.isEmpty || Int(v) == alignment else {
                throw .invalidArgument(name: "value", reason: "\(key) must be set before tensors are added")
            }
            alignment = Int(v)
        }
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Adds an f32, f16 or bf16 tensor (any layout; written row-major). Its GGUF dimensions are
    /// `tensor.shape` reversed (ggml order).
    /// - Throws: `invalidArgument(name: "name")` for a name already used; `invalidArgument(name:
    ///   "tensor")` for another dtype or more than 4 axes.
    /// - Complexity: O(1) (the data is read when the file is written).
    public mutating func addTensor(named name: String, _ tensor: Tensor) throws(KestrelError) {
        let type: GGMLType
        switch tensor.dtype {
        case .f32: type = .f32
        case .f16: type = .f16
        case .bf16: type = .bf16
        default: throw .invalidArgument(name: "tensor", reason: "GGUF tensors are f32, f16, bf16 or ggml blocks, not \(tensor.dtype)")
        }
        try add(name, shape: tensor.shape.dims, type: type, byteCount: tensor.shape.elementCount * type.bytesPerBlock,
                payload: .tensor(tensor))
    }

    /// Adds a tensor stored as ggml blocks (or any ``GGMLType``): `quantized.format` must be `.ggml`,
    /// `quantized.data` its bytes as ggml lays them out (blocks back to back along the last axis).
    /// - Throws: `invalidArgument(name: "name")` for a name already used; `invalidArgument(name:
    ///   "tensor")` for an integer scheme, more than 4 axes, a negative extent or a last axis that is
    ///   not a whole number of blocks; `invalidArgument(name: "shape")` when the extents' product
    ///   (zeros counted as 1) overflows; `dimensionMismatch(expected: [bytes], actual: [data.count])`
    ///   when the byte count does not match the shape; `capacityExceeded` when the byte count overflows.
    /// - Complexity: O(1) (the payload array is shared, not copied).
    public mutating func addTensor(named name: String, _ quantized: QuantizedTensor) throws(KestrelError) {
        guard case .ggml(let type) = quantized.format else {
            throw .invalidArgument(name: "tensor", reason: "integer schemes have no GGUF type; use a ggml format")
        }
        let shape = quantized.shape
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidArgument(name: "tensor", reason: "negative extent in \(shape)") }
        let row = shape.last ?? 1
        guard row % type.blockSize == 0 else {
            throw .invalidArgument(name: "tensor", reason: "last axis \(row) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        // Shape's rule (the reader's too): the extents' product, zeros counted as 1, fits in Int.
        let elements = try Shape(shape).elementCount
        let bytes = try SizeCheck.product(elements / type.blockSize, type.bytesPerBlock)
        guard quantized.data.count == bytes else { throw .dimensionMismatch(expected: [bytes], actual: [quantized.data.count]) }
        try add(name, shape: shape, type: type, byteCount: bytes, payload: .bytes(quantized.data))
    }

    private mutating func add(_ name: String, shape: [Int], type: GGMLType, byteCount: Int, payload: Payload) throws(KestrelError) {
        guard !names.contains(name) else { throw .invalidArgument(name: "name", reason: "a tensor named \(String(reflecting: name)) was already added") }
        guard shape.count <= GGUFFormat.maxDimensions else {
            throw .invalidArgument(name: "tensor", reason: "GGUF tensors have at most \(GGUFFormat.maxDimensions) axes, not \(shape.count)")
        }
        let padded = try Self.aligned(byteCount, alignment)
        let (end, o) = nextOffset.addingReportingOverflow(padded)
        guard !o else { throw .capacityExceeded(limit: .max, requested: .max) }
        let info = GGUFTensorInfo(name: name, dimensions: shape.reversed(), type: type, offset: nextOffset, byteCount: byteCount)
        entries.append(Entry(info: info, payload: payload))
        names.insert(name)
        nextOffset = end
    }

    private static func aligned(_ n: Int, _ alignment: Int) throws(KestrelError) -> Int {
        let (p, o) = n.addingReportingOverflow(alignment - 1)
        guard !o else { throw .capacityExceeded(limit: .max, requested: .max) }
        return p & ~(alignment - 1)
    }

    /// Writes the file at `url` atomically (temporary file, fsync, rename; see ``AtomicFile``).
    /// - Throws: `io` with the failing operation and errno; `capacityExceeded` when the header
    ///   cannot be allocated.
    /// - Complexity: O(file size) time; O(header) extra memory (tensor data is streamed).
    public func write(to url: URL) throws(KestrelError) {
        let header = header()
        try AtomicFile.write(to: url) { (sink) throws(KestrelError) in
            try withBytes(header) { (b) throws(KestrelError) in try sink.write(b) }
            try forEachChunk { (b) throws(KestrelError) in try sink.write(b) }
        }
    }

    /// The whole file as bytes.
    /// - Throws: `capacityExceeded` when it does not fit in memory.
    /// - Complexity: O(file size) time and memory.
    public func serialized() throws(KestrelError) -> [UInt8] {
        var out = header()
        let (total, o) = out.count.addingReportingOverflow(nextOffset)
        guard !o, total <= SizeCheck.physicalMemory else { throw .capacityExceeded(limit: SizeCheck.physicalMemory, requested: o ? .max : total) }
        out.reserveCapacity(total)
        try forEachChunk { (b) throws(KestrelError) in out.append(contentsOf: b) }
        return out
    }

    /// Header, metadata and tensor infos, padded to the alignment (the data section's start).
    private func header() -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE(GGUFFormat.magic)
        out.appendLE(GGUFFormat.writtenVersion)
        out.appendLE(UInt64(entries.count))
        out.appendLE(UInt64(keys.count))
        for key in keys {
            out.appendString(key)
            let v = values[key]!
            out.appendLE(v.type.rawValue)
            out.appendValue(v)
        }
        for e in entries {
            out.appendString(e.info.name)
            out.appendLE(UInt32(e.info.dimensions.count))
            for d in e.info.dimensions { out.appendLE(UInt64(d)) }
            out.appendLE(e.info.type.rawValue)
            out.appendLE(UInt64(e.info.offset))
        }
        out.append(contentsOf: repeatElement(0, count: (alignment - out.count % alignment) % alignment))
        return out
    }

    /// Calls `body` with the data section in order: each tensor's bytes, then its zero padding.
    private func forEachChunk(_ body: (UnsafeRawBufferPointer) throws(KestrelError) -> Void) throws(KestrelError) {
        let zeros = [UInt8](repeating: 0, count: alignment)
        for e in entries {
            switch e.payload {
            case .bytes(let b):
                try withBytes(b) { (r) throws(KestrelError) in try body(r) }
            case .tensor(let t):
                // Stored values are little-endian on every platform Kestrel builds for.
                switch t.dtype {
                case .f32: try t.withUnsafeBufferPointer(as: Float.self) { (p) throws(KestrelError) in try body(UnsafeRawBufferPointer(p)) }
                default: try t.withUnsafeBufferPointer(as: UInt16.self) { (p) throws(KestrelError) in try body(UnsafeRawBufferPointer(p)) }
                }
            }
            let pad = (alignment - e.info.byteCount % alignment) % alignment
            try withBytes(zeros) { (z) throws(KestrelError) in try body(UnsafeRawBufferPointer(rebasing: z[0..<pad])) }
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendString(_ s: String) {
        let utf8 = Array(s.utf8)
        appendLE(UInt64(utf8.count))
        append(contentsOf: utf8)
    }

    /// The value's payload (no type tag; arrays carry their element type and count).
    fileprivate mutating func appendValue(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): appendLE(x)
        case .int8(let x): appendLE(x)
        case .uint16(let x): appendLE(x)
        case .int16(let x): appendLE(x)
        case .uint32(let x): appendLE(x)
        case .int32(let x): appendLE(x)
        case .uint64(let x): appendLE(x)
        case .int64(let x): appendLE(x)
        case .float32(let x): appendLE(x.bitPattern)
        case .float64(let x): appendLE(x.bitPattern)
        case .bool(let x): append(x ? 1 : 0)
        case .string(let s): appendString(s)
        case .array(let t, let elements):
            appendLE(t.rawValue)
            appendLE(UInt64(elements.count))
            for e in elements { appendValue(e) }
        }
    }
}
