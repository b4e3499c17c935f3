import CKestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport

/// int8 and packed-binary distances: every tier must equal the scalar reference exactly (the
/// results are integers, or a cosine/Jaccard finished in double from exact integers), and the
/// scalar reference must equal an independent Swift `Int` computation.
@Suite struct IntDistanceTests {
    static let sizes = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096]
    /// Around KESTREL_I8_BLOCK (16384), where SIMD tiers flush their int32 lanes.
    static let blockSizes = [16383, 16384, 16385, 16448, 16449, 32769]

    /// Value patterns: random bytes and the extremes that overflow or saturate careless kernels.
    enum Fill: CaseIterable {
        case random, allMin, allMax, minMax, extremes, smallRandom

        func make(_ n: Int, _ rng: inout SeededRNG) -> [Int8] {
            switch self {
            case .random: return rng.int8s(n)
            case .allMin: return [Int8](repeating: -128, count: n)
            case .allMax: return [Int8](repeating: 127, count: n)
            case .minMax: return (0..<n).map { $0 % 2 == 0 ? -128 : 127 }
            case .extremes: return (0..<n).map { _ in [-128, 127, -127, 0, -1, 1][Int(rng.next() % 6)] }
            case .smallRandom: return (0..<n).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 7) - 3) }
            }
        }
    }

    // MARK: Swift references (Int arithmetic, the header's finishing rules)

    static func refDot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int {
        var s = 0
        for i in 0..<n { s += Int(a[i]) * Int(b[i]) }
        return s
    }

    static func refL2(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int {
        var s = 0
        for i in 0..<n {
            let d = Int(a[i]) - Int(b[i])
            s += d * d
        }
        return s
    }

    /// Cosine distance from exact integer sums: 0 when both norms are 0, 1 when one is, 0 when
    /// ab == aa == bb, else 1 - ab / sqrt(aa bb) in double, clamped to [0, 2].
    static func refCosine(ab: Int, aa: Int, bb: Int) -> Float {
        let (ab, aa, bb) = (Double(ab), Double(aa), Double(bb))
        if aa == 0 && bb == 0 { return 0 }
        if aa == 0 || bb == 0 { return 1 }
        if ab == aa && aa == bb { return 0 }
        return Float(min(max(1 - ab / (aa * bb).squareRoot(), 0), 2))
    }

    static func refCosine(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Float {
        refCosine(ab: refDot(a, b, n), aa: refDot(a, a, n), bb: refDot(b, b, n))
    }

    static func refHamming(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var s = 0
        for i in 0..<n { s += (a[i] ^ b[i]).nonzeroBitCount }
        return s
    }

    static func refJaccard(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Float {
        var inter = 0, uni = 0
        for i in 0..<n {
            inter += (a[i] & b[i]).nonzeroBitCount
            uni += (a[i] | b[i]).nonzeroBitCount
        }
        return uni == 0 ? 0 : Float(1 - Double(inter) / Double(uni))
    }

    static var scalar: kestrel_kernel_table { ISALevel.scalar.kernels!.pointee }

    /// Every supported tier above scalar, with its table.
    static var simdTiers: [(ISALevel, kestrel_kernel_table)] {
        ISALevel.supported.filter { $0 != .scalar }.map { ($0, $0.kernels!.pointee) }
    }

    /// Runs `body` with `a` at element offset `offA` and `b` at `offB` of padded copies, so the
    /// kernels see unaligned starts.
    static func withPair<R>(_ a: [Int8], _ b: [Int8], offA: Int, offB: Int,
                            _ body: (UnsafePointer<Int8>, UnsafePointer<Int8>) -> R) -> R {
        let pa = [Int8](repeating: 0x55, count: offA) + a + [0x55]
        let pb = [Int8](repeating: 0x55, count: offB) + b + [0x55]
        return pa.withUnsafeBufferPointer { ba in
            pb.withUnsafeBufferPointer { bb in body(ba.baseAddress! + offA, bb.baseAddress! + offB) }
        }
    }

    static func bytes(_ p: UnsafePointer<Int8>) -> UnsafePointer<UInt8> { UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self) }

    // MARK: scalar reference vs Swift

    @Test func scalarMatchesSwiftReference() {
        var rng = SeededRNG(seed: 0x1A7)
        let t = Self.scalar
        for n in Self.sizes + [16385] {
            for fa in Fill.allCases {
                for fb in [Fill.random, .allMin, .allMax, .minMax] {
                    let a = fa.make(n, &rng), b = fb.make(n, &rng)
                    Self.withPair(a, b, offA: 1, offB: 2) { pa, pb in
                        #expect(t.dot_i8!(pa, pb, n) == Int64(Self.refDot(pa, pb, n)), "dot n=\(n) \(fa)/\(fb)")
                        #expect(t.l2sq_i8!(pa, pb, n) == Int64(Self.refL2(pa, pb, n)), "l2sq n=\(n) \(fa)/\(fb)")
                        // Both sides finish the same exact integers with correctly rounded double ops.
                        #expect(t.cosine_i8!(pa, pb, n) == Self.refCosine(pa, pb, n), "cosine n=\(n) \(fa)/\(fb)")
                        let ua = Self.bytes(pa), ub = Self.bytes(pb)
                        #expect(t.hamming_b1!(ua, ub, n) == UInt64(Self.refHamming(ua, ub, n)), "hamming n=\(n)")
                        #expect(t.jaccard_b1!(ua, ub, n) == Self.refJaccard(ua, ub, n), "jaccard n=\(n)")
                    }
                }
            }
        }
    }

    // MARK: every tier vs scalar

    /// Compares every kernel of one pair at every SIMD tier with the scalar tier, bit for bit.
    static func expectTiersAgree(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int,
                                 _ what: @autoclosure () -> String) {
        let s = scalar
        let dot = s.dot_i8!(a, b, n), l2 = s.l2sq_i8!(a, b, n), cos = s.cosine_i8!(a, b, n)
        let ua = bytes(a), ub = bytes(b)
        let ham = s.hamming_b1!(ua, ub, n), jac = s.jaccard_b1!(ua, ub, n)
        for (level, t) in simdTiers {
            #expect(t.dot_i8!(a, b, n) == dot, "\(level) dot \(what())")
            #expect(t.l2sq_i8!(a, b, n) == l2, "\(level) l2sq \(what())")
            #expect(t.cosine_i8!(a, b, n).bitPattern == cos.bitPattern, "\(level) cosine \(what())")
            #expect(t.hamming_b1!(ua, ub, n) == ham, "\(level) hamming \(what())")
            #expect(t.jaccard_b1!(ua, ub, n).bitPattern == jac.bitPattern, "\(level) jaccard \(what())")
        }
    }

    @Test func everyTierMatchesScalarExactly() {
        var rng = SeededRNG(seed: 0x5EED)
        for n in Self.sizes {
            for fa in Fill.allCases {
                for fb in Fill.allCases {
                    let a = fa.make(n, &rng), b = fb.make(n, &rng)
                    for off in 0...3 {
                        Self.withPair(a, b, offA: off, offB: 3 - off) { pa, pb in
                            Self.expectTiersAgree(pa, pb, n, "n=\(n) \(fa)/\(fb) off=\(off)")
                        }
                    }
                }
            }
        }
    }

    @Test func blockBoundariesMatchScalar() {
        var rng = SeededRNG(seed: 0xB10C)
        for n in Self.blockSizes {
            for (fa, fb) in [(Fill.random, Fill.random), (.allMin, .allMin), (.allMin, .allMax), (.minMax, .extremes)] {
                let a = fa.make(n, &rng), b = fb.make(n, &rng)
                Self.withPair(a, b, offA: 1, offB: 0) { pa, pb in
                    Self.expectTiersAgree(pa, pb, n, "n=\(n) \(fa)/\(fb)")
                }
            }
        }
    }

    /// 70000 (and 140000) elements of -128 and 127: sums far beyond what an int32 lane (or an
    /// int32 total) holds, so a kernel that does not flush its lanes fails.
    @Test func longVectorsDoNotWrap() {
        for n in [70000, 140000] {
            let lo = [Int8](repeating: -128, count: n), hi = [Int8](repeating: 127, count: n)
            for level in ISALevel.supported {
                let t = level.kernels!.pointee
                lo.withUnsafeBufferPointer { l in
                    hi.withUnsafeBufferPointer { h in
                        let pl = l.baseAddress!, ph = h.baseAddress!
                        #expect(t.dot_i8!(pl, pl, n) == 16384 * Int64(n), "\(level) n=\(n)")
                        #expect(t.dot_i8!(pl, ph, n) == -16256 * Int64(n), "\(level) n=\(n)")
                        #expect(t.dot_i8!(ph, ph, n) == 16129 * Int64(n), "\(level) n=\(n)")
                        #expect(t.l2sq_i8!(pl, ph, n) == 65025 * Int64(n), "\(level) n=\(n)")
                        #expect(t.l2sq_i8!(pl, pl, n) == 0, "\(level) n=\(n)")
                        #expect(t.cosine_i8!(pl, pl, n) == 0, "\(level) n=\(n)")
                        #expect(t.cosine_i8!(pl, ph, n) == 2, "\(level) n=\(n)")
                        let ul = Self.bytes(pl), uh = Self.bytes(ph)
                        #expect(t.hamming_b1!(ul, uh, n) == 8 * UInt64(n), "\(level) n=\(n)")
                        #expect(t.jaccard_b1!(ul, uh, n) == 1, "\(level) n=\(n)")
                    }
                }
            }
        }
    }

    // MARK: one-to-many

    /// Every `_many` kernel of `t` against the same tier's one-pair kernel and the scalar one-pair
    /// kernel, for every row.
    static func expectManyMatchesPairs(_ t: kestrel_kernel_table, _ level: ISALevel, q: UnsafePointer<Int8>,
                                       base: UnsafePointer<Int8>, dim: Int, count: Int, stride: Int,
                                       _ what: @autoclosure () -> String) {
        let s = scalar
        var i32 = [Int32](repeating: -1, count: count + 1)
        var f32 = [Float](repeating: -1, count: count + 1)
        var u32 = [UInt32](repeating: .max, count: count + 1)
        let uq = bytes(q), ub = bytes(base)
        func row(_ r: Int) -> UnsafePointer<Int8> { base + r * stride }

        if dim <= Int(KESTREL_I8_MANY_MAX_DIM) {
            #expect(t.dot_i8_many!(q, base, dim, count, stride, &i32) == KESTREL_OK)
            for r in 0..<count {
                let want = s.dot_i8!(q, row(r), dim)
                #expect(Int64(i32[r]) == want && i32[r] == Int32(t.dot_i8!(q, row(r), dim)), "\(level) dot_many row \(r) \(what())")
            }
            #expect(t.l2sq_i8_many!(q, base, dim, count, stride, &i32) == KESTREL_OK)
            for r in 0..<count {
                let want = s.l2sq_i8!(q, row(r), dim)
                #expect(Int64(i32[r]) == want && i32[r] == Int32(t.l2sq_i8!(q, row(r), dim)), "\(level) l2sq_many row \(r) \(what())")
            }
            #expect(i32[count] == -1, "\(level) wrote past count \(what())")
        }
        #expect(t.cosine_i8_many!(q, base, dim, count, stride, &f32) == KESTREL_OK)
        for r in 0..<count {
            let want = s.cosine_i8!(q, row(r), dim).bitPattern
            #expect(f32[r].bitPattern == want && t.cosine_i8!(q, row(r), dim).bitPattern == want,
                    "\(level) cosine_many row \(r) \(what())")
        }
        #expect(t.hamming_b1_many!(uq, ub, dim, count, stride, &u32) == KESTREL_OK)
        for r in 0..<count {
            #expect(u32[r] == UInt32(s.hamming_b1!(uq, ub + r * stride, dim)), "\(level) hamming_many row \(r) \(what())")
        }
        #expect(t.jaccard_b1_many!(uq, ub, dim, count, stride, &f32) == KESTREL_OK)
        for r in 0..<count {
            #expect(f32[r].bitPattern == s.jaccard_b1!(uq, ub + r * stride, dim).bitPattern,
                    "\(level) jaccard_many row \(r) \(what())")
        }
        #expect(f32[count] == -1 && u32[count] == .max, "\(level) wrote past count \(what())")
    }

    @Test func manyMatchesPairForEveryRow() {
        var rng = SeededRNG(seed: 0x3A27)
        let dims = [1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 384, 768, 961, 1000, 1985]
        for dim in dims {
            for (fq, fr) in [(Fill.random, Fill.random), (.allMin, .allMax), (.allMin, .allMin), (.extremes, .minMax)] {
                for count in [0, 1, 2, 3, 4, 5, 7, 9] {
                    for stride in [dim, dim + 5] {
                        let q = fq.make(dim, &rng), rows = fr.make(count * stride, &rng)
                        Self.withPair(q, rows, offA: 1, offB: 3) { pq, pb in
                            for level in ISALevel.supported {
                                Self.expectManyMatchesPairs(level.kernels!.pointee, level, q: pq, base: pb, dim: dim,
                                                            count: count, stride: stride,
                                                            "dim=\(dim) count=\(count) stride=\(stride) \(fq)/\(fr)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The largest int32-output dimension with the worst-case values, and a cosine/binary scan
    /// longer than one flush block.
    @Test func manyAtTheLimits() throws {
        var rng = SeededRNG(seed: 0x11)
        let maxDim = Int(KESTREL_I8_MANY_MAX_DIM)
        for dim in [maxDim, 40000] {
            let q = [Int8](repeating: -128, count: dim)
            var rows = [Int8]()
            for f in [Fill.allMax, .allMin, .random, .minMax, .extremes] { rows += f.make(dim, &rng) }
            Self.withPair(q, rows, offA: 0, offB: 1) { pq, pb in
                for level in ISALevel.supported {
                    Self.expectManyMatchesPairs(level.kernels!.pointee, level, q: pq, base: pb, dim: dim, count: 5,
                                                stride: dim, "dim=\(dim)")
                }
            }
        }
        // 32768 * 255^2 is the largest l2sq an int32 output must hold.
        let q = [Int8](repeating: -128, count: maxDim), r = [Int8](repeating: 127, count: maxDim)
        for level in ISALevel.supported {
            var out: [Int32] = [0]
            let t = level.kernels!.pointee
            #expect(t.l2sq_i8_many!(q, r, maxDim, 1, maxDim, &out) == KESTREL_OK)
            #expect(out[0] == Int32(65025 * maxDim), "\(level)")
            #expect(t.dot_i8_many!(q, q, maxDim, 1, maxDim, &out) == KESTREL_OK)
            #expect(out[0] == Int32(16384 * maxDim), "\(level)")
        }
    }

    /// Status codes (and outputs) of every tier equal the scalar tier's for a grid of good and bad
    /// arguments: NULL pointers, stride < dim, count 0, dim 0 and dim > KESTREL_I8_MANY_MAX_DIM.
    @Test func manyArgumentChecksMatchScalar() {
        let big = Int(KESTREL_I8_MANY_MAX_DIM) + 1
        let q = [Int8](repeating: 3, count: big), base = [Int8](repeating: -5, count: 2 * 40000 + big)
        let s = Self.scalar
        q.withUnsafeBufferPointer { qb in
            base.withUnsafeBufferPointer { bb in
                for useQ in [true, false] {
                    for useBase in [true, false] {
                        for useOut in [true, false] {
                            for dim in [0, 8, big] {
                                for count in [0, 2] {
                                    for stride in [0, 7, 8, 40000] {
                                        let pq = useQ ? qb.baseAddress : nil, pb = useBase ? bb.baseAddress : nil
                                        let uq = pq.map(Self.bytes), ub = pb.map(Self.bytes)
                                        let what = "q=\(useQ) base=\(useBase) out=\(useOut) dim=\(dim) count=\(count) stride=\(stride)"
                                        func run<O>(_ fill: O, _ call: (UnsafeMutablePointer<O>?) -> kestrel_status)
                                            -> (kestrel_status, [O]) {
                                            var out = [O](repeating: fill, count: 2)
                                            let st = useOut ? out.withUnsafeMutableBufferPointer { call($0.baseAddress) } : call(nil)
                                            return (st, out)
                                        }
                                        let want = (
                                            run(Int32(-7)) { s.dot_i8_many!(pq, pb, dim, count, stride, $0) },
                                            run(Int32(-7)) { s.l2sq_i8_many!(pq, pb, dim, count, stride, $0) },
                                            run(Float(-7)) { s.cosine_i8_many!(pq, pb, dim, count, stride, $0) },
                                            run(UInt32(7)) { s.hamming_b1_many!(uq, ub, dim, count, stride, $0) },
                                            run(Float(-7)) { s.jaccard_b1_many!(uq, ub, dim, count, stride, $0) })
                                        for (level, t) in Self.simdTiers {
                                            let got = (
                                                run(Int32(-7)) { t.dot_i8_many!(pq, pb, dim, count, stride, $0) },
                                                run(Int32(-7)) { t.l2sq_i8_many!(pq, pb, dim, count, stride, $0) },
                                                run(Float(-7)) { t.cosine_i8_many!(pq, pb, dim, count, stride, $0) },
                                                run(UInt32(7)) { t.hamming_b1_many!(uq, ub, dim, count, stride, $0) },
                                                run(Float(-7)) { t.jaccard_b1_many!(uq, ub, dim, count, stride, $0) })
                                            #expect(got.0 == want.0, "\(level) dot \(what)")
                                            #expect(got.1 == want.1, "\(level) l2sq \(what)")
                                            #expect(got.2 == want.2, "\(level) cosine \(what)")
                                            #expect(got.3 == want.3, "\(level) hamming \(what)")
                                            #expect(got.4 == want.4, "\(level) jaccard \(what)")
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

    /// The documented statuses themselves, at every tier.
    @Test func manyErrorReturns() {
        let q = [Int8](repeating: 1, count: 64), base = [Int8](repeating: 2, count: 256)
        let big = Int(KESTREL_I8_MANY_MAX_DIM) + 1
        for level in ISALevel.supported {
            let t = level.kernels!.pointee
            var out = [Int32](repeating: 0, count: 4)
            var f = [Float](repeating: 0, count: 4)
            var u = [UInt32](repeating: 0, count: 4)
            #expect(t.dot_i8_many!(q, base, 8, 2, 7, &out) == KESTREL_ERR_INVALID_ARGUMENT, "\(level) stride < dim")
            #expect(t.l2sq_i8_many!(q, base, 8, 2, 7, &out) == KESTREL_ERR_INVALID_ARGUMENT, "\(level)")
            #expect(t.cosine_i8_many!(q, base, 8, 2, 7, &f) == KESTREL_ERR_INVALID_ARGUMENT, "\(level)")
            #expect(t.dot_i8_many!(q, base, 8, 2, 8, nil) == KESTREL_ERR_NULL_POINTER, "\(level) NULL out")
            #expect(t.cosine_i8_many!(q, base, 8, 2, 8, nil) == KESTREL_ERR_NULL_POINTER, "\(level) NULL out")
            #expect(t.dot_i8_many!(nil, base, 8, 2, 8, &out) == KESTREL_ERR_NULL_POINTER, "\(level) NULL q")
            #expect(t.l2sq_i8_many!(q, nil, 8, 2, 8, &out) == KESTREL_ERR_NULL_POINTER, "\(level) NULL base")
            #expect(t.dot_i8_many!(nil, nil, 8, 0, 0, nil) == KESTREL_OK, "\(level) count 0")
            #expect(t.dot_i8_many!(q, base, big, 1, big, &out) == KESTREL_ERR_INVALID_ARGUMENT, "\(level) dim > max")
            #expect(t.l2sq_i8_many!(q, base, big, 1, big, &out) == KESTREL_ERR_INVALID_ARGUMENT, "\(level) dim > max")
            #expect(t.dot_i8_many!(q, base, big, 0, big, &out) == KESTREL_OK, "\(level) dim > max, count 0")
            out = [9, 9, 9, 9]
            #expect(t.dot_i8_many!(nil, nil, 0, 3, 0, &out) == KESTREL_OK && out == [0, 0, 0, 9], "\(level) dim 0")
            f = [9, 9, 9, 9]
            #expect(t.cosine_i8_many!(nil, nil, 0, 3, 0, &f) == KESTREL_OK && f == [0, 0, 0, 9], "\(level) dim 0")
            #expect(t.jaccard_b1_many!(nil, nil, 0, 3, 0, &f) == KESTREL_OK && f == [0, 0, 0, 9], "\(level) dim 0")
            u = [9, 9, 9, 9]
            #expect(t.hamming_b1_many!(nil, nil, 0, 3, 0, &u) == KESTREL_OK && u == [0, 0, 0, 9], "\(level) dim 0")
            #expect(t.dot_i8!(nil, nil, 0) == 0 && t.l2sq_i8!(nil, nil, 0) == 0 && t.cosine_i8!(nil, nil, 0) == 0)
            #expect(t.hamming_b1!(nil, nil, 0) == 0 && t.jaccard_b1!(nil, nil, 0) == 0)
        }
    }

    // MARK: packed binary

    @Test func binaryEdgeCases() {
        var rng = SeededRNG(seed: 0xB1)
        let odd = [1, 3, 5, 7, 9, 15, 17, 31, 33, 63, 65, 127, 129, 255, 257, 1023, 2047, 4095]
        for n in odd + [8, 16, 32, 64, 128, 1024] {
            let zero = [UInt8](repeating: 0, count: n), ones = [UInt8](repeating: 0xff, count: n)
            let r1 = rng.bytes(n), r2 = rng.bytes(n)
            for level in ISALevel.supported {
                let t = level.kernels!.pointee
                #expect(t.hamming_b1!(zero, zero, n) == 0 && t.jaccard_b1!(zero, zero, n) == 0, "\(level) n=\(n)")
                #expect(t.hamming_b1!(ones, ones, n) == 0 && t.jaccard_b1!(ones, ones, n) == 0, "\(level) n=\(n)")
                #expect(t.hamming_b1!(zero, ones, n) == 8 * UInt64(n) && t.jaccard_b1!(zero, ones, n) == 1, "\(level) n=\(n)")
                #expect(t.jaccard_b1!(r1, r1, n) == 0, "\(level) n=\(n)")
                r1.withUnsafeBufferPointer { a in
                    r2.withUnsafeBufferPointer { b in
                        let (pa, pb) = (a.baseAddress!, b.baseAddress!)
                        #expect(t.hamming_b1!(pa, pb, n) == UInt64(Self.refHamming(pa, pb, n)), "\(level) n=\(n)")
                        #expect(t.jaccard_b1!(pa, pb, n) == Self.refJaccard(pa, pb, n), "\(level) n=\(n)")
                    }
                }
                // One-to-many over all-zero, all-one and random rows, at an odd stride.
                let rows = zero + [7] + ones + [7] + r2 + [7]
                var h = [UInt32](repeating: 0, count: 3), j = [Float](repeating: -1, count: 3)
                #expect(t.hamming_b1_many!(ones, rows, n, 3, n + 1, &h) == KESTREL_OK)
                #expect(t.jaccard_b1_many!(zero, rows, n, 3, n + 1, &j) == KESTREL_OK)
                #expect(h == [UInt32(8 * n), 0, UInt32(Self.refHamming(ones, r2, n))], "\(level) n=\(n)")
                #expect(j[0] == 0 && j[1] == 1 && j[2] == Self.refJaccard(zero, r2, n), "\(level) n=\(n)")
            }
        }
    }

    /// The plain C names go through the active tier and agree with the scalar table.
    @Test func plainNamesUseAnExactTier() {
        var rng = SeededRNG(seed: 0x9)
        let a = rng.int8s(1001), b = rng.int8s(1001)
        let s = Self.scalar
        #expect(kestrel_dot_i8(a, b, 1001) == s.dot_i8!(a, b, 1001))
        #expect(kestrel_l2sq_i8(a, b, 1001) == s.l2sq_i8!(a, b, 1001))
        #expect(kestrel_cosine_i8(a, b, 1001) == s.cosine_i8!(a, b, 1001))
    }
}
