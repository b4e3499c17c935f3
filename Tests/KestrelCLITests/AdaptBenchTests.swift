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
}
