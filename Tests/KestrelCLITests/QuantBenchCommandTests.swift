import Kestrel
import Testing

@testable import KestrelCLI

/// `kestrel quant-bench`: argument validation, and a tiny run whose rows are complete and sane.
@Suite struct QuantBenchCommandTests {
    @Test(arguments: [
        ["--cols", "100"], ["--cols", "0"], ["--cols", "131072"], ["--cols", "4000"],
        ["--rows", "0"], ["--rows", "70000"], ["--reps", "0"], ["--isa", "sse9"],
    ])
    func badArgumentsAreRefusedAtParse(_ args: [String]) {
        #expect(throws: (any Error).self) { try QuantBenchCommand.parse(args) }
    }

    @Test func defaultsAreTheIssuesProblem() throws {
        let c = try QuantBenchCommand.parse([])
        #expect(c.rows == 4096 && c.cols == 4096 && c.isa == nil)
        let unsupported = ISALevel.allCases.filter { !$0.isSupported }
        for level in unsupported {
            #expect(throws: (any Error).self) { try QuantBenchCommand.parse(["--isa", level.rawValue]) }
        }
        _ = try QuantBenchCommand.parse(["--isa", "scalar", "--rows", "1", "--cols", "256"])
    }

    @Test func aSmallRunReportsEveryContender() throws {
        let rows = try QuantBench(rows: 8, columns: 256, reps: 2).run()
        #expect(rows.map(\.name) == QuantBench.contenderNames)
        #expect(rows[0].speedupVsSgemv == 1 && rows[0].minSpeedupVsSgemv == 1)
        #expect(rows[0].weightBytes == 8 * 256 * 4)
        #expect(rows[1].weightBytes == 8 * 8 * 34)  // q8_0
        #expect(rows[2].weightBytes == 8 * 8 * 18)  // q4_0
        #expect(rows[3].weightBytes == 8 * 144 && rows[4].weightBytes == 8 * 210)
        #expect(rows[5].weightBytes == 8 * 256 && rows[6].weightBytes == 8 * 256)
        for r in rows {
            #expect(r.seconds > 0 && r.minSeconds > 0 && r.minSeconds <= r.seconds, "\(r.name)")
        }
    }
}
