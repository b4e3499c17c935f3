import Foundation
import Kestrel
import Testing

@testable import KestrelCLI

/// Runs `--all` on tiny sizes with a tiny time budget and checks its JSON lines.
@Suite struct KernelBenchSuiteTests {
    final class Lines: @unchecked Sendable {
        var items: [String] = []
    }

    @Test func allEmitsOneValidJSONObjectPerLine() throws {
        let lines = Lines()
        var suite = KernelBenchSuite()
        suite.pairDim = 24
        suite.scanDim = 24
        suite.scanCount = 9
        suite.miscCount = 16
        suite.policy = TimingPolicy(minSeconds: 0.0005, repetitions: 1, warmupSeconds: 0)
        suite.stream = StreamTriad(arrayBytes: 1 << 20, threads: 1, passes: 1)
        suite.json = true
        suite.emit = { lines.items.append($0) }
        let checks = try suite.run()

        let objects = try lines.items.map { line -> [String: Any] in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let kinds = objects.map { $0["kind"] as? String ?? "?" }
        #expect(kinds.prefix(2) == ["machine", "stream"])
        let kernelLines = objects.filter { $0["kind"] as? String == "kernel" }
        // 14 pair + 14 one-to-many distances + 4 conversions + exp + softmax, at every tier.
        #expect(kernelLines.count == (14 + 14 + 6) * ISALevel.supported.count)
        let keys = ["kind", "group", "kernel", "dim", "count", "isa", "ns_per_call", "ns_per_vector", "gb_per_s",
                    "speedup_vs_scalar", "same_as"]
        for k in kernelLines { #expect(Set(k.keys) == Set(keys)) }
        let targets = objects.filter { $0["kind"] as? String == "target" }
        #expect(targets.count == 4 && checks.count == 4)
        for t in targets { #expect(["PASS", "FAIL", "SKIP"].contains(t["status"] as? String ?? "")) }

        // Scalar rows have speedup 1 and no same_as; a same_as row names a lower tier.
        for k in kernelLines where k["isa"] as? String == "scalar" {
            #expect((k["speedup_vs_scalar"] as? NSNumber)?.doubleValue == 1)
            #expect(k["same_as"] is NSNull)
        }
        for k in kernelLines {
            if let s = k["same_as"] as? String, let own = k["isa"] as? String {
                #expect(ISALevel(rawValue: s)! < ISALevel(rawValue: own)!)
            }
        }
        // Tiers this CPU lacks give SKIP, never a crash.
        if !ISALevel.avx512.isSupported { #expect(checks[1].status == .skip) }
    }

    @Test func targetStatus() {
        #expect(TargetCheck.ratio("a", measured: 4.0, threshold: 4, detail: "").status == .pass)
        #expect(TargetCheck.ratio("a", measured: 3.99, threshold: 4, detail: "").status == .fail)
        #expect(TargetCheck.ratio("a", measured: nil, threshold: 4, detail: "").status == .skip)
        let line = TargetCheck.ratio("x", measured: 0.5, threshold: 0.8, detail: "d").jsonLine
        #expect(line.keys == ["kind", "name", "measured", "threshold", "status", "detail"])
    }

    @Test func targetsComeFromTheRightRows() {
        let suite = KernelBenchSuite(levels: [.scalar, .avx2, .avx512])
        func row(_ kernel: String, _ isa: ISALevel, _ ns: Double, scalar: Double, count: Int = 1, bytes: Int = 0) -> SuiteRow {
            SuiteRow(group: "g", kernel: kernel, dim: 768, count: count, isa: isa, nanosecondsPerCall: ns,
                     bytesPerCall: bytes, scalarNanosecondsPerCall: scalar, sameAs: nil)
        }
        var rows: [String: SuiteRow] = [:]
        rows["dot_f32@avx2"] = row("dot_f32", .avx2, 250, scalar: 1000)  // 4x: pass
        rows["dot_f32@avx512"] = row("dot_f32", .avx512, 200, scalar: 1000)  // 5x: fail (needs 8x)
        // 100k rows of 3072 bytes in 30 ms = 10.24 GB/s (0.8533 of a 12 GB/s triad); i8 in 10 ms = 3x the vectors/s.
        rows["l2sq_f32_many@avx512"] = row("l2sq_f32_many", .avx512, 30e6, scalar: 1, count: 100_000, bytes: 307_200_000)
        rows["l2sq_i8_many@avx512"] = row("l2sq_i8_many", .avx512, 10e6, scalar: 1, count: 100_000, bytes: 76_800_000)
        let triad = StreamTriad.Result(gigabytesPerSecond: 12, bestNanoseconds: 1, bytesPerPass: 1)
        let c = suite.targets(rows: rows, triad: triad)
        #expect(c.map(\.status) == [.pass, .fail, .pass, .pass])
        #expect(abs((c[2].measured ?? 0) - 10.24 / 12) < 1e-12)
        #expect(abs((c[3].measured ?? 0) - 3) < 1e-12)
        // Missing rows (a tier this CPU lacks) skip.
        #expect(suite.targets(rows: [:], triad: triad).map(\.status) == [.skip, .skip, .skip, .skip])
    }
}
