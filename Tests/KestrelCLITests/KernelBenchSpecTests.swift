import Foundation
import Kestrel
import Testing

@testable import KestrelCLI

@Suite struct KernelBenchSpecTests {
    let all: [ISALevel] = [.scalar, .avx2, .avx512, .avx512vnni]

    private func spec(
        _ op: String, _ dtype: String, dim: Int = 768, count: Int = 10, isa: String = "scalar"
    ) throws(KestrelError) -> KernelBenchSpec {
        try KernelBenchSpec.validate(op: op, dtype: dtype, dim: dim, count: count, isa: isa,
                                     supported: all, active: .avx2)
    }

    @Test func everyValidCombinationIsAccepted() throws {
        for dtype in BenchDType.allCases {
            for op in dtype.ops {
                let dim = dtype == .b1 ? 1024 : 768
                let s = try spec(op.rawValue, dtype.rawValue, dim: dim)
                #expect(s.op == op && s.dtype == dtype && s.dim == dim && s.count == 10 && s.isa == .scalar)
                #expect(s.kernelName == "\(op.rawValue)_\(dtype.rawValue)_many")
            }
        }
        // The issue's own examples: b1 supports hamming and jaccard, floats and i8 the other three.
        #expect(BenchDType.b1.ops == [.hamming, .jaccard])
        for t in [BenchDType.f32, .f16, .bf16, .i8] { #expect(t.ops == [.dot, .l2sq, .cosine]) }
    }

    @Test func everyInvalidCombinationIsRejected() {
        var rejected = 0
        for dtype in BenchDType.allCases {
            for op in BenchOp.allCases where !dtype.ops.contains(op) {
                let e1 = #expect(throws: KestrelError.self) { try spec(op.rawValue, dtype.rawValue, dim: 64) }
                #expect({ if case .invalidArgument(name: "op", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
                do throws(KestrelError) {
                    _ = try spec(op.rawValue, dtype.rawValue, dim: 64)
                } catch {
                    guard case .invalidArgument(let name, let reason) = error else {
                        Issue.record("wrong error \(error)")
                        continue
                    }
                    #expect(name == "op")
                    #expect(reason.contains(op.rawValue) && reason.contains(dtype.rawValue))
                    rejected += 1
                }
            }
        }
        // f32/f16/bf16/i8 lack hamming and jaccard (8), b1 lacks dot, l2sq, cosine (3).
        #expect(rejected == 11)
    }

    @Test func unknownNamesAreRejectedWithTheParameterName() {
        let cases: [(String, String, String, String)] = [
            ("manhattan", "f32", "scalar", "op"), ("dot", "f64", "scalar", "dtype"),
            ("dot", "f32", "sse9", "isa"), ("", "f32", "scalar", "op"),
        ]
        for (op, dtype, isa, param) in cases {
            do throws(KestrelError) {
                _ = try spec(op, dtype, isa: isa)
                Issue.record("\(op)/\(dtype)/\(isa) accepted")
            } catch {
                guard case .invalidArgument(let name, _) = error else {
                    Issue.record("wrong error \(error)")
                    continue
                }
                #expect(name == param)
            }
        }
    }

    @Test func namesAreCaseInsensitive() throws {
        let s = try spec("L2SQ", "F16", isa: "AVX512")
        #expect(s.op == .l2sq && s.dtype == .f16 && s.isa == .avx512)
    }

    @Test func unsupportedISAIsAnErrorNotACrash() throws {
        let e2 = #expect(throws: KestrelError.self) {
            try KernelBenchSpec.validate(op: "dot", dtype: "f32", dim: 8, count: 1, isa: "avx512",
                                         supported: [.scalar, .avx2], active: .avx2)
        }
        #expect({ if case .unsupported(_)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        do throws(KestrelError) {
            _ = try KernelBenchSpec.validate(op: "dot", dtype: "f32", dim: 8, count: 1, isa: "neon",
                                             supported: [.scalar], active: .scalar)
            Issue.record("neon accepted on a scalar-only machine")
        } catch {
            guard case .unsupported(let what) = error else { Issue.record("wrong error \(error)"); return }
            #expect(what.contains("neon") && what.contains("scalar"))
        }
        // On this machine: every level it does not run is refused through the real list.
        for level in ISALevel.allCases where !level.isSupported {
            let e3 = #expect(throws: KestrelError.self) {
                try KernelBenchSpec.validate(op: "dot", dtype: "f32", dim: 8, count: 1, isa: level.rawValue)
            }
            #expect({ if case .unsupported(_)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        }
    }

    @Test func autoResolvesToTheActiveTier() throws {
        let s = try spec("dot", "f32", isa: "auto")
        #expect(s.isa == .avx2)
        let real = try KernelBenchSpec.validate(op: "dot", dtype: "f32", dim: 8, count: 1, isa: "auto")
        #expect(real.isa == ISALevel.active)
    }

    @Test func sizesAreChecked() {
        let e4 = #expect(throws: KestrelError.self) { try spec("dot", "f32", dim: 0) }
        #expect({ if case .invalidArgument(name: "dim", reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
        let e5 = #expect(throws: KestrelError.self) { try spec("dot", "f32", dim: -5) }
        #expect({ if case .invalidArgument(name: "dim", reason: _)? = e5 { true } else { false } }(), "\(String(describing: e5))")
        let e6 = #expect(throws: KestrelError.self) { try spec("dot", "f32", count: 0) }
        #expect({ if case .invalidArgument(name: "count", reason: _)? = e6 { true } else { false } }(), "\(String(describing: e6))")
        let e7 = #expect(throws: KestrelError.self) { try spec("hamming", "b1", dim: 100) }  // not whole bytes
        #expect({ if case .invalidArgument(name: "dim", reason: _)? = e7 { true } else { false } }(), "\(String(describing: e7))")
        let e8 = #expect(throws: KestrelError.self) { try spec("dot", "i8", dim: 32769) }  // int32 outputs could overflow
        #expect({ if case .invalidArgument(name: "dim", reason: _)? = e8 { true } else { false } }(), "\(String(describing: e8))")
        let e9 = #expect(throws: KestrelError.self) { try spec("dot", "f32", dim: 1 << 40, count: 1 << 40) }  // overflow
        #expect({ if case .invalidArgument(name: "count", reason: _)? = e9 { true } else { false } }(), "\(String(describing: e9))")
        let e10 = #expect(throws: KestrelError.self) { try spec("dot", "f32", dim: 1 << 20, count: 1 << 20) }  // > 16 GiB
        #expect({ if case .invalidArgument(name: "count", reason: _)? = e10 { true } else { false } }(), "\(String(describing: e10))")
        #expect((try? spec("dot", "i8", dim: 32768)) != nil)
        #expect((try? spec("jaccard", "b1", dim: 8)) != nil)
    }

    @Test func bytesPerVector() {
        #expect(BenchDType.f32.bytes(dim: 768) == 3072)
        #expect(BenchDType.f16.bytes(dim: 768) == 1536)
        #expect(BenchDType.bf16.bytes(dim: 768) == 1536)
        #expect(BenchDType.i8.bytes(dim: 768) == 768)
        #expect(BenchDType.b1.bytes(dim: 768) == 96)
        #expect(BenchDType.b1.kernelLength(dim: 768) == 96)
        #expect(BenchDType.f16.kernelLength(dim: 768) == 768)
    }

    @Test func jsonLineHasExactlyTheRequiredKeys() throws {
        let s = try spec("l2sq", "f32", dim: 768, count: 100_000, isa: "avx512")
        let r = KernelBenchResult(spec: s, nanosecondsPerVector: 12.5)
        #expect(r.jsonLine.keys == ["op", "dtype", "dim", "count", "isa", "ns_per_vector", "gb_per_s"])
        #expect(KernelBenchResult.jsonKeys == r.jsonLine.keys)
        let text = r.jsonLine.text
        #expect(!text.contains("\n"))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(KernelBenchResult.jsonKeys))
        #expect(object["op"] as? String == "l2sq")
        #expect(object["dtype"] as? String == "f32")
        #expect(object["isa"] as? String == "avx512")
        #expect((object["dim"] as? NSNumber)?.intValue == 768)
        #expect((object["count"] as? NSNumber)?.intValue == 100_000)
        #expect((object["ns_per_vector"] as? NSNumber)?.doubleValue == 12.5)
        // 3072 bytes per row in 12.5 ns = 245.76 GB/s.
        #expect(abs(((object["gb_per_s"] as? NSNumber)?.doubleValue ?? 0) - 245.76) < 1e-9)
    }
}
