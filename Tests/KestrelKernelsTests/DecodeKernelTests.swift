import CKestrelKernels
import Foundation
import KestrelKernels
import Testing
import _KestrelTestSupport

/// `decode_partial` (KV-cache decode, kestrel_decode.h) of every supported tier against the scalar
/// entry, and the scalar entry against a float64 attention over the same stored rows: f32, f16 and
/// int8 rows, several K/V heads per call in the paged ([heads, block, d] blocks) and token-major
/// ([n, heads, d]) layouts, chunks spanning blocks, a sliding window with an evicted block, and
/// head dimensions that are and are not multiples of the vector widths.
@Suite struct DecodeKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        var d: Int, nq: Int, group: Int, heads: Int, n: Int, block: Int, tokenMajor: Bool
        var window: Int = -1, sink: Int = 0
        var description: String {
            "d=\(d) nq=\(nq) group=\(group) heads=\(heads) n=\(n) block=\(block)\(tokenMajor ? " token-major" : "") window=\(window)"
        }
    }

    static let cases: [Case] = [
        Case(d: 128, nq: 1, group: 4, heads: 2, n: 300, block: 16, tokenMajor: false),
        Case(d: 128, nq: 1, group: 4, heads: 2, n: 300, block: 300, tokenMajor: true),
        Case(d: 37, nq: 3, group: 3, heads: 3, n: 150, block: 7, tokenMajor: false, window: 40, sink: 2),
        Case(d: 80, nq: 2, group: 1, heads: 2, n: 97, block: 97, tokenMajor: true),
    ]

    /// Element offset of (head h, token j, element t) and scale index of (h, j).
    static func element(_ c: Case, _ h: Int, _ j: Int, _ t: Int) -> Int {
        c.tokenMajor ? (j * c.heads + h) * c.d + t : (((j / c.block) * c.heads + h) * c.block + j % c.block) * c.d + t
    }

    static func scaleIndex(_ c: Case, _ h: Int, _ j: Int) -> Int {
        c.tokenMajor ? j * c.heads + h : ((j / c.block) * c.heads + h) * c.block + j % c.block
    }

    static func visible(_ c: Case, _ i: Int, _ j: Int) -> Bool {
        let pos = c.n - c.nq + i
        if j > pos { return false }
        if c.window >= 0 && j < pos - c.window && j >= c.sink { return false }
        return true
    }

    /// Runs one tier's entry; returns the merged output [rows, d] and log-sum-exp [rows].
    static func run(_ fn: @convention(c) (UnsafePointer<kestrel_decode_args>?) -> kestrel_status, _ c: Case, dtype: Int32,
                    q: [Float], k: [UInt8], v: [UInt8], ks: [Float], vs: [Float], es: Int) -> (status: kestrel_status, out: [Float], lse: [Float]) {
        let rows = c.heads * c.group * c.nq, blocks = (c.n + c.block - 1) / c.block
        var out = [Float](repeating: 0, count: rows * c.d), lse = [Float](repeating: 0, count: rows)
        var partial = [Float](repeating: 0, count: rows * (c.d + 2))
        var scratch = [Float](repeating: 0, count: kestrel_decode_scratch_floats(rows, c.d))
        let status = k.withUnsafeBytes { kb in
            v.withUnsafeBytes { vb in
                ks.withUnsafeBufferPointer { ksb in
                    vs.withUnsafeBufferPointer { vsb in
                        // A block no query sees is evicted (NULL), as a sliding-window cache leaves it.
                        let needed = (0..<blocks).map { b in
                            (b * c.block..<min(c.n, (b + 1) * c.block)).contains { j in (0..<c.nq).contains { visible(c, $0, j) } }
                        }
                        let kp: [UnsafeRawPointer?] = (0..<blocks).map { needed[$0] ? UnsafeRawPointer(kb.baseAddress! + element(c, 0, $0 * c.block, 0) * es) : nil }
                        let vp: [UnsafeRawPointer?] = (0..<blocks).map { needed[$0] ? UnsafeRawPointer(vb.baseAddress! + element(c, 0, $0 * c.block, 0) * es) : nil }
                        let ksp: [UnsafePointer<Float>?] = (0..<blocks).map { ksb.baseAddress! + scaleIndex(c, 0, $0 * c.block) }
                        let vsp: [UnsafePointer<Float>?] = (0..<blocks).map { vsb.baseAddress! + scaleIndex(c, 0, $0 * c.block) }
                        return q.withUnsafeBufferPointer { qb in
                            partial.withUnsafeMutableBufferPointer { pb in
                                scratch.withUnsafeMutableBufferPointer { sb in
                                    kp.withUnsafeBufferPointer { kpb in
                                        vp.withUnsafeBufferPointer { vpb in
                                            ksp.withUnsafeBufferPointer { kspb in
                                                vsp.withUnsafeBufferPointer { vspb in
                                                    var a = kestrel_decode_args()
                                                    a.d = c.d; a.nq = c.nq; a.group = c.group; a.kv_heads = c.heads
                                                    a.q = qb.baseAddress; a.q_stride = c.d; a.dtype = dtype
                                                    a.k_blocks = kpb.baseAddress; a.v_blocks = vpb.baseAddress
                                                    a.k_scales = kspb.baseAddress; a.v_scales = vspb.baseAddress
                                                    a.block_tokens = c.block
                                                    a.row_stride = c.tokenMajor ? c.heads * c.d : c.d
                                                    a.head_stride = c.tokenMajor ? c.d : c.block * c.d
                                                    a.scale_stride = c.tokenMajor ? c.heads : 1
                                                    a.head_scale_stride = c.tokenMajor ? 1 : c.block
                                                    a.lo = 0; a.hi = c.n
                                                    a.scale = 1 / Float(c.d).squareRoot(); a.causal = 1; a.diag = c.n - c.nq
                                                    a.window_left = c.window; a.sink = c.sink
                                                    a.acc = pb.baseAddress; a.m = pb.baseAddress! + rows * c.d
                                                    a.l = pb.baseAddress! + rows * c.d + rows
                                                    a.scratch = sb.baseAddress
                                                    return fn(&a)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        partial.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { ob in
                lse.withUnsafeMutableBufferPointer { lb in
                    kestrel_decode_merge_f32(rows, c.d, 1, pb.baseAddress, ob.baseAddress, c.d, lb.baseAddress)
                }
            }
        }
        return (status, out, lse)
    }

    @Test(arguments: cases)
    func everyTierMatchesScalarAndFloat64(_ c: Case) throws {
        var rng = SeededRNG(seed: UInt64(c.d * 1000 + c.n))
        let rows = c.heads * c.group * c.nq, blocks = (c.n + c.block - 1) / c.block
        let elements = blocks * c.block * c.heads * c.d, scales = blocks * c.block * c.heads
        let q = (0..<(rows * c.d)).map { _ in rng.float(in: -1...1) }
        for (dtype, es) in [(KESTREL_KV_F32, 4), (KESTREL_KV_F16, 2), (KESTREL_KV_I8, 1)] {
            var k = [UInt8](repeating: 0, count: elements * es), v = k
            var ks = [Float](repeating: 0, count: scales), vs = ks
            // The stored values as the kernel must read them: (head, token, element).
            var kv = [Double](repeating: 0, count: c.heads * c.n * c.d), vv = kv
            for h in 0..<c.heads {
                for j in 0..<c.n {
                    let si = Self.scaleIndex(c, h, j)
                    ks[si] = 0.001 + 0.019 * abs(rng.float(in: -1...1))
                    vs[si] = 0.001 + 0.019 * abs(rng.float(in: -1...1))
                    for t in 0..<c.d {
                        let e = Self.element(c, h, j, t), r = (h * c.n + j) * c.d + t
                        let x = rng.float(in: -1...1), y = rng.float(in: -1...1)
                        switch dtype {
                        case KESTREL_KV_F32:
                            withUnsafeBytes(of: x.bitPattern.littleEndian) { for b in 0..<4 { k[4 * e + b] = $0[b] } }
                            withUnsafeBytes(of: y.bitPattern.littleEndian) { for b in 0..<4 { v[4 * e + b] = $0[b] } }
                            kv[r] = Double(x); vv[r] = Double(y)
                        case KESTREL_KV_F16:
                            let hx = Float16(x), hy = Float16(y)
                            withUnsafeBytes(of: hx.bitPattern.littleEndian) { for b in 0..<2 { k[2 * e + b] = $0[b] } }
                            withUnsafeBytes(of: hy.bitPattern.littleEndian) { for b in 0..<2 { v[2 * e + b] = $0[b] } }
                            kv[r] = Double(Float(hx)); vv[r] = Double(Float(hy))
                        default:
                            let cx = Int8(clamping: Int((x * 127).rounded())), cy = Int8(clamping: Int((y * 127).rounded()))
                            k[e] = UInt8(bitPattern: cx); v[e] = UInt8(bitPattern: cy)
                            kv[r] = Double(cx) * Double(ks[si]); vv[r] = Double(cy) * Double(vs[si])
                        }
                    }
                }
            }
            let scalarTable = try #require(ISALevel.scalar.kernels).pointee
            let ref = Self.run(scalarTable.decode_partial!, c, dtype: Int32(dtype.rawValue), q: q, k: k, v: v, ks: ks, vs: vs, es: es)
            #expect(ref.status == KESTREL_OK)
            // float64 attention over the stored values.
            let hrows = c.group * c.nq, scale = 1 / Double(c.d).squareRoot()
            let vmax = dtype == KESTREL_KV_I8 ? 127 * 0.02 : 1.0
            var worst = 0.0
            for r in 0..<rows {
                let h = r / hrows, i = r % c.nq
                var s = [Double](repeating: -.infinity, count: c.n)
                for j in 0..<c.n where Self.visible(c, i, j) {
                    var dot = 0.0
                    for t in 0..<c.d { dot += Double(q[r * c.d + t]) * kv[(h * c.n + j) * c.d + t] }
                    s[j] = dot * scale
                }
                let mx = s.max()!
                let p = s.map { $0 == -.infinity ? 0 : exp($0 - mx) }
                let sum = p.reduce(0, +)
                #expect(abs(Double(ref.lse[r]) - (mx + log(sum))) <= 2e-5 * (1 + abs(mx)), "\(c) dtype \(dtype) row \(r) lse")
                for t in 0..<c.d {
                    var o = 0.0
                    for j in 0..<c.n where p[j] > 0 { o += p[j] / sum * vv[(h * c.n + j) * c.d + t] }
                    worst = max(worst, abs(Double(ref.out[r * c.d + t]) - o) / vmax)
                }
            }
            #expect(worst <= 2e-5, "\(c) dtype \(dtype): scalar vs float64 \(worst)")
            for level in ISALevel.supported where level != .scalar {
                let t = try #require(level.kernels).pointee
                let got = Self.run(t.decode_partial!, c, dtype: Int32(dtype.rawValue), q: q, k: k, v: v, ks: ks, vs: vs, es: es)
                #expect(got.status == KESTREL_OK, "\(level) \(c)")
                var diff = 0.0
                for x in 0..<got.out.count { diff = max(diff, abs(Double(got.out[x]) - Double(ref.out[x])) / vmax) }
                for x in 0..<got.lse.count { diff = max(diff, abs(Double(got.lse[x]) - Double(ref.lse[x])) / (1 + abs(Double(ref.lse[x])))) }
                #expect(diff <= 2e-5, "\(level) vs scalar, \(c) dtype \(dtype): \(diff)")
            }
        }
    }
}
