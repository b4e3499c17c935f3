@testable import KestrelVectorIndex
import KestrelTensor
import Testing
import _KestrelTestSupport

/// The int8 codec now encodes through KestrelQuantization's shared affine routine; index files
/// must stay readable, so its codes must be the bits the codec's own loop wrote before the move.
@Suite struct Int8CodecQuantizerTests {
    /// The codec's former loop, written out: clamp(roundHalfEven((x − offset) · (1/step)), −127, 127).
    static func formerEncode(_ x: [Float], offsets: [Float], scale: Float) -> [Int8] {
        let inv = 1 / scale
        return x.indices.map { i in
            let centred = offsets.isEmpty ? x[i] : x[i] - offsets[i]
            let q = (centred * inv).rounded(.toNearestOrEven)
            return Int8(max(-127, min(127, q)))
        }
    }

    /// Random values plus exact half-way points, values past the range, zeros of both signs,
    /// subnormals and the largest floats.
    static func inputs(_ d: Int, scale: Float, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var x = (0..<d).map { _ in rng.float(in: -200...200) * scale }
        let edges: [Float] = [0, -0.0, 0.5 * scale, -0.5 * scale, 1.5 * scale, -2.5 * scale, 126.5 * scale, -126.5 * scale,
                              127.49 * scale, 127.5 * scale, -127.5 * scale, 1e30, -1e30, .leastNonzeroMagnitude,
                              -.leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        for (i, e) in edges.enumerated() where i < d { x[i] = e }
        return x
    }

    @Test(arguments: [DistanceMetric.l2Squared, .innerProduct, .cosine])
    func codesAreBitIdenticalToTheFormerLoop(metric: DistanceMetric) throws {
        for (d, seed) in [(1, 1), (7, 2), (33, 3), (300, 4)] as [(Int, UInt64)] {
            for scale: Float in [1, 0.0625, 0.013, 3.7e-3, 1e-20] {
                var codec = VectorCodec(kind: .int8, metric: metric, dimension: d)
                var rng = SeededRNG(seed: seed &* 31)
                codec.offsets = metric == .l2Squared ? (0..<d).map { _ in rng.float(in: -3...3) * scale * 10 } : []
                codec.scale = scale
                codec.isTrained = true
                let x = Self.inputs(d, scale: scale, seed: seed)
                var got = [Int8](repeating: 0, count: d)
                x.withUnsafeBufferPointer { xb in
                    got.withUnsafeMutableBytes { codec.encode(xb.baseAddress!, into: $0.baseAddress!) }
                }
                #expect(got == Self.formerEncode(x, offsets: codec.offsets, scale: scale), "d=\(d) scale=\(scale) \(metric)")
                // Decoding: code · step + offset, as before the move.
                var back = [Float](repeating: 0, count: d)
                got.withUnsafeBytes { gb in back.withUnsafeMutableBufferPointer { codec.decode(gb.baseAddress!, into: $0.baseAddress!) } }
                let former = (0..<d).map { Float(got[$0]) * scale + (codec.offsets.isEmpty ? 0 : codec.offsets[$0]) }
                #expect(back.map(\.bitPattern) == former.map(\.bitPattern))
            }
        }
    }
}
