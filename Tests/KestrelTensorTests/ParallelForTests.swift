import Foundation
import KestrelTensor
import Synchronization
import Testing
import _KestrelTestSupport

/// Serialized, and under `BLASCountLock`: these tests read and change the process-wide BLAS
/// thread count (read with `countOutsideRegions`, since other suites' regions may be open).
@Suite(.serialized) struct ParallelForTests {
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
        let e1 = #expect(throws: KestrelError.self) { try parallelFor(0..<10, threads: 0) { _ in } }
        if case .invalidArgument(let name, _) = e1 { #expect(name == "threads") } else { Issue.record("\(String(describing: e1))") }
        let e2 = #expect(throws: KestrelError.self) { try parallelFor(0..<10, threads: 2, grain: 0) { _, _ in } }
        if case .invalidArgument(let name, _) = e2 { #expect(name == "grain") } else { Issue.record("\(String(describing: e2))") }
        let e3 = #expect(throws: KestrelError.self) { try BLASThreads.setCount(0) }
        if case .invalidArgument(let name, _) = e3 { #expect(name == "n") } else { Issue.record("\(String(describing: e3))") }
        let e4 = #expect(throws: KestrelError.self) { try BLASThreads.setCount(4097) }
        if case .invalidArgument(let name, _) = e4 { #expect(name == "n") } else { Issue.record("\(String(describing: e4))") }
        // The same figure as Foundation's (affinity mask and cgroup quota honoured).
        #expect(activeProcessorCount == max(1, ProcessInfo.processInfo.activeProcessorCount))
    }

    @Test func workerNumbersAreInRangeAndNeverConcurrent() throws {
        for (count, threads, grain) in [(1000, 3, 1), (7, 8, 2), (1, 4, 1), (64, 1, 5)] {
            let busy = Mutex([Bool](repeating: false, count: threads))
            let visits = Mutex([Int](repeating: 0, count: count))
            let overlaps = Atomic<Int>(0), outOfRange = Atomic<Int>(0)
            let workersSeen = Mutex(Set<Int>())
            try parallelFor(0..<count, threads: threads, grain: grain) { chunk, worker in
                guard worker >= 0 && worker < min(threads, (count + grain - 1) / grain) else {
                    outOfRange.add(1, ordering: .relaxed)
                    return
                }
                busy.withLock { b in
                    if b[worker] { overlaps.add(1, ordering: .relaxed) }
                    b[worker] = true
                }
                workersSeen.withLock { _ = $0.insert(worker) }
                visits.withLock { v in for i in chunk { v[i] += 1 } }
                busy.withLock { $0[worker] = false }
            }
            #expect(outOfRange.load(ordering: .relaxed) == 0)
            #expect(overlaps.load(ordering: .relaxed) == 0)
            #expect(visits.withLock { $0 }.allSatisfy { $0 == 1 }, "count \(count) threads \(threads) grain \(grain)")
            if threads == 1 { #expect(workersSeen.withLock { $0 } == [0]) }
        }
        // Worker 0 is the calling thread, and only it.
        let caller = pthread_self()
        let placement = Mutex<[Bool]>([])
        try parallelFor(0..<64, threads: 3) { _, worker in
            let onCaller = pthread_equal(pthread_self(), caller) != 0
            placement.withLock { $0.append(onCaller == (worker == 0)) }
        }
        #expect(placement.withLock { $0 }.count == 64 && placement.withLock { $0 }.allSatisfy { $0 })
    }

    @Test func setCountInsideARegionIsAppliedWhenItEnds() throws {
        try BLASCountLock.exclusive {
            let original = BLASThreads.countOutsideRegions
            defer { try? BLASThreads.setCount(original) }
            try BLASThreads.setCount(1)
            try BLASThreads.setCount(2)
            let two = BLASThreads.countOutsideRegions  // OpenBLAS may cap; Accelerate reports 1
            try BLASThreads.setCount(1)
            let inside = try BLASThreads.singleThreaded { () throws(KestrelError) -> Int in
                try BLASThreads.setCount(2)
                return BLASThreads.count
            }
            #expect(inside == 1)
            #expect(BLASThreads.countOutsideRegions == two)
        }
    }

    /// The interleaving that broke the old save/restore pair: region A begins, region B begins
    /// on another thread, A ends while B still runs. BLAS must stay at 1 until B ends, then
    /// return to the count from before A.
    @Test func overlappingRegionsOnTwoThreadsRestoreOnlyWhenTheLastEnds() throws {
        try BLASCountLock.exclusive {
            let original = BLASThreads.countOutsideRegions
            defer { try? BLASThreads.setCount(original) }
            try BLASThreads.setCount(2)
            let before = BLASThreads.countOutsideRegions
            let bEntered = DispatchSemaphore(value: 0), aLeft = DispatchSemaphore(value: 0), bDone = DispatchSemaphore(value: 0)
            let seenInB = Mutex<[Int]>([])
            let b = Thread {
                BLASThreads.singleThreaded {
                    bEntered.signal()
                    aLeft.wait()
                    seenInB.withLock { $0.append(BLASThreads.count) }
                }
                bDone.signal()
            }
            let afterA: Int = BLASThreads.singleThreaded {
                b.start()
                bEntered.wait()
                return BLASThreads.count
            }
            let betweenAandB = BLASThreads.count
            aLeft.signal()
            bDone.wait()
            #expect(afterA == 1)
            #expect(betweenAandB == 1)
            #expect(seenInB.withLock { $0 } == [1])
            #expect(BLASThreads.countOutsideRegions == before)
        }
    }

    @Test func blasIsSingleThreadedInsideAndRestoredAfter() throws {
        try BLASCountLock.exclusive {
            let original = BLASThreads.countOutsideRegions
            defer { try? BLASThreads.setCount(original) }
            try BLASThreads.setCount(2)
            let expected = BLASThreads.countOutsideRegions  // OpenBLAS may cap; Accelerate reports 1
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
            #expect(BLASThreads.countOutsideRegions == expected)
            // A BLAS call inside the region works (and runs on the calling worker).
            let backend = AcceleratedBackend()
            let a = try Tensor.random([8, 8], seed: 1)
            let want = try backend.matmul(a, a).scalars()
            let results = Mutex<[[Float]]>([])
            try parallelFor(0..<4, threads: 2) { _ in
                if let r = try? backend.matmul(a, a).scalars() { results.withLock { $0.append(r) } }
            }
            #expect(results.withLock { $0 }.count == 4 && results.withLock { $0 }.allSatisfy { $0 == want })
            #expect(BLASThreads.countOutsideRegions == expected)
        }
    }
}
