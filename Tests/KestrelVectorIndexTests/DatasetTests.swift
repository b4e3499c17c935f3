import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

@Suite struct DatasetTests {
    @Test func roundTripsEveryFormat() throws {
        let dir = TempDir()
        var rng = SeededRNG(seed: 40)
        let floats = try DatasetMatrix(rows: 5, dimension: 7, values: rng.floats(35))
        let ints = try DatasetMatrix(rows: 4, dimension: 3, values: (0..<12).map { Int32($0) - 5 })
        let bytes = try DatasetMatrix(rows: 3, dimension: 4, values: rng.bytes(12))
        try Dataset.write(floats, to: dir.file("a.fvecs"))
        try Dataset.write(floats, to: dir.file("a.npy"))
        try Dataset.write(ints, to: dir.file("b.ivecs"))
        try Dataset.write(ints, to: dir.file("b.npy"))
        try Dataset.write(bytes, to: dir.file("c.bvecs"))
        #expect(try Dataset.readFloats(dir.file("a.fvecs")) == floats)
        #expect(try Dataset.readFloats(dir.file("a.npy")) == floats)
        #expect(try Dataset.readInts(dir.file("b.ivecs")) == ints)
        #expect(try Dataset.readInts(dir.file("b.npy")) == ints)
        #expect(try Dataset.readFloats(dir.file("b.npy")).values == ints.values.map { Float($0) })
        #expect(try Dataset.readFloats(dir.file("c.bvecs")).values == bytes.values.map { Float($0) })
        // f16 .npy: values round to half precision (relative error ≤ 2^-11).
        try Dataset.write(floats, to: dir.file("h.npy"), halfPrecision: true)
        let half = try Dataset.readFloats(dir.file("h.npy"))
        #expect(half.rows == 5 && half.dimension == 7)
        for (a, b) in zip(half.values, floats.values) { #expect(abs(a - b) <= abs(b) * 0x1p-11 + 1e-7) }
        // Known bytes: the numpy header layout and a hand-made fvecs row.
        let npy = [UInt8](try Data(contentsOf: dir.file("a.npy")))
        #expect(Array(npy[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        #expect((Int(npy[8]) + Int(npy[9]) << 8 + 10) % 64 == 0)
        let row: [UInt8] = [2, 0, 0, 0] + withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian, Array.init)
            + withUnsafeBytes(of: Float(-2).bitPattern.littleEndian, Array.init)
        #expect(try row.withUnsafeBytes { try Dataset.parseFvecs($0) }.values == [1.5, -2])
    }

    @Test func malformedInputIsRejected() throws {
        func fvecs(_ b: [UInt8]) -> Bool { (try? b.withUnsafeBytes { try Dataset.parseFvecs($0) }) != nil }
        func ivecs(_ b: [UInt8]) -> Bool { (try? b.withUnsafeBytes { try Dataset.parseIvecs($0) }) != nil }
        func bvecs(_ b: [UInt8]) -> Bool { (try? b.withUnsafeBytes { try Dataset.parseBvecs($0) }) != nil }
        func npy(_ b: [UInt8]) -> Bool { (try? b.withUnsafeBytes { try Dataset.parseNPYFloats($0) }) != nil }
        let good = Dataset.encodeVecs(3, 2, [1, 2, 3, 4, 5, 6].map { Float($0).bitPattern })
        #expect(fvecs(good) && ivecs(good))
        #expect(!fvecs([]) && !fvecs([1, 0]))
        // Every truncation that is not a whole number of rows is rejected.
        for len in 0..<good.count where len % 12 != 0 { #expect(!fvecs(Array(good[0..<len])), "len \(len)") }
        var bad = good
        bad[12] = 3  // second row claims dimension 3
        #expect(!fvecs(bad))
        #expect(!fvecs([0, 0, 0, 0]))  // dimension 0
        #expect(!fvecs([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]))  // dimension -1
        #expect(!bvecs([3, 0, 0, 0, 1, 2]))
        #expect(bvecs([2, 0, 0, 0, 1, 2]))
        // .npy: header variants.
        let ok = Dataset.encodeNPY(descr: "<f4", rows: 2, dimension: 2, payload: [1, 2, 3, 4].map { Float($0).bitPattern })
        #expect(npy(ok))
        for len in 0..<ok.count { #expect(!npy(Array(ok[0..<len])), "len \(len)") }
        #expect(!npy(ok + [0]))
        var magic = ok
        magic[1] = 0
        #expect(!npy(magic))
        for header in ["{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }",
                       "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                       "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }",
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -2), }",
                       "{'descr': '<f4', 'shape': (2, 2), }",
                       "garbage"] {
            var b: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
            let text = Array((header + "\n").utf8)
            b += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
            b += [UInt8](repeating: 0, count: 16)
            #expect(!npy(b), "\(header)")
        }
        let ints = Dataset.encodeNPY(descr: "<f4", rows: 1, dimension: 2, payload: [UInt32(1), 2])
        #expect((try? ints.withUnsafeBytes { try Dataset.parseNPYInts($0) }) == nil)  // ids must be <i4
        let e1 = #expect(throws: KestrelError.self) { try Dataset.readFloats(URL(fileURLWithPath: "/nonexistent/x.fvecs")) }
        #expect(e1 == .io(path: "/nonexistent/x.fvecs", operation: "open", errno: ENOENT))
        // The extension is checked before the file is opened.
        let e2 = #expect(throws: KestrelError.self) { try Dataset.readFloats(URL(fileURLWithPath: "/nonexistent/x.csv")) }
        #expect({ if case .invalidArgument(name: "url", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: KestrelError.self) { try Dataset.readInts(URL(fileURLWithPath: "/nonexistent/x.fvecs")) }
        #expect({ if case .invalidArgument(name: "url", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
    }
}
