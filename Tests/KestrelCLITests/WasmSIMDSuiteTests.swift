import Foundation
import Kestrel
import Testing

@testable import KestrelCLI

/// The `wasm-simd` cases of `kestrel benchmark` judged on injected wasmtime figures: issue 21's
/// targets (simd128 over the scalar module: ≥ 6× f32 dot and L2, ≥ 9× int8 dot, ≥ 3× softmax),
/// the native comparison reported, and how a missing engine or a failed run is shown.
@Suite struct WasmSIMDSuiteTests {
    private func run(_ probe: FakeWasmProbe) throws -> [String: BenchmarkCaseResult] {
        let report = try BenchmarkRunner.test(SuiteCatalog.fake(wasm: probe), output: OutputCollector())
            .run(BenchmarkRequest(suite: "wasm-simd")).report
        return Dictionary(uniqueKeysWithValues: report.results.map { ($0.name, $0) })
    }

    @Test func speedUpsAreScalarOverSimdTimeAndJudged() throws {
        let r = try run(FakeWasmProbe())
        #expect(r.keys.sorted() == ["wasm-simd.dot-f32-768", "wasm-simd.dot-f32-vs-native", "wasm-simd.dot-i8-768",
                                    "wasm-simd.l2sq-f32-768", "wasm-simd.softmax-f32-1024"])
        #expect(r["wasm-simd.dot-f32-768"]?.value == 7.5)
        #expect(r["wasm-simd.l2sq-f32-768"]?.value == 6.8)
        #expect(r["wasm-simd.dot-i8-768"]?.value == 10)
        #expect(r["wasm-simd.softmax-f32-1024"]?.value == 4)
        #expect(r.values.filter { $0.target != nil }.allSatisfy { $0.status == .pass })
        let native = try #require(r["wasm-simd.dot-f32-vs-native"])
        #expect(native.status == .info && native.value == 2)
        #expect(r["wasm-simd.dot-f32-768"]?.metrics["simd128_over_avx2"] == 2)
    }

    @Test func anInt8DotBelowNineTimesFails() throws {
        var probe = FakeWasmProbe()
        probe.int8Scalar = 490  // 7×
        let r = try run(probe)
        #expect(r["wasm-simd.dot-i8-768"]?.status == .fail)
        #expect(r["wasm-simd.dot-i8-768"]?.value == 7)
        #expect(r["wasm-simd.dot-f32-768"]?.status == .pass)
    }

    @Test func withoutAnEngineTheCasesAreSkippedAndAFailedRunFailsThem() throws {
        var probe = FakeWasmProbe()
        probe.skip = "no wasmtime Python"
        #expect(try run(probe).values.allSatisfy { $0.status == .skipped })
        probe.skip = nil
        probe.failure = .backendFailure(routine: "wasm_simd_peer.py", code: 1)
        #expect(try run(probe).values.allSatisfy { $0.status == .fail })
        probe.failure = nil
        probe.kernels.removeAll { $0.label == "softmax f32" }  // a kernel missing from the output
        let r = try run(probe)
        #expect(r["wasm-simd.softmax-f32-1024"]?.status == .fail)
        #expect(r["wasm-simd.dot-f32-768"]?.status == .pass)
    }

    @Test func thePeerScriptsJSONDecodes() throws {
        let line = #"{"engine": "wasmtime", "engine_version": "50.0.1", "machine": "x86_64", "load": [1.0, 2.0, 3.0], "reps": 2, "#
            + #""tiers": ["avx2"], "kernels": [{"label": "dot f32", "n": 768, "ns": {"simd128": 82.4, "scalar": 820.4, "avx2": 35.5}}]}"#
        let m = try JSONDecoder().decode(WasmSIMDMeasurement.self, from: Data(line.utf8))
        #expect(m.engineVersion == "50.0.1" && m.tiers == ["avx2"] && m.kernels.first?.ns["scalar"] == 820.4)
    }

    @Test func theStandardProbeNeedsACheckoutAndTheVenv() {
        let nowhere = WasmtimeProbe(environment: ["KESTREL_SOURCE_ROOT": "/nonexistent"])
        #expect(nowhere.sourceRoot() == nil)
        #expect(nowhere.skipReason()?.contains("KESTREL_SOURCE_ROOT") == true)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let noPython = WasmtimeProbe(environment: ["KESTREL_SOURCE_ROOT": root.path, "KESTREL_WASM_PYTHON": "/nonexistent/python"])
        #expect(noPython.sourceRoot()?.path == root.path)
        #expect(noPython.skipReason()?.contains("CKernels/wasm/check.sh") == true)
    }
}
