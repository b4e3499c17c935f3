import Foundation
import CKestrelKernels
import KestrelTensor

extension FlatIndex {
    /// Writes the index atomically (temporary file, fsync, rename); see Documentation/FileFormats.md.
    /// Holds the lock shared while writing (searches continue, mutations wait).
    /// Removes temporary files that earlier saves to `url` left when their process died
    /// (see ``AtomicFile/removeStaleTemporaryFiles(for:)``).
    /// - Throws: `io` with operation "open" (`EISDIR` when `url` is a directory), "create",
    ///   "write", "fsync" or "rename" and the errno when the file cannot be written.
    public func save(to url: URL) throws(KestrelError) {
        try lock.withShared { () throws(KestrelError) in
            var w = FieldWriter()
            codec.write(to: &w)
            w.u64(UInt64(rowCount))
            try withBytes(w.bytes) { (parm) throws(KestrelError) in
                try IndexFile.write(kind: .flat, sections: [
                    .init(tag: "PARM", payload: parm),
                    .init(tag: "KEYS", payload: UnsafeRawBufferPointer(start: keys.base, count: rowCount * 8)),
                    .init(tag: "VECT", payload: UnsafeRawBufferPointer(start: rows.base, count: rowCount * codec.stride)),
                ], to: url)
            }
        }
    }

    /// Loads an index saved by ``save(to:)``.
    /// - Parameters:
    ///   - mapped: use the file's pages in place (read-only mapping: the index rejects mutation;
    ///     the file must not change while the index lives).
    ///   - verifyChecksums: check every section's CRC-32C (reads the whole file once).
    /// - Throws: `corruptFile(path:section:reason:)` with `url`'s path and the failing section
    ///   tag ("PARM", "KEYS", "VECT"; nil for the file header) for any truncation, alteration or
    ///   value the format forbids (a NaN or infinite component, non-zero row padding);
    ///   `wrongFileKind` when the file holds an HNSW index; `unsupportedVersion`; `io` (operation
    ///   "open", `EISDIR` for a directory, "stat" or "mmap") when the file cannot be read.
    public static func load(from url: URL, mapped: Bool = false, verifyChecksums: Bool = true) throws(KestrelError) -> FlatIndex {
        let file = try MappedFile.map(path: url.path)
        do throws(KestrelError) {
            return try load(file.bytes, mapping: mapped ? file : nil, verifyChecksums: verifyChecksums)
        } catch {
            throw error.locating(path: url.path)
        }
    }

    /// Loads an index from the bytes of a saved file (copied; the bytes may go away afterwards).
    /// - Throws: as ``load(from:mapped:verifyChecksums:)``, with a nil `path` in `corruptFile`
    ///   and an empty one in `wrongFileKind`.
    public static func load(bytes: UnsafeRawBufferPointer) throws(KestrelError) -> FlatIndex {
        try load(bytes, mapping: nil, verifyChecksums: true)
    }

    /// Loads an index from the bytes of a saved file (copied), optionally without checking the
    /// payload CRCs; header CRCs and the structural validation run either way. This is the entry
    /// point of the loader fuzzer (`Fuzz/`), which has to reach the validation behind the
    /// checksums — SPI, not a stable API; applications use ``load(bytes:)``.
    /// - Throws: as ``load(from:mapped:verifyChecksums:)``.
    @_spi(Fuzzing) public static func load(bytes: UnsafeRawBufferPointer, verifyChecksums: Bool) throws(KestrelError) -> FlatIndex {
        try load(bytes, mapping: nil, verifyChecksums: verifyChecksums)
    }

    static func load(_ bytes: UnsafeRawBufferPointer, mapping: MappedFile?, verifyChecksums: Bool) throws(KestrelError) -> FlatIndex {
        let contents = try IndexFile.read(bytes, allowed: ["PARM", "KEYS", "VECT"], verifyPayloads: verifyChecksums, expected: .flat)
        let p = try contents.section("PARM")
        var r = FieldReader(UnsafeRawBufferPointer(rebasing: bytes[p.offset..<(p.offset + p.count)]), what: "PARM")
        let codec: VectorCodec
        do throws(KestrelError) { codec = try VectorCodec.read(from: &r) } catch { throw error.locating(section: "PARM") }
        let n64 = try r.u64()
        try r.finish()
        guard n64 < UInt64(UInt32.max) else { throw .corruptFile(path: nil, section: "PARM", reason: "row count \(n64)") }
        let n = Int(n64)
        // Rows are encoded with trained parameters; an untrained codec would score them with
        // defaults (binary on real vectors would index its empty offsets).
        guard n == 0 || codec.isTrained else { throw .corruptFile(path: nil, section: "PARM", reason: "\(n) rows stored with an untrained codec") }
        let ks = try contents.section("KEYS")
        let vs = try contents.section("VECT")
        guard ks.count == n * 8 else { throw .corruptFile(path: nil, section: "KEYS", reason: "\(ks.count) bytes for \(n) rows") }
        guard vs.count == n * codec.stride else { throw .corruptFile(path: nil, section: "VECT", reason: "\(vs.count) bytes for \(n) rows") }
        try codec.validateRows(bytes.baseAddress! + vs.offset, count: n, section: "VECT")
        let index: FlatIndex
        do {
            index = try FlatIndex(dimension: codec.dimension, metric: codec.metric, storage: codec.kind, capacity: 0)
        } catch {
            throw .corruptFile(path: nil, section: "PARM", reason: "invalid parameters: \(error)")
        }
        var map = [UInt64: Int](minimumCapacity: n)
        for i in 0..<n {
            let key = IndexFile.get(bytes, ks.offset + 8 * i, UInt64.self)
            guard map.updateValue(i, forKey: key) == nil else { throw .corruptFile(path: nil, section: "KEYS", reason: "duplicate key \(key)") }
        }
        try index.lock.withExclusive { () throws(KestrelError) in
            index.codec = codec
            index.scorer = codec.scorer()
            if let mapping {
                index.rows = MemoryRegion(mapping: mapping, offset: vs.offset, byteCount: vs.count)
                index.keys = MemoryRegion(mapping: mapping, offset: ks.offset, byteCount: ks.count)
                index.isReadOnly = true
            } else {
                index.rows = try MemoryRegion(copying: bytes.baseAddress! + vs.offset, byteCount: vs.count, capacityBytes: max(vs.count, 64))
                index.keys = try MemoryRegion(copying: bytes.baseAddress! + ks.offset, byteCount: ks.count, capacityBytes: max(ks.count, 64))
            }
            index.norms = try MemoryRegion(zeroedBytes: max(n, 16) * 4)
            index.capacity = n
            index.rowCount = n
            index.keyMap = map
            if index.usesGEMM {
                let np = index.norms.base.assumingMemoryBound(to: Float.self)
                let rowp = index.rows.base.assumingMemoryBound(to: Float.self)
                let sf = codec.stride / 4
                for i in 0..<n { np[i] = kestrel_sumsq_f32(rowp + i * sf, codec.dimension) }
            }
        }
        return index
    }
}
