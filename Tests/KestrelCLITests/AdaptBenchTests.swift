import Foundation
import Kestrel
import Testing
@testable import KestrelCLI

@Suite struct AdaptBenchTests {
    /// The allocation hook is process-wide, so the allocation claims are checked in a `kestrel`
    /// process of their own (single-threaded), not inside the parallel test runner.
    @Test(arguments: AdaptBench.Loss.allCases)
    func benchPrintsTheContractLineAndAStepAllocatesNothing(loss: AdaptBench.Loss) throws {
        let r = try KestrelProcess.run(["adapt-bench", "--dim", "96", "--rank", "2", "--ewc", "--loss", loss.rawValue,
                                        "--steps", "300", "--warmup", "10", "--json"])
        #expect(r.status == 0)
        let line = try #require(r.lines.last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["dim", "rank", "loss", "ewc", "p50_ns", "p99_ns", "p999_ns", "apply_p50_ns", "allocations_per_step", "isa"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["dim"] as? Int == 96 && json["rank"] as? Int == 2 && json["ewc"] as? Bool == true)
        #expect(json["loss"] as? String == loss.rawValue)
        #expect((json["allocation_counter_probe"] as? Int ?? 0) >= 16) // the counter sees allocations
        // The tests run the debug executable, whose unoptimised Swift glue makes one allocation per
        // step; the release build makes none (Benchmarks.md §16.1, and AdaptationBenchmarks'
        // mallocCountTotal = 0 counts every malloc). More than one here is a regression either way.
        let perStep = try #require(json["allocations_per_step"] as? Double)
        #expect(perStep <= 1)
        let p50 = try #require(json["p50_ns"] as? Int), p99 = try #require(json["p99_ns"] as? Int)
        #expect(p50 > 0 && p50 <= p99)
    }

    @Test func commandValidatesItsFlags() throws {
        #expect(throws: (any Error).self) { try AdaptBenchCommand.parse(["--dim", "8", "--rank", "9"]) }
        #expect(throws: (any Error).self) { try AdaptBenchCommand.parse(["--loss", "hinge"]) }
        #expect(throws: (any Error).self) { try AdaptBenchCommand.parse(["--task", "nothing"]) }
        let c = try AdaptBenchCommand.parse(["--dim", "64", "--rank", "2", "--ewc", "--steps", "10", "--json"])
        #expect(c.dim == 64 && c.rank == 2 && c.ewc && c.steps == 10)
    }

    @Test func stepCasesRegisterEveryConfiguration() throws {
        var suite = BenchmarkSuite()
        try AdaptStepCases.register(into: &suite, steps: 100)
        #expect(suite.cases.count == AdaptStepCases.dims.count * 2 * 2 * 2)
        #expect(suite.cases.filter { $0.target != nil }.count == 8) // judged at d = 768 only
    }

    @Test func experimentStatisticsUseStudentT() {
        let s = AdaptExperiments.summary([1, 2, 3, 4, 5])
        #expect(s.mean == 3)
        #expect(abs(s.ci95 - 2.776 * (2.5).squareRoot() / (5.0).squareRoot()) < 1e-9)
    }

    /// Small, seeded runs of the query-drift experiment (debug build: a few seconds). Real feedback must
    /// gain >= 10 points on every seed; the control must not improve recall on any seed (at most one
    /// held-out query more than before, 0.5 points here). The first design (inflation) is run too, to
    /// show that this check fails for a control that learns from the query distribution alone.
    @Test func queryDriftControlIsNullAndFeedbackHelps() throws {
        var e = AdaptExperiments(seeds: 2, dim: 32)
        e.queryDriftSizes = (docs: 600, heldOutDocs: 150, train: 1200, test: 200)
        let r = try e.queryDriftRuns()
        for i in 0..<2 {
            #expect(r.after[i] - r.before[i] >= 0.10, "seed \(i): real feedback gained \(r.after[i] - r.before[i])")
            #expect(r.control[i] - r.before[i] <= 0.005, "seed \(i): control gained \(r.control[i] - r.before[i])")
        }
        e.drift = .inflation
        let old = try e.queryDriftRuns()
        #expect((0..<2).contains { old.control[$0] - old.before[$0] > 0.005 }, "the inflation design's control no longer improves")
        // Deterministic: the same seeds give the same recalls.
        e.drift = .reflection
        #expect(try e.queryDriftRuns().control == r.control)
    }

    /// The shuffled-target control of the regression experiment must not lower the held-out error
    /// on any seed, while the planted targets must remove most of the error above the noise floor.
    @Test func regressionControlIsNullAndTrainingHelps() throws {
        var e = AdaptExperiments(seeds: 2, dim: 16)
        e.regressionSizes = (train: 600, test: 200, epochs: 2)
        let r = try e.regressionRuns()
        for i in 0..<2 {
            #expect(r.after[i] < 0.01 + 0.5 * (r.before[i] - 0.01), "seed \(i): \(r.before[i]) -> \(r.after[i])")
            #expect(r.controlAfter[i] >= r.controlBefore[i], "seed \(i): control \(r.controlBefore[i]) -> \(r.controlAfter[i])")
        }
    }

    @Test func queryDriftRejectsTooSmallADimension() {
        #expect(throws: KestrelError.self) { try AdaptExperiments(seeds: 1, dim: 4).queryDriftRuns() }
        #expect(throws: (any Error).self) { try AdaptBenchCommand.parse(["--task", "query-drift", "--dim", "4"]) }
        #expect(throws: (any Error).self) { try AdaptBenchCommand.parse(["--drift", "twist"]) }
    }
}
