import Foundation

/// One tensor described by a GGUF file. Value type; thread-safe.
public struct GGUFTensorInfo: Sendable, Hashable {
    /// Tensor name (unique in its file).
    public let name: String
    /// Extents in ggml order: `dimensions[0]` varies fastest (the row length). 0 to 4 entries.
    public let dimensions: [Int]
    /// Element or block type.
    public let type: GGMLType
    /// Byte offset of the data from the start of the file's data section (a multiple of the alignment).
    public let offset: Int
    /// Bytes of data: `elementCount / type.blockSize * type.bytesPerBlock`.
    public let byteCount: Int

    /// Row-major extents as Kestrel writes them (`dimensions` reversed: the last axis varies fastest).
    public var shape: [Int] { dimensions.reversed() }

    /// Number of elements (the product of `dimensions`; 1 when there are none).
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A GGUF file (llama.cpp's model format, versions 2 and 3, little-endian), memory-mapped and
/// validated on open.
///
/// Opening parses the header, every metadata key/value and every tensor info, and checks them
/// against the file: every count, length and offset is bounded by the bytes that remain before
/// anything is allocated or read, tensor data must lie inside the file, aligned to
/// `general.alignment` (default 32) and not overlapping. Tensor data is not copied: ``rawBytes(of:)``
/// points into the mapping; ``tensor(named:)`` and ``floatTensor(named:)`` copy into a ``Tensor``.
///
/// Layout and limits: Documentation/FileFormats.md ("GGUF"). The ggml dimension order is the
/// reverse of Kestrel's: a ggml tensor with `ne = [cols, rows]` is a Kestrel tensor of shape
/// `[rows, cols]` (``GGUFTensorInfo/shape``).
///
/// Thread-safety: immutable after opening; share it freely. The mapping stays until the last
/// reference to the file object goes.
public final class GGUFFile: Sendable {
    /// The versions this build reads.
    public static let supportedVersions: ClosedRange<Int> = 2...3

    /// The file's path (nil when opened from bytes in memory).
    public let path: String?
    /// Format version (2 or 3).
    public let version: Int
    /// Every metadata key/value.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// Every tensor, in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data in bytes (`general.alignment`, default 32; a power of two).
    public let alignment: Int
    /// Absolute byte offset of the data section (tensor offsets count from here).
    public let dataOffset: Int

    private let file: MappedFile
    private let index: [String: Int]

    /// Opens and validates the GGUF file at `path`, mapping it read-only.
    /// - Throws: `io` (operation "open", "stat" or "mmap") when it cannot be read;
    ///   `unsupportedVersion(found:supported: 2...3)`; `corruptFile(path:section:reason:)` for
    ///   anything malformed, with section `nil` (header), "metadata", "tensor infos" or
    ///   "tensor data" and a reason naming the field and its byte offset; `unsupported` for a
    ///   ggml type id that ggml defines but Kestrel does not read (for example Q5_K).
    /// - Complexity: O(file header + metadata) time; the tensor data is mapped, not read.
    public static func open(path: String) throws(KestrelError) -> GGUFFile {
        try GGUFFile(file: MappedFile.map(path: path), path: path)
    }

    /// Parses GGUF bytes held in memory (copied once, so `bytes` may go away afterwards).
    /// - Throws: as ``open(path:)`` (with `path` nil in `corruptFile`).
    /// - Complexity: O(n) for the copy, then as ``open(path:)``.
    public convenience init(bytes: UnsafeRawBufferPointer) throws(KestrelError) {
        try self.init(file: MappedFile.copying(bytes), path: nil)
    }

    private init(file: MappedFile, path: String?) throws(KestrelError) {
        var parser = GGUFParser(bytes: file.bytes, path: path)
        let parsed = try parser.parse()
        self.file = file
        self.path = path
        version = parsed.version
        metadata = parsed.metadata
        metadataKeys = parsed.keys
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        var index: [String: Int] = [:]
        for (i, t) in parsed.tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// The info of the tensor called `name`, or nil.
    /// - Complexity: O(1) expected.
    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The tensor's bytes in the file, without copying: valid while this file object lives (keep it
    /// alive with `withExtendedLifetime` when only the pointer is used). Read-only.
    /// - Throws: `invalidArgument(name: "name")` when no tensor has that name.
    /// - Complexity: O(1).
    public func rawBytes(of name: String) throws(KestrelError) -> UnsafeRawBufferPointer {
        let info = try info(name)
        return UnsafeRawBufferPointer(start: file.base + dataOffset + info.offset, count: info.byteCount)
    }

    /// A copy of the tensor's data as a ``QuantizedTensor``: format `.ggml(type)`, Kestrel ``GGUFTensorInfo/shape``,
    /// the bytes as stored (blocks back to back; for f32/f16/bf16 the little-endian elements).
    /// - Throws: `invalidArgument(name: "name")` when no tensor has that name.
    /// - Complexity: O(bytes).
    public func quantizedTensor(named name: String) throws(KestrelError) -> QuantizedTensor {
        let info = try info(name)
        return QuantizedTensor(shape: info.shape, format: .ggml(info.type), data: [UInt8](try rawBytes(of: name)))
    }

    /// A copy of an f32, f16 or bf16 tensor as a Kestrel ``Tensor`` of the same dtype and shape
    /// ``GGUFTensorInfo/shape`` (bits unchanged).
    /// - Throws: `invalidArgument(name: "name")` when no tensor has that name or its type is a block
    ///   format (use ``quantizedTensor(named:)`` or ``floatTensor(named:)``); `capacityExceeded` when
    ///   the copy cannot be allocated.
    /// - Complexity: O(n).
    public func tensor(named name: String) throws(KestrelError) -> Tensor {
        let info = try info(name)
        let raw = try rawBytes(of: name)
        let shape = info.shape
        let n = info.elementCount
        switch info.type {
        case .f32:
            let values = [Float](unsafeUninitializedCapacity: n) { buf, count in
                for i in 0..<n { buf[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                count = n
            }
            return try Tensor(values, shape: shape)
        case .f16, .bf16:
            let values = [UInt16](unsafeUninitializedCapacity: n) { buf, count in
                for i in 0..<n { buf[i] = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                count = n
            }
            return try Tensor(values, shape: shape, dtype: info.type == .f16 ? .f16 : .bf16)
        default:
            throw .invalidArgument(name: "name", reason: "tensor \(name) holds \(info.type) blocks, not f32/f16/bf16 elements")
        }
    }

    /// The tensor as f32 values (f16/bf16 widened exactly), shape ``GGUFTensorInfo/shape``.
    /// Block formats (Q8_0 … Q6_K) are dequantized by ``GGMLBlocks`` (bit-exact with ggml).
    /// - Throws: `invalidArgument(name: "name")` when no tensor has that name; `corruptFile` for a
    ///   block with a non-finite scale; `unsupported` for q8_K; `capacityExceeded` when the copy
    ///   cannot be allocated.
    /// - Complexity: O(n).
    public func floatTensor(named name: String) throws(KestrelError) -> Tensor {
        let info = try info(name)
        switch info.type {
        case .f32: return try tensor(named: name)
        case .f16, .bf16: return try tensor(named: name).converted(to: .f32)
        case .q8_K:
            throw .unsupported("dequantizing q8_K tensor \(name) (an activation-only type)")
        default:
            // Rows are GGUF's innermost dimension, the last axis of `shape`: what the block
            // dequantizer cuts into blocks. Non-finite block scales are refused (corruptFile).
            let raw = try rawBytes(of: name)
            let n = info.elementCount
            var values = [Float](repeating: 0, count: n)
            try values.withUnsafeMutableBufferPointer { (dst) throws(KestrelError) in
                try GGMLBlocks.dequantize(raw, as: info.type, into: dst)
            }
            return try Tensor(values, shape: info.shape)
        }
    }

    private func info(_ name: String) throws(KestrelError) -> GGUFTensorInfo {
        guard let i = index[name] else { throw .invalidArgument(name: "name", reason: "no tensor named \(String(reflecting: name))") }
        return tensors[i]
    }
}
