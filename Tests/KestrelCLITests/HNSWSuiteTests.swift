import Foundation
import Kestrel
import KestrelBenchmarkKit
import Testing

@testable import KestrelCLI

/// The hnsw suite's cases on injected figures (``FakeHNSWProbe``: speedup = (N / 100)^b exactly):
/// what each case reports, and that its verdict is about the sizes actually run.
@Suite struct HNSWSuiteTests {
    private func run(_ probe: FakeHNSWProbe, quick: Bool = true) throws -> [String: BenchmarkCaseResult] {
        let result = try BenchmarkRunner.test(.fake(hnsw: probe), output: OutputCollector())
            .run(BenchmarkRequest(suite: "hnsw", quick: quick))
        return Dictionary(uniqueKeysWithValues: result.report.results.map { ($0.name, $0) })
    }

    @Test func casesReportTheLargestSizeAndTheGrowthAcrossSizes() throws {
        let r = try run(FakeHNSWProbe(exponent: 0.8))
        let sizes = SuiteSettings.quick.hnswCounts
        #expect(sizes == [1_000, 2_000, 5_000])

        let recall = try #require(r["hnsw.recall-at-10"])
        #expect(recall.status == .pass && recall.value == 0.96 && recall.metrics["ef"] == 32)

        let speedup = try #require(r["hnsw.speedup-vs-flat-scan"])
        #expect(speedup.status == .info && speedup.target == nil)
        let at5k = FakeHNSWProbe.speedup(5_000, exponent: 0.8)
        #expect(abs(try #require(speedup.value) - at5k) < 1e-9 * at5k)
        for n in sizes {
            let s = try #require(speedup.metrics["speedup@\(n)"])
            #expect(abs(s - FakeHNSWProbe.speedup(n, exponent: 0.8)) < 1e-9 * s)
        }
        #expect(abs(try #require(speedup.metrics["speedup_over_flat_batch"]) - at5k / 3) < 1e-9 * at5k)

        let growth = try #require(r["hnsw.speedup-growth"])
        #expect(growth.status == .pass)
        #expect(abs(try #require(growth.value) - 0.8) < 1e-9)
        #expect(abs(try #require(growth.metrics["fit_b"]) - 0.8) < 0.01)
        #expect(growth.notes.contains { $0.contains("at 1000") && $0.contains("at 5000") })

        // 150 = (N / 100)^0.8  ⇔  N = 100 · 150^1.25 ≈ 52 513.
        let expected = 100 * pow(150, 1.25)
        let size = try #require(r["hnsw.size-for-150x"])
        #expect(size.status == .info && size.target == nil && size.unit == "vectors")
        #expect(abs(try #require(size.value) - expected) < 0.02 * expected)
        #expect(size.notes.contains { $0.hasPrefix("fit: speedup ≈") })

        #expect(r["hnsw.qps"]?.value == 1e8 / 5_000 * at5k)
        #expect(r["hnsw.build"]?.value == 5_000 * 1e-5 && r["hnsw.build"]?.metrics["index_bytes"] == 2_000_000)
    }

    @Test func aSpeedupThatGrowsSlowerThanTheRootOfNFails() throws {
        let r = try run(FakeHNSWProbe(exponent: 0.3))
        let growth = try #require(r["hnsw.speedup-growth"])
        #expect(growth.status == .fail)
        #expect(abs(try #require(growth.value) - 0.3) < 1e-9)
    }

    @Test func aSizeWithoutAnOperatingPointFailsTheGrowthCase() throws {
        let r = try run(FakeHNSWProbe(noOperatingPointAt: [2_000]))
        #expect(r["hnsw.recall-at-10"]?.status == .pass)  // the largest size reached the target
        let growth = try #require(r["hnsw.speedup-growth"])
        #expect(growth.status == .fail)
        #expect(growth.error?.contains("no ef reached the recall target at 2000 vectors") == true)
        #expect(r["hnsw.size-for-150x"]?.error != nil)
    }

    @Test func theLargestSizeWithoutAnOperatingPointFailsRecall() throws {
        let r = try run(FakeHNSWProbe(noOperatingPointAt: [5_000]))
        let recall = try #require(r["hnsw.recall-at-10"])
        #expect(recall.status == .fail && recall.value == 0.94 && recall.metrics["ef"] == 64)
    }

    @Test func growthNeedsTwoSizesAndFitsOnlyWithThree() throws {
        let e = #expect(throws: KestrelError.self) { try SpeedupGrowth(points: [(1_000, 5)], target: 150) }
        #expect(e == .invalidArgument(name: "sizes", reason: "need at least 2 distinct index sizes"))
        let two = try SpeedupGrowth(points: [(40_000, 40), (10_000, 10)], target: 150)
        #expect(two.sizes == [10_000, 40_000] && two.speedups == [10, 40])
        #expect(abs(two.exponent - 1) < 1e-12)
        #expect(two.fit == nil && two.sizeForTarget == nil)
        // A flat curve never reaches the target.
        let flat = try SpeedupGrowth(points: [(1_000, 5), (2_000, 5), (4_000, 5)], target: 150)
        #expect(flat.exponent == 0 && flat.sizeForTarget == nil)
        #expect(throws: KestrelError.self) { try SpeedupGrowth(points: [(1_000, 5), (2_000, .nan)], target: 150) }
        // Three sizes: the verdict is the least-squares slope on logs over all of them, not the
        // end-to-end ratio (one slow pass at one end moved that by 0.2 on a shared machine).
        let three = try SpeedupGrowth(points: [(10_000, 12.3), (20_000, 30.0), (100_000, 40.0)], target: 150)
        let lx = [1e4, 2e4, 1e5].map { log($0) }, ly = [12.3, 30.0, 40.0].map { log($0) }
        let mx = lx.reduce(0, +) / 3, my = ly.reduce(0, +) / 3
        var sxy = 0.0, sxx = 0.0
        for (x, y) in zip(lx, ly) {
            sxy += (x - mx) * (y - my)
            sxx += (x - mx) * (x - mx)
        }
        let slope = sxy / sxx
        #expect(abs(three.exponent - slope) < 1e-12)
        #expect(abs(three.exponent - log(40 / 12.3) / log(10)) > 0.01)
        let fit = try #require(three.fit)
        #expect(abs(try #require(three.sizeForTarget) - pow(150 / fit.a, 1 / fit.b)) < 1e-6)
    }
}
