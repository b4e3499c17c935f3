import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Structured errors of the file paths (issue 14) and the loaders' value rules and stale
/// temporary files (issue 15 §4).
extension PersistenceTests {
    /// The (path, section) of a `corruptFile`, nil for any other case: what these tests compare
    /// (the reason is prose for people).
    func location(_ e: KestrelError?) -> [String?]? {
        guard case .corruptFile(let path, let section, _)? = e else { return nil }
        return [path, section]
    }

    @Test func aFileOfTheOtherKindIsNamed() throws {
        let dir = TempDir()
        let h = dir.file("h.kvx"), f = dir.file("f.kvx")
        try smallHNSW().save(to: h)
        let flat = try FlatIndex(dimension: 4)
        try flat.add(key: 1, vector: [1, 2, 3, 4])
        try flat.save(to: f)
        for mapped in [false, true] {
            let e1 = #expect(throws: KestrelError.self) { try FlatIndex.load(from: h, mapped: mapped) }
            #expect(e1 == .wrongFileKind(path: h.path, expected: "flat index", found: "HNSW index"))
            let e2 = #expect(throws: KestrelError.self) { try HNSWIndex.load(from: f, mapped: mapped) }
            #expect(e2 == .wrongFileKind(path: f.path, expected: "HNSW index", found: "flat index"))
        }
        let bytes = [UInt8](try Data(contentsOf: h))
        let e3 = #expect(throws: KestrelError.self) { try bytes.withUnsafeBytes { _ = try FlatIndex.load(bytes: $0) } }
        #expect(e3 == .wrongFileKind(path: "", expected: "flat index", found: "HNSW index"))
    }

    @Test func diskFailuresAreIOErrors() throws {
        let dir = TempDir()
        let index = try smallHNSW()
        // A directory given as a file, on both sides, and by the dataset reader.
        let e1 = #expect(throws: KestrelError.self) { try HNSWIndex.load(from: dir.url) }
        #expect(e1 == .io(path: dir.url.path, operation: "open", errno: EISDIR))
        let e2 = #expect(throws: KestrelError.self) { try index.save(to: dir.url) }
        #expect(e2 == .io(path: dir.url.path, operation: "open", errno: EISDIR))
        let vecs = dir.file("v.fvecs")
        try FileManager.default.createDirectory(at: vecs, withIntermediateDirectories: false)
        let e3 = #expect(throws: KestrelError.self) { try Dataset.readFloats(vecs) }
        #expect(e3 == .io(path: vecs.path, operation: "open", errno: EISDIR))
        // A missing file, and a save into a missing directory.
        let missing = dir.file("missing.kvx")
        let e4 = #expect(throws: KestrelError.self) { try FlatIndex.load(from: missing) }
        #expect(e4 == .io(path: missing.path, operation: "open", errno: ENOENT))
        let nowhere = dir.file("no-such-dir/x.kvx")
        let e5 = #expect(throws: KestrelError.self) { try index.save(to: nowhere) }
        #expect(e5 == .io(path: nowhere.path, operation: "create", errno: ENOENT))
        let e6 = #expect(throws: KestrelError.self) { try Dataset.write(try DatasetMatrix(rows: 1, dimension: 1, values: [Float(1)]), to: dir.file("no-such-dir/v.fvecs")) }
        #expect(e6 == .io(path: dir.file("no-such-dir/v.fvecs").path, operation: "create", errno: ENOENT))
    }

    @Test func corruptFilesNameTheirPathAndSection() throws {
        let dir = TempDir()
        let url = dir.file("h.kvx")
        try smallHNSW().save(to: url)
        var bytes = [UInt8](try Data(contentsOf: url))
        let vect = try bytes.withUnsafeBytes { try IndexFile.read($0, allowed: HNSWIndex.sectionTags, verifyPayloads: true) }.section("VECT")
        bytes[vect.offset] ^= 0x40
        try Data(bytes).write(to: url)
        let e1 = #expect(throws: KestrelError.self) { try HNSWIndex.load(from: url) }
        #expect(e1 == .corruptFile(path: url.path, section: "VECT", reason: "checksum mismatch"))
        let e2 = #expect(throws: KestrelError.self) { try bytes.withUnsafeBytes { _ = try HNSWIndex.load(bytes: $0) } }
        #expect(e2 == .corruptFile(path: nil, section: "VECT", reason: "checksum mismatch"))
        // A truncated file fails on its header's declared length: no section.
        try Data(bytes[0..<(bytes.count - 64)]).write(to: url)
        let e3 = #expect(throws: KestrelError.self) { try HNSWIndex.load(from: url) }
        #expect(location(e3) == [url.path, nil])
        // A malformed dataset names its file.
        let v = dir.file("v.fvecs")
        try Data([3, 0, 0, 0, 1, 2]).write(to: v)
        let e4 = #expect(throws: KestrelError.self) { try Dataset.readFloats(v) }
        #expect(location(e4) == [v.path, nil])
    }

    /// The bit pattern of a NaN in `storage`'s row encoding, little-endian.
    func nanBytes(_ storage: VectorStorageKind) -> [UInt8] {
        switch storage {
        case .f32: return [0x00, 0x00, 0xC0, 0x7F]
        case .f16: return [0x00, 0x7E]
        default: return [0xC0, 0x7F]  // bf16
        }
    }

    /// `bytes` with `edit` applied at `offset` inside section `tag`, re-sealed (valid CRCs).
    func forged(_ bytes: [UInt8], kind: IndexFile.Kind, tag: String, offset: Int, _ edit: [UInt8]) throws -> [UInt8] {
        let tags: Set<String> = kind == .flat ? ["PARM", "KEYS", "VECT"] : HNSWIndex.sectionTags
        let s = try bytes.withUnsafeBytes { try IndexFile.read($0, allowed: tags, verifyPayloads: true) }.section(tag)
        var b = bytes
        b.replaceSubrange((s.offset + offset)..<(s.offset + offset + edit.count), with: edit)
        return resealed(b)
    }

    /// Re-sealed files (valid CRCs) whose rows hold a NaN, an infinity, or non-zero row padding
    /// are refused by both loaders and every load path, naming the section.
    @Test(arguments: [VectorStorageKind.f32, .f16, .bf16])
    func forbiddenRowValuesAreRefused(storage: VectorStorageKind) throws {
        let dir = TempDir()
        let dim = 5  // codeBytes 20 or 10, stride 32 or 16: every row has padding
        let codec = VectorCodec(kind: storage, metric: .l2Squared, dimension: dim)
        let width = storage == .f32 ? 4 : 2
        let infinity: [UInt8] = storage == .f32 ? [0, 0, 0x80, 0x7F] : (storage == .f16 ? [0x00, 0x7C] : [0x80, 0x7F])
        let data = clustered(20, dim: dim, seed: 5)
        let flat = try FlatIndex(dimension: dim, storage: storage)
        try flat.add(keys: (0..<20).map { UInt64($0) }, vectors: data)
        let hnsw = try HNSWIndex(dimension: dim, storage: storage, parameters: HNSWParameters(M: 4, efConstruction: 16))
        try hnsw.add(keys: (0..<20).map { UInt64($0) }, vectors: data)
        let row = 7 * codec.stride
        for (kind, url) in [(IndexFile.Kind.flat, dir.file("f.kvx")), (.hnsw, dir.file("h.kvx"))] {
            if kind == .flat { try flat.save(to: url) } else { try hnsw.save(to: url) }
            let good = [UInt8](try Data(contentsOf: url))
            let bad = [
                try forged(good, kind: kind, tag: "VECT", offset: row + 3 * width, nanBytes(storage)),
                try forged(good, kind: kind, tag: "VECT", offset: row + 3 * width, infinity),
                try forged(good, kind: kind, tag: "VECT", offset: row + codec.codeBytes, [1]),
                try forged(good, kind: kind, tag: "VECT", offset: row + codec.stride - 1, [0x80]),
            ]
            for b in bad {
                try Data(b).write(to: url)
                for mapped in [false, true] {
                    let e = #expect(throws: KestrelError.self) {
                        if kind == .flat { _ = try FlatIndex.load(from: url, mapped: mapped, verifyChecksums: mapped) }
                        else { _ = try HNSWIndex.load(from: url, mapped: mapped, verifyChecksums: mapped) }
                    }
                    #expect(location(e) == [url.path, "VECT"], "\(String(describing: e))")
                }
                let e = #expect(throws: KestrelError.self) {
                    try b.withUnsafeBytes { if kind == .flat { _ = try FlatIndex.load(bytes: $0) } else { _ = try HNSWIndex.load(bytes: $0) } }
                }
                #expect(location(e) == [nil, "VECT"])
            }
            // The unforged file still loads (the check does not refuse valid rows).
            try Data(good).write(to: url)
            if kind == .flat { #expect(try FlatIndex.load(from: url).count == 20) } else { #expect(try HNSWIndex.load(from: url).count == 20) }
        }
    }

    /// The kept f32 vectors (`FULL`) obey the same rule.
    @Test func nonFiniteFullPrecisionRowsAreRefused() throws {
        let dir = TempDir()
        let url = dir.file("h.kvx")
        try smallHNSW(storage: .int8, keepFull: true).save(to: url)
        let good = [UInt8](try Data(contentsOf: url))
        for edit in [nanBytes(.f32), [0, 0, 0x80, 0xFF]] {  // NaN, −∞
            let bad = try forged(good, kind: .hnsw, tag: "FULL", offset: 4 * (4 * 9 + 2), edit)
            let e = #expect(throws: KestrelError.self) { try bad.withUnsafeBytes { _ = try HNSWIndex.load(bytes: $0) } }
            #expect(location(e) == [nil, "FULL"], "\(String(describing: e))")
        }
        #expect(try good.withUnsafeBytes { try HNSWIndex.load(bytes: $0) }.count == 39)
    }

    /// A PID that existed and no longer does: a child that has exited and been reaped.
    func deadPID() throws -> pid_t {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func staleTemporaryFilesOfDeadWritersAreRemoved() throws {
        let dir = TempDir()
        let url = dir.file("i.kvx")
        let dead = try deadPID()
        try #require(kill(dead, 0) != 0 && errno == ESRCH)
        let stale = dir.file("i.kvx.tmp-\(dead)-12345")
        let live = dir.file("i.kvx.tmp-\(getpid())-678")
        let otherPath = dir.file("j.kvx.tmp-\(dead)-1")
        let notOurs = dir.file("i.kvx.tmp-\(dead)-x")
        for f in [stale, live, otherPath, notOurs] { try Data([1, 2, 3]).write(to: f) }
        let removed = try AtomicFile.removeStaleTemporaryFiles(for: url)
        #expect(removed.map(\.lastPathComponent) == [stale.lastPathComponent])
        let exists = { (u: URL) in FileManager.default.fileExists(atPath: u.path) }
        #expect(!exists(stale) && exists(live) && exists(otherPath) && exists(notOurs))
        // A save to the path clears them too, and leaves the live writer's file alone.
        try Data([1]).write(to: stale)
        try smallHNSW().save(to: url)
        #expect(!exists(stale) && exists(live))
        #expect(try HNSWIndex.load(from: url).count == 39)
        let e = #expect(throws: KestrelError.self) { try AtomicFile.removeStaleTemporaryFiles(for: dir.file("none/x.kvx")) }
        #expect(e == .io(path: dir.file("none").path, operation: "opendir", errno: ENOENT))
    }
}
