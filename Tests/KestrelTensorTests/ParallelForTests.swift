import KestrelTensor
import Synchronization
import Testing
import _KestrelTestSupport

/// Serialized, and exclusive of every test marked `.changesBLASThreadCount` (in any module): these
/// tests assert the exact process-wide BLAS thread count.
@Suite(.serialized, .readsBLASThreadCount) struct ParallelForTests {
    func visits(_ range: Range<Int>, threads: Int, grain: Int) throws -> [Int] {
        let counts = Mutex([Int](repeating: 0, count: range.count))
        try parallelFor(range, threads: threads, grain: grain) { chunk in
            #expect(chunk.count >= 1 && chunk.count <= grain)
            counts.withLock { c in for i in chunk { c[i - range.lowerBound] += 1 } }
        }
        return counts.withLock { $0 }
    }

    @Test func coversEveryIndexExactlyOnce() throws {
        for (range, threads, grain) in [(0..<1000, 2, 1), (5..<1005, 4, 7), (0..<3, 8, 1), (-10..<10, 1, 3), (0..<1, 2, 100)] {
            let v = try visits(range, threads: threads, grain: grain)
            #expect(v.allSatisfy { $0 == 1 }, "\(range) threads \(threads) grain \(grain)")
        }
        #expect(try visits(0..<0, threads: 2, grain: 1).isEmpty)
    }

    @Test func badArgumentsThrow() {
        #expect(throws: KestrelError.self) { try parallelFor(0..<10, threads: 0) { _ in } }
        #expect(throws: KestrelError.self) { try parallelFor(0..<10, grain: 0) { _ in } }
        #expect(throws: KestrelError.self) { try BLASThreads.setCount(0) }
        #expect(activeProcessorCount >= 1)
    }

    @Test func blasIsSingleThreadedInsideAndRestoredAfter() throws {
        let original = BLASThreads.count
        defer { try? BLASThreads.setCount(original) }
        try BLASThreads.setCount(2)
        let expected = BLASThreads.count  // OpenBLAS may cap; Accelerate reports 1
        let seen = Mutex<[Int]>([])
        try parallelFor(0..<8, threads: 2) { _ in
            let inner = BLASThreads.count
            seen.withLock { $0.append(inner) }
            // Nested regions keep BLAS at 1 and do not restore early.
            try? parallelFor(0..<2, threads: 1) { _ in }
            let after = BLASThreads.count
            seen.withLock { $0.append(after) }
        }
        #expect(seen.withLock { $0 }.allSatisfy { $0 == 1 })
        #expect(BLASThreads.count == expected)
        // A BLAS call inside the region works (and runs on the calling worker).
        let backend = AcceleratedBackend()
        let a = try Tensor.random([8, 8], seed: 1)
        let want = try backend.matmul(a, a).scalars()
        let results = Mutex<[[Float]]>([])
        try parallelFor(0..<4, threads: 2) { _ in
            if let r = try? backend.matmul(a, a).scalars() { results.withLock { $0.append(r) } }
        }
        #expect(results.withLock { $0 }.count == 4 && results.withLock { $0 }.allSatisfy { $0 == want })
        #expect(BLASThreads.count == expected)
    }
}
