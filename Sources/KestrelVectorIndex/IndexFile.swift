import Foundation
import KestrelTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// The container format of saved indexes (see Documentation/FileFormats.md):
/// a 64-byte file header, then sections, each a 64-byte section header and a payload padded with
/// zeros to a multiple of 64 bytes (so every payload is 64-byte aligned and can be used in place
/// from a memory mapping). Every byte is covered either by a CRC-32C or by a must-be-zero rule,
/// so any flipped byte or truncation is detected.
enum IndexFile {
    static let magic: [UInt8] = Array("KSTRLIDX".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64

    enum Kind: UInt32 {
        case flat = 1
        case hnsw = 2

        /// What a file of this kind holds, as `wrongFileKind` names it.
        var name: String {
            switch self {
            case .flat: return "flat index"
            case .hnsw: return "HNSW index"
            }
        }
    }

    /// One section to write: a four-character tag and its payload bytes.
    struct Section {
        var tag: String
        var payload: UnsafeRawBufferPointer
    }

    @inline(__always) static func padded(_ n: Int) -> Int { (n + 63) & ~63 }

    /// Writes a header and `sections` to `url` atomically.
    static func write(kind: Kind, sections: [Section], to url: URL) throws(KestrelError) {
        var total = headerSize
        for s in sections { total += headerSize + padded(s.payload.count) }
        var header = [UInt8](repeating: 0, count: headerSize)
        header.replaceSubrange(0..<8, with: magic)
        put(&header, 8, version)
        put(&header, 12, kind.rawValue)
        put(&header, 16, UInt32(sections.count))
        put(&header, 24, UInt64(total))
        put(&header, 60, header.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<60])) })
        try AtomicFile.write(to: url) { (out) throws(KestrelError) in
            try withBytes(header) { (h) throws(KestrelError) in try out.write(h) }
            let zeros = [UInt8](repeating: 0, count: 64)
            for s in sections {
                var sh = [UInt8](repeating: 0, count: headerSize)
                let tag = Array(s.tag.utf8)
                guard tag.count == 4 else {
                    throw .invalidArgument(name: "section", reason: "tag '\(s.tag)' is not four ASCII characters")
                }
                sh.replaceSubrange(0..<4, with: tag)
                put(&sh, 8, UInt64(s.payload.count))
                put(&sh, 16, CRC32C.checksum(s.payload))
                put(&sh, 60, sh.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<60])) })
                try withBytes(sh) { (h) throws(KestrelError) in try out.write(h) }
                try out.write(s.payload)
                let pad = padded(s.payload.count) - s.payload.count
                if pad > 0 { try withBytes(zeros) { (z) throws(KestrelError) in try out.write(UnsafeRawBufferPointer(rebasing: z[0..<pad])) } }
            }
        }
    }

    /// A validated view of a file: its kind and the byte ranges of its sections, in file order.
    struct Contents {
        var kind: Kind
        var sections: [(tag: String, offset: Int, count: Int)]

        /// The one section called `tag`.
        /// - Throws: `corruptFile` (section `tag`) when it is missing.
        func section(_ tag: String) throws(KestrelError) -> (offset: Int, count: Int) {
            guard let s = sections.first(where: { $0.tag == tag }) else { throw .corruptFile(path: nil, section: tag, reason: "missing section") }
            return (s.offset, s.count)
        }

        func has(_ tag: String) -> Bool { sections.contains { $0.tag == tag } }
    }

    /// Validates the container: magic, version, header CRC, declared length, every section
    /// header's CRC, zero reserved bytes and padding, and (when `verifyPayloads`) every payload CRC.
    /// Section tags must be unique and among `allowed`.
    /// - Parameter expected: the kind the caller loads; a valid header of another kind throws
    ///   `wrongFileKind` (with an empty path, filled in by ``KestrelError/locating(path:)``)
    ///   before any section is looked at.
    static func read(
        _ bytes: UnsafeRawBufferPointer, allowed: Set<String>, verifyPayloads: Bool, expected: Kind? = nil
    ) throws(KestrelError) -> Contents {
        guard bytes.count >= headerSize else { throw .corruptFile(path: nil, section: nil, reason: "file is \(bytes.count) bytes, shorter than its header") }
        guard Array(bytes[0..<8]) == magic else { throw .corruptFile(path: nil, section: nil, reason: "bad magic (not a Kestrel index file)") }
        let v = get(bytes, 8, UInt32.self)
        guard v == version else { throw .unsupportedVersion(found: Int(v), supported: Int(version)...Int(version)) }
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60])) == get(bytes, 60, UInt32.self) else {
            throw .corruptFile(path: nil, section: nil, reason: "file header checksum mismatch")
        }
        guard let kind = Kind(rawValue: get(bytes, 12, UInt32.self)) else { throw .corruptFile(path: nil, section: nil, reason: "unknown index kind") }
        if let expected, kind != expected { throw .wrongFileKind(path: "", expected: expected.name, found: kind.name) }
        let count = Int(get(bytes, 16, UInt32.self))
        let total = get(bytes, 24, UInt64.self)
        guard get(bytes, 20, UInt32.self) == 0, allZero(bytes, 32, 60) else { throw .corruptFile(path: nil, section: nil, reason: "reserved header bytes are not zero") }
        guard total == UInt64(bytes.count) else {
            throw .corruptFile(path: nil, section: nil, reason: "file is \(bytes.count) bytes, header says \(total) (truncated or extended)")
        }
        guard count <= 64 else { throw .corruptFile(path: nil, section: nil, reason: "\(count) sections") }
        var pos = headerSize
        var out: [(String, Int, Int)] = []
        for _ in 0..<count {
            guard bytes.count - pos >= headerSize else { throw .corruptFile(path: nil, section: nil, reason: "truncated section header at \(pos)") }
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + 60)])) == get(bytes, pos + 60, UInt32.self) else {
                throw .corruptFile(path: nil, section: nil, reason: "section header checksum mismatch at \(pos)")
            }
            guard let tag = String(bytes: bytes[pos..<(pos + 4)], encoding: .ascii), allowed.contains(tag) else {
                let raw = bytes[pos..<(pos + 4)].map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "?" }.joined()
                throw .corruptFile(path: nil, section: nil, reason: "unknown section '\(raw)' at byte \(pos) in a \(kind.name) file")
            }
            guard !out.contains(where: { $0.0 == tag }) else { throw .corruptFile(path: nil, section: tag, reason: "duplicate section") }
            guard get(bytes, pos + 4, UInt32.self) == 0, allZero(bytes, pos + 20, pos + 60) else {
                throw .corruptFile(path: nil, section: tag, reason: "reserved header bytes are not zero")
            }
            let len = get(bytes, pos + 8, UInt64.self)
            let start = pos + headerSize
            guard len <= UInt64(bytes.count - start), UInt64(padded(Int(len))) <= UInt64(bytes.count - start) else {
                throw .corruptFile(path: nil, section: tag, reason: "runs past the end of the file")
            }
            let n = Int(len)
            if verifyPayloads {
                guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + n)])) == get(bytes, pos + 16, UInt32.self) else {
                    throw .corruptFile(path: nil, section: tag, reason: "checksum mismatch")
                }
            }
            guard allZero(bytes, start + n, start + padded(n)) else { throw .corruptFile(path: nil, section: tag, reason: "padding is not zero") }
            out.append((tag, start, n))
            pos = start + padded(n)
        }
        guard pos == bytes.count else { throw .corruptFile(path: nil, section: nil, reason: "\(bytes.count - pos) unexpected bytes after the last section") }
        return Contents(kind: kind, sections: out.map { (tag: $0.0, offset: $0.1, count: $0.2) })
    }

    static func allZero(_ b: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Bool {
        var i = from
        while i < to {
            if b[i] != 0 { return false }
            i += 1
        }
        return true
    }

    @inline(__always) static func get<T: FixedWidthInteger>(_ b: UnsafeRawBufferPointer, _ at: Int, _: T.Type) -> T {
        T(littleEndian: b.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    static func put<T: FixedWidthInteger>(_ a: inout [UInt8], _ at: Int, _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { for (i, byte) in $0.enumerated() { a[at + i] = byte } }
    }
}

/// Little-endian field encoder for small parameter sections.
struct FieldWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
}

/// Bounds-checked little-endian field decoder; every read past the end throws `corruptFile`.
struct FieldReader {
    let bytes: UnsafeRawBufferPointer
    var pos = 0
    let what: String

    init(_ bytes: UnsafeRawBufferPointer, what: String) {
        self.bytes = bytes
        self.what = what
    }

    mutating func take<T: FixedWidthInteger>(_: T.Type) throws(KestrelError) -> T {
        let n = MemoryLayout<T>.size
        guard bytes.count - pos >= n else { throw .corruptFile(path: nil, section: what, reason: "truncated") }
        defer { pos += n }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: pos, as: T.self))
    }

    mutating func u8() throws(KestrelError) -> UInt8 { try take(UInt8.self) }
    mutating func u32() throws(KestrelError) -> UInt32 { try take(UInt32.self) }
    mutating func u64() throws(KestrelError) -> UInt64 { try take(UInt64.self) }
    mutating func f32() throws(KestrelError) -> Float { Float(bitPattern: try take(UInt32.self)) }
    mutating func f64() throws(KestrelError) -> Double { Double(bitPattern: try take(UInt64.self)) }

    /// Throws unless every byte was consumed.
    func finish() throws(KestrelError) {
        guard pos == bytes.count else { throw .corruptFile(path: nil, section: what, reason: "\(bytes.count - pos) extra bytes") }
    }
}

extension KestrelError {
    /// This error with the file's `path` filled in where a loader that saw only bytes left it
    /// out (`corruptFile` with a nil path, `wrongFileKind` with an empty one); other errors unchanged.
    /// Likewise `section`, for errors thrown by a reader of one section's fields.
    func locating(path: String? = nil, section: String? = nil) -> KestrelError {
        switch self {
        case .corruptFile(let p, let s, let reason) where (p == nil && path != nil) || (s == nil && section != nil):
            return .corruptFile(path: p ?? path, section: s ?? section, reason: reason)
        case .wrongFileKind("", let expected, let found) where path != nil:
            return .wrongFileKind(path: path!, expected: expected, found: found)
        default: return self
        }
    }
}
