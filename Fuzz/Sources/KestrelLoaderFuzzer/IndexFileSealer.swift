import CKestrelFuzzSupport

/// Recomputes the checksums of a (mutated) Kestrel index file in place, following the container
/// layout of Documentation/FileFormats.md: a 64-byte file header (CRC-32C of bytes 0..<60 at 60,
/// total length at 24, section count at 16), then per section a 64-byte header (payload length at
/// 8, payload CRC at 16, header CRC at 60) and the payload padded to 64 bytes. Sections are
/// walked as far as their headers make sense; the rest of the input is left as mutated.
enum IndexFileSealer {
    static func reseal(_ b: UnsafeMutableRawBufferPointer, payloads: Bool, fixLength: Bool) {
        guard b.count >= 64 else { return }
        if fixLength { store(b, 24, UInt64(b.count)) }
        let count = min(Int(load(b, 16, UInt32.self)), 64)
        var pos = 64
        for _ in 0..<count {
            guard b.count - pos >= 64 else { break }
            let len = load(b, pos + 8, UInt64.self)
            let start = pos + 64
            guard len <= UInt64(b.count - start) else { break }
            let n = Int(len)
            if payloads { store(b, pos + 16, CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[start..<(start + n)]))) }
            store(b, pos + 60, CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[pos..<(pos + 60)])))
            pos = start + ((n + 63) & ~63)
        }
        store(b, 60, CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<60])))
    }

    static func load<T: FixedWidthInteger>(_ b: UnsafeMutableRawBufferPointer, _ at: Int, _: T.Type) -> T {
        T(littleEndian: UnsafeRawBufferPointer(b).loadUnaligned(fromByteOffset: at, as: T.self))
    }

    static func store<T: FixedWidthInteger>(_ b: UnsafeMutableRawBufferPointer, _ at: Int, _ v: T) {
        b.storeBytes(of: v.littleEndian, toByteOffset: at, as: T.self)
    }
}

/// CRC-32C of a byte range (the C implementation in CKestrelFuzzSupport).
enum CRC32C {
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        kestrel_fuzz_crc32c(bytes.baseAddress, bytes.count)
    }
}
