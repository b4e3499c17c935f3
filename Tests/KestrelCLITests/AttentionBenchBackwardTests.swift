import Foundation
import Kestrel
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

/// `kestrel attention-bench --backward`: the JSON line keeps the contract's keys and adds the
/// backward's; the gradients it writes are the library's backward of the same problem (and
/// NaiveAttention's, the oracle); flags that cannot go together are refused.
@Suite struct AttentionBenchBackwardTests {
    typealias Files = AttentionBenchContractTests.Files

    func run(_ args: [String]) throws -> (status: Int32, lines: [String], stderr: String) {
        let r = try KestrelProcess.run(["attention-bench"] + args)
        return (r.status, r.lines, r.stderr)
    }

    func json(_ line: String?) throws -> [String: Any] {
        let line = try #require(line)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }

    static func maxAbsDiff(_ a: Tensor, _ b: Tensor) throws -> Float {
        #expect(a.shape.dims == b.shape.dims)
        let x = try a.withUnsafeBufferPointer { Array($0) }, y = try b.withUnsafeBufferPointer { Array($0) }
        return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(arguments: [(AttentionBenchKernel.flash, true, nil as Int?), (.flash, false, 2), (.naive, true, nil)])
    func gradientsMatchTheLibrarysBackwardAndTheJSONLineAddsTheBackwardKeys(
        _ kernel: AttentionBenchKernel, _ causal: Bool, _ window: Int?
    ) throws {
        // Grouped-query, NQ ≠ NK, odd sizes, two threads, dO from a file.
        let f = try Files(AttentionBenchShape(batch: 2, heads: 4, kvHeads: 2, seqQ: 5, seqKV: 9, headDim: 20))
        defer { f.remove() }
        let dO = try Tensor.random(f.shape.queryDims, seed: 41, in: -1...1)
        let doURL = f.dir.appendingPathComponent("do.npy")
        try dO.writeNPY(to: doURL)
        let urls = ["dq", "dk", "dv"].map { f.dir.appendingPathComponent("\($0).npy") }
        let extra = ["--scale", "0.3", "--threads", "2", "--warmup", "1", "--reps", "3", "--kernel", kernel.rawValue, "--backward",
                     "--dout", doURL.path, "--dq", urls[0].path, "--dk", urls[1].path, "--dv", urls[2].path]
            + (window.map { ["--window", "\($0)"] } ?? [])
        let r = try run(f.args(causal: causal, extra: extra))
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try json(r.lines.last)
        #expect(Set(obj.keys) == ["median_ms", "min_ms", "reps", "peak_extra_bytes", "impl", "backward_median_ms", "backward_min_ms",
                                  "backward_over_forward", "forward_cpu_ms", "backward_cpu_ms", "backward_over_forward_cpu",
                                  "backward_impl"])
        let median = try #require(obj["median_ms"] as? Double), bMedian = try #require(obj["backward_median_ms"] as? Double)
        let bMin = try #require(obj["backward_min_ms"] as? Double), ratio = try #require(obj["backward_over_forward"] as? Double)
        #expect(bMin > 0 && bMin <= bMedian)
        #expect(abs(ratio - bMedian / median) <= 1e-9 * ratio)
        let fCPU = try #require(obj["forward_cpu_ms"] as? Double), bCPU = try #require(obj["backward_cpu_ms"] as? Double)
        let cpuRatio = try #require(obj["backward_over_forward_cpu"] as? Double)
        #expect(fCPU >= 0 && bCPU >= 0 && cpuRatio.isFinite)
        #expect(abs(cpuRatio - bCPU / fCPU) <= 1e-9 * cpuRatio)
        #expect((obj["backward_impl"] as? String)?.hasPrefix("kestrel-\(kernel.rawValue) backward") == true)
        #expect(obj["peak_extra_bytes"] as? Int == (try kernel.peakExtraBytes(f.shape, threads: 2)))

        // The same forward and backward through the library.
        let options = AttentionOptions(scale: 0.3, causal: causal, windowLeft: window, threads: 2)
        let lib: any AttentionBackwardKernel = kernel == .flash ? FlashAttention() : NaiveAttention()
        let fwd = try lib.forward(query: f.q, key: f.k, value: f.v, options: options)
        let want = try lib.backward(query: f.q, key: f.k, value: f.v, output: fwd.output, logSumExp: fwd.logSumExp,
                                    outputGradient: dO, options: options)
        let oracle = try NaiveAttention().backward(query: f.q, key: f.k, value: f.v, output: fwd.output, logSumExp: fwd.logSumExp,
                                                   outputGradient: dO, options: options)
        #expect(try Self.maxAbsDiff(try Tensor.readNPY(f.outURL), fwd.output) <= 1e-6)
        let wants = [want.query, want.key, want.value], oracles = [oracle.query, oracle.key, oracle.value]
        for (i, url) in urls.enumerated() {
            let got = try Tensor.readNPY(url), w = wants[i], o = oracles[i]
            #expect(try Self.maxAbsDiff(got, w) <= 1e-5, "\(url.lastPathComponent)")
            #expect(try Self.maxAbsDiff(got, o) <= 1e-5, "\(url.lastPathComponent) vs naive")
        }
    }

    @Test func withoutDOutTheGradientIsSeededFromSeedPlusThree() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dq = dir.appendingPathComponent("dq.npy"), dv = dir.appendingPathComponent("dv.npy")
        let r = try run(["--heads", "2", "--kv-heads", "1", "--seq-q", "7", "--head-dim", "16", "--causal", "1", "--seed", "9",
                         "--reps", "1", "--warmup", "0", "--backward", "--dq", dq.path, "--dv", dv.path])
        #expect(r.status == 0, "\(r.stderr)")
        let s = AttentionBenchShape(batch: 1, heads: 2, kvHeads: 1, seqQ: 7, seqKV: 7, headDim: 16)
        let (q, k, v) = try AttentionBench.randomInputs(s, seed: 9)
        let dO = try Tensor.random(s.queryDims, seed: 12)
        let options = AttentionOptions(causal: true)
        let fwd = try NaiveAttention().forward(query: q, key: k, value: v, options: options)
        let want = try NaiveAttention().backward(query: q, key: k, value: v, output: fwd.output, logSumExp: fwd.logSumExp,
                                                 outputGradient: dO, options: options)
        #expect(try Self.maxAbsDiff(try Tensor.readNPY(dq), want.query) <= 1e-5)
        #expect(try Self.maxAbsDiff(try Tensor.readNPY(dv), want.value) <= 1e-5)
    }

    @Test func backwardWithTheDecodePathExitsTwo() throws {
        let r = try run(["--seq-q", "1", "--seq-kv", "8", "--head-dim", "16", "--heads", "2", "--backward", "--cache", "f32"])
        #expect(r.status == 2, "\(r.lines) \(r.stderr)")
        let obj = try json(r.lines.last)
        #expect(obj.keys.sorted() == ["unsupported"])
        #expect((obj["unsupported"] as? String)?.contains("no backward") == true, "\(obj)")
    }

    @Test(arguments: [["--dout", "x.npy"], ["--dq", "x.npy"], ["--dk", "x.npy"], ["--dv", "x.npy"]])
    func gradientFlagsNeedBackward(_ extra: [String]) {
        #expect(throws: (any Error).self) { try AttentionBenchCommand.parse(["--seq-q", "4"] + extra) }
        #expect((try? AttentionBenchCommand.parse(["--seq-q", "4", "--backward"] + extra)) != nil)
    }

    @Test func badDOutFilesFailWithAMessage() throws {
        let f = try Files(AttentionBenchShape(batch: 1, heads: 2, kvHeads: 2, seqQ: 3, seqKV: 3, headDim: 16))
        defer { f.remove() }
        let doURL = f.dir.appendingPathComponent("do.npy")
        // Wrong shape: K's file as dO (same size, other dims).
        try Tensor.random([1, 2, 4, 16], seed: 1).writeNPY(to: doURL)
        var r = try run(f.args(causal: false, extra: ["--backward", "--dout", doURL.path]))
        #expect(r.status != 0 && r.status != 2)
        #expect(r.stderr.contains("do.npy has shape"), "\(r.stderr)")
        // A NaN in dO.
        var g = try Tensor.random(f.shape.queryDims, seed: 1)
        try g.withUnsafeMutableBufferPointer { $0[7] = .nan }
        try g.writeNPY(to: doURL)
        r = try run(f.args(causal: false, extra: ["--backward", "--dout", doURL.path]))
        #expect(r.status != 0 && r.status != 2)
        #expect(r.stderr.contains("non-finite"), "\(r.stderr)")
        // Missing file.
        r = try run(f.args(causal: false, extra: ["--backward", "--dout", f.dir.appendingPathComponent("none.npy").path]))
        #expect(r.status != 0 && r.status != 2)
        #expect(r.stderr.contains("none.npy"), "\(r.stderr)")
    }
}
