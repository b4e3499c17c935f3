import Foundation
import Kestrel
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

/// `kestrel attention-bench --cache … [--paged --block N]` (issue 18): the decode path through a
/// KV cache gives the contract's output (float64 reference) and adds cache_bytes and gb_per_s.
@Suite struct AttentionBenchCacheTests {
    let contract = AttentionBenchContractTests()

    @Test(arguments: [("f32", false, nil as Int?), ("f32", true, nil), ("f16", true, nil), ("int8", false, nil), ("f32", true, 9),
                      ("int8", true, 9), ("f32", false, 9), ("int8", false, 9)])
    func decodeThroughACacheMatchesTheReference(_ storage: String, _ paged: Bool, _ window: Int?) throws {
        let f = try AttentionBenchContractTests.Files(AttentionBenchShape(batch: 2, heads: 4, kvHeads: 2, seqQ: 3, seqKV: 40, headDim: 20))
        defer { f.remove() }
        let extra = ["--scale", "0.3", "--threads", "2", "--reps", "2", "--cache", storage] + (paged ? ["--paged", "--block", "7"] : [])
            + (window.map { ["--window", "\($0)"] } ?? [])
        let r = try contract.run(f.args(causal: true, extra: extra))
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try contract.json(r.lines.last)
        #expect(Set(obj.keys) == ["median_ms", "min_ms", "reps", "peak_extra_bytes", "impl", "cache_bytes", "gb_per_s"])
        let layout = KVCacheLayout(kvHeads: 2, headDimension: 20, storage: KVCacheStorage(rawValue: storage)!)
        #expect(obj["cache_bytes"] as? Int == 2 * 40 * layout.bytesPerToken)
        #expect((obj["gb_per_s"] as? Double ?? 0) > 0)
        #expect((obj["impl"] as? String)?.contains("\(paged ? "paged 7" : "contiguous") \(storage) cache") == true, "\(obj)")
        let got = try Tensor.readNPY(f.outURL).withUnsafeBufferPointer { Array($0) }
        let want = try AttentionBenchContractTests.reference(f, scale: 0.3, causal: true, window: window)
        let tol = storage == "f32" ? 1e-5 : storage == "f16" ? 5e-3 : 5e-2
        #expect(AttentionBenchContractTests.maxAbsDiff(got, want) <= tol, "\(storage)")
    }

    @Test(arguments: [(["--seq-q", "9", "--seq-kv", "20", "--cache", "f32"], "1...8"),
                      (["--seq-q", "1", "--seq-kv", "20", "--cache", "bf16"], "cache 'bf16'"),
                      (["--seq-q", "1", "--seq-kv", "20", "--cache", "f32", "--paged", "--block", "0"], "--block")])
    func unsupportedCachedProblemsExitTwo(_ args: [String], _ phrase: String) throws {
        let r = try contract.run(args)
        #expect(r.status == 2, "\(r.lines) \(r.stderr)")
        let obj = try contract.json(r.lines.last)
        #expect((obj["unsupported"] as? String)?.contains(phrase) == true, "\(obj)")
    }
}
