import CKestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport

// f32 <-> f16 / bf16 conversion. The header promises bit-identical results at every tier, so
// every comparison here is on bit patterns: tiers against the scalar reference, and the scalar
// reference against independent Swift references (Swift's Float16 for binary16, a Double
// nearest-even rounding written here for bfloat16, the header's NaN rule for NaNs).

private let sizes = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096]

private typealias Narrow = (UnsafePointer<Float>?, UnsafeMutablePointer<UInt16>?, Int) -> Void
private typealias Widen = (UnsafePointer<UInt16>?, UnsafeMutablePointer<Float>?, Int) -> Void

/// Runs `kernel` with input and output starting `offset` elements into their storage and
/// `guardCount` sentinels on both sides of the output; returns the outputs and whether every
/// sentinel survived (a kernel must never write outside [0, n)).
private func runGuarded<In, Out: Equatable>(
    _ input: [In], offset: Int, sentinel: Out,
    _ kernel: (UnsafePointer<In>, UnsafeMutablePointer<Out>, Int) -> Void
) -> (out: [Out], intact: Bool) {
    let n = input.count, guardCount = 8
    let src = UnsafeMutablePointer<In>.allocate(capacity: n + offset + 1)
    defer { src.deallocate() }
    _ = UnsafeMutableBufferPointer(start: src + offset, count: n).initialize(from: input)
    let total = n + offset + 2 * guardCount
    let dst = UnsafeMutablePointer<Out>.allocate(capacity: total)
    defer { dst.deallocate() }
    dst.initialize(repeating: sentinel, count: total)
    kernel(src + offset, dst + guardCount + offset, n)
    let out = Array(UnsafeBufferPointer(start: dst + guardCount + offset, count: n))
    let intact = (0..<(guardCount + offset)).allSatisfy { dst[$0] == sentinel }
        && ((guardCount + offset + n)..<total).allSatisfy { dst[$0] == sentinel }
    return (out, intact)
}

private func narrow(_ f: Narrow, _ x: [Float]) -> [UInt16] {
    var out = [UInt16](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { f(s.baseAddress, $0.baseAddress, x.count) } }
    return out
}

private func widen(_ f: Widen, _ h: [UInt16]) -> [UInt32] {
    var out = [Float](repeating: 0, count: h.count)
    h.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { f(s.baseAddress, $0.baseAddress, h.count) } }
    return out.map(\.bitPattern)
}

/// Index and values of the first difference, for readable failures.
private func firstMismatch<T: Equatable>(_ a: [T], _ b: [T]) -> (Int, T, T)? {
    guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return nil }
    return (i, a[i], b[i])
}

// MARK: - Independent references

/// NaN rule of the header: sign and top payload bits kept, quiet bit set.
private func nanF32ToF16(_ b: UInt32) -> UInt16 {
    UInt16(truncatingIfNeeded: (b >> 16) & 0x8000) | 0x7e00 | UInt16(truncatingIfNeeded: (b >> 13) & 0x3ff)
}

/// f32 -> binary16 through Swift's `Float16(Float)` (round to nearest even) for numbers.
private func refF32ToF16(_ x: Float) -> UInt16 {
    x.isNaN ? nanF32ToF16(x.bitPattern) : Float16(x).bitPattern
}

/// binary16 -> f32 through Swift's `Float(Float16)` (exact) for numbers; a NaN becomes quiet.
private func refF16ToF32(_ h: UInt16) -> UInt32 {
    let v = Float16(bitPattern: h)
    guard v.isNaN else { return Float(v).bitPattern }
    return (UInt32(h & 0x8000) << 16) | 0x7fc0_0000 | (UInt32(h & 0x3ff) << 13)
}

/// f32 -> bfloat16 by comparing distances to the two neighbours in Double (exact there);
/// a tie goes to the even pattern; above the largest bfloat16 the upper neighbour is 2^128 (Inf).
private func refF32ToBF16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
    let down = UInt16(truncatingIfNeeded: bits >> 16)  // truncation: toward zero
    if x.isInfinite || bits & 0xffff == 0 { return down }
    let up = down &+ 1  // next magnitude away from zero
    let ax = Double(x.magnitude)
    let lo = Double(Float(bitPattern: UInt32(down) << 16).magnitude)
    let hi = up & 0x7fff == 0x7f80 ? 0x1p128 : Double(Float(bitPattern: UInt32(up) << 16).magnitude)
    if ax - lo < hi - ax { return down }
    if hi - ax < ax - lo { return up }
    return down & 1 == 0 ? down : up
}

// MARK: - Input sets

/// Signalling and quiet NaNs of both signs, payloads in the kept and in the dropped bits.
private let nanPatterns: [UInt32] = [
    0x7f80_0001, 0x7f80_1fff, 0x7f80_2000, 0x7fa0_0000, 0x7fbf_e000, 0x7fc0_0000, 0x7fc0_0001,
    0x7fd5_5555, 0x7fff_ffff, 0xff80_0001, 0xffa0_2000, 0xffc0_0000, 0xffff_e000, 0xffff_ffff,
]

/// Every rounding boundary of binary16: each finite f16, the exact midpoint to its successor
/// (65520 above the largest finite), and one f32 ulp either side of each midpoint, both
/// signs; plus specials, f32 subnormals, NaN payloads and random values.
private func f16Boundaries() -> [Float] {
    var v: [Float] = []
    for h in UInt16(0)..<0x7c00 {
        let a = Float(Float16(bitPattern: h))
        let b: Float = h + 1 < 0x7c00 ? Float(Float16(bitPattern: h + 1)) : 65536
        let mid = (a + b) / 2  // exact: at most 12 significant bits
        for x in [a, mid, mid.nextUp, mid.nextDown] { v.append(x); v.append(-x) }
    }
    v += [0, -0.0, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
          .leastNonzeroMagnitude, .leastNormalMagnitude, Float.leastNormalMagnitude.nextDown,
          0x1p-24, 0x1p-25, Float(0x1p-25).nextUp, Float(0x1p-25).nextDown, 0x1.8p-25, 0x1p-14,
          Float(0x1p-14).nextDown, 65504, 65519, Float(65520).nextDown, 65520, 65536, 1e10, -65520]
    v += nanPatterns.map { Float(bitPattern: $0) }
    var rng = SeededRNG(seed: 0x16)
    for _ in 0..<40_000 { v.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
    v += rng.floats(20_000, in: -70_000...70_000) + rng.floats(20_000, in: -1e-4...1e-4)
    return v
}

/// Every bfloat16 rounding boundary: each finite bf16, the midpoint to its successor (the
/// overflow threshold above the largest finite), one f32 ulp either side; specials; random.
private func bf16Boundaries() -> [Float] {
    var v: [Float] = []
    for h in UInt32(0)..<0x7f80 {
        let a = Float(bitPattern: h << 16)
        let mid = Float(bitPattern: (h << 16) | 0x8000)  // halfway to the next bf16 (or to Inf)
        for x in [a, mid, mid.nextUp, mid.nextDown] { v.append(x); v.append(-x) }
    }
    v += [0, -0.0, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude,
          Float(bitPattern: 0x7f7f_8000), Float(bitPattern: 0x7f7f_7fff), Float(bitPattern: 0x3f80_8000),
          Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x0000_8000), Float(bitPattern: 0x0001_8000)]
    v += nanPatterns.map { Float(bitPattern: $0) }
    var rng = SeededRNG(seed: 0xbf)
    for _ in 0..<40_000 { v.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
    v += rng.floats(20_000, in: -1e6...1e6)
    return v
}

/// Random input for the size/offset sweeps, sprinkled with specials.
private func mixedFloats(_ n: Int, _ rng: inout SeededRNG) -> [Float] {
    let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 65520, 0x1p-25, 0x1p-133, Float(bitPattern: 0x7f80_0001)]
    return (0..<n).map { i in
        if i % 5 == 3 { return specials[Int(rng.next() % UInt64(specials.count))] }
        return i % 2 == 0 ? rng.float(in: -70_000...70_000) : Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
    }
}

// MARK: - Tests

@Suite struct ConvertTests {
    private static var scalar: kestrel_kernel_table { ISALevel.scalar.kernels!.pointee }

    @Test func halfToFloatIsExhaustivelyBitIdentical() throws {
        let all = (0...0xffff).map { UInt16($0) }
        let s = Self.scalar
        let f16 = widen(s.f16_to_f32!, all), bf16 = widen(s.bf16_to_f32!, all)
        #expect(firstMismatch(f16, all.map(refF16ToF32)) == nil, "scalar f16 -> f32 vs Swift Float16")
        #expect(firstMismatch(bf16, all.map { UInt32($0) << 16 }) == nil, "scalar bf16 -> f32")
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            let m16 = firstMismatch(widen(t.f16_to_f32!, all), f16)
            #expect(m16 == nil, "\(level) f16 -> f32 at pattern \(m16.map { String($0.0, radix: 16) } ?? "")")
            let mbf = firstMismatch(widen(t.bf16_to_f32!, all), bf16)
            #expect(mbf == nil, "\(level) bf16 -> f32 at pattern \(mbf.map { String($0.0, radix: 16) } ?? "")")
        }
    }

    @Test func floatToF16MatchesSwiftFloat16AtEveryBoundary() throws {
        let x = f16Boundaries()
        let reference = x.map(refF32ToF16)
        let scalar = narrow(Self.scalar.f32_to_f16!, x)
        let ms = firstMismatch(scalar, reference)
        #expect(ms == nil, "scalar vs Float16 at \(ms.map { "x=\(x[$0.0]) bits=\(String(x[$0.0].bitPattern, radix: 16))" } ?? "")")
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            let m = firstMismatch(narrow(t.f32_to_f16!, x), scalar)
            #expect(m == nil, "\(level) vs scalar at \(m.map { "x bits=\(String(x[$0.0].bitPattern, radix: 16)) \($0.1) \($0.2)" } ?? "")")
        }
    }

    @Test func floatToBF16MatchesNearestEvenReferenceAtEveryBoundary() throws {
        let x = bf16Boundaries()
        let reference = x.map(refF32ToBF16)
        let scalar = narrow(Self.scalar.f32_to_bf16!, x)
        let ms = firstMismatch(scalar, reference)
        #expect(ms == nil, "scalar vs reference at \(ms.map { "bits=\(String(x[$0.0].bitPattern, radix: 16))" } ?? "")")
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            let m = firstMismatch(narrow(t.f32_to_bf16!, x), scalar)
            #expect(m == nil, "\(level) vs scalar at \(m.map { "bits=\(String(x[$0.0].bitPattern, radix: 16))" } ?? "")")
        }
    }

    @Test func knownValues() {
        let s = Self.scalar
        let x: [Float] = [1, -2, 65504, 65520, Float(65520).nextDown, 0x1p-24, 0x1p-25, 0x1.8p-25, 1e-10, .infinity]
        #expect(narrow(s.f32_to_f16!, x) == [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x7bff, 0x0001, 0x0000, 0x0001, 0x0000, 0x7c00])
        let b: [Float] = [1, Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), .greatestFiniteMagnitude,
                          Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0xffc0_0000)]
        #expect(narrow(s.f32_to_bf16!, b) == [0x3f80, 0x3f80, 0x3f82, 0x7f80, 0x7fc0, 0xffc0])
        #expect(widen(s.f16_to_f32!, [0x7c01, 0xfe00, 0x0001, 0x8400]) == [0x7fc0_2000, 0xffc0_0000, 0x3380_0000, 0xb880_0000])
    }

    @Test func everyTierEverySizeAndOffsetMatchesScalar() throws {
        var rng = SeededRNG(seed: 7)
        let s = Self.scalar
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            for n in sizes {
                let x = mixedFloats(n, &rng)
                let h = (0..<n).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
                let want16 = narrow(s.f32_to_f16!, x), wantBF = narrow(s.f32_to_bf16!, x)
                let wantW16 = widen(s.f16_to_f32!, h), wantWBF = widen(s.bf16_to_f32!, h)
                for offset in 0...3 {
                    let a = runGuarded(x, offset: offset, sentinel: UInt16(0xa5a5)) { t.f32_to_f16!($0, $1, $2) }
                    #expect(a.out == want16 && a.intact, "\(level) f32_to_f16 n=\(n) offset=\(offset)")
                    let b = runGuarded(x, offset: offset, sentinel: UInt16(0xa5a5)) { t.f32_to_bf16!($0, $1, $2) }
                    #expect(b.out == wantBF && b.intact, "\(level) f32_to_bf16 n=\(n) offset=\(offset)")
                    let c = runGuarded(h, offset: offset, sentinel: Float(1234.5)) { t.f16_to_f32!($0, $1, $2) }
                    #expect(c.out.map(\.bitPattern) == wantW16 && c.intact, "\(level) f16_to_f32 n=\(n) offset=\(offset)")
                    let d = runGuarded(h, offset: offset, sentinel: Float(1234.5)) { t.bf16_to_f32!($0, $1, $2) }
                    #expect(d.out.map(\.bitPattern) == wantWBF && d.intact, "\(level) bf16_to_f32 n=\(n) offset=\(offset)")
                }
            }
        }
    }

    @Test func zeroLengthAcceptsNullPointers() throws {
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            t.f32_to_f16!(nil, nil, 0)
            t.f32_to_bf16!(nil, nil, 0)
            t.f16_to_f32!(nil, nil, 0)
            t.bf16_to_f32!(nil, nil, 0)
        }
        kestrel_f32_to_f16(nil, nil, 0)
        kestrel_f16_to_f32(nil, nil, 0)
    }

    @Test func plainNamesUseTheActiveTier() {
        let x: [Float] = [1.5, -0.1, 70000, .nan]
        var h = [UInt16](repeating: 0, count: 4)
        kestrel_f32_to_f16(x, &h, 4)
        #expect(h == x.map(refF32ToF16))
        var back = [Float](repeating: 0, count: 4)
        kestrel_f16_to_f32(h, &back, 4)
        #expect(back.map(\.bitPattern) == h.map(refF16ToF32))
        kestrel_f32_to_bf16(x, &h, 4)
        #expect(h == x.map(refF32ToBF16))
        kestrel_bf16_to_f32(h, &back, 4)
        #expect(back.map(\.bitPattern) == h.map { UInt32($0) << 16 })
    }
}
