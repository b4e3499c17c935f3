import CKestrelKernels
import Kestrel
import Testing

@testable import KestrelCLI

/// How the suites judge measurements: injected numbers (no clock), run through the real
/// registration and `BenchmarkSuite`, must give the expected PASS / WARN / FAIL / SKIP.
@Suite struct TargetEvaluationTests {
    private func run(simd: FakeSIMDProbe = FakeSIMDProbe(), memory: FakeMemoryProbe = FakeMemoryProbe(),
                     mcp: FakeMCPProbe = FakeMCPProbe(), supported: [ISALevel] = [.scalar, .avx2, .avx512], active: ISALevel = .avx512,
                     suite: String = "all") throws -> [String: BenchmarkCaseResult] {
        let catalog = SuiteCatalog.fake(simd: simd, memory: memory, mcp: mcp, supported: supported, active: active)
        let report = try BenchmarkRunner.test(catalog, output: OutputCollector()).run(BenchmarkRequest(suite: suite)).report
        return Dictionary(uniqueKeysWithValues: report.results.map { ($0.name, $0) })
    }

    @Test func everythingPassesOnGoodNumbers() throws {
        let r = try run()
        let judged = r.values.filter { $0.target != nil }
        // 5 simd, 7 memory (2 of them KV-cache bytes and prefix sharing), hnsw recall and speedup growth,
        // 11 quantization (fixtures, 2 memory, 4 SNR, 2 throughput, 2 GEMV), 3 flash-attention (speedup and
        // workspace share at N = 4096 causal, backward ÷ forward at N = 2048), 11 adaptation (patient regret, tuned
        // ef's held-out recall and QPS, step p99 and apply p50 at d = 768 for rank 1/2 × EWC off/on), 3 mcp
        // (initialize, kernel_info p50 and p95), 4 wasm-simd (f32 dot, f32 L2, int8 dot, softmax speed-ups over the
        // scalar module)
        #expect(judged.count == 46)
        #expect(judged.allSatisfy { $0.status == .pass }, "\(judged.filter { $0.status != .pass }.map(\.name))")
        #expect(r.values.filter { $0.target == nil }.allSatisfy { $0.status == .info })
    }

    @Test func dotSpeedupTargetsAreFourAndEightTimes() throws {
        var probe = FakeSIMDProbe()
        probe.dotSpeedup = [.avx2: 3.8, .avx512: 8.5]
        let r = try run(simd: probe)
        let avx2 = try #require(r["simd.dot-f32-768.avx2-vs-scalar"])
        #expect(avx2.status == .fail)
        #expect(abs((avx2.value ?? 0) - 3.8) < 1e-9)
        #expect(r["simd.dot-f32-768.avx512-vs-scalar"]?.status == .pass)
        probe.dotSpeedup = [.avx2: 4.2, .avx512: 7.9]
        let r2 = try run(simd: probe)
        #expect(r2["simd.dot-f32-768.avx2-vs-scalar"]?.status == .pass)
        #expect(r2["simd.dot-f32-768.avx512-vs-scalar"]?.status == .fail)
    }

    @Test func missingTiersAreSkippedWithTheReason() throws {
        let r = try run(supported: [.scalar, .avx2], active: .avx2)
        let skipped = try #require(r["simd.dot-f32-768.avx512-vs-scalar"])
        #expect(skipped.status == .skipped)
        #expect(skipped.notes.first?.contains("no avx512") == true)
        #expect(r["simd.dot-f32-768.avx2-vs-scalar"]?.status == .pass)

        let capped = try run(supported: [.scalar, .avx2, .avx512], active: .avx2)
        #expect(capped["simd.dot-f32-768.avx512-vs-scalar"]?.status == .skipped)
        #expect(capped["simd.dot-f32-768.avx512-vs-scalar"]?.notes.first?.contains("KESTREL_ISA") == true)

        let scalarOnly = try run(supported: [.scalar], active: .scalar)
        #expect(scalarOnly["simd.dot-f32-768.avx2-vs-scalar"]?.status == .skipped)
        #expect(scalarOnly["simd.exp-f32-4096.vs-scalar"]?.status == .skipped)
        // No vector tier: the sweep has nothing to measure and says so instead of inventing a value.
        #expect(scalarOnly["simd.dot-f32.speedup-vs-dim"]?.status == .fail)
        #expect(scalarOnly["simd.dot-f32.speedup-vs-dim"]?.error != nil)
    }

    @Test func scanMustReachEightyPercentOfStream() throws {
        var probe = FakeSIMDProbe()
        probe.scanGBps = 8.7  // 79.1 %
        probe.streamGBps = 11
        let fail = try #require(try run(simd: probe, suite: "simd")["simd.l2sq-f32-scan.stream-fraction"])
        #expect(fail.status == .fail)
        #expect(abs((fail.value ?? 0) - 8.7 / 11 * 100) < 1e-9)
        #expect(fail.unit == "%")
        probe.scanGBps = 8.9
        probe.streamGBps = 11.1 * 0.99
        #expect(try run(simd: probe, suite: "simd")["simd.l2sq-f32-scan.stream-fraction"]?.status == .pass)
    }

    @Test func anIntervalCrossingTheBoundIsAWarning() throws {
        var probe = FakeSIMDProbe()
        probe.i8Speedup = 2.6
        probe.i8Noisy = true
        let r = try #require(try run(simd: probe, suite: "simd")["simd.i8-vs-f32-scan"])
        let ci = try #require(r.interval)
        #expect(ci.lower < 2.5 && (r.value ?? 0) >= 2.5)
        #expect(r.status == .warn)
        probe.i8Speedup = 2.3
        probe.i8Noisy = false
        #expect(try run(simd: probe, suite: "simd")["simd.i8-vs-f32-scan"]?.status == .fail)
    }

    @Test func matmulMustStayWithinFivePercentOfSgemm() throws {
        var probe = FakeSIMDProbe()
        probe.matmulRatio = 1.05
        #expect(try run(simd: probe, suite: "simd")["simd.matmul-512.tensor-vs-sgemm"]?.status == .pass)
        probe.matmulRatio = 1.06
        let r = try #require(try run(simd: probe, suite: "simd")["simd.matmul-512.tensor-vs-sgemm"])
        #expect(r.status == .fail)
        #expect(abs((r.metrics["ratio_allocating"] ?? 0) - 1.2) < 1e-9)
    }

    @Test func aFailingMeasurementIsAFailNotACrash() throws {
        var probe = FakeSIMDProbe()
        probe.failScan = true
        let r = try #require(try run(simd: probe, suite: "simd")["simd.l2sq-f32-scan.stream-fraction"])
        #expect(r.status == .fail)
        #expect(r.error?.contains("fake scan") == true)
    }

    @Test func storageReductionMustBeFiftyToSeventyFivePercent() throws {
        let r = try run(suite: "memory")
        #expect(r["memory.f16-storage-reduction"]?.value == 50)
        #expect(r["memory.int8-storage-reduction"]?.value == 75)
        var probe = FakeMemoryProbe()
        probe.int8Bytes = 7680 / 2  // an int4-like 87.5 % would be outside the target range
        probe.f16Bytes = 4 * 7680 * 6 / 10  // a 40 % reduction is too little
        let bad = try run(memory: probe, suite: "memory")
        #expect(bad["memory.int8-storage-reduction"]?.status == .fail)
        #expect(bad["memory.f16-storage-reduction"]?.status == .fail)
    }

    @Test func recorderCostStartupAndPool() throws {
        var probe = FakeMemoryProbe()
        probe.recorderNs = 50
        probe.startupMs = [900, 480, 470, 490]  // a slow cold launch, warm ones under the target
        probe.hits = 80
        probe.misses = 20
        let r = try run(memory: probe, suite: "memory")
        // ≤ 50 ns passes at 50 ns, but its interval reaches past it: WARN.
        #expect(r["memory.recorder-cost"]?.status == .warn)
        let startup = try #require(r["memory.cli-startup"])
        #expect(startup.status == .pass)
        #expect(startup.value == 485)
        #expect(startup.metrics["first_launch_ms"] == 900)
        #expect(startup.latency?.count == 4)
        #expect(r["memory.buffer-pool-hit-rate"]?.status == .fail)
        #expect(r["memory.buffer-pool-hit-rate"]?.value == 80)

        probe.recorderNs = 60
        probe.startupMs = [520, 510, 530]
        let slow = try run(memory: probe, suite: "memory")
        #expect(slow["memory.recorder-cost"]?.status == .fail)
        #expect(slow["memory.cli-startup"]?.status == .fail)
    }

    @Test func startupIsSkippedWhereItCannotBeLaunched() throws {
        var probe = FakeMemoryProbe()
        probe.startupSkip = "this process is xctest, not the kestrel executable"
        let r = try #require(try run(memory: probe, suite: "memory")["memory.cli-startup"])
        #expect(r.status == .skipped)
        #expect(r.notes == [probe.startupSkip!])
    }

    @Test func roofsAreInformationalWithTheRidgePoint() throws {
        let r = try run(suite: "memory")
        let peak = try #require(r["memory.roofline.peak-flops"])
        #expect(peak.status == .info)
        #expect(peak.value == 30)
        #expect(abs((peak.metrics["ridge_flop_per_byte"] ?? 0) - 2.5) < 1e-12)
        #expect(r["memory.stream-triad"]?.metrics["all_cores_gb_per_s"] == 24)
    }

    @Test func adaptationTargetsFollowTheFigures() throws {
        func judge(_ probe: FakeAdaptationProbe) throws -> [String: BenchmarkCaseResult] {
            var suite = BenchmarkSuite()
            try AdaptationSuite(settings: .quick, probe: probe).register(into: &suite)
            return Dictionary(uniqueKeysWithValues: try suite.run().results.map { ($0.name, $0) })
        }
        let good = try judge(FakeAdaptationProbe())
        // 6 autotuner cases + 4 dims × 2 ranks × 2 EWC settings × (step, apply)
        #expect(good.count == 6 + 32)
        #expect(good["adaptation.step-p99.d768.r2.ewc"]?.status == .pass)
        #expect(good["adaptation.step-p99.d1024.r2.ewc"]?.status == .info)
        #expect(good["adaptation.apply-p50.d768.r1.plain"]?.value == 250)
        #expect(good["adaptation.autotuner.regret.patient"]?.status == .pass)
        #expect(good["adaptation.autotuner.regret.measure"]?.status == .info)
        #expect(good["adaptation.autotuner.hnsw-ef.held-out-recall"]?.status == .pass)
        #expect(abs((good["adaptation.autotuner.hnsw-ef.qps-vs-sweep"]?.value ?? 0) - 0.95) < 1e-12)
        let bad = try judge(FakeAdaptationProbe(patientRegret: 1.3, heldOutRecall: 0.93, qpsRatio: 0.8, stepP99: 5000))
        #expect(bad["adaptation.step-p99.d768.r1.plain"]?.status == .fail)
        #expect(bad["adaptation.autotuner.regret.patient"]?.status == .fail)
        #expect(bad["adaptation.autotuner.hnsw-ef.held-out-recall"]?.status == .fail)
        #expect(bad["adaptation.autotuner.hnsw-ef.qps-vs-sweep"]?.status == .fail)
    }
}
