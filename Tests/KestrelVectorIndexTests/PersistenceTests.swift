import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

// FlatIndex batch search pins BLAS to one thread while it runs: see .changesBLASThreadCount.
@Suite(.changesBLASThreadCount) struct PersistenceTests {
    func smallHNSW(storage: VectorStorageKind = .f32, keepFull: Bool = false, n: Int = 40, dim: Int = 4) throws -> HNSWIndex {
        let index = try HNSWIndex(dimension: dim, storage: storage,
                                  parameters: HNSWParameters(M: 4, efConstruction: 16, keepFullPrecision: keepFull))
        try index.add(keys: (0..<n).map { UInt64($0) * 3 }, vectors: clustered(n, dim: dim, seed: 20))
        try index.remove(key: 6)
        return index
    }

    @Test(arguments: [VectorStorageKind.f32, .f16, .bf16, .int8, .binary])
    func saveLoadGivesIdenticalResults(storage: VectorStorageKind) throws {
        let dir = TempDir()
        let dim = 20, n = 1500
        let index = try HNSWIndex(dimension: dim, storage: storage,
                                  parameters: HNSWParameters(M: 8, efConstruction: 40, keepFullPrecision: storage.isLossy))
        try index.add(keys: (0..<n).map { UInt64($0) + 100 }, vectors: clustered(n, dim: dim, seed: 21), threads: 2)
        for key in stride(from: 100, to: 400, by: 5) { try index.remove(key: UInt64(key)) }
        let url = dir.file("index.kvx")
        try index.save(to: url)
        let queries = clustered(30, dim: dim, seed: 22)
        let before = try index.search(batch: queries, k: 10)
        for mapped in [false, true] {
            let loaded = try HNSWIndex.load(from: url, mapped: mapped)
            #expect(loaded.count == index.count && loaded.isReadOnly == mapped)
            #expect(loaded.checkInvariants() == nil)
            #expect(try loaded.search(batch: queries, k: 10) == before)
            if mapped {
                #expect(throws: KestrelError.self) { try loaded.add(key: 1, vector: [Float](repeating: 0, count: dim)) }
                #expect(throws: KestrelError.self) { try loaded.remove(key: 105) }
            } else {
                // A loaded copy keeps growing like the original.
                try loaded.add(key: 1, vector: Array(queries[0..<dim]))
                #expect(try loaded.search(Array(queries[0..<dim]), k: 1).first?.key == 1)
            }
        }
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["index.kvx"])
    }

    /// int8 codes in memory, kept f32 vectors left in the file: same results as a full copy,
    /// the heap holds only the codes, and the index stays writable (an insert copies the f32 rows in).
    @Test func fullPrecisionLeftInTheFile() throws {
        let dir = TempDir()
        let dim = 24, n = 1200, k = 10
        let base = clustered(n, dim: dim, seed: 31)
        let index = try HNSWIndex(dimension: dim, storage: .int8,
                                  parameters: HNSWParameters(M: 8, efConstruction: 60, keepFullPrecision: true))
        try index.add(keys: (0..<n).map { UInt64($0) }, vectors: base, threads: 2)
        let url = dir.file("i8.kvx")
        try index.save(to: url)
        let queries = clustered(40, dim: dim, seed: 32)
        let before = try index.search(batch: queries, k: k, ef: 40)

        let usage = index.memoryUsage()
        #expect(usage.codeHeapBytes == index.vectorBytes && usage.codeHeapBytes >= n * dim)
        #expect(usage.fullPrecisionHeapBytes >= n * dim * 4 && usage.fullPrecisionMappedBytes == 0)

        let loaded = try HNSWIndex.load(from: url, mapFullPrecision: true)
        let lu = loaded.memoryUsage()
        #expect(!loaded.isReadOnly)
        #expect(lu.fullPrecisionHeapBytes == 0 && lu.fullPrecisionMappedBytes == n * dim * 4)
        // int8: one byte per component, rows padded to 32 bytes (dim 24 → 32 of f32's 96).
        #expect(lu.vectorHeapBytes == loaded.vectorBytes && loaded.vectorBytes == n * 32)
        #expect(lu.fullPrecisionResidentBytes <= lu.fullPrecisionMappedBytes)
        #expect(try loaded.search(batch: queries, k: k, ef: 40) == before)

        // Re-ranking depth: exact distances for the best max(k, depth) candidates only. Every
        // returned distance is then the exact one (checked against the oracle), and recall stays.
        loaded.rerankDepth = 2 * k
        let shallow = try loaded.search(batch: queries, k: k, ef: 40)
        var truth: [[SearchResult]] = []
        for q in 0..<40 {
            let query = queries[(q * dim)..<((q + 1) * dim)]
            for r in shallow[q] {
                let exact = Oracle.distance(base[(Int(r.key) * dim)..<((Int(r.key) + 1) * dim)], query, .l2Squared)
                #expect(abs(Double(r.distance) - exact) <= 1e-4 * max(1, exact))
            }
            truth.append(Oracle.topK(base, dim: dim, query: query, k: k, metric: .l2Squared)
                .map { SearchResult(key: $0.key, distance: Float($0.distance)) })
        }
        #expect(recallAt(shallow, truth) >= 0.95)
        #expect(shallow.allSatisfy { $0.count == k && zip($0, $0.dropFirst()).allSatisfy { $0.distance <= $1.distance } })
        loaded.rerankDepth = -3  // clamped to 0: all candidates
        #expect(loaded.rerankDepth == 0)

        // Writable: the first insert copies the f32 rows into memory before writing one.
        let extra = Array(queries[0..<dim])
        try loaded.add(key: 99_999, vector: extra)
        #expect(loaded.memoryUsage().fullPrecisionMappedBytes == 0)
        #expect(loaded.memoryUsage().fullPrecisionHeapBytes >= (n + 1) * dim * 4)
        #expect(try loaded.search(extra, k: 1).first?.key == 99_999)
        #expect(loaded.checkInvariants() == nil)
    }

    @Test func flatSaveLoad() throws {
        let dir = TempDir()
        let dim = 9, n = 300
        let flat = try FlatIndex(dimension: dim, metric: .cosine)
        try flat.add(keys: (0..<n).map { UInt64($0) }, vectors: clustered(n, dim: dim, seed: 23))
        try flat.remove(key: 3)
        let url = dir.file("flat.kvx")
        try flat.save(to: url)
        let queries = clustered(10, dim: dim, seed: 24)
        for mapped in [false, true] {
            let loaded = try FlatIndex.load(from: url, mapped: mapped)
            #expect(try loaded.search(batch: queries, k: 7) == flat.search(batch: queries, k: 7))
        }
    }

    /// Every single-byte alteration (XOR 0x01 and 0xFF at every offset) and every truncation of
    /// a small saved index is rejected with a typed error — never accepted, never a crash.
    @Test(arguments: [false, true])
    func everyByteFlipAndTruncationIsRejected(flat: Bool) throws {
        let dir = TempDir()
        let url = dir.file("small.kvx")
        if flat {
            let f = try FlatIndex(dimension: 3, storage: .int8)
            try f.add(keys: (0..<12).map { UInt64($0) }, vectors: clustered(12, dim: 3, seed: 25))
            try f.save(to: url)
        } else {
            try smallHNSW(storage: .int8, keepFull: true).save(to: url)
        }
        var bytes = [UInt8](try Data(contentsOf: url))
        func loads(_ b: [UInt8]) -> Bool {
            b.withUnsafeBytes { raw in
                do {
                    if flat { _ = try FlatIndex.load(bytes: raw) } else { _ = try HNSWIndex.load(bytes: raw) }
                    return true
                } catch {
                    return false
                }
            }
        }
        #expect(loads(bytes))
        var accepted: [String] = []
        for i in 0..<bytes.count {
            for mask: UInt8 in [0x01, 0xFF] {
                bytes[i] ^= mask
                if loads(bytes) { accepted.append("flip \(mask) at \(i)") }
                bytes[i] ^= mask
            }
        }
        for len in 0..<bytes.count where loads(Array(bytes[0..<len])) { accepted.append("truncated to \(len)") }
        if loads(bytes + [0]) { accepted.append("extended by one byte") }
        #expect(accepted.isEmpty, "\(accepted.prefix(10))")
        // The file path rejects damage the same way (typed error).
        bytes[bytes.count / 2] ^= 0x10
        try Data(bytes).write(to: url)
        #expect(throws: KestrelError.self) {
            if flat { _ = try FlatIndex.load(from: url) } else { _ = try HNSWIndex.load(from: url) }
        }
    }

    /// Regressions found by the loader fuzzer (`Fuzz/`, target `hnsw-raw`), each reduced to its
    /// essential change and re-sealed with valid CRCs, so only the structural validation stands
    /// between the file and the graph code:
    /// - the last node's level raised (the fuzzer's file: a 40-node int8 index with `LEVL[39]`
    ///   0 → 9): its upper-layer rows were read past the end of `LNKU` — here past the end of the
    ///   file, a trap — before the level sum was compared with the row count;
    /// - a layer-1 link to a node of level 0 was accepted: searches then walked that node's
    ///   "layer-1 row", which is another node's row or lies past the end of the array, and
    ///   inserts would write there.
    @Test func fuzzerFindingsAreRejected() throws {
        let dir = TempDir()
        let url = dir.file("h.kvx")
        try smallHNSW().save(to: url)
        let original = [UInt8](try Data(contentsOf: url))
        let contents = try original.withUnsafeBytes { try IndexFile.read($0, allowed: HNSWIndex.sectionTags, verifyPayloads: true) }
        let levl = try contents.section("LEVL"), ustr = try contents.section("USTR"), lnku = try contents.section("LNKU")
        let n = levl.count
        let rowU = (1 + 4) * 4
        func level(_ i: Int) -> Int { Int(original[levl.offset + i]) }

        var tall = original
        tall[levl.offset + n - 1] = 30

        var lowLink = original
        let low = try #require((0..<n).first { level($0) == 0 })
        let high = try #require((0..<n).first { i in
            level(i) >= 1 && original.withUnsafeBytes { IndexFile.get($0, lnku.offset + Int(IndexFile.get($0, ustr.offset + 4 * i, UInt32.self)) * rowU, UInt32.self) } >= 1
        })
        let row = lnku.offset + Int(original.withUnsafeBytes { IndexFile.get($0, ustr.offset + 4 * high, UInt32.self) }) * rowU
        IndexFile.put(&lowLink, row + 4, UInt32(low))

        for (bad, reason) in [(tall, "upper-layer rows"), (lowLink, "missing from layer 1")] {
            let sealed = resealed(bad)
            let error = #expect(throws: KestrelError.self) { try sealed.withUnsafeBytes { _ = try HNSWIndex.load(bytes: $0) } }
            #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
            try Data(bad).write(to: url)
            #expect(throws: KestrelError.self) { try HNSWIndex.load(from: url, mapped: true, verifyChecksums: false) }
        }
    }

    /// Regression found by the loader fuzzer (`Fuzz/`, target `flat`: a 29-row int8 index whose
    /// codec's "trained" flag was cleared): a codec that trains on the first batch (int8; binary
    /// on real vectors) may be untrained only in an empty index. With rows, the loaded index
    /// scored them with default parameters, and binary codes on real vectors indexed the empty
    /// offset array on every search. Both loaders, all three paths, must reject such a file.
    @Test func untrainedCodecWithRowsIsRejected() throws {
        let dir = TempDir()
        let url = dir.file("u.kvx")
        let untrained = VectorCodec(kind: .binary, metric: .innerProduct, dimension: 8)
        #expect(!untrained.isTrained)
        // Rejected for this reason and no other: the files are otherwise valid.
        func expectRejected(_ load: () throws -> Any) {
            let error = #expect(throws: KestrelError.self) { _ = try load() }
            #expect(error?.description.contains("untrained codec") == true, "\(String(describing: error))")
        }

        // FlatIndex: one row under an untrained codec.
        var w = FieldWriter()
        untrained.write(to: &w)
        w.u64(1)
        let key = [UInt8](repeating: 7, count: 8), row = [UInt8](repeating: 0xA5, count: untrained.stride)
        try withBytes(w.bytes) { (parm) throws(KestrelError) in
            try withBytes(key) { (k) throws(KestrelError) in
                try withBytes(row) { (v) throws(KestrelError) in
                    try IndexFile.write(kind: .flat, sections: [.init(tag: "PARM", payload: parm), .init(tag: "KEYS", payload: k),
                                                               .init(tag: "VECT", payload: v)], to: url)
                }
            }
        }
        var bytes = [UInt8](try Data(contentsOf: url))
        expectRejected { try bytes.withUnsafeBytes { try FlatIndex.load(bytes: $0) } }
        expectRejected { try FlatIndex.load(from: url, mapped: true, verifyChecksums: false) }

        // HNSWIndex: a saved binary index (l2, dimension 4: four trained offsets) whose codec
        // record is replaced by an untrained one.
        try smallHNSW(storage: .binary).save(to: url)
        bytes = [UInt8](try Data(contentsOf: url))
        let contents = try bytes.withUnsafeBytes { try IndexFile.read($0, allowed: HNSWIndex.sectionTags, verifyPayloads: true) }
        var cw = FieldWriter()
        VectorCodec(kind: .binary, metric: .l2Squared, dimension: 4).write(to: &cw)
        let old = try contents.section("PARM")
        let parm = cw.bytes + bytes[(old.offset + 16 + 4 * 4)..<(old.offset + old.count)]
        try withBytes(parm) { (p) throws(KestrelError) in
            try withBytes(bytes) { (b) throws(KestrelError) in
                let sections = contents.sections.map { s in
                    IndexFile.Section(tag: s.tag, payload: s.tag == "PARM" ? p : UnsafeRawBufferPointer(rebasing: b[s.offset..<(s.offset + s.count)]))
                }
                try IndexFile.write(kind: .hnsw, sections: sections, to: url)
            }
        }
        bytes = [UInt8](try Data(contentsOf: url))
        expectRejected { try bytes.withUnsafeBytes { try HNSWIndex.load(bytes: $0) } }
        expectRejected { try HNSWIndex.load(from: url, mapped: true, verifyChecksums: false) }
    }

    /// `bytes` with every payload and section-header CRC recomputed (the layout IndexFile.write uses).
    func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        func crc(_ r: Range<Int>) -> UInt32 { b.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[r])) } }
        let count = Int(b.withUnsafeBytes { IndexFile.get($0, 16, UInt32.self) })
        var pos = IndexFile.headerSize
        for _ in 0..<count {
            let len = Int(b.withUnsafeBytes { IndexFile.get($0, pos + 8, UInt64.self) })
            IndexFile.put(&b, pos + 16, crc((pos + 64)..<(pos + 64 + len)))
            IndexFile.put(&b, pos + 60, crc(pos..<(pos + 60)))
            pos += 64 + IndexFile.padded(len)
        }
        return b
    }

    @Test func wrongKindAndVersionAreTyped() throws {
        let dir = TempDir()
        let url = dir.file("h.kvx")
        try smallHNSW().save(to: url)
        #expect(throws: KestrelError.self) { try FlatIndex.load(from: url) }
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[8] = 9
        #expect(throws: KestrelError.unsupportedVersion(found: 9, supported: 1...1)) {
            try bytes.withUnsafeBytes { _ = try HNSWIndex.load(bytes: $0) }
        }
        #expect(throws: KestrelError.self) { try HNSWIndex.load(from: dir.file("missing.kvx")) }
    }
}
