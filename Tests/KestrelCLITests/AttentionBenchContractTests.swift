import Foundation
import Kestrel
import Testing
import _KestrelTestSupport

@testable import KestrelCLI

/// `kestrel attention-bench` is a peer-benchmark contract (issue 17): harnesses run it beside
/// PyTorch on the same .npy files and parse its last line. These tests run the built executable
/// and check the output file against NaiveAttention and a float64 reference, the JSON line field
/// by field, exit 2 for unsupported problems and non-zero exits for bad files and flags.
@Suite struct AttentionBenchContractTests {

    func run(_ args: [String]) throws -> (status: Int32, lines: [String], stderr: String) {
        let r = try KestrelProcess.run(["attention-bench"] + args)
        return (r.status, r.lines, r.stderr)
    }

    /// Q, K, V files of one shape in a fresh directory.
    struct Files {
        let dir: URL
        let shape: AttentionBenchShape
        let q: Tensor, k: Tensor, v: Tensor
        var qURL: URL { dir.appendingPathComponent("q.npy") }
        var kURL: URL { dir.appendingPathComponent("k.npy") }
        var vURL: URL { dir.appendingPathComponent("v.npy") }
        var outURL: URL { dir.appendingPathComponent("o.npy") }

        init(_ shape: AttentionBenchShape, seed: UInt64 = 3) throws {
            dir = try temporaryDirectory()
            self.shape = shape
            q = try Tensor.random(shape.queryDims, seed: seed, in: -2...2)
            k = try Tensor.random(shape.keyDims, seed: seed + 1, in: -2...2)
            v = try Tensor.random(shape.keyDims, seed: seed + 2)
            try q.writeNPY(to: qURL)
            try k.writeNPY(to: kURL)
            try v.writeNPY(to: vURL)
        }

        /// Every contract flag for this shape (files, sizes).
        func args(causal: Bool, extra: [String] = []) -> [String] {
            let s = shape
            return ["--q", qURL.path, "--k", kURL.path, "--v", vURL.path, "--out", outURL.path, "--batch", "\(s.batch)",
                    "--heads", "\(s.heads)", "--kv-heads", "\(s.kvHeads)", "--seq-q", "\(s.seqQ)", "--seq-kv", "\(s.seqKV)",
                    "--head-dim", "\(s.headDim)", "--causal", causal ? "1" : "0"] + extra
        }

        func remove() { try? FileManager.default.removeItem(at: dir) }
    }

    /// softmax(scale · QKᵀ + mask) · V in Double, straight from the contract's definitions.
    static func reference(_ f: Files, scale: Double, causal: Bool, window: Int?) throws -> [Double] {
        let s = f.shape
        let q = try f.q.withUnsafeBufferPointer { Array($0) }, k = try f.k.withUnsafeBufferPointer { Array($0) }
        let v = try f.v.withUnsafeBufferPointer { Array($0) }
        var out = [Double](repeating: 0, count: s.batch * s.heads * s.seqQ * s.headDim)
        let d = s.headDim
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                let kvh = h / (s.heads / s.kvHeads)
                for i in 0..<s.seqQ {
                    let pos = i + s.seqKV - s.seqQ
                    let qRow = ((b * s.heads + h) * s.seqQ + i) * d
                    var scores = [Double](repeating: -.infinity, count: s.seqKV)
                    for j in 0..<s.seqKV where (!causal || j <= pos) && (window.map { j >= pos - $0 } ?? true) {
                        let kRow = ((b * s.kvHeads + kvh) * s.seqKV + j) * d
                        scores[j] = scale * (0..<d).reduce(0.0) { $0 + Double(q[qRow + $1]) * Double(k[kRow + $1]) }
                    }
                    let m = scores.max()!
                    guard m > -.infinity else { continue }
                    let w = scores.map { exp($0 - m) }, z = w.reduce(0, +)
                    for j in 0..<s.seqKV where w[j] > 0 {
                        let vRow = ((b * s.kvHeads + kvh) * s.seqKV + j) * d
                        for c in 0..<d { out[qRow + c] += w[j] / z * Double(v[vRow + c]) }
                    }
                }
            }
        }
        return out
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
    }

    func json(_ line: String?) throws -> [String: Any] {
        let line = try #require(line)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }

    @Test(arguments: [(AttentionBenchKernel.flash, true, nil as Int?), (.flash, false, nil), (.naive, true, 3), (.flash, true, 3)])
    func outputMatchesNaiveAttentionAndTheJSONLineFollowsTheContract(_ kernel: AttentionBenchKernel, _ causal: Bool, _ window: Int?) throws {
        // Grouped-query, NQ ≠ NK (bottom-right causal), odd sizes, two threads.
        let f = try Files(AttentionBenchShape(batch: 2, heads: 4, kvHeads: 2, seqQ: 5, seqKV: 9, headDim: 20))
        defer { f.remove() }
        let extra = ["--scale", "0.3", "--threads", "2", "--warmup", "1", "--reps", "3", "--kernel", kernel.rawValue]
            + (window.map { ["--window", "\($0)"] } ?? [])
        let r = try run(f.args(causal: causal, extra: extra))
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try json(r.lines.last)
        #expect(Set(obj.keys) == ["median_ms", "min_ms", "reps", "peak_extra_bytes", "impl"])
        #expect(obj["reps"] as? Int == 3)
        let median = try #require(obj["median_ms"] as? Double), minimum = try #require(obj["min_ms"] as? Double)
        #expect(minimum > 0 && minimum <= median)
        #expect(obj["peak_extra_bytes"] as? Int == (try kernel.peakExtraBytes(f.shape, threads: 2)))
        #expect((obj["impl"] as? String)?.hasPrefix("kestrel-\(kernel.rawValue)") == true)

        let o = try Tensor.readNPY(f.outURL)
        #expect(o.shape.dims == f.shape.queryDims)
        let got = try o.withUnsafeBufferPointer { Array($0) }
        let options = AttentionOptions(scale: 0.3, causal: causal, windowLeft: window)
        let naive = try NaiveAttention().forward(query: f.q, key: f.k, value: f.v, options: options).output
        let want = try naive.withUnsafeBufferPointer { Array($0) }
        #expect(Self.maxAbsDiff(got, want.map(Double.init)) <= 1e-5)
        #expect(Self.maxAbsDiff(got, try Self.reference(f, scale: 0.3, causal: causal, window: window)) <= 1e-5)
    }

    @Test func withoutFilesTheSeededInputsAreUsedAndTheScaleDefaultsToOneOverRootD() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("o.npy")
        let r = try run(["--heads", "2", "--kv-heads", "1", "--seq-q", "7", "--head-dim", "16", "--causal", "1", "--seed", "9",
                         "--reps", "1", "--warmup", "0", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try json(r.lines.last)["reps"] as? Int == 1)
        let s = AttentionBenchShape(batch: 1, heads: 2, kvHeads: 1, seqQ: 7, seqKV: 7, headDim: 16)
        let (q, k, v) = try AttentionBench.randomInputs(s, seed: 9)
        let want = try NaiveAttention().forward(query: q, key: k, value: v, options: AttentionOptions(causal: true)).output
        let got = try Tensor.readNPY(out)
        #expect(Self.maxAbsDiff(try got.withUnsafeBufferPointer { Array($0) },
                                try want.withUnsafeBufferPointer { $0.map(Double.init) }) <= 1e-5)
    }

    @Test(arguments: [
        (["--heads", "6", "--kv-heads", "4", "--seq-q", "4"], "multiple"),
        (["--seq-q", "4", "--kernel", "xformers"], "kernel 'xformers'"),
        // A 4 M × 4 M score matrix cannot be held: refused before anything is allocated.
        (["--seq-q", "4194304", "--heads", "1", "--head-dim", "16", "--kernel", "naive"], "GiB"),
    ])
    func unsupportedProblemsExitTwoWithAReason(_ args: [String], _ phrase: String) throws {
        let r = try run(args)
        #expect(r.status == 2, "\(r.lines) \(r.stderr)")
        let obj = try json(r.lines.last)
        #expect(obj.keys.sorted() == ["unsupported"])
        #expect((obj["unsupported"] as? String)?.contains(phrase) == true, "\(obj)")
    }

    @Test func badFilesFailWithAMessage() throws {
        let f = try Files(AttentionBenchShape(batch: 1, heads: 2, kvHeads: 2, seqQ: 3, seqKV: 3, headDim: 16))
        defer { f.remove() }
        func failure(_ args: [String], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try run(args)
            #expect(r.status != 0 && r.status != 2, "\(r.lines)", sourceLocation: sourceLocation)
            #expect(r.stderr.contains(phrase), "\(r.stderr)", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: f.outURL.path), sourceLocation: sourceLocation)
        }
        var args = f.args(causal: false)
        // Missing file.
        args[1] = f.dir.appendingPathComponent("missing.npy").path
        try failure(args, "missing.npy")
        // Truncated file: the payload is shorter than the header's shape.
        let bytes = try Data(contentsOf: f.qURL)
        let truncated = f.dir.appendingPathComponent("truncated.npy")
        try bytes.prefix(bytes.count - 4).write(to: truncated)
        args[1] = truncated.path
        try failure(args, "payload")
        // Not float32: the same values as float16.
        let half = f.dir.appendingPathComponent("half.npy")
        try Dataset.write(DatasetMatrix(rows: 6, dimension: 16, values: [Float](repeating: 1, count: 96)), to: half, halfPrecision: true)
        args[1] = half.path
        try failure(args, "<f4")
        // Not an .npy at all.
        let text = f.dir.appendingPathComponent("text.npy")
        try Data("hello".utf8).write(to: text)
        args[1] = text.path
        try failure(args, "magic")
    }

    @Test func shapesThatDisagreeWithTheFlagsAreRefused() throws {
        let f = try Files(AttentionBenchShape(batch: 1, heads: 2, kvHeads: 2, seqQ: 3, seqKV: 4, headDim: 16))
        defer { f.remove() }
        for (flag, value, file) in [("--batch", "2", "q"), ("--seq-q", "4", "q"), ("--seq-kv", "5", "k"), ("--head-dim", "32", "q"),
                                    ("--kv-heads", "1", "k")] {
            var args = f.args(causal: false)
            let i = try #require(args.firstIndex(of: flag))
            args[i + 1] = value
            let r = try run(args)
            #expect(r.status != 0 && r.status != 2, "\(flag)")
            #expect(r.stderr.contains("\(file).npy has shape"), "\(flag): \(r.stderr)")
        }
        // K and V swapped with a Q file: V's shape is checked too.
        var args = f.args(causal: false)
        args[5] = f.qURL.path
        let r = try run(args)
        #expect(r.status != 0 && r.stderr.contains("has shape"))
    }

    @Test(arguments: [
        ["--seq-q", "4", "--causal", "2"], ["--seq-q", "4", "--reps", "0"], ["--seq-q", "4", "--warmup", "-1"],
        ["--seq-q", "0"], ["--seq-q", "4", "--head-dim", "0"], ["--seq-q", "4", "--threads", "0"],
        ["--seq-q", "4", "--window", "-1"], ["--seq-q", "4", "--q", "x.npy"], ["--heads", "2"], ["--seq-q", "4", "--scale", "nan"],
    ])
    func badFlagsAreRefusedAtParse(_ args: [String]) {
        #expect(throws: (any Error).self) { try AttentionBenchCommand.parse(args) }
    }

    @Test func nonFiniteInputsFailWithoutACrash() throws {
        let f = try Files(AttentionBenchShape(batch: 1, heads: 1, kvHeads: 1, seqQ: 2, seqKV: 2, headDim: 16))
        defer { f.remove() }
        var k = f.k
        try k.withUnsafeMutableBufferPointer { $0[5] = .nan }
        try k.writeNPY(to: f.kURL)
        let r = try run(f.args(causal: false))
        #expect(r.status != 0 && r.status != 2)
        #expect(r.stderr.contains("non-finite"), "\(r.stderr)")
    }

    @Test func timingRunsWarmupThenRepsInterleaved() throws {
        final class Log: @unchecked Sendable { var calls: [Int] = [] }  // one thread
        let log = Log()
        let t = try AttentionBench.time([{ log.calls.append(0) }, { log.calls.append(1) }], warmup: 2, reps: 3)
        #expect(log.calls == [0, 0, 1, 1, 0, 1, 0, 1, 0, 1])
        #expect(t.count == 2 && t.allSatisfy { $0.minMs >= 0 && $0.minMs <= $0.medianMs })
    }
}
