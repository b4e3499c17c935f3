import Kestrel
import Testing

@testable import KestrelCLI

/// The `mcp` cases of `kestrel benchmark` judged on injected measurements: the targets of issue 20
/// (initialize < 50 ms, kernel_info p50 < 1 ms, p95 < 10 ms) applied to our transport, the SDK's
/// figures reported beside them.
@Suite struct MCPSuiteTests {
    private func run(_ probe: FakeMCPProbe) throws -> [String: BenchmarkCaseResult] {
        let report = try BenchmarkRunner.test(SuiteCatalog.fake(mcp: probe), output: OutputCollector())
            .run(BenchmarkRequest(suite: "mcp")).report
        return Dictionary(uniqueKeysWithValues: report.results.map { ($0.name, $0) })
    }

    @Test func goodFiguresPassAndTheSDKTransportIsReportedBeside() throws {
        let r = try run(FakeMCPProbe())
        #expect(r.keys.sorted() == ["mcp.initialize", "mcp.kernel-info-p50", "mcp.kernel-info-p95"])
        #expect(r.values.allSatisfy { $0.status == .pass })
        #expect(r["mcp.initialize"]?.value == 21)  // median of 25, 20, 21
        #expect(r["mcp.initialize"]?.metrics["sdk_transport_ms"] == 31)
        // Nearest-rank percentiles of 200, 202, …, 398 µs.
        #expect(r["mcp.kernel-info-p50"]?.value == 0.298)
        #expect(r["mcp.kernel-info-p95"]?.value == 0.388)
        let sdk = try #require(r["mcp.kernel-info-p50"]?.metrics["sdk_transport_ms"])
        #expect(abs(sdk - 10.98) < 1e-9)
        #expect(abs((r["mcp.kernel-info-p50"]?.metrics["sdk_over_ours"] ?? 0) - 10.98 / 0.298) < 1e-9)
    }

    @Test func slowFiguresFailTheirTargets() throws {
        var probe = FakeMCPProbe()
        probe.initializeMs = [80, 75, 90]
        probe.roundTripUs = (0..<100).map { $0 < 90 ? 500 : 20_000 }  // p50 fine, p95 20 ms
        let r = try run(probe)
        #expect(r["mcp.initialize"]?.status == .fail)
        #expect(r["mcp.kernel-info-p50"]?.status == .pass)
        #expect(r["mcp.kernel-info-p95"]?.status == .fail)
        #expect(r["mcp.kernel-info-p95"]?.value == 20)
    }

    @Test func withoutTheExecutableTheCasesAreSkippedAndAFailedMeasurementFailsThem() throws {
        var probe = FakeMCPProbe()
        probe.skip = "this process is xctest, not the kestrel executable"
        #expect(try run(probe).values.allSatisfy { $0.status == .skipped })
        probe.skip = nil
        probe.failure = .backendFailure(routine: "posix_spawn", code: 2)
        let r = try run(probe)
        #expect(r.values.allSatisfy { $0.status == .fail && $0.error?.contains("posix_spawn") == true })
    }

    @Test func theStandardProbeSkipsInsideTheTestRunner() {
        #expect(MCPProcessProbe(settings: .quick).skipReason() != nil)
    }
}
