import KestrelVectorIndex
import Testing
@testable import KestrelBenchmarkKit

@Suite("Built-in HNSW benchmark")
struct HNSWBenchmarkTests {
    /// The built-in benchmark (what `kestrel benchmark --suite hnsw` runs) returns sane figures.
    @Test func builtInBenchmarkReportsFigures() throws {
        var c = HNSWBenchmarkConfiguration()
        c.count = 800
        c.dimension = 8
        c.queries = 40
        c.efValues = [16, 64]
        let f = try HNSWBenchmark.run(c)
        #expect(f.points.count == 2 && f.buildSeconds > 0 && f.indexBytes > 800 * 8 * 4)
        #expect(f.flatScanQPS > 0 && f.flatBatchQPS > 0)
        #expect(f.points.allSatisfy { $0.qps > 0 && (0...1).contains($0.recall) })
        #expect(f.points.last!.recall >= 0.95 && f.operatingPoint != nil && f.speedupOverFlatScan != nil)
        c.efValues = []
        let e = #expect(throws: KestrelError.self) { try HNSWBenchmark.run(c) }
        #expect({ if case .invalidArgument(name: "configuration", reason: _)? = e { true } else { false } }(), "\(String(describing: e))")
    }
}
