import KestrelKernels
import Testing
import _KestrelTestSupport

/// The Swift face's one-to-many scans: equal to the one-pair distances of the same tier, never
/// read the padding between rows, and refuse bad geometry with the exact error.
@Suite struct SwiftFaceScanTests {
    /// Rows of `dim` values `stride` apart, the padding filled with NaN so that a read of it
    /// would turn the result into NaN.
    static func rows(_ rng: inout SeededRNG, count: Int, dim: Int, stride: Int) -> [Float] {
        var base = [Float](repeating: .nan, count: count * stride)
        for r in 0..<count { for i in 0..<dim { base[r * stride + i] = rng.float() } }
        return base
    }

    @Test(arguments: ISALevel.supported) func floatScansEqualPairs(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 21)
        for (dim, pad, count) in [(0, 0, 0), (1, 0, 1), (3, 2, 5), (17, 1, 9), (64, 0, 7), (100, 3, 4)] {
            let stride = dim + pad
            let q = rng.floats(dim), base = Self.rows(&rng, count: count, dim: dim, stride: stride)
            let row = { (r: Int) in base[r * stride ..< r * stride + dim] }
            let dots = try Distance.dot(query: q, rows: base, stride: stride, tier: tier)
            let l2s = try Distance.l2sq(query: q, rows: base, stride: stride, tier: tier)
            var cos = [Float](repeating: -1, count: count)
            try cos.withUnsafeMutableBufferPointer { (out) throws(KestrelError) in
                try Distance.cosine(query: q, rows: base, stride: stride, into: out, tier: tier)
            }
            #expect(dots.count == (stride == 0 ? 0 : count))
            for r in 0..<dots.count {
                #expect(dots[r].bitPattern == (try Distance.dot(q, row(r), tier: tier)).bitPattern, "\(tier) dim \(dim) row \(r)")
                #expect(l2s[r].bitPattern == (try Distance.l2sq(q, row(r), tier: tier)).bitPattern)
                #expect(cos[r].bitPattern == (try Distance.cosine(q, row(r), tier: tier)).bitPattern)
            }
        }
    }

    @Test(arguments: ISALevel.supported) func halfPrecisionScansEqualPairs(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 22)
        let dim = 19, count = 6
        let q = rng.floats(dim).map(BFloat16.init), base = rng.floats(dim * count).map(BFloat16.init)
        let l2s = try Distance.l2sq(query: q, rows: base, tier: tier)
        for r in 0..<count {
            #expect(l2s[r].bitPattern == (try Distance.l2sq(q, base[r * dim ..< (r + 1) * dim], tier: tier)).bitPattern)
        }
        #if !(os(macOS) && arch(x86_64))
        let hq = rng.floats(dim).map(Float16.init), hb = rng.floats(dim * count).map(Float16.init)
        let dots = try Distance.dot(query: hq, rows: hb, tier: tier)
        for r in 0..<count {
            #expect(dots[r].bitPattern == (try Distance.dot(hq, hb[r * dim ..< (r + 1) * dim], tier: tier)).bitPattern)
        }
        #endif
    }

    @Test(arguments: ISALevel.supported) func integerScansAreExact(tier: ISALevel) throws {
        var rng = SeededRNG(seed: 23)
        let dim = 45, stride = 48, count = 7
        let q = rng.int8s(dim), base = rng.int8s(stride * count)
        let bq = rng.bytes(dim), bbase = rng.bytes(stride * count)
        let dots = try Distance.dot(query: q, rows: base, stride: stride, tier: tier)
        let l2s = try Distance.l2sq(query: q, rows: base, stride: stride, tier: tier)
        let hams = try Distance.hamming(query: bq, rows: bbase, stride: stride, tier: tier)
        for r in 0..<count {
            let row = base[r * stride ..< r * stride + dim], brow = bbase[r * stride ..< r * stride + dim]
            #expect(Int64(dots[r]) == zip(q, row).reduce(Int64(0)) { $0 + Int64($1.0) * Int64($1.1) })
            #expect(Int64(l2s[r]) == (try Distance.l2sq(q, row, tier: .scalar)))
            #expect(Int(hams[r]) == zip(bq, brow).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount })
        }
    }

    @Test func spanScanEqualsBufferScan() throws {
        var rng = SeededRNG(seed: 24)
        let q = rng.floats(9), base = rng.floats(9 * 4)
        var out = [Float](repeating: 0, count: 4)
        var span = out.mutableSpan
        try Distance.l2sq(query: q.span, rows: base.span, into: &span)
        _ = consume span
        #expect(out == (try Distance.l2sq(query: q, rows: base)))
    }

    @Test func badGeometryThrowsExactErrors() throws {
        let q = [Float](repeating: 1, count: 3), base = [Float](repeating: 1, count: 10)
        var e = #expect(throws: KestrelError.self) { try Distance.dot(query: q, rows: base, stride: 2) }
        #expect(e == .invalidArgument(name: "stride", reason: "stride 2 is less than the dimension 3"))
        // 10 elements are not a whole number of 3-element rows.
        e = #expect(throws: KestrelError.self) { try Distance.l2sq(query: q, rows: base) }
        #expect(e == .dimensionMismatch(expected: [-1, 3], actual: [10]))
        e = #expect(throws: KestrelError.self) { try Distance.l2sq(query: [Float](), rows: base) }
        #expect(e == .invalidArgument(name: "stride", reason: "a zero stride cannot split 10 elements into rows"))
        // Four rows of stride 3 need 3·3 + 3 = 12 elements.
        var out = [Float](repeating: 0, count: 4)
        e = #expect(throws: KestrelError.self) {
            try out.withUnsafeMutableBufferPointer { (o) throws(KestrelError) in try Distance.cosine(query: q, rows: base, into: o) }
        }
        #expect(e == .dimensionMismatch(expected: [12], actual: [10]))
        var many = [Float](repeating: 0, count: 3)
        e = #expect(throws: KestrelError.self) {
            try many.withUnsafeMutableBufferPointer { (o) throws(KestrelError) in
                try Distance.dot(query: q, rows: base, stride: Int.max / 2, into: o)
            }
        }
        #expect(e == .capacityExceeded(limit: 10, requested: Int.max))
        let wide = [Int8](repeating: 1, count: 32_769)
        e = #expect(throws: KestrelError.self) { try Distance.dot(query: wide, rows: wide) }
        guard case .invalidArgument(name: "dimension", _) = e else {
            Issue.record("expected invalidArgument(dimension), got \(String(describing: e))")
            return
        }
        // At the cap the int32 results are still exact.
        let cap = [Int8](repeating: -128, count: 32_768)
        #expect(try Distance.dot(query: cap, rows: cap) == [Int32(32_768 * 16_384)])
    }

    @Test func emptyScansTouchNothing() throws {
        #expect(try Distance.dot(query: [Float](repeating: 1, count: 4), rows: [Float]()) == [])
        #expect(try Distance.hamming(query: [UInt8](), rows: [UInt8]()) == [])
        let out = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        try Distance.l2sq(query: [Float](repeating: 1, count: 4), rows: [Float](), into: out)
    }
}
