import KestrelKernels
import Testing
import _KestrelTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Swift face's conversions and vector math against Swift's own conversions and Double
/// references, at every supported tier.
@Suite struct SwiftFaceMathTests {
    static let specials: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, .greatestFiniteMagnitude,
                                    .leastNonzeroMagnitude, 65504, 65520, 1e-8, 3.3895314e38]

    /// bfloat16 conversion equals the independent Swift rounding of ``BFloat16/init(_:)`` bit for
    /// bit (NaN compared as NaN), and widening is exact.
    @Test(arguments: ISALevel.supported) func bfloat16MatchesSwiftRounding(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 31)
        let x = Self.specials + rng.floats(101, in: -1e4...1e4)
        let b = try Conversion.bfloat16(x[1...], tier: tier)  // an unaligned start
        for (v, got) in zip(x[1...], b) {
            if v.isNaN { #expect(got.floatValue.isNaN) } else { #expect(got == BFloat16(v), "\(v)") }
        }
        let back = try Conversion.float(b, tier: tier)
        #expect(zip(back, b).allSatisfy { $0.bitPattern == $1.floatValue.bitPattern || ($0.isNaN && $1.floatValue.isNaN) })
        #expect(try Conversion.bfloat16([Float](), tier: tier) == [])
    }

    #if !(os(macOS) && arch(x86_64))
    /// binary16 conversion equals Swift's `Float16(_:)` bit for bit, and widening is exact.
    @Test(arguments: ISALevel.supported) func float16MatchesSwift(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 32)
        let x = Self.specials + rng.floats(99, in: -7e4...7e4) + rng.floats(33, in: -1e-5...1e-5)
        let h = try Conversion.float16(x, tier: tier)
        for (v, got) in zip(x, h) {
            if v.isNaN { #expect(got.isNaN) } else { #expect(got.bitPattern == Float16(v).bitPattern, "\(v)") }
        }
        let back = try Conversion.float(h, tier: tier)
        #expect(zip(back, h).allSatisfy { $0 == Float($1) || ($0.isNaN && $1.isNaN) })
        var dst = [Float16](repeating: 0, count: 2)
        let e = #expect(throws: KestrelError.self) {
            try x.withUnsafeBufferPointer { (s) throws(KestrelError) in
                try dst.withUnsafeMutableBufferPointer { (d) throws(KestrelError) in try Conversion.convert(s, into: d, tier: tier) }
            }
        }
        #expect(e == .dimensionMismatch(expected: [x.count], actual: [2]))
    }
    #endif

    /// exp is within 2 ulp of the correctly rounded (Double) value on [-87.3, 88.7]; the special
    /// values follow the contract.
    @Test(arguments: ISALevel.supported) func expWithinTwoUlp(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 33)
        let x = rng.floats(517, in: -87.3...88.7)
        let y = try VectorMath.exp(x[3...], tier: tier)
        for (v, got) in zip(x[3...], y) { #expect(Approx.ulps(got, Float(Foundation_exp(Double(v)))) <= 2, "exp(\(v))") }
        let s = try VectorMath.exp([-Float.infinity, .nan, 0, 100], tier: tier)
        #expect(s[0] == 0 && s[1].isNaN && s[2] == 1 && s[3] == .infinity)
    }

    /// softmax matches the Double reference and sums to 1; the special rows follow the contract;
    /// the buffer form rejects a short output.
    @Test(arguments: ISALevel.supported) func softmaxMatchesReference(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 34)
        for n in [1, 2, 7, 16, 33, 1000] {
            let x = rng.floats(n, in: -20...20)
            let m = Double(x.max()!)
            let e = x.map { Foundation_exp(Double($0) - m) }, total = e.reduce(0, +)
            let y = try VectorMath.softmax(x, tier: tier)
            for (got, want) in zip(y, e.map { $0 / total }) { #expect(Approx.equal(Double(got), want, rel: 1e-5, abs: 1e-7)) }
            #expect(Swift.abs(y.reduce(0, +) - 1) <= Float(n) * 0x1p-23 + 1e-6)
            var inPlace = x
            try VectorMath.softmax(inPlace: &inPlace, tier: tier)
            #expect(inPlace == y)
        }
        #expect(try VectorMath.softmax([-Float.infinity, -.infinity], tier: tier) == [0, 0])
        #expect(try VectorMath.softmax([1, .nan, 2], tier: tier).allSatisfy(\.isNaN))
        #expect(try VectorMath.softmax([Float](), tier: tier) == [])
        var out = [Float](repeating: 0, count: 1)
        let e = #expect(throws: KestrelError.self) {
            try [Float](repeating: 0, count: 2).withUnsafeBufferPointer { (x) throws(KestrelError) in
                try out.withUnsafeMutableBufferPointer { (y) throws(KestrelError) in try VectorMath.softmax(x, into: y, tier: tier) }
            }
        }
        #expect(e == .dimensionMismatch(expected: [2], actual: [1]))
    }

    /// add, multiply and scale are exact (one rounding, as Swift's operators); axpy is within one
    /// rounding of the fused result; reductions match the Double reference.
    @Test(arguments: ISALevel.supported) func blasOneHelpers(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 35)
        for n in [0, 1, 5, 31, 64, 203] {
            let a = rng.floats(n + 1)[1...], b = rng.floats(n)
            #expect(try VectorMath.add(a, b, tier: tier) == zip(a, b).map { $0 + $1 })
            #expect(try VectorMath.multiply(a, b, tier: tier) == zip(a, b).map { $0 * $1 })
            #expect(try VectorMath.scale(a, by: 0.75, tier: tier) == a.map { $0 * 0.75 })
            var y = b
            try VectorMath.axpy(-1.5, a, &y, tier: tier)
            for (i, (x, y0)) in zip(a, b).enumerated() {
                let fused = y0.addingProduct(-1.5, x)
                #expect(y[i] == fused || y[i] == y0 + (-1.5 * x), "axpy \(i)")
            }
            let sum = a.reduce(0.0) { $0 + Double($1) }, sq = a.reduce(0.0) { $0 + Double($1) * Double($1) }
            let mag = a.reduce(0.0) { $0 + Swift.abs(Double($1)) }
            #expect(Swift.abs(Double(try VectorMath.sum(a, tier: tier)) - sum) <= Double(n + 4) * 0x1p-24 * mag + 1e-7)
            #expect(Swift.abs(Double(try VectorMath.sumOfSquares(a, tier: tier)) - sq) <= Double(n + 4) * 0x1p-24 * sq + 1e-7)
            #expect(try VectorMath.max(a, tier: tier) == (a.max() ?? -.infinity))
        }
        #expect(try VectorMath.max([1, .nan, 3], tier: tier).isNaN)
        var y: [Float] = [1, 2]
        let e = #expect(throws: KestrelError.self) { try VectorMath.axpy(1, [Float](repeating: 1, count: 3), &y, tier: tier) }
        #expect(e == .dimensionMismatch(expected: [3], actual: [2]))
        let small: [Float] = [1, 2, 3]
        #expect(try VectorMath.sum(small.span, tier: tier) == 6)
    }

    /// BFloat16's own rounding on hand-checked bit patterns (ties to even, NaN stays NaN).
    @Test func bfloat16Rounding() {
        #expect(BFloat16(1).bitPattern == 0x3f80)
        #expect(BFloat16(Float(bitPattern: 0x3f80_8000)).bitPattern == 0x3f80)  // tie, even stays
        #expect(BFloat16(Float(bitPattern: 0x3f81_8000)).bitPattern == 0x3f82)  // tie, odd rounds up
        #expect(BFloat16(Float(bitPattern: 0x3f80_8001)).bitPattern == 0x3f81)
        #expect(BFloat16(.greatestFiniteMagnitude).floatValue == .infinity)
        #expect(BFloat16(.nan).floatValue.isNaN)
        #expect(Float(BFloat16(bitPattern: 0xc000)) == -2)
    }
}

/// libm's double-precision exp, named so that it does not clash with `VectorMath.exp`.
private func Foundation_exp(_ x: Double) -> Double { exp(x) }
