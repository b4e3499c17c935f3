import Foundation
import Kestrel
import Testing
@testable import KestrelCLI

@Suite struct AdaptBenchTests {
    /// The `kestrel` executable SwiftPM built beside the test bundle.
    func kestrel() throws -> URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("kestrel") }
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                            "no kestrel executable near \(dir.path)")
    }

    /// The allocation hook is process-wide, so the allocation claims are checked in a `kestrel`
    /// process of their own (single-threaded), not inside the parallel test runner.
    @Test(arguments: AdaptBench.Loss.allCases)
    func benchPrintsTheContractLineAndAStepAllocatesNothing(loss: AdaptBench.Loss) throws {
        let p = Process()
        p.executableURL = try kestrel()
        p.arguments = ["adapt-bench", "--dim", "96", "--rank", "2", "--ewc", "--loss", loss.rawValue, "--steps", "300",
                       "--warmup", "10", "--json"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let line = try #require(String(decoding: data, as: UTF8.self).split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["dim", "rank", "loss", "ewc", "p50_ns", "p99_ns", "p999_ns", "apply_p50_ns", "allocations_per_step", "isa"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["dim"] as? Int == 96 && json["rank"] as? Int == 2 && json["ewc"] as? Bool == true)
        #expect(json["loss"] as? String == loss.rawValue)
        #expect((json["allocation_counter_probe"] as? Int ?? 0) >= 16) // the counter sees allocations
        #expect(json["allocations_per_step"] as? Double == 0)
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
