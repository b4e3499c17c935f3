import Foundation
import KestrelTensor
import Testing

@testable import KestrelCLI

/// `kestrel info`: the CPU facts a benchmark table names (model, vendor, ISA tiers, caches) and the
/// prefetch plan, including that the environment override is honoured at start-up and that bad
/// values fall back to the rule without a crash. Runs the built executable (the plan is chosen
/// once per process).
@Suite struct InfoCommandTests {

    /// Runs `kestrel info` with the two prefetch variables set (nil: removed from the environment).
    func info(prefetch: String?, graph: String? = nil) throws -> (status: Int32, lines: [String]) {
        let r = try KestrelProcess.run(["info"], environment: ["KESTREL_PREFETCH": prefetch, "KESTREL_GRAPH_PREFETCH": graph])
        return (r.status, r.lines)
    }

    @Test func printsModelVendorTiersCachesAndThePlan() throws {
        let (status, lines) = try info(prefetch: nil)
        #expect(status == 0)
        for prefix in ["cpu: ", "vendor: ", "caches: L1d ", "supported: scalar", "active: ", "prefetch: scans f32 "] {
            #expect(lines.contains { $0.hasPrefix(prefix) }, "no line starting with '\(prefix)' in \(lines)")
        }
        #expect(lines.contains { $0.contains("(rule: ") })
        #if arch(x86_64) && os(Linux)
        let caches = try #require(lines.first { $0.hasPrefix("caches: ") })
        #expect(!caches.contains("unknown"), "\(caches)")
        #endif
    }

    @Test func environmentOverrideIsHonoured() throws {
        let off = try info(prefetch: "off", graph: "off")
        #expect(off.status == 0)
        #expect(off.lines.contains { $0.hasPrefix("prefetch: scans f32 off, f16/bf16 off, i8/b1 off; graph off (environment") },
                "\(off.lines)")
        let bytes = try info(prefetch: "12k", graph: "2")
        #expect(bytes.lines.contains {
            $0.hasPrefix("prefetch: scans f32 12288 B, f16/bf16 12288 B, i8/b1 12288 B; graph 2 vectors ahead")
        }, "\(bytes.lines)")
    }

    @Test func badOverrideValuesFallBackToTheRule() throws {
        let rule = try info(prefetch: nil)
        for bad in ["fast", "-5", "99999999999999999999", "12", "2M"] {
            let r = try info(prefetch: bad, graph: "lots")
            #expect(r.status == 0, "\(bad)")
            let planLine = { (lines: [String]) in lines.first { $0.hasPrefix("prefetch: scans") } }
            #expect(planLine(r.lines) == planLine(rule.lines), "\(bad)")
            #expect(r.lines.contains("prefetch: KESTREL_PREFETCH ignored (not off, auto or a value in range); the rule applies"))
            #expect(r.lines.contains("prefetch: KESTREL_GRAPH_PREFETCH ignored (not off, auto or a value in range); the rule applies"))
        }
    }

    @Test func reportNamesCacheSizesInReadableUnits() {
        let cpu = CPUDescription.current
        let plan = PrefetchPlan(scanBytesF32: 0, scanBytesF16: 6144, scanBytesI8: 8192, scanLongRowBytes: 2048,
                                graphAhead: 3, graphMaxLines: 16, source: .rule, reason: "test")
        let lines = InfoCommand.lines(cpu: cpu, plan: plan, rejected: [])
        #expect(lines.contains(
            "prefetch: scans f32 off, f16/bf16 6144 B, i8/b1 8192 B, none for rows of >= 2048 B; "
                + "graph 3 vectors ahead, up to 16 lines each (rule: test)"))
    }

    @Test func reportNamesTheBLASKernelSetAndWarnsWhenItIsNarrowerThanTheCPU() {
        let cpu = CPUDescription.current
        let lines = InfoCommand.lines(cpu: cpu, plan: .current, rejected: [], blasKernelSet: "Prescott", blasConfig: "OpenBLAS test")
        #expect(lines.contains("blas: kernel set Prescott (OpenBLAS test)"))
        let warned = lines.contains { $0.hasPrefix("blas: warning: BLAS kernel set Prescott uses SSE vectors") }
        // Any x86 tier above scalar is wider than SSE; on arm64 the width is unknown and nothing is said.
        let wider = BLASLibrary.vectorWidth(of: ISALevel.best).map { $0 > .sse } ?? false
        #expect(warned == wider)
        let none = InfoCommand.lines(cpu: cpu, plan: .current, rejected: [], blasKernelSet: nil, blasConfig: nil)
        #expect(!none.contains { $0.hasPrefix("blas:") })
    }
}
