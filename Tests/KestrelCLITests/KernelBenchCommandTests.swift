import Kestrel
import Testing

@testable import KestrelCLI

/// Command-line parsing: bad requests are refused by validation (exit 64 with a message),
/// before any buffer is allocated or kernel called.
@Suite struct KernelBenchCommandTests {
    @Test func validRequestsParse() throws {
        _ = try KernelBenchCommand.parse([])
        _ = try KernelBenchCommand.parse(["--op", "dot", "--dtype", "i8", "--dim", "768", "--count", "10", "--json"])
        _ = try KernelBenchCommand.parse(["--op", "jaccard", "--dtype", "b1", "--dim", "1024", "--isa", "scalar"])
        _ = try KernelBenchCommand.parse(["--stream", "--threads", "2", "--stream-mib", "16"])
        _ = try KernelBenchCommand.parse(["--all", "--json", "--strict"])
    }

    @Test(arguments: [
        ["--op", "hamming", "--dtype", "f32"],
        ["--op", "jaccard", "--dtype", "i8"],
        ["--op", "cosine", "--dtype", "b1"],
        ["--op", "dot", "--dtype", "b1"],
        ["--op", "hamming", "--dtype", "b1", "--dim", "12"],
        ["--op", "euclid"],
        ["--dtype", "f64"],
        ["--isa", "sse4"],
        ["--dim", "0"],
        ["--count", "-1"],
        ["--dim", "40000", "--dtype", "i8"],
        ["--min-time", "0"],
        ["--repetitions", "0"],
        ["--all", "--stream"],
        ["--all", "--dim", "128"],
        ["--all", "--isa", "avx2"],
        ["--stream", "--op", "dot"],
        ["--stream", "--threads", "0"],
        ["--stream", "--stream-mib", "0"],
        ["--threads", "2"],
        ["--strict"],
    ])
    func invalidRequestsAreRejected(_ args: [String]) {
        #expect(throws: (any Error).self) { try KernelBenchCommand.parse(args) }
    }

    @Test func unsupportedTiersAreRejected() {
        for level in ISALevel.allCases where !level.isSupported {
            #expect(throws: (any Error).self) { try KernelBenchCommand.parse(["--isa", level.rawValue]) }
        }
    }
}

