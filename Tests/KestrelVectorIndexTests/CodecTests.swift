import Foundation
@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

// FlatIndex batch search pins BLAS to one thread while it runs: see .changesBLASThreadCount.
@Suite(.changesBLASThreadCount) struct CodecTests {
    /// HNSW recall@10 per codec against exact f32 search; lossy codecs re-rank from kept f32.
    @Test func recallPerCodec() throws {
        let dim = 32, n = 3000, nq = 50
        let base = clustered(n, dim: dim, seed: 50)
        let queries = clustered(nq, dim: dim, seed: 51)
        let keys = (0..<n).map { UInt64($0) }
        let flat = try FlatIndex(dimension: dim)
        try flat.add(keys: keys, vectors: base)
        let truth = try flat.search(batch: queries, k: 10)
        var recall: [VectorStorageKind: Double] = [:]
        for storage in VectorStorageKind.allCases {
            let index = try HNSWIndex(dimension: dim, storage: storage,
                                      parameters: HNSWParameters(M: 12, efConstruction: 80, keepFullPrecision: storage.isLossy))
            try index.add(keys: keys, vectors: base, threads: 2)
            recall[storage] = recallAt(try index.search(batch: queries, k: 10, ef: 96, threads: 2), truth)
            if storage == .int8 {
                // Codes take a quarter of f32 (dim 32 rows are 32 bytes vs 128).
                let f32Bytes = try HNSWIndex(dimension: dim, capacity: n).vectorBytes
                #expect(index.vectorBytes * 4 <= f32Bytes + 64)
            }
        }
        let f32 = recall[.f32]!
        #expect(f32 >= 0.95)
        #expect(recall[.f16]! >= f32 - 0.01)
        #expect(recall[.bf16]! >= f32 - 0.03)
        #expect(recall[.int8]! >= f32 - 0.01, "int8 \(recall[.int8]!) vs f32 \(f32)")
        #expect(recall[.binary]! >= 0.5, "binary \(recall[.binary]!)")
    }

    @Test func int8TrainingAndEncoding() throws {
        var c = VectorCodec(kind: .int8, metric: .l2Squared, dimension: 3)
        #expect(!c.isTrained)
        let rows: [Float] = [0, 10, -1, 2, 20, 1, 1, 15, 0]
        rows.withUnsafeBufferPointer { c.train($0.baseAddress!, count: 3) }
        #expect(c.isTrained && c.offsets == [1, 15, 0])
        #expect(c.scale == 5 / Float(127))  // widest half-range is 5 (dimension 1)
        var code = [Int8](repeating: 0, count: 16)
        let x: [Float] = [2, 20, 100]
        code.withUnsafeMutableBytes { d in x.withUnsafeBufferPointer { c.encode($0.baseAddress!, into: d.baseAddress!) } }
        #expect(Array(code[0..<3]) == [25, 127, 127])  // (2 − 1) / (5/127) = 25.4 → 25; clamped
        // Distances are exact int8 distances times step².
        let s = c.scorer()
        let y: [Int8] = [0, 0, 0] + [Int8](repeating: 0, count: 13)
        let d = code.withUnsafeBytes { a in y.withUnsafeBytes { b in s(a.baseAddress!, b.baseAddress!) } }
        #expect(Approx.equal(d, Float(25 * 25 + 127 * 127 * 2) * c.scale * c.scale, rel: 1e-6))
    }

    @Test func untrainedSingleAddTrainsOnItsBatch() throws {
        // The first batch trains the codec; a lone first vector trains on itself.
        let index = try HNSWIndex(dimension: 4, storage: .int8)
        try index.add(key: 1, vector: [1, 2, 3, 4])
        try index.add(key: 2, vector: [1, 2, 3, 5])
        #expect(index.count == 2)
        #expect(try index.search([1, 2, 3, 4], k: 1).first?.key == 1)
    }
}
