import Foundation
import CKestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport

// exp, softmax and the element-wise helpers: every tier against Double references (and the
// SIMD tiers against the scalar reference where the header promises identical results).

private let sizes = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096]
private let u: Double = 0x1p-24  // unit roundoff of f32

private func tables() throws -> [(ISALevel, kestrel_kernel_table)] {
    try ISALevel.supported.map { ($0, try #require($0.kernels).pointee) }
}

/// Copies `values` into fresh storage starting `offset` elements in (so the kernels see
/// pointers of every alignment) and runs `body` on it; returns the storage's final contents.
private func withOffset(
    _ values: [Float], offset: Int, _ body: (UnsafeMutablePointer<Float>) -> Void
) -> [Float] {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count + offset + 1)
    defer { p.deallocate() }
    _ = UnsafeMutableBufferPointer(start: p + offset, count: values.count).initialize(from: values)
    body(p + offset)
    return Array(UnsafeBufferPointer(start: p + offset, count: values.count))
}

/// Runs an out-of-place unary kernel at `offset`, with sentinels around the output; returns
/// the outputs and whether every sentinel survived.
private typealias Unary = (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void

private func runUnary(
    _ f: Unary, _ x: [Float], offset: Int
) -> (out: [Float], intact: Bool) {
    let n = x.count, guardCount = 8, sentinel: Float = 4242.5
    let total = n + offset + 2 * guardCount
    let dst = UnsafeMutablePointer<Float>.allocate(capacity: total)
    defer { dst.deallocate() }
    dst.initialize(repeating: sentinel, count: total)
    _ = withOffset(x, offset: offset) { f($0, dst + guardCount + offset, n) }
    let out = Array(UnsafeBufferPointer(start: dst + guardCount + offset, count: n))
    let intact = (0..<(guardCount + offset)).allSatisfy { dst[$0] == sentinel }
        && ((guardCount + offset + n)..<total).allSatisfy { dst[$0] == sentinel }
    return (out, intact)
}

private func apply(_ f: Unary, _ x: [Float]) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { s in y.withUnsafeMutableBufferPointer { f(s.baseAddress, $0.baseAddress, x.count) } }
    return y
}

private func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

/// exp rounded from Double: the correctly rounded f32 result except in vanishingly rare
/// double-rounding cases (which the 2-ulp budget absorbs).
private func refExp(_ x: Float) -> Float { Float(Foundation.exp(Double(x))) }

/// The header's exp contract for one input: <= 2 ulp on [-87.3, 88.7], +Inf above, a value
/// in [0, 2^-126) below (flush allowed), NaN for NaN.
private func expOK(_ x: Float, _ y: Float) -> Bool {
    if x.isNaN { return y.isNaN }
    if x > 88.7 { return y == .infinity || (refExp(x).isFinite && Approx.ulps(y, refExp(x)) <= 2) }
    if x < -87.3 {
        let r = refExp(x)
        return y >= 0 && (y < Float.leastNormalMagnitude || Approx.ulps(y, r) <= 2)
    }
    return Approx.ulps(y, refExp(x)) <= 2
}

/// Softmax in Double: the exact function of the f32 inputs.
private func refSoftmax(_ x: [Float]) -> [Double] {
    let m = Double(x.max() ?? 0)
    let e = x.map { Foundation.exp(Double($0) - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// Relative error bounds of f32 softmax outputs: the rounding of x_i - max (|d_i| u, carried
/// through exp), 2 ulp of exp, the worst such error among the summed terms, the positive-term
/// f32 sum ((n - 1) u), the reciprocal and the product (u each).
private func softmaxTolerances(_ x: [Float]) -> [Double] {
    let m = Double(x.max() ?? 0)
    let d = x.map { m - Double($0) }
    let maxD = d.filter(\.isFinite).max() ?? 0
    let common = maxD * u + 8 * u + Double(max(x.count - 1, 0)) * u + 2 * u
    return d.map { ($0.isFinite ? $0 : 0) * u + common }
}

@Suite struct ExpTests {
    @Test func withinTwoUlpOverTheWholeRangeAtEveryTier() throws {
        // 180k evenly spaced points over [-87.3, 88.7], 20k near zero, every f32 subnormal scale.
        var x = (0..<180_000).map { Float(-87.3 + 176.0 * Double($0) / 179_999.0) }
        var rng = SeededRNG(seed: 3)
        x += rng.floats(10_000, in: -0.5...0.5) + rng.floats(10_000, in: -1e-6...1e-6)
        x += [0, -0.0, 0x1p-24, -0x1p-24, 0x1p-133, -0x1p-133, 88.7, -87.3, 0.34657359, -0.34657359, 1, -1]
        for (level, t) in try tables() {
            let y = apply(t.exp_f32!, x)
            var worst = 0, worstX: Float = 0
            for i in x.indices {
                let d = Approx.ulps(y[i], refExp(x[i]))
                if d > worst { (worst, worstX) = (d, x[i]) }
            }
            #expect(worst <= 2, "\(level): \(worst) ulp at x = \(worstX)")
        }
    }

    @Test func specialValuesAndRangeEnds() throws {
        let x: [Float] = [.nan, -.nan, .infinity, -.infinity, 0, -0.0, 88.72283, 88.72284, 88.8, 89, 1e30,
                          .greatestFiniteMagnitude, -87.33, -87.5, -90, -100, -103.97, -104, -110, -1000,
                          -.greatestFiniteMagnitude, Float(bitPattern: 0x7f80_0001)]
        for (level, t) in try tables() {
            let y = apply(t.exp_f32!, x)
            for i in x.indices { #expect(expOK(x[i], y[i]), "\(level) exp(\(x[i])) = \(y[i])") }
            #expect(y[2] == .infinity && y[3].bitPattern == 0, "\(level) exp(+-Inf)")
            #expect(y[4] == 1 && y[5] == 1, "\(level) exp(+-0)")
            #expect(y[7] == .infinity && y[8] == .infinity && y[10] == .infinity && y[11] == .infinity, "\(level) overflow")
            #expect(y[17] == 0 && y[19] == 0 && y[20] == 0, "\(level) underflow to +0")
        }
    }

    @Test func everySizeOffsetAndInPlace() throws {
        var rng = SeededRNG(seed: 11)
        let specials: [Float] = [.nan, .infinity, -.infinity, 95, -95, -88, 88.7, 0]
        for (level, t) in try tables() {
            for n in sizes {
                // specials land in the vector body and in the masked tails
                var x = rng.floats(n, in: -90...90)
                for (j, s) in specials.enumerated() where n > 0 { x[(j * 7 + n - 1) % n] = s }
                for offset in 0...3 {
                    let r = runUnary(t.exp_f32!, x, offset: offset)
                    #expect(r.intact, "\(level) exp wrote outside n=\(n) offset=\(offset)")
                    let withinContract = zip(x, r.out).allSatisfy(expOK)
                    #expect(withinContract, "\(level) exp n=\(n) offset=\(offset)")
                    let inPlace = withOffset(x, offset: offset) { t.exp_f32!($0, $0, n) }
                    let inPlaceSame = sameBits(inPlace, r.out)
                    #expect(inPlaceSame, "\(level) exp in place n=\(n)")
                }
            }
            t.exp_f32!(nil, nil, 0)
        }
    }
}

@Suite struct SoftmaxTests {
    private func check(_ level: ISALevel, _ x: [Float], _ y: [Float], _ what: String) {
        let ref = refSoftmax(x), tol = softmaxTolerances(x)
        let ok = x.indices.allSatisfy { abs(Double(y[$0]) - ref[$0]) <= ref[$0] * tol[$0] + 0x1p-126 }
        #expect(ok, "\(level) softmax \(what) n=\(x.count) differs from Double reference")
        let sum = y.reduce(0.0) { $0 + Double($1) }
        #expect(x.isEmpty || abs(sum - 1) <= Double(x.count) * 0x1p-23, "\(level) \(what) sums to \(sum)")
    }

    @Test func matchesDoubleReferenceAtEverySizeAndOffset() throws {
        var rng = SeededRNG(seed: 5)
        for (level, t) in try tables() {
            for n in sizes {
                let x = rng.floats(n, in: -12...12)
                for offset in 0...3 {
                    let r = runUnary(t.softmax_f32!, x, offset: offset)
                    #expect(r.intact, "\(level) softmax wrote outside n=\(n) offset=\(offset)")
                    check(level, x, r.out, "random offset \(offset)")
                    let inPlace = withOffset(x, offset: offset) { t.softmax_f32!($0, $0, n) }
                    let inPlaceSame = sameBits(inPlace, r.out)
                    #expect(inPlaceSame, "\(level) softmax in place n=\(n)")
                }
                // peaked rows: most terms underflow, some land in exp's subnormal range
                let peaked = (0..<n).map { _ in rng.float(in: -150...40) }
                check(level, peaked, apply(t.softmax_f32!, peaked), "peaked")
            }
        }
    }

    @Test func largeLogitsAndShiftInvariance() throws {
        for (level, t) in try tables() {
            #expect(apply(t.softmax_f32!, [1000, 0, -1000]) == [1, 0, 0], "\(level)")
            #expect(apply(t.softmax_f32!, [1e30, -1e30, 0]) == [1, 0, 0], "\(level)")
            #expect(apply(t.softmax_f32!, [-1e30, -1e30]) == [0.5, 0.5], "\(level)")
            #expect(apply(t.softmax_f32!, [3e38, -3e38]) == [1, 0], "\(level) x - max overflows to -Inf")
            #expect(apply(t.softmax_f32!, [7]) == [1], "\(level) n = 1")
            let x: [Float] = [0.5, 1.5, -2, 3, 0, 2.25, -1, 1]
            let shifted = x.map { $0 + 1000 }  // exact in f32: same differences, same result
            #expect(apply(t.softmax_f32!, x) == apply(t.softmax_f32!, shifted), "\(level) shift")
            check(level, x, apply(t.softmax_f32!, x), "small")
        }
    }

    @Test func specialValuesFollowTheHeader() throws {
        for (level, t) in try tables() {
            for n in [1, 5, 16, 17, 100] {
                for pos in Set([0, n / 2, n - 1]) {
                    var x = (0..<n).map { Float($0 % 7) }
                    x[pos] = .nan
                    let withNaN = apply(t.softmax_f32!, x)
                    let allNaN = withNaN.allSatisfy { $0.isNaN }
                    #expect(allNaN, "\(level) NaN at \(pos) n=\(n)")
                    x[pos] = .infinity
                    let withInf = apply(t.softmax_f32!, x)
                    let allNaNForInf = withInf.allSatisfy { $0.isNaN }
                    #expect(allNaNForInf, "\(level) +Inf at \(pos) n=\(n)")
                    x[pos] = -.infinity
                    let y = apply(t.softmax_f32!, x)
                    #expect(y[pos].bitPattern == 0 && !y.contains(where: \.isNaN), "\(level) -Inf at \(pos) n=\(n)")
                }
                let masked = apply(t.softmax_f32!, [Float](repeating: -.infinity, count: n))
                let allZero = masked.allSatisfy { $0.bitPattern == 0 }
                #expect(allZero, "\(level) fully masked row n=\(n)")
            }
            t.softmax_f32!(nil, nil, 0)
        }
    }
}

@Suite struct ElementwiseTests {
    @Test func addMulScaleAreExactAtEveryTier() throws {
        var rng = SeededRNG(seed: 21)
        for (level, t) in try tables() {
            for n in sizes {
                var a = rng.floats(n, in: -1e3...1e3), b = rng.floats(n, in: -1e3...1e3)
                if n > 2 { (a[0], b[1], a[n - 1]) = (.nan, .infinity, 0x1p-133) }
                // one IEEE operation per element: identical to Swift's own, bit for bit
                let sum = zip(a, b).map { $0 + $1 }, prod = zip(a, b).map { $0 * $1 }, scaled = a.map { 0.37 * $0 }
                for offset in 0...3 {
                    var outAdd: [Float] = [], outMul: [Float] = []
                    _ = withOffset(a, offset: offset) { pa in
                        _ = withOffset(b, offset: (offset + 1) % 4) { pb in
                            outAdd = withOffset([Float](repeating: 9, count: n), offset: offset) { t.add_f32!(pa, pb, $0, n) }
                            outMul = withOffset([Float](repeating: 9, count: n), offset: offset) { t.mul_f32!(pa, pb, $0, n) }
                        }
                    }
                    let addExact = sameBits(outAdd, sum)
                    #expect(addExact, "\(level) add n=\(n) offset=\(offset)")
                    let mulExact = sameBits(outMul, prod)
                    #expect(mulExact, "\(level) mul n=\(n) offset=\(offset)")
                    let r = runUnary({ t.scale_f32!(0.37, $0, $1, $2) }, a, offset: offset)
                    let scaleExact = sameBits(r.out, scaled) && r.intact
                    #expect(scaleExact, "\(level) scale n=\(n) offset=\(offset)")
                }
                // in place: out == a, out == b, y == x
                let addA = withOffset(a, offset: 1) { pa in b.withUnsafeBufferPointer { t.add_f32!(pa, $0.baseAddress, pa, n) } }
                let mulB = withOffset(b, offset: 2) { pb in a.withUnsafeBufferPointer { t.mul_f32!($0.baseAddress, pb, pb, n) } }
                let scaleX = withOffset(a, offset: 3) { t.scale_f32!(0.37, $0, $0, n) }
                let inPlaceExact = sameBits(addA, sum) && sameBits(mulB, prod) && sameBits(scaleX, scaled)
                #expect(inPlaceExact, "\(level) in place n=\(n)")
            }
        }
    }

    @Test func axpyIsOneFusedOrTwoRoundedOperations() throws {
        var rng = SeededRNG(seed: 22)
        let alpha: Float = -1.7
        for (level, t) in try tables() {
            for n in sizes {
                let x = rng.floats(n, in: -100...100), y0 = rng.floats(n, in: -100...100)
                // FMA (SIMD tiers) or multiply-then-add (scalar) differ from the exact value
                // by at most u |alpha x| + u |result| (to first order).
                func ok(_ x: [Float], _ y: [Float], _ got: [Float]) -> Bool {
                    x.indices.allSatisfy { i in
                        let exact = Double(y[i]) + Double(alpha) * Double(x[i])
                        return abs(Double(got[i]) - exact) <= u * (abs(Double(alpha) * Double(x[i])) + abs(exact)) * 1.0001
                    }
                }
                for offset in 0...3 {
                    var out: [Float] = []
                    _ = withOffset(x, offset: (offset + 1) % 4) { px in
                        out = withOffset(y0, offset: offset) { t.axpy_f32!(alpha, px, $0, n) }
                    }
                    let withinBound = ok(x, y0, out)
                    #expect(withinBound, "\(level) axpy n=\(n) offset=\(offset)")
                }
                // x aliasing y: y_i += alpha * y_i
                let aliased = withOffset(y0, offset: 1) { t.axpy_f32!(alpha, $0, $0, n) }
                let aliasedWithinBound = ok(y0, y0, aliased)
                #expect(aliasedWithinBound, "\(level) axpy in place n=\(n)")
            }
        }
    }

    @Test func reductionsMatchDoubleReferences() throws {
        var rng = SeededRNG(seed: 23)
        for (level, t) in try tables() {
            for n in sizes {
                let x = rng.floats(n, in: -10...10)
                let absSum = x.reduce(0.0) { $0 + abs(Double($1)) }
                let exactSum = x.reduce(0.0) { $0 + Double($1) }
                let exactSq = x.reduce(0.0) { $0 + Double($1) * Double($1) }
                for offset in 0...3 {
                    var s: Float = 0, q: Float = 0, m: Float = 0
                    _ = withOffset(x, offset: offset) { p in
                        s = t.sum_f32!(p, n)
                        q = t.sumsq_f32!(p, n)
                        m = t.max_f32!(p, n)
                    }
                    // recursive summation bound: (n - 1) u sum|x_i| (a blocked order only does better)
                    #expect(abs(Double(s) - exactSum) <= Double(n) * u * absSum, "\(level) sum n=\(n) offset=\(offset)")
                    #expect(abs(Double(q) - exactSq) <= Double(n + 1) * u * exactSq, "\(level) sumsq n=\(n) offset=\(offset)")
                    #expect(m == (x.max() ?? -.infinity), "\(level) max n=\(n) offset=\(offset)")
                }
            }
            #expect(t.sum_f32!(nil, 0) == 0 && t.sumsq_f32!(nil, 0) == 0 && t.max_f32!(nil, 0) == -.infinity, "\(level) n = 0")
        }
    }

    @Test func maxPropagatesNaNAndHandlesInfinities() throws {
        for (level, t) in try tables() {
            for n in [1, 2, 7, 8, 9, 31, 32, 33, 64, 65, 100] {
                for pos in Set([0, n / 3, n - 1]) {
                    var x = (0..<n).map { -Float($0) - 1 }
                    x[pos] = .nan
                    #expect(t.max_f32!(x, n).isNaN, "\(level) NaN at \(pos) of \(n)")
                    x[pos] = .infinity
                    #expect(t.max_f32!(x, n) == .infinity, "\(level) +Inf at \(pos) of \(n)")
                    x[pos] = -0.5
                    #expect(t.max_f32!(x, n) == -0.5, "\(level) max at \(pos) of \(n)")
                }
                let allNegInf = [Float](repeating: -.infinity, count: n)
                #expect(t.max_f32!(allNegInf, n) == -.infinity, "\(level) all -Inf n=\(n)")
            }
        }
    }

    @Test func simdTiersAgreeWithScalarOnReductions() throws {
        var rng = SeededRNG(seed: 24)
        let s = try #require(ISALevel.scalar.kernels).pointee
        for (level, t) in try tables() {
            for n in sizes {
                let x = rng.floats(n, in: -1...1)
                let absSum = x.reduce(0.0) { $0 + abs(Double($1)) }
                // both orders are within (n - 1) u sum|x| of the exact sum
                #expect(abs(Double(t.sum_f32!(x, n)) - Double(s.sum_f32!(x, n))) <= 2 * Double(n) * u * absSum, "\(level) n=\(n)")
                #expect(t.max_f32!(x, n) == s.max_f32!(x, n), "\(level) max n=\(n)")
            }
        }
    }
}
