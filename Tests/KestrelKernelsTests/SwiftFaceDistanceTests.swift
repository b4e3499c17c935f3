import KestrelKernels
import PropertyBased
import Testing
import _KestrelTestSupport

/// The Swift face's one-pair distances against independent Double / integer references, at
/// every supported tier, on edge sizes and unaligned slices.
@Suite struct SwiftFaceDistanceTests {
    static let sizes = [0, 1, 3, 7, 16, 17, 31, 33, 64, 100, 257]

    /// Double references of dot, squared L2, cosine distance and the error scale Σ|aᵢbᵢ| + Σaᵢ² + Σbᵢ².
    static func reference(_ a: [Double], _ b: [Double]) -> (dot: Double, l2: Double, cos: Double, scale: Double) {
        var dot = 0.0, l2 = 0.0, aa = 0.0, bb = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            dot += x * y; l2 += (x - y) * (x - y); aa += x * x; bb += y * y; scale += Swift.abs(x * y)
        }
        let cos: Double = aa == 0 && bb == 0 ? 0 : (aa == 0 || bb == 0 ? 1 : Swift.min(2, Swift.max(0, 1 - dot / (aa.squareRoot() * bb.squareRoot()))))
        return (dot, l2, cos, scale + aa + bb)
    }

    /// f32 dot, l2sq and cosine over slices at offsets 0...3 (so most start unaligned) agree with
    /// the Double reference within n·2⁻²⁴ of the magnitudes (the documented bound), and the SIMD
    /// tiers agree with the scalar tier within the same bound.
    @Test(arguments: ISALevel.supported) func floatPairsMatchDoubleReference(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 14)
        for n in Self.sizes {
            for offset in 0..<4 {
                let a = rng.floats(n + offset)[offset...], b = rng.floats(n + offset)[offset...]
                let r = Self.reference(a.map(Double.init), b.map(Double.init))
                let tol = Double(n + 4) * 0x1p-24 * r.scale + 1e-7
                let dot = try Distance.dot(a, b, tier: tier), l2 = try Distance.l2sq(a, b, tier: tier)
                let cos = try Distance.cosine(a, b, tier: tier)
                #expect(Swift.abs(Double(dot) - r.dot) <= tol, "\(tier) n=\(n) dot \(dot) vs \(r.dot)")
                #expect(Swift.abs(Double(l2) - r.l2) <= tol, "\(tier) n=\(n) l2sq \(l2) vs \(r.l2)")
                #expect(Swift.abs(Double(cos) - r.cos) <= 1e-5 * Double(n + 4), "\(tier) n=\(n) cosine \(cos) vs \(r.cos)")
                #expect(Swift.abs(dot - (try Distance.dot(a, b, tier: .scalar))) <= Float(tol) * 2)
            }
        }
    }

    /// Float16 and BFloat16 inputs are widened exactly: a Float16 distance equals the f32
    /// distance of the widened values at the same tier, bit for bit; a BFloat16 one within the
    /// summation bound (bit for bit at the scalar tier).
    @Test(arguments: ISALevel.supported) func halfPrecisionWidensExactly(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 15)
        for n in Self.sizes {
            let x = rng.floats(n, in: -4...4), y = rng.floats(n, in: -4...4)
            let bx = x.map(BFloat16.init), by = y.map(BFloat16.init)
            let wx = bx.map(\.floatValue), wy = by.map(\.floatValue)
            // bf16 SIMD tiers pair up even and odd elements (a different summation order from
            // f32), so they agree with the widened f32 distance within the summation bound; the
            // scalar tier sums in the same order and agrees bit for bit.
            let r = Self.reference(wx.map(Double.init), wy.map(Double.init))
            let tol = Double(n + 4) * 0x1p-23 * r.scale + 1e-7
            #expect(Swift.abs(Double(try Distance.l2sq(bx, by, tier: tier)) - r.l2) <= tol)
            #expect(Swift.abs(Double(try Distance.dot(bx, by, tier: tier)) - r.dot) <= tol)
            #expect(try Distance.l2sq(bx, by, tier: .scalar).bitPattern == (try Distance.l2sq(wx, wy, tier: .scalar)).bitPattern)
            #expect(try Distance.cosine(bx, by, tier: .scalar).bitPattern == (try Distance.cosine(wx, wy, tier: .scalar)).bitPattern)
            #if !(os(macOS) && arch(x86_64))
            let hx = x.map(Float16.init), hy = y.map(Float16.init)
            let fx = hx.map(Float.init), fy = hy.map(Float.init)
            #expect(try Distance.dot(hx, hy, tier: tier).bitPattern == (try Distance.dot(fx, fy, tier: tier)).bitPattern)
            #expect(try Distance.l2sq(hx, hy, tier: tier).bitPattern == (try Distance.l2sq(fx, fy, tier: tier)).bitPattern)
            #endif
        }
    }

    /// int8 dot and l2sq equal the brute-force Int64 sums exactly, including the extreme
    /// −128·−128 products over lengths where an int32 accumulator would wrap.
    @Test(arguments: ISALevel.supported) func int8IsExact(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 16)
        for n in Self.sizes + [70_000] {
            let a = rng.int8s(n + 1)[1...], b = rng.int8s(n)
            let dot = zip(a, b).reduce(Int64(0)) { $0 + Int64($1.0) * Int64($1.1) }
            let l2 = zip(a, b).reduce(Int64(0)) { $0 + (Int64($1.0) - Int64($1.1)) * (Int64($1.0) - Int64($1.1)) }
            #expect(try Distance.dot(a, b, tier: tier) == dot)
            #expect(try Distance.l2sq(a, b, tier: tier) == l2)
        }
        let low = [Int8](repeating: -128, count: 200_000), high = [Int8](repeating: 127, count: 200_000)
        #expect(try Distance.dot(low, low, tier: tier) == 200_000 * 16_384)
        #expect(try Distance.l2sq(low, high, tier: tier) == 200_000 * 65_025)
        #expect(try Distance.cosine(low, low, tier: tier) == 0)
        #expect(try Distance.cosine(low, high, tier: tier) == 2)
    }

    /// Hamming and Jaccard equal the brute-force popcounts.
    @Test(arguments: ISALevel.supported) func binaryIsExact(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 17)
        for n in Self.sizes {
            let a = rng.bytes(n + 3)[3...], b = rng.bytes(n)
            let xor = zip(a, b).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
            let and = zip(a, b).reduce(0) { $0 + ($1.0 & $1.1).nonzeroBitCount }
            let or = zip(a, b).reduce(0) { $0 + ($1.0 | $1.1).nonzeroBitCount }
            #expect(try Distance.hamming(a, b, tier: tier) == xor)
            let jaccard: Float = or == 0 ? 0 : Float(1 - Double(and) / Double(or))
            #expect(Swift.abs(try Distance.jaccard(a, b, tier: tier) - jaccard) <= 1e-6)
        }
    }

    /// NaN propagates through every floating-point distance; an infinity gives an infinite dot.
    @Test(arguments: ISALevel.supported) func nonFiniteInputs(tier: ISALevel) throws {
        for n in [1, 5, 33] {
            var a = [Float](repeating: 1, count: n)
            let b = [Float](repeating: 2, count: n)
            a[n / 2] = .nan
            #expect(try Distance.dot(a, b, tier: tier).isNaN)
            #expect(try Distance.l2sq(a, b, tier: tier).isNaN)
            #expect(try Distance.cosine(a, b, tier: tier).isNaN)
            a[n / 2] = .infinity
            #expect(try Distance.dot(a, b, tier: tier) == .infinity)
            #expect(try Distance.l2sq(a, b, tier: tier) == .infinity)
        }
    }

    /// Mismatched lengths throw `dimensionMismatch` with both lengths, before any kernel runs.
    @Test func mismatchedLengthsThrow() {
        let a: [Float] = [1, 2, 3], b: [Float] = [1, 2, 3, 4]
        var e = #expect(throws: KestrelError.self) { try Distance.dot(a, b) }
        #expect(e == .dimensionMismatch(expected: [3], actual: [4]))
        e = #expect(throws: KestrelError.self) { try Distance.cosine(b, a, tier: .scalar) }
        #expect(e == .dimensionMismatch(expected: [4], actual: [3]))
        e = #expect(throws: KestrelError.self) { try Distance.l2sq([Int8](repeating: 1, count: 2), [Int8]()) }
        #expect(e == .dimensionMismatch(expected: [2], actual: [0]))
        e = #expect(throws: KestrelError.self) { try Distance.hamming([UInt8](repeating: 0, count: 5), [UInt8](repeating: 0, count: 4)) }
        #expect(e == .dimensionMismatch(expected: [5], actual: [4]))
    }

    /// A tier the CPU cannot run is refused with `unsupported`, naming the tier.
    @Test func unsupportedTierThrows() throws {
        guard let missing = ISALevel.allCases.first(where: { !$0.isSupported }) else { return }
        let e = #expect(throws: KestrelError.self) { try Distance.dot([Float](), [Float](), tier: missing) }
        #expect(e == .unsupported("ISA level \(missing.rawValue) on this CPU"))
    }

    /// Span and collection forms return identical results (the span forms are views, not copies).
    @Test func spanFormsMatchCollectionForms() throws {
        var rng = SeededRNG(seed: 18)
        let a = rng.floats(37), b = rng.floats(37), p = rng.int8s(37), q = rng.int8s(37)
        #expect(try Distance.dot(a.span, b.span) == (try Distance.dot(a, b)))
        #expect(try Distance.l2sq(a.span, b.span) == (try Distance.l2sq(a, b)))
        #expect(try Distance.cosine(a.span, b.span) == (try Distance.cosine(a, b)))
        #expect(try Distance.dot(p.span, q.span) == (try Distance.dot(p, q)))
        #expect(try Distance.l2sq(p.span, q.span) == (try Distance.l2sq(p, q)))
        let shorter = Array(b.dropLast())
        let e = #expect(throws: KestrelError.self) { try Distance.dot(a.span, shorter.span) }
        #expect(e == .dimensionMismatch(expected: [37], actual: [36]))
    }

    /// Non-contiguous collections (a lazy map) are copied once and give the same result.
    @Test func nonContiguousCollectionsAreCopied() throws {
        let a: [Float] = [1, 2, 3], b: [Float] = [4, 5, 6]
        #expect(try Distance.l2sq(a.lazy.map { $0 }, b, tier: .scalar) == 27)
        #expect(try Distance.dot(a, b.lazy.map { $0 }, tier: .scalar) == 32)
    }

    /// Property: for random lengths, offsets and tiers, l2sq(a, b) = |a|² + |b|² − 2a·b within
    /// the documented bound, and every tier's int8 dot equals the brute-force sum.
    @Test func propertyDistancesAgree() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...300), Gen.int(in: 0...3), Gen.int(in: 0...Int(Int32.max))) { n, offset, seed in
            var rng = SeededRNG(seed: UInt64(seed))
            let a = rng.floats(n + offset)[offset...], b = rng.floats(n)
            let i = rng.int8s(n + offset)[offset...], j = rng.int8s(n)
            let exact = zip(i, j).reduce(Int64(0)) { $0 + Int64($1.0) * Int64($1.1) }
            for tier in ISALevel.supported {
                let l2 = Double(try Distance.l2sq(a, b, tier: tier))
                let identity = Double(try Distance.dot(a, a, tier: tier)) + Double(try Distance.dot(b, b, tier: tier))
                    - 2 * Double(try Distance.dot(a, b, tier: tier))
                #expect(Swift.abs(l2 - identity) <= Double(n + 4) * 0x1p-22 * (Double(n) + 1))
                #expect(try Distance.dot(i, j, tier: tier) == exact)
            }
        }
    }
}
