import CKestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport

/// f32 / f16 / bf16 dot, l2sq and cosine: every tier this CPU runs against the scalar reference,
/// the scalar reference against a Double computation, special values, and the one-to-many kernels.
///
/// Tolerances. For n terms whose absolute values sum to S, an f32 accumulation (sequential, blocked
/// or with FMA) is within γ·S of the exact sum, γ = (n + 2)·2⁻²⁴ (one rounding per addition and per
/// product or difference), plus at most 2⁻¹⁴⁹ per term lost when a product underflows. Two
/// implementations are therefore within twice that of each other. This bound is rigorous but loose
/// for large n, so `exactIntegerInputs` and `subnormalHalves` add inputs whose every partial sum is
/// exact in f32: there every tier must return the exact value, bit for bit, which any lost,
/// duplicated or misplaced element breaks.
@Suite struct FloatDistanceTests {
    static let sizes = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096]

    // MARK: - Random inputs: tiers against scalar, scalar against Double

    @Test(arguments: Kind.allCases)
    func tiersAgreeWithScalarAndScalarWithDouble(kind: Kind) throws {
        let scalar = try #require(ISALevel.scalar.kernels).pointee
        var rng = SeededRNG(seed: 0xF10A7 &+ UInt64(kind.index))
        for dist in Distribution.allCases {
            for n in Self.sizes {
                let a = Vec.random(kind, n, dist, using: &rng)
                let b = Vec.random(kind, n, dist, using: &rng)
                let offset = n % 4  // element offsets 0...3 across the sizes: unaligned starts
                for op in Op.allCases {
                    let ref = Reference(op, a.values, b.values)
                    let s = Self.pair(scalar, op, a, b, offset: offset)
                    #expect(ref.accepts(s, sides: 1), "scalar \(kind) \(op) n=\(n) \(dist): \(s) vs \(ref.value)")
                    for level in ISALevel.supported where level != .scalar {
                        let t = try #require(level.kernels).pointee
                        for off in [offset, (offset + 1) % 4] {
                            let v = Self.pair(t, op, a, b, offset: off)
                            #expect(ref.accepts(v, versus: s),
                                    "\(level) \(kind) \(op) n=\(n) off=\(off) \(dist): \(v) vs scalar \(s)")
                        }
                    }
                }
            }
        }
    }

    // MARK: - Exact inputs: every tier bit for bit

    /// Small integers: products and every partial sum are integers below 2²⁴, exact in any order.
    @Test(arguments: Kind.allCases)
    func exactIntegerInputs(kind: Kind) throws {
        var rng = SeededRNG(seed: 0x1E7 &+ UInt64(kind.index))
        for n in Self.sizes {
            let a = Vec(kind, n) { kind.bits(exactly: Double(Int.random(in: -8...8, using: &rng))) }
            let b = Vec(kind, n) { kind.bits(exactly: Double(Int.random(in: -8...8, using: &rng))) }
            let exact = Reference(.dot, a.values, b.values).value
            let exactL2 = Reference(.l2sq, a.values, b.values).value
            var cosines: [Float] = []
            for level in ISALevel.supported {
                let t = try #require(level.kernels).pointee
                for off in 0..<4 {
                    #expect(Self.pair(t, .dot, a, b, offset: off) == Float(exact), "\(level) \(kind) dot n=\(n)")
                    #expect(Self.pair(t, .l2sq, a, b, offset: off) == Float(exactL2), "\(level) \(kind) l2sq n=\(n)")
                    cosines.append(Self.pair(t, .cosine, a, b, offset: off))
                }
            }
            // Exact dot and norms go through the same finishing code at every tier.
            #expect(cosines.allSatisfy { $0.bitPattern == cosines[0].bitPattern }, "\(kind) cosine n=\(n): \(cosines)")
            let ref = Reference(.cosine, a.values, b.values).value
            #expect(Approx.equal(Double(cosines[0]), ref, rel: 0, abs: 0x1p-23), "\(kind) cosine n=\(n)")
        }
    }

    /// Subnormal halves must widen exactly (a flush to zero would give 0 here).
    @Test func subnormalHalves() throws {
        var rng = SeededRNG(seed: 0x5AB)
        for n in Self.sizes where n > 0 {
            // f16 subnormals m·2⁻²⁴ with |m| < 32: products (m·m')·2⁻⁴⁸, squared differences and their
            // sums (below 4096·62² < 2²⁴ units) are exact in f32.
            let f16a = Vec(.f16, n) { Self.subnormal(Int.random(in: -31...31, using: &rng)) }
            let f16b = Vec(.f16, n) { Self.subnormal(Int.random(in: -31...31, using: &rng)) }
            // bf16 subnormals m·2⁻¹³³ times bf16 normals k·2¹⁰⁰: products (m·k)·2⁻³³, exact sums.
            let bfa = Vec(.bf16, n) { Self.subnormal(Int.random(in: -127...127, using: &rng)) }
            let bfb = Vec(.bf16, n) { Kind.bf16.bits(exactly: Double(Int.random(in: -8...8, using: &rng)) * 0x1p100) }
            #expect(f16a.values.contains { $0 != 0 && abs($0) < 0x1p-14 })
            let dot16 = Float(Reference(.dot, f16a.values, f16b.values).value)
            let l216 = Float(Reference(.l2sq, f16a.values, f16b.values).value)
            let dotbf = Float(Reference(.dot, bfa.values, bfb.values).value)
            var cos16: [Float] = []
            for level in ISALevel.supported {
                let t = try #require(level.kernels).pointee
                #expect(Self.pair(t, .dot, f16a, f16b, offset: 1) == dot16, "\(level) f16 dot n=\(n)")
                #expect(Self.pair(t, .l2sq, f16a, f16b, offset: 1) == l216, "\(level) f16 l2sq n=\(n)")
                #expect(Self.pair(t, .dot, bfa, bfb, offset: 1) == dotbf, "\(level) bf16 dot n=\(n)")
                cos16.append(Self.pair(t, .cosine, f16a, f16b, offset: 1))
            }
            #expect(cos16.allSatisfy { $0.bitPattern == cos16[0].bitPattern },
                    "f16 cosine, subnormals n=\(n): \(cos16)")
        }
    }

    // MARK: - NaN and infinity

    @Test(arguments: Kind.allCases)
    func nanPropagatesAtEveryTier(kind: Kind) throws {
        var rng = SeededRNG(seed: 0x7A7)
        for n in [1, 2, 7, 16, 17, 64, 65, 100, 1000] {
            for pos in Set([0, n / 2, n - 1]) {
                for pattern in kind.nanPatterns {
                    var a = Vec.random(kind, n, .uniform, using: &rng)
                    let b = Vec.random(kind, n, .uniform, using: &rng)
                    a.bits[pos] = pattern
                    for level in ISALevel.supported {
                        let t = try #require(level.kernels).pointee
                        for op in Op.allCases {
                            #expect(Self.pair(t, op, a, b, offset: 1).isNaN, "\(level) \(kind) \(op) n=\(n) pos=\(pos)")
                            #expect(Self.pair(t, op, b, a, offset: 2).isNaN,
                                    "\(level) \(kind) \(op) n=\(n) pos=\(pos) (b, a)")
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func infinities(kind: Kind) throws {
        for n in [1, 5, 16, 33, 100] {
            let ones = Vec(kind: kind, bits: Array(repeating: kind.bits(exactly: 1), count: n))
            var inf = ones
            inf.bits[n - 1] = kind.infinity
            var zeroAtEnd = ones
            zeroAtEnd.bits[n - 1] = 0
            for level in ISALevel.supported {
                let t = try #require(level.kernels).pointee
                #expect(Self.pair(t, .dot, inf, ones, offset: 1) == .infinity, "\(level) \(kind) n=\(n)")
                #expect(Self.pair(t, .l2sq, inf, ones, offset: 1) == .infinity, "\(level) \(kind) n=\(n)")
                #expect(Self.pair(t, .dot, inf, zeroAtEnd, offset: 1).isNaN, "\(level) \(kind) Inf·0 n=\(n)")
                #expect(Self.pair(t, .l2sq, inf, inf, offset: 1).isNaN, "\(level) \(kind) Inf-Inf n=\(n)")
            }
        }
    }

    /// Products that overflow f32 give +Inf at every tier (FMA or not).
    @Test func overflowGivesInfinity() throws {
        let big = Vec(kind: .f32, bits: Array(repeating: Float(1e20).bitPattern, count: 37))
        let negBig = Vec(kind: .f32, bits: Array(repeating: Float(-1e20).bitPattern, count: 37))
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            #expect(Self.pair(t, .dot, big, big) == .infinity, "\(level)")
            #expect(Self.pair(t, .l2sq, big, negBig) == .infinity, "\(level)")
        }
    }

    // MARK: - Cosine rules

    @Test(arguments: Kind.allCases)
    func cosineSpecialCases(kind: Kind) throws {
        var rng = SeededRNG(seed: 0xC05)
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            #expect(Self.pair(t, .cosine, Vec(kind: kind, bits: []), Vec(kind: kind, bits: [])) == 0, "\(level) n=0")
            for n in Self.sizes where n > 0 {
                for dist in Distribution.allCases {
                    let a = Vec.random(kind, n, dist, using: &rng)
                    // The zero-norm rules apply to the f32 norm: skip vectors whose squares all underflow.
                    guard a.values.contains(where: { abs($0) > 0x1p-60 }) else { continue }
                    let zero = Vec(kind: kind, bits: Array(repeating: 0, count: n))
                    let what = "\(level) \(kind) n=\(n) \(dist)"
                    #expect(Self.pair(t, .cosine, a, a, offset: 1) == 0, "identical \(what)")
                    #expect(Self.pair(t, .cosine, a, a.negated, offset: 2) == 2, "opposite \(what)")
                    #expect(Self.pair(t, .cosine, a, zero, offset: 3) == 1, "a vs zero \(what)")
                    #expect(Self.pair(t, .cosine, zero, a) == 1, "zero vs a \(what)")
                    #expect(Self.pair(t, .cosine, zero, zero) == 0, "zero vs zero \(what)")
                    // Scaling by 2 is exact (no overflow or subnormals here), so these stay exact too.
                    if dist == .uniform {
                        #expect(Self.pair(t, .cosine, a, a.doubled) == 0, "a vs 2a \(what)")
                        #expect(Self.pair(t, .cosine, a.negated, a.doubled) == 2, "-a vs 2a \(what)")
                    }
                }
            }
        }
    }

    /// Rounding can push 1 - a.b/(|a||b|) just outside [0, 2]: results are clamped.
    @Test(arguments: Kind.allCases)
    func cosineIsClampedToZeroTwo(kind: Kind) throws {
        var rng = SeededRNG(seed: 0xC1A)
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            for n in [3, 17, 100, 768] {
                for _ in 0..<20 {
                    let a = Vec.random(kind, n, .uniform, using: &rng)
                    // Nearly parallel and nearly opposite: b = ±(a + one-ulp-ish noise).
                    var b = a
                    for i in 0..<n where Bool.random(using: &rng) { b.bits[i] &+= 1 }
                    for (x, y) in [(a, b), (a, b.negated), (b, a), (b.negated, a)] {
                        let d = Self.pair(t, .cosine, x, y, offset: 1)
                        #expect(d >= 0 && d <= 2, "\(level) \(kind) n=\(n): \(d)")
                    }
                }
            }
        }
    }

    // MARK: - One to many

    @Test(arguments: Kind.allCases)
    func manyEqualsPairBitForBit(kind: Kind) throws {
        var rng = SeededRNG(seed: 0x3A7)
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            for dim in [0, 1, 3, 16, 17, 64, 65, 100, 768] {
                for count in [0, 1, 2, 3, 4, 5, 7, 9, 13, 37] {
                    for extra in [0, 3] {
                        let stride = dim + extra
                        let q = Vec.random(kind, dim, .uniform, using: &rng)
                        // Gaps between rows hold NaN: a kernel that reads them returns NaN.
                        var base = Vec(kind: kind, bits: Array(repeating: kind.quietNaN, count: count * stride))
                        for r in 0..<count {
                            let row = Vec.random(kind, dim, r % 5 == 4 ? .wide : .uniform, using: &rng)
                            base.bits.replaceSubrange(r * stride..<(r * stride + dim), with: row.bits)
                        }
                        Self.withPointers(q, base, offset: 1) { qp, bp in
                            for op in Op.allCases {
                                let (status, out) = Self.many(t, op, kind, qp, bp, dim, count, stride)
                                #expect(status == KESTREL_OK)
                                #expect(out.last == -7, "\(level) \(kind) \(op): wrote past out[count - 1]")
                                for r in 0..<count {
                                    let p = Self.pair(t, op, kind, qp, bp.map { $0 + r * stride * kind.byteWidth }, dim)
                                    #expect(out[r].bitPattern == p.bitPattern,
                                            "\(level) \(kind) \(op) dim=\(dim) count=\(count) stride=\(stride) r=\(r)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func manyArgumentErrors(kind: Kind) throws {
        let q = Vec(kind: kind, bits: Array(repeating: kind.bits(exactly: 1), count: 8))
        let base = Vec(kind: kind, bits: Array(repeating: kind.bits(exactly: 1), count: 8 * 3))
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            for op in Op.allCases {
                let what = "\(level) \(kind) \(op)"
                Self.withPointers(q, base) { qp, bp in
                    func code(_ q: UnsafeRawPointer?, _ b: UnsafeRawPointer?, _ dim: Int, _ count: Int, _ stride: Int,
                              outIsNil: Bool = false) -> kestrel_status {
                        Self.many(t, op, kind, q, b, dim, count, stride, outIsNil: outIsNil).0
                    }
                    #expect(code(qp, bp, 8, 3, 7) == KESTREL_ERR_INVALID_ARGUMENT, "\(what)")
                    #expect(code(qp, bp, 8, 3, 8, outIsNil: true) == KESTREL_ERR_NULL_POINTER, "\(what)")
                    #expect(code(nil, bp, 8, 3, 8) == KESTREL_ERR_NULL_POINTER, "\(what)")
                    #expect(code(qp, nil, 8, 3, 8) == KESTREL_ERR_NULL_POINTER, "\(what)")
                    // count 0 is valid with anything else NULL; dim 0 is valid with NULL vectors.
                    #expect(code(nil, nil, 8, 0, 0, outIsNil: true) == KESTREL_OK, "\(what)")
                    let (status, out) = Self.many(t, op, kind, nil, nil, 0, 3, 0)
                    #expect(status == KESTREL_OK, "\(what)")
                    #expect(out.prefix(3) == [0, 0, 0], "\(what): distance over zero elements")
                }
            }
            #expect(t.dot_f32!(nil, nil, 0) == 0 && t.l2sq_f16!(nil, nil, 0) == 0 && t.cosine_bf16!(nil, nil, 0) == 0)
        }
    }

    /// The plain names follow the active tier and agree with its table.
    @Test func plainNamesUseTheActiveTable() throws {
        let t = kestrel_kernels().pointee
        let a: [Float] = (0..<33).map { Float($0) * 0.25 - 3 }
        let b: [Float] = (0..<33).map { 1.5 - Float($0) * 0.125 }
        #expect(kestrel_dot_f32(a, b, 33).bitPattern == t.dot_f32!(a, b, 33).bitPattern)
        #expect(kestrel_l2sq_f32(a, b, 33).bitPattern == t.l2sq_f32!(a, b, 33).bitPattern)
        #expect(kestrel_cosine_f32(a, b, 33).bitPattern == t.cosine_f32!(a, b, 33).bitPattern)
        var out = [Float](repeating: 0, count: 1)
        #expect(kestrel_dot_f32_many(a, b, 33, 1, 33, &out) == KESTREL_OK)
        #expect(out[0].bitPattern == t.dot_f32!(a, b, 33).bitPattern)
    }
}

// MARK: - Helpers

extension FloatDistanceTests {
    /// Element format of a test vector.
    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case f32, f16, bf16
        var description: String { rawValue }
        var byteWidth: Int { self == .f32 ? 4 : 2 }
        var quietNaN: UInt32 { [0x7fc0_0000, 0x7e00, 0x7fc0][index] }
        var infinity: UInt32 { [0x7f80_0000, 0x7c00, 0x7f80][index] }
        /// Quiet, signalling and negative NaN patterns.
        var nanPatterns: [UInt32] {
            switch self {
            case .f32: return [0x7fc0_0000, 0x7f80_0001, 0xffc0_0000, 0x7fff_ffff]
            case .f16: return [0x7e00, 0x7c01, 0xfe00, 0x7fff]
            case .bf16: return [0x7fc0, 0x7f81, 0xffc0, 0x7fff]
            }
        }
        var index: Int { self == .f32 ? 0 : self == .f16 ? 1 : 2 }

        /// The value of a bit pattern, decoded independently of the C code.
        func value(_ bits: UInt32) -> Double {
            switch self {
            case .f32: return Double(Float(bitPattern: bits))
            case .bf16: return Double(Float(bitPattern: bits << 16))
            case .f16:
                let sign: Double = bits & 0x8000 != 0 ? -1 : 1
                let e = Int((bits >> 10) & 0x1f), m = Double(bits & 0x3ff)
                if e == 0 { return sign * m * 0x1p-24 }
                if e == 31 { return m == 0 ? sign * .infinity : .nan }
                return sign * (1 + m / 1024) * Double(sign: .plus, exponent: e - 15, significand: 1)
            }
        }

        /// The pattern of a normal (or zero) value that the format holds exactly.
        func bits(exactly x: Double) -> UInt32 {
            let f = Float(x)
            precondition(Double(f) == x)
            let b = f.bitPattern
            switch self {
            case .f32: return b
            case .bf16:
                precondition(b & 0xffff == 0)
                return b >> 16
            case .f16:
                if f == 0 { return (b >> 16) & 0x8000 }
                let e = Int((b >> 23) & 0xff) - 127 + 15
                precondition(e > 0 && e < 31 && b & 0x1fff == 0)
                return ((b >> 16) & 0x8000) | UInt32(e) << 10 | ((b >> 13) & 0x3ff)
            }
        }
    }

    enum Op: String, CaseIterable, Sendable, CustomStringConvertible {
        case dot, l2sq, cosine
        var description: String { rawValue }
    }

    /// Value distributions: `uniform` in about ±2, `wide` magnitudes over ~2^±50 (the format's whole
    /// exponent range for f16), `denormal` subnormals of the format mixed with normal values.
    enum Distribution: String, CaseIterable, Sendable, CustomStringConvertible {
        case uniform, wide, denormal
        var description: String { rawValue }
    }

    struct Vec {
        let kind: Kind
        var bits: [UInt32]

        init(kind: Kind, bits: [UInt32]) {
            self.kind = kind
            self.bits = bits
        }

        /// n elements whose patterns come from `element`, called in order.
        init(_ kind: Kind, _ n: Int, _ element: () -> UInt32) {
            self.init(kind: kind, bits: (0..<n).map { _ in element() })
        }
        var values: [Double] { bits.map(kind.value) }
        var negated: Vec { Vec(kind: kind, bits: bits.map { $0 ^ (kind == .f32 ? 0x8000_0000 : 0x8000) }) }
        var doubled: Vec { Vec(kind: kind, bits: values.map { kind.bits(exactly: 2 * $0) }) }

        static func random(_ kind: Kind, _ n: Int, _ dist: Distribution, using rng: inout SeededRNG) -> Vec {
            Vec(kind: kind, bits: (0..<n).map { _ in randomBits(kind, dist, &rng) })
        }

        private static func randomBits(_ kind: Kind, _ dist: Distribution, _ rng: inout SeededRNG) -> UInt32 {
            let r = rng.next()
            let sign = UInt32(r >> 63)
            let (expBits, mantBits, bias): (UInt32, UInt32, Int) =
                kind == .f32 ? (8, 23, 127) : kind == .f16 ? (5, 10, 15) : (8, 7, 127)
            let mant = UInt32(truncatingIfNeeded: r) & ((1 << mantBits) - 1)
            let e: Int
            switch dist {
            case .uniform: e = Int.random(in: -4...1, using: &rng)
            case .wide: e = kind == .f16 ? Int.random(in: -14...15, using: &rng) : Int.random(in: -50...50, using: &rng)
            case .denormal:
                // Half of the elements subnormal (biased exponent 0), the rest normal near 1.
                if r & 0x100_0000 != 0 { return sign << (expBits + mantBits) | max(mant, 1) }
                e = Int.random(in: -2...0, using: &rng)
            }
            return sign << (expBits + mantBits) | UInt32(e + bias) << mantBits | mant
        }
    }

    /// A Double evaluation of the distance and the error bound against f32 accumulations.
    struct Reference {
        let op: Op
        let n: Int
        let value: Double
        /// Sum of the absolute values of the accumulated terms (for cosine: unused, the bound is absolute).
        let scale: Double
        /// False for a cosine whose squared norm is nonzero but so small (below 2⁻¹⁰⁰) that its f32
        /// accumulation is dominated by underflow: whether it rounds to 0 (the zero-norm rule) then
        /// depends on FMA and summation order, so no tolerance applies.
        let comparable: Bool

        init(_ op: Op, _ a: [Double], _ b: [Double]) {
            self.op = op
            n = a.count
            var ab = 0.0, aa = 0.0, bb = 0.0, absAB = 0.0, l2 = 0.0
            for i in 0..<a.count {
                ab += a[i] * b[i]
                absAB += abs(a[i] * b[i])
                aa += a[i] * a[i]
                bb += b[i] * b[i]
                l2 += (a[i] - b[i]) * (a[i] - b[i])
            }
            let tiny = 0x1p-100
            comparable = op != .cosine || ((aa == 0 || aa > tiny) && (bb == 0 || bb > tiny))
            switch op {
            case .dot: (value, scale) = (ab, absAB)
            case .l2sq: (value, scale) = (l2, l2)
            case .cosine:
                scale = 1
                if aa == 0 && bb == 0 { value = 0 } else if aa == 0 || bb == 0 { value = 1 } else {
                    value = min(2, max(0, 1 - ab / (aa * bb).squareRoot()))
                }
            }
        }

        /// Allowed |x - y| when `sides` f32 computations (1: one vs exact, 2: two implementations) are compared.
        func bound(sides: Double) -> Double {
            let gamma = Double(n + 2) * 0x1p-24
            if op == .cosine {
                // |Δ(a.b)| ≤ γ·Σ|a_i b_i| ≤ γ·|a||b| (Cauchy–Schwarz), norms likewise:
                // |Δd| ≤ 2γ per side, plus the final rounding to f32.
                return sides * 2 * gamma + 0x1p-23
            }
            return sides * (gamma * scale + Double(n) * 0x1p-149)
        }

        func accepts(_ x: Float, sides: Double) -> Bool {
            !comparable || Approx.equal(Double(x), value, rel: 0, abs: bound(sides: sides))
        }

        func accepts(_ x: Float, versus y: Float) -> Bool {
            !comparable || Approx.equal(Double(x), Double(y), rel: 0, abs: bound(sides: 2))
        }
    }

    /// The 16-bit pattern with exponent field 0 and mantissa |m| (a subnormal f16 or bf16, or ±0).
    static func subnormal(_ m: Int) -> UInt32 { (m < 0 ? 0x8000 : 0) | UInt32(abs(m)) }

    /// Lays q and base out `offset` elements into buffers padded with NaN on both sides (64 elements
    /// after the end), so that reading outside [start, start + count) turns the result into NaN.
    static func withPointers(_ a: Vec, _ b: Vec, offset: Int = 0,
                             _ body: (UnsafeRawPointer?, UnsafeRawPointer?) -> Void) {
        func layout(_ v: Vec, _ off: Int) -> [UInt32] {
            Array(repeating: v.kind.quietNaN, count: off) + v.bits + Array(repeating: v.kind.quietNaN, count: 64)
        }
        let x = layout(a, offset), y = layout(b, (offset + 1) % 4)
        let yOff = (offset + 1) % 4
        if a.kind == .f32 {
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    body(UnsafeRawPointer(xp.baseAddress! + offset), UnsafeRawPointer(yp.baseAddress! + yOff))
                }
            }
        } else {
            let x16 = x.map { UInt16(truncatingIfNeeded: $0) }, y16 = y.map { UInt16(truncatingIfNeeded: $0) }
            x16.withUnsafeBufferPointer { xp in
                y16.withUnsafeBufferPointer { yp in
                    body(UnsafeRawPointer(xp.baseAddress! + offset), UnsafeRawPointer(yp.baseAddress! + yOff))
                }
            }
        }
    }

    /// One-pair kernel `op` of table t on vectors a and b (b starts one element further than a).
    static func pair(_ t: kestrel_kernel_table, _ op: Op, _ a: Vec, _ b: Vec, offset: Int = 0) -> Float {
        precondition(a.bits.count == b.bits.count && a.kind == b.kind)
        var result = Float.nan
        withPointers(a, b, offset: offset) { x, y in result = pair(t, op, a.kind, x, y, a.bits.count) }
        return result
    }

    static func pair(_ t: kestrel_kernel_table, _ op: Op, _ kind: Kind, _ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?,
                     _ n: Int) -> Float {
        switch kind {
        case .f32:
            let f = op == .dot ? t.dot_f32! : op == .l2sq ? t.l2sq_f32! : t.cosine_f32!
            return f(a?.assumingMemoryBound(to: Float.self), b?.assumingMemoryBound(to: Float.self), n)
        case .f16, .bf16:
            let f = kind == .f16
                ? (op == .dot ? t.dot_f16! : op == .l2sq ? t.l2sq_f16! : t.cosine_f16!)
                : (op == .dot ? t.dot_bf16! : op == .l2sq ? t.l2sq_bf16! : t.cosine_bf16!)
            return f(a?.assumingMemoryBound(to: UInt16.self), b?.assumingMemoryBound(to: UInt16.self), n)
        }
    }

    /// One-to-many kernel `op`; returns its status and `count + 1` outputs, the last a sentinel (-7).
    static func many(_ t: kestrel_kernel_table, _ op: Op, _ kind: Kind, _ q: UnsafeRawPointer?,
                     _ base: UnsafeRawPointer?, _ dim: Int, _ count: Int, _ stride: Int,
                     outIsNil: Bool = false) -> (kestrel_status, [Float]) {
        var out = [Float](repeating: -7, count: count + 1)
        let status = out.withUnsafeMutableBufferPointer { o -> kestrel_status in
            let op0 = outIsNil ? nil : o.baseAddress
            switch kind {
            case .f32:
                let f = op == .dot ? t.dot_f32_many! : op == .l2sq ? t.l2sq_f32_many! : t.cosine_f32_many!
                return f(q?.assumingMemoryBound(to: Float.self), base?.assumingMemoryBound(to: Float.self),
                         dim, count, stride, op0)
            case .f16, .bf16:
                let f = kind == .f16
                    ? (op == .dot ? t.dot_f16_many! : op == .l2sq ? t.l2sq_f16_many! : t.cosine_f16_many!)
                    : (op == .dot ? t.dot_bf16_many! : op == .l2sq ? t.l2sq_bf16_many! : t.cosine_bf16_many!)
                return f(q?.assumingMemoryBound(to: UInt16.self), base?.assumingMemoryBound(to: UInt16.self),
                         dim, count, stride, op0)
            }
        }
        return (status, out)
    }
}
