import KestrelKernels

/// Re-seals a mutated `.kqt` container (Documentation/FileFormats.md) so that mutations reach the
/// field checks behind the checksums: optionally sets the payload length to the bytes present, then
/// recomputes the payload CRC-32C and the header CRC-32C. Leaves inputs too short for a header alone.
enum KQTSealer {
    static func reseal(_ b: UnsafeMutableRawBufferPointer, fixLength: Bool) {
        guard b.count >= 36 else { return }
        let rank = Int(b.loadUnaligned(fromByteOffset: 16, as: UInt32.self).littleEndian)
        guard rank <= 8 else { return }
        let headerEnd = 32 + 8 * rank
        guard b.count >= headerEnd + 4 else { return }
        let payload = UnsafeRawBufferPointer(rebasing: b[(headerEnd + 4)...])
        if fixLength { b.storeBytes(of: UInt64(payload.count).littleEndian, toByteOffset: 20, as: UInt64.self) }
        b.storeBytes(of: CRC32C.checksum(payload).littleEndian, toByteOffset: 28, as: UInt32.self)
        let header = UnsafeRawBufferPointer(rebasing: b[0..<headerEnd])
        b.storeBytes(of: CRC32C.checksum(header).littleEndian, toByteOffset: headerEnd, as: UInt32.self)
    }
}
