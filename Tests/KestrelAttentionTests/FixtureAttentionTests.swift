import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelAttention

/// FlashAttention and NaiveAttention against PyTorch's scaled_dot_product_attention computed in
/// float64 (Tests/Fixtures/attention, copied from shared/fixtures): output and log-sum-exp.
@Suite struct FixtureAttentionTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let causal: Bool
        let windowLeft: Int?
        let scale: Float
        let tolerance: Float
        var description: String { name }
    }

    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: Fixtures.url("attention/index.json")),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return list.compactMap { m in
            guard let name = m["name"] as? String, m["seq_kv"] != nil else { return nil }  // paged decode: issue 18
            let tol = (m["tol"] as? [String: Any])?["fp32_max_abs"] as? Double ?? 1e-5
            return Case(name: name, causal: m["causal"] as? Bool ?? false, windowLeft: m["window_left"] as? Int,
                        scale: Float(m["scale"] as? Double ?? 0), tolerance: Float(tol))
        }
    }()

    static func load(_ c: Case) throws -> (q: Tensor, k: Tensor, v: Tensor, o: [Float], lse: [Float]) {
        func tensor(_ f: String) throws -> Tensor {
            let a = try Fixtures.npy("attention/\(c.name)/\(f).npy")
            return try Tensor(a.values.map { Float($0) }, shape: a.shape)
        }
        return (try tensor("q"), try tensor("k"), try tensor("v"),
                try Fixtures.npy("attention/\(c.name)/o.npy").values.map { Float($0) },
                try Fixtures.npy("attention/\(c.name)/lse.npy").values.map { Float($0) })
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count >= 13)
    }

    @Test(arguments: cases)
    func flashMatchesTheFloat64Reference(_ c: Case) throws {
        let (q, k, v, o, lse) = try Self.load(c)
        let options = AttentionOptions(scale: c.scale, causal: c.causal, windowLeft: c.windowLeft, threads: 2)
        // The default tiles, and small odd tiles that cut every sequence into several blocks.
        for kernel in [FlashAttention(), FlashAttention(blockSizes: AttentionBlockSizes(query: 5, key: 7)),
                       FlashAttention(tileProducts: .cKernel), FlashAttention(blockSizes: AttentionBlockSizes(query: 5, key: 7), tileProducts: .cKernel)] {
            let r = try kernel.forward(query: q, key: k, value: v, options: options)
            let got = try r.output.toArray(of: Float.self), gotLSE = try r.logSumExp.toArray(of: Float.self)
            #expect(got.count == o.count && gotLSE.count == lse.count)
            let err = zip(got, o).map { abs($0 - $1) }.max() ?? .infinity
            #expect(err <= c.tolerance, "\(c.name) \(String(describing: kernel.blockSizes)): max abs error \(err)")
            let lseErr = zip(gotLSE, lse).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
            #expect(lseErr <= 1e-5, "\(c.name): log-sum-exp error \(lseErr)")
        }
    }

    @Test(arguments: cases)
    func naiveMatchesTheFloat64Reference(_ c: Case) throws {
        let (q, k, v, o, lse) = try Self.load(c)
        let r = try NaiveAttention().forward(query: q, key: k, value: v,
                                              options: AttentionOptions(scale: c.scale, causal: c.causal, windowLeft: c.windowLeft, threads: 2))
        let err = zip(try r.output.toArray(of: Float.self), o).map { abs($0 - $1) }.max() ?? .infinity
        #expect(err <= c.tolerance, "\(c.name): max abs error \(err)")
        let lseErr = zip(try r.logSumExp.toArray(of: Float.self), lse).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
        #expect(lseErr <= 1e-5, "\(c.name): log-sum-exp error \(lseErr)")
    }
}
