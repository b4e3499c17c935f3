import CKestrelKernels
import Foundation
import KestrelTensor

/// Materialised attention, the baseline and the oracle of ``FlashAttention``: per batch item
/// and head, the full [NQ, NK] score matrix S = scale · Q·Kᵀ by one BLAS GEMM, bias and mask
/// added, a row softmax, then O = P·V by a second GEMM.
///
/// Memory: one NQ × NK f32 score matrix per worker thread (the cost FlashAttention avoids).
/// Complexity: O(B · H · NQ · NK · D) time. Stateless; thread-safe.
public struct NaiveAttention: AttentionKernel {
    /// The kernel.
    public init() {}

    /// Bytes of score workspace a forward pass holds at once (one NQ × NK f32 matrix per worker).
    public static func workspaceBytes(nq: Int, nk: Int, threads: Int) throws(KestrelError) -> Int {
        try SizeCheck.bytes(nq, nk, 4, max(1, threads))
    }

    /// See ``AttentionKernel/forward(query:key:value:options:)``.
    public func forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions) throws(KestrelError) -> AttentionOutput {
        let p = try AttentionProblem(query: query, key: key, value: value, options: options)
        let (nq, nk, d) = (p.nq, p.nk, p.d)
        let workers = min(p.threads, p.batch * p.heads)
        let scoreCount = try SizeCheck.bytes(nq, nk, 4) / 4
        let failure = FirstError()
        let result = try p.run(scratchFloats: try Self.workspaceBytes(nq: nq, nk: nk, threads: workers) / 4) { ptr in
            parallelForEach(p.batch * p.heads, threads: workers) { bh, worker in
                let b = bh / p.heads, h = bh % p.heads, kvh = h / p.group
                let qOff = bh * nq * d, kvOff = (b * p.kvHeads + kvh) * nk * d
                let sm = ptr.scratch + worker * scoreCount
                let r = Result { () throws(KestrelError) in
                    try BLAS.sgemm(transposeA: false, transposeB: true, m: nq, n: nk, k: d, alpha: p.scale,
                                   a: ptr.q + qOff, lda: d, b: ptr.k + kvOff, ldb: d, beta: 0, c: sm, ldc: nk)
                    let bp = ptr.bias.map { $0 + b * p.biasBatchStride + h * p.biasHeadStride }
                    Self.softmaxRows(p, batch: b, scores: sm, bias: bp, lse: ptr.lse + bh * nq)
                    try BLAS.sgemm(transposeA: false, transposeB: false, m: nq, n: d, k: nk, alpha: 1,
                                   a: sm, lda: nk, b: ptr.v + kvOff, ldb: d, beta: 0, c: ptr.o + qOff, ldc: d)
                }
                if case .failure(let e) = r { failure.record(e) }
            }
        }
        if let e = failure.error { throw e }
        return result
    }

    /// Adds the bias, masks, and turns each score row into probabilities in place; writes the
    /// row's log-sum-exp. A row that sees no key becomes all zeros (its output row is then 0).
    static func softmaxRows(_ p: AttentionProblem, batch b: Int, scores s: UnsafeMutablePointer<Float>,
                            bias: UnsafePointer<Float>?, lse: UnsafeMutablePointer<Float>) {
        let nk = p.nk, kvLen = p.keyLength(b)
        for i in 0..<p.nq {
            let row = s + i * nk
            let pos = p.diagonal(row: i)
            var hi = kvLen
            if p.causal { hi = min(hi, pos + 1) }
            let lo = p.windowLeft.map { max(0, pos - $0) } ?? 0
            var m = -Float.infinity
            for j in 0..<nk {
                var x = row[j]
                if let bias { x += bias[i * nk + j] }
                if j < lo || j >= hi { x = -.infinity }
                row[j] = x
                m = max(m, x)
            }
            guard m > -.infinity else {
                for j in 0..<nk { row[j] = 0 }
                lse[i] = -.infinity
                continue
            }
            // exp(x − m) by the active tier's vector exp kernel (exp(−∞) = 0).
            for j in 0..<nk { row[j] -= m }
            kestrel_exp_f32(row, row, nk)
            var sum: Float = 0
            for j in 0..<nk { sum += row[j] }
            let inv = 1 / sum
            for j in 0..<nk { row[j] *= inv }
            lse[i] = m + log(sum)
        }
    }
}

/// The first error thrown by any worker of a parallel loop.
final class FirstError: @unchecked Sendable {  // guarded by `lock`
    private let lock = PlainLock()
    private var stored: KestrelError?
    func record(_ e: KestrelError) { lock.withLock { if stored == nil { stored = e } } }
    var error: KestrelError? { lock.withLock { stored } }
}
