import Foundation
import KestrelTensor
import KestrelVectorIndex
import Synchronization
import Testing
import _KestrelTestSupport

/// Concurrent users of the one BLAS thread control (`BLASThreads`): FlatIndex GEMM batch
/// searches, Tensor matmuls and `parallelFor` bodies, started from several threads at once.
/// Also run under ThreadSanitizer (`.ci/run`).
@Suite struct BLASThreadsStressTests {
    @Test func concurrentBatchSearchesMatmulsAndParallelForsLeaveTheCountAsItWas() throws {
        try BLASCountLock.exclusive { try run() }
    }

    private func run() throws {
        let original = BLASThreads.countOutsideRegions
        defer { try? BLASThreads.setCount(original) }
        try BLASThreads.setCount(2)
        // Other suites' parallel regions may be open: compare what holds outside regions.
        let before = BLASThreads.countOutsideRegions  // OpenBLAS may cap it; Accelerate reports 1

        let dim = 16, rows = 600, nq = 40, k = 5
        let base = clustered(rows, dim: dim, seed: 91)
        let queries = clustered(nq, dim: dim, seed: 92)
        let index = try FlatIndex(dimension: dim, metric: .l2Squared)
        try index.add(keys: (0..<rows).map { UInt64($0) }, vectors: base)
        // nq >= 8 and rows >= 64: the batch takes the GEMM path.
        let wantSearch = try index.search(batch: queries, k: k, threads: 1)
        let a = try Tensor.random([48, 40], seed: 93), b = try Tensor.random([40, 56], seed: 94)
        let wantProduct = try ReferenceBackend().matmul(a, b).scalars()

        let iterations = 6
        let failures = Locked<[String]>([])
        let countsInsideRegions = Locked<Set<Int>>([])
        let group = DispatchGroup()
        for role in 0..<6 {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    for _ in 0..<iterations {
                        switch role % 3 {
                        case 0:
                            let got = try index.search(batch: queries, k: k, threads: 2)
                            if got != wantSearch { failures.withLock { $0.append("batch search differs (role \(role))") } }
                        case 1:
                            let got = try AcceleratedBackend().matmul(a, b).scalars()
                            if !close(got, wantProduct) { failures.withLock { $0.append("matmul differs (role \(role))") } }
                        default:
                            try parallelFor(0..<4, threads: 2) { _ in
                                let inside = BLASThreads.count
                                countsInsideRegions.withLock { _ = $0.insert(inside) }
                                let got = try? AcceleratedBackend().matmul(a, b).scalars()
                                if got.map({ close($0, wantProduct) }) != true {
                                    failures.withLock { $0.append("matmul in parallelFor differs (role \(role))") }
                                }
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("role \(role) threw \(error)") }
                }
            }
            thread.start()
        }
        group.wait()
        #expect(failures.withLock { $0 } == [])
        #expect(countsInsideRegions.withLock { $0 } == [1])
        #expect(BLASThreads.countOutsideRegions == before)
    }

    /// Within f32 rounding of the reference product (K = 40 terms of magnitude ≤ 1).
    private func close(_ x: [Float], _ y: [Float]) -> Bool {
        x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-4 }
    }
}
