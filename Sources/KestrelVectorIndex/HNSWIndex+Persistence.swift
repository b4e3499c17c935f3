import Foundation
import KestrelTensor

extension HNSWIndex {
    static let sectionTags: Set<String> = ["PARM", "KEYS", "LEVL", "STAT", "USTR", "VECT", "FULL", "LNK0", "LNKU"]

    /// Writes the index atomically (temporary file, fsync, rename); layout in
    /// Documentation/FileFormats.md. Holds the structure lock exclusively while writing, so the
    /// snapshot is consistent (searches and inserts wait).
    /// Removes temporary files that earlier saves to `url` left when their process died
    /// (see ``AtomicFile/removeStaleTemporaryFiles(for:)``).
    /// - Throws: `io` with operation "open" (`EISDIR` when `url` is a directory), "create",
    ///   "write", "fsync" or "rename" and the errno when the file cannot be written.
    public func save(to url: URL) throws(KestrelError) {
        // Exclusive, not shared: a removal (shared) would otherwise change states and the live
        // count between the header and the sections, and the file would fail validation.
        try structure.withExclusive { (a) throws(KestrelError) in
            let (n, used, live) = counts.withLock { ($0.nodeCount, $0.upperUsed, $0.liveCount) }
            var w = FieldWriter()
            a.codec.write(to: &w)
            w.u32(UInt32(parameters.M))
            w.u32(UInt32(parameters.efConstruction))
            w.u32(UInt32(efSearch))
            w.u8(parameters.keepPrunedConnections ? 1 : 0)
            w.u8(parameters.keepFullPrecision ? 1 : 0)
            w.u8(0)
            w.u8(0)
            w.f64(parameters.exactSearchSelectivity)
            w.u64(parameters.seed)
            w.u64(UInt64(n))
            w.u64(UInt64(used))
            w.u64(entry.load(ordering: .acquiring))
            w.u64(UInt64(live))
            func raw(_ r: MemoryRegion, _ bytes: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: r.base, count: bytes) }
            var sections: [IndexFile.Section] = [
                .init(tag: "KEYS", payload: raw(a.keys, n * 8)),
                .init(tag: "LEVL", payload: raw(a.levels, n)),
                .init(tag: "STAT", payload: raw(a.states, n)),
                .init(tag: "USTR", payload: raw(a.upperStart, n * 4)),
                .init(tag: "VECT", payload: raw(a.vectors, n * a.codec.stride)),
                .init(tag: "LNK0", payload: raw(a.links0, n * (1 + maxM0) * 4)),
                .init(tag: "LNKU", payload: raw(a.upper, used * (1 + maxM) * 4)),
            ]
            if let full = a.full { sections.append(.init(tag: "FULL", payload: raw(full, n * dimension * 4))) }
            try withBytes(w.bytes) { (parm) throws(KestrelError) in
                try IndexFile.write(kind: .hnsw, sections: [.init(tag: "PARM", payload: parm)] + sections, to: url)
            }
        }
    }

    /// Loads an index saved by ``save(to:)``, validating everything: the container (magic,
    /// version, CRC-32C of every section, lengths, padding) and the graph (levels, link counts
    /// and targets, entry point, states, unique live keys, codec parameters).
    /// - Parameters:
    ///   - mapped: use the file's pages in place through a read-only mapping — loading costs one
    ///     validation pass and no copy; the index then rejects mutation, and the file must not
    ///     change while the index lives.
    ///   - verifyChecksums: check payload CRCs (one sequential read of the file). Structural
    ///     validation runs either way, so a damaged file can never cause an out-of-bounds access.
    ///   - mapFullPrecision: with `mapped` false, copy the graph and the codes into memory but
    ///     leave the kept f32 vectors (``HNSWParameters/keepFullPrecision``) in the file, read
    ///     through a read-only mapping when re-ranking: heap memory holds only the codes (e.g.
    ///     0.25× of f32 for int8) and each search touches at most ``rerankDepth`` f32 rows. The
    ///     index stays writable: the first insert copies the f32 vectors into memory.
    /// - Throws: `corruptFile(path:section:reason:)` with `url`'s path and the failing section
    ///   tag ("PARM", "KEYS", "LEVL", "STAT", "USTR", "VECT", "LNK0", "LNKU", "FULL"; nil for the
    ///   file header) for any truncation, alteration or value the format forbids (a NaN or
    ///   infinite component, non-zero row padding); `wrongFileKind` when the file holds a flat
    ///   index; `unsupportedVersion`; `io` (operation "open", `EISDIR` for a directory, "stat"
    ///   or "mmap") when the file cannot be read.
    public static func load(
        from url: URL, mapped: Bool = false, mapFullPrecision: Bool = false, verifyChecksums: Bool = true
    ) throws(KestrelError) -> HNSWIndex {
        let file = try MappedFile.map(path: url.path)
        do throws(KestrelError) {
            return try load(file.bytes, mapping: mapped ? file : nil, fullPrecisionMapping: mapFullPrecision ? file : nil,
                            verifyChecksums: verifyChecksums)
        } catch {
            throw error.locating(path: url.path)
        }
    }

    /// Loads an index from the bytes of a saved file (copied).
    /// - Throws: as ``load(from:mapped:mapFullPrecision:verifyChecksums:)``, with a nil `path`
    ///   in `corruptFile` and an empty one in `wrongFileKind`.
    public static func load(bytes: UnsafeRawBufferPointer) throws(KestrelError) -> HNSWIndex {
        try load(bytes, mapping: nil, verifyChecksums: true)
    }

    /// Loads an index from the bytes of a saved file (copied), optionally without checking the
    /// payload CRCs; header CRCs and the full structural validation run either way. This is the
    /// entry point of the loader fuzzer (`Fuzz/`), which has to reach the validation behind the
    /// checksums — SPI, not a stable API; applications use ``load(bytes:)``.
    /// - Throws: as ``load(from:mapped:mapFullPrecision:verifyChecksums:)``.
    @_spi(Fuzzing) public static func load(bytes: UnsafeRawBufferPointer, verifyChecksums: Bool) throws(KestrelError) -> HNSWIndex {
        try load(bytes, mapping: nil, verifyChecksums: verifyChecksums)
    }

    static func load(
        _ bytes: UnsafeRawBufferPointer, mapping: MappedFile?, fullPrecisionMapping: MappedFile? = nil, verifyChecksums: Bool
    ) throws(KestrelError) -> HNSWIndex {
        let contents = try IndexFile.read(bytes, allowed: sectionTags, verifyPayloads: verifyChecksums, expected: .hnsw)
        let p = try contents.section("PARM")
        var r = FieldReader(UnsafeRawBufferPointer(rebasing: bytes[p.offset..<(p.offset + p.count)]), what: "PARM")
        let codec: VectorCodec
        do throws(KestrelError) { codec = try VectorCodec.read(from: &r) } catch { throw error.locating(section: "PARM") }
        let m = Int(try r.u32())
        let efc = Int(try r.u32())
        let efs = Int(try r.u32())
        let keepPruned = try r.u8()
        let keepFull = try r.u8()
        guard keepPruned <= 1, keepFull <= 1, try r.u8() == 0, try r.u8() == 0 else { throw .corruptFile(path: nil, section: "PARM", reason: "bad flags") }
        let sel = try r.f64()
        let seed = try r.u64()
        let n64 = try r.u64()
        let used64 = try r.u64()
        let ep = try r.u64()
        let live64 = try r.u64()
        try r.finish()
        guard n64 < UInt64(UInt32.max) - 1, used64 <= n64 * UInt64(maxLevel), live64 <= n64 else {
            throw .corruptFile(path: nil, section: "PARM", reason: "bad counts")
        }
        // Vectors are encoded with trained parameters; an untrained codec would score them with
        // defaults (binary on real vectors would index its empty offsets).
        guard n64 == 0 || codec.isTrained else { throw .corruptFile(path: nil, section: "PARM", reason: "\(n64) vectors stored with an untrained codec") }
        let params = HNSWParameters(M: m, efConstruction: efc, efSearch: efs, keepPrunedConnections: keepPruned == 1,
                                    keepFullPrecision: keepFull == 1, exactSearchSelectivity: sel, seed: seed)
        guard (try? params.validated()) == params else { throw .corruptFile(path: nil, section: "PARM", reason: "invalid HNSW parameters") }
        let index: HNSWIndex
        do {
            index = try HNSWIndex(dimension: codec.dimension, metric: codec.metric, storage: codec.kind, parameters: params, capacity: 0)
        } catch {
            throw .corruptFile(path: nil, section: "PARM", reason: "invalid parameters: \(error)")
        }
        let n = Int(n64)
        let used = Int(used64)
        let hasFull = keepFull == 1 && codec.kind.isLossy && codec.metric != .hamming
        guard contents.has("FULL") == hasFull else { throw .corruptFile(path: nil, section: "FULL", reason: "FULL section presence disagrees with parameters") }
        func section(_ tag: String, _ expected: Int) throws(KestrelError) -> (offset: Int, count: Int) {
            let s = try contents.section(tag)
            guard s.count == expected else { throw .corruptFile(path: nil, section: tag, reason: "\(s.count) bytes, expected \(expected)") }
            return s
        }
        let row0 = 1 + index.maxM0
        let rowU = 1 + index.maxM
        let ks = try section("KEYS", n * 8)
        let lv = try section("LEVL", n)
        let st = try section("STAT", n)
        let us = try section("USTR", n * 4)
        let vs = try section("VECT", n * codec.stride)
        let l0 = try section("LNK0", n * row0 * 4)
        let lu = try section("LNKU", used * rowU * 4)
        let fs: (offset: Int, count: Int)? = hasFull ? try section("FULL", n * codec.dimension * 4) : nil
        try codec.validateRows(bytes.baseAddress! + vs.offset, count: n, section: "VECT")
        if let fs { try codec.validateFullPrecisionRows(bytes.baseAddress! + fs.offset, count: n, section: "FULL") }

        // Structural validation: nothing below may index out of bounds on any input.
        let base = bytes.baseAddress!
        let levelBytes = (base + lv.offset).assumingMemoryBound(to: UInt8.self)
        let stateBytes = (base + st.offset).assumingMemoryBound(to: UInt8.self)
        let map = KeyTable(minimumCapacity: min(Int(clamping: live64), n))
        var topLevel = -1
        var prefix = 0
        var live = 0
        for i in 0..<n {
            let level = Int(levelBytes[i])
            guard level <= maxLevel else { throw .corruptFile(path: nil, section: "LEVL", reason: "node \(i) has level \(level)") }
            guard IndexFile.get(bytes, us.offset + 4 * i, UInt32.self) == UInt32(prefix) else {
                throw .corruptFile(path: nil, section: "USTR", reason: "upper-layer rows of node \(i) are not where expected")
            }
            prefix += level
            // Checked here, not only after the loop: the rows read below must lie inside LNKU.
            guard prefix <= used else { throw .corruptFile(path: nil, section: "LEVL", reason: "levels need more than the \(used) upper-layer rows") }
            topLevel = max(topLevel, level)
            let s = stateBytes[i]
            guard s == NodeState.live || s == NodeState.deleted else { throw .corruptFile(path: nil, section: "STAT", reason: "node \(i) has state \(s)") }
            if s == NodeState.live {
                live += 1
                let keyOf = { (id: UInt32) in IndexFile.get(bytes, ks.offset + 8 * Int(id), UInt64.self) }
                guard map.insert(UInt32(i), keyOf: keyOf) == nil else { throw .corruptFile(path: nil, section: "KEYS", reason: "duplicate live key \(keyOf(UInt32(i)))") }
            }
            let l0row = l0.offset + i * row0 * 4
            let c0 = Int(IndexFile.get(bytes, l0row, UInt32.self))
            guard c0 <= index.maxM0 else { throw .corruptFile(path: nil, section: "LNK0", reason: "node \(i) has \(c0) layer-0 links") }
            for j in 0..<c0 where IndexFile.get(bytes, l0row + 4 * (1 + j), UInt32.self) >= UInt32(n) {
                throw .corruptFile(path: nil, section: "LNK0", reason: "node \(i) links to a missing node")
            }
            for l in 0..<level {
                let urow = lu.offset + (prefix - level + l) * rowU * 4
                let c = Int(IndexFile.get(bytes, urow, UInt32.self))
                guard c <= index.maxM else { throw .corruptFile(path: nil, section: "LNKU", reason: "node \(i) has \(c) links on layer \(l + 1)") }
                // A target must exist on this layer: searches and inserts address its row on layer
                // l + 1, which a node of lower level does not have (another node's row, or past the end).
                for j in 0..<c {
                    let t = Int(IndexFile.get(bytes, urow + 4 * (1 + j), UInt32.self))
                    guard t < n, Int(levelBytes[t]) > l else {
                        throw .corruptFile(path: nil, section: "LNKU", reason: "node \(i) links to a node missing from layer \(l + 1)")
                    }
                }
            }
        }
        guard prefix == used else { throw .corruptFile(path: nil, section: "PARM", reason: "upper-layer row count \(used) disagrees with levels (\(prefix))") }
        guard live == Int(live64) else { throw .corruptFile(path: nil, section: "PARM", reason: "live count \(live64) disagrees with states (\(live))") }
        if n == 0 {
            guard ep == emptyEntry else { throw .corruptFile(path: nil, section: "PARM", reason: "entry point in an empty index") }
        } else {
            let epID = Int(ep & 0xFFFF_FFFF)
            guard ep >> 32 <= UInt64(maxLevel), epID < n, Int(levelBytes[epID]) == Int(ep >> 32), Int(ep >> 32) == topLevel else {
                throw .corruptFile(path: nil, section: "PARM", reason: "bad entry point")
            }
        }

        try index.structure.withExclusive { (a) throws(KestrelError) in
            a.codec = codec
            a.scorer = codec.scorer()
            a.exactScorer = codec.exactScorer()
            func region(_ s: (offset: Int, count: Int), _ capacityBytes: Int) throws(KestrelError) -> MemoryRegion {
                if let mapping { return MemoryRegion(mapping: mapping, offset: s.offset, byteCount: s.count) }
                return try MemoryRegion(copying: base + s.offset, byteCount: s.count, capacityBytes: max(capacityBytes, 64))
            }
            let cap = max(n, 1)
            a.keys = try region(ks, cap * 8)
            a.levels = try region(lv, cap)
            a.states = try region(st, cap)
            a.upperStart = try region(us, cap * 4)
            a.vectors = try region(vs, cap * codec.stride)
            a.links0 = try region(l0, cap * row0 * 4)
            a.upper = try region(lu, max(used, 1) * rowU * 4)
            a.full = try fs.map { (s) throws(KestrelError) in
                // Left in the file only when there is a row to map: capacity is exactly n, so
                // any insert grows (copies) the f32 rows into memory before writing one.
                if mapping == nil, let fm = fullPrecisionMapping, n > 0 {
                    return MemoryRegion(mapping: fm, offset: s.offset, byteCount: s.count)
                }
                return try region(s, cap * codec.dimension * 4)
            }
            a.lockBytes = try MemoryRegion(zeroedBytes: cap)
            a.capacity = mapping == nil ? cap : n
            a.upperCapacity = mapping == nil ? max(used, 1) : used
            index.isReadOnly = mapping != nil
            index.counts.withLock { c in
                c.nodeCount = n
                c.upperUsed = used
                c.keyMap = map
                c.liveCount = live
            }
            index.entry.store(ep, ordering: .releasing)
            index.pool.drain()
        }
        return index
    }
}
