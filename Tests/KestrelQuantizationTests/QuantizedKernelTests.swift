import CKestrelKernels
import Foundation
import KestrelKernels
import KestrelTensor
import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

/// Quantized kernels: the active tier (run the suite under each KESTREL_ISA) against the fixtures'
/// dequantized floats in Double, every supported tier against the scalar one on random blocks,
/// the int8 GEMV/GEMM against exact integer sums, and the Swift face's validation.
@Suite struct QuantizedKernelTests {
    static let rowLength = 256

    // MARK: - helpers

    /// f32 value of an fp16 bit pattern (IEEE binary16, exact), written out independently.
    static func half(_ h: UInt16) -> Double {
        let sign: Double = h & 0x8000 != 0 ? -1 : 1
        let e = Int((h >> 10) & 0x1f), m = Double(h & 0x3ff)
        if e == 0 { return sign * m * 0x1p-24 }
        if e == 31 { return m == 0 ? sign * .infinity : .nan }
        return sign * (1 + m / 1024) * Double(sign: .plus, exponent: e - 15, significand: 1)
    }

    /// Q8_0 activations of x through the kernels' own quantizer, as (bytes, dequantized Doubles).
    static func q8_0Activations(_ x: [Float]) -> (blocks: [kestrel_block_q8_0], values: [Double]) {
        var act = [kestrel_block_q8_0](repeating: kestrel_block_q8_0(), count: x.count / 32)
        kestrel_quantize_act_q8_0(x, &act, x.count)
        var values: [Double] = []
        for b in act {
            let d = Double(Float(half(b.d)))
            withUnsafeBytes(of: b.qs) { for q in $0 { values.append(d * Double(Int8(bitPattern: q))) } }
        }
        return (act, values)
    }

    /// Q8_K activations of x, as (blocks, dequantized Doubles d * q).
    static func q8_KActivations(_ x: [Float]) -> (blocks: [kestrel_block_q8_K], values: [Double]) {
        var act = [kestrel_block_q8_K](repeating: kestrel_block_q8_K(), count: x.count / 256)
        kestrel_quantize_row_q8_K(x, &act, x.count)
        var values: [Double] = []
        for b in act {
            withUnsafeBytes(of: b.qs) { for q in $0 { values.append(Double(b.d) * Double(Int8(bitPattern: q))) } }
        }
        return (act, values)
    }

    /// |dmin * m_j| of sub-block j of Q4_K super-block `block` (one block a row), decoded from the
    /// layout in the fixture README.
    static func q4KMinTerm(_ bytes: [UInt8], block: Int, subBlock j: Int) -> Double {
        let o = block * 144
        let dmin = half(UInt16(bytes[o + 2]) | UInt16(bytes[o + 3]) << 8)
        let s = Array(bytes[(o + 4)..<(o + 16)])
        let m = j < 4 ? Int(s[j + 4] & 63) : Int(s[j + 4] >> 4) | Int(s[j] >> 6) << 4
        return abs(dmin * Double(m))
    }

    static func expectClose(_ got: Float, _ ref: Double, magnitude: Double, blocks: Int,
                            _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        let tol = (Double(blocks) + 4) * 0x1p-23 * magnitude + 1e-30
        #expect(abs(Double(got) - ref) <= tol, "\(what()): got \(got), reference \(ref), tolerance \(tol)",
                sourceLocation: sourceLocation)
    }

    // MARK: - fixtures, active tier

    @Test(arguments: [
        ("Q8_0", GGMLType.q8_0, "quant", "dequant"),
        ("Q4_0", GGMLType.q4_0, "quant", "dequant"),
        ("Q4_K", GGMLType.q4_K, "quant", "dequant"),
        ("Q6_K", GGMLType.q6_K, "quant", "dequant"),
        ("Q4_K", GGMLType.q4_K, "dqblocks", "dqblocks.dequant"),
        ("Q6_K", GGMLType.q6_K, "dqblocks", "dqblocks.dequant"),
    ])
    func gemvOfFixtureBlocksMatchesDequantizedProductsInDouble(
        name: String, type: GGMLType, quant: String, dequant: String
    ) throws {
        let blocks = try Fixtures.bytes("ggml-quants/\(name).\(quant).bin")
        let weights = try Fixtures.floats("ggml-quants/\(name).\(dequant).bin")
        let rows = weights.count / Self.rowLength
        #expect(rows >= 8 && weights.count == rows * Self.rowLength)
        let m = try QuantizedMatrix(rows: rows, columns: Self.rowLength, type: type, blocks: blocks)
        var rng = SeededRNG(seed: 0x51D0)
        for trial in 0..<3 {
            // a normal vector, one with an outlier, and one with exact ties for the rounding
            var x = (0..<Self.rowLength).map { _ in rng.gaussian() }
            if trial == 1 { x[77] = 300 }
            if trial == 2 { x = (0..<Self.rowLength).map { Float($0 % 9) - 4.5 } }
            let act: [Double] = m.activationType == .q8_K ? Self.q8_KActivations(x).values : Self.q8_0Activations(x).values
            var y: [Float] = []
            try m.gemv(x: x, into: &y)
            #expect(y.count == rows)
            for r in 0..<rows {
                var ref = 0.0, mag = 0.0
                for i in 0..<Self.rowLength {
                    let p = Double(weights[r * Self.rowLength + i]) * act[i]
                    ref += p
                    // Q4_K's two terms d*sc*q and dmin*m are rounded apart: |d sc q| <= |w| + |dmin m|
                    let minTerm = type == .q4_K ? Self.q4KMinTerm(blocks, block: r, subBlock: i / 32) : 0
                    mag += abs(p) + 2 * minTerm * abs(act[i])
                }
                Self.expectClose(y[r], ref, magnitude: mag, blocks: Self.rowLength / type.blockSize,
                                 "\(name).\(quant) row \(r) trial \(trial) tier \(ISALevel.active)")
            }
        }
    }

    // MARK: - every tier against scalar

    /// Random Q8_0/Q4_0/Q4_K/Q6_K weight blocks (random codes, random finite fp16 scales) and
    /// activations, at a 1-byte offset (unaligned), for odd block counts.
    @Test(arguments: [0, 1, 3, 7, 33])
    func everyTierMatchesScalarOnRandomBlocks(nblocks: Int) throws {
        var rng = SeededRNG(seed: 0xB10C + UInt64(nblocks))
        func scale() -> UInt16 {  // finite, |s| in [2^-12, 4)
            let e = UInt16(3 + rng.next() % 15)  // biased exponent 3...17
            return UInt16(rng.next() & 0x8000) | e << 10 | UInt16(rng.next() & 0x3ff)
        }
        let scalar = try #require(ISALevel.scalar.kernels).pointee
        // 32-element formats
        var w8 = [UInt8](repeating: 0, count: 1 + nblocks * 34), w4 = [UInt8](repeating: 0, count: 1 + nblocks * 18)
        var x8 = [UInt8](repeating: 0, count: 1 + nblocks * 34)
        for b in 0..<nblocks {
            for (buf, size) in [(0, 34), (1, 18), (2, 34)] {
                let s = scale()
                let o = 1 + b * size
                func put(_ a: inout [UInt8]) {
                    a[o] = UInt8(s & 0xff)
                    a[o + 1] = UInt8(s >> 8)
                    for j in 2..<size { a[o + j] = UInt8(truncatingIfNeeded: rng.next()) }
                }
                if buf == 0 { put(&w8) } else if buf == 1 { put(&w4) } else { put(&x8) }
            }
            for j in 2..<34 where x8[1 + b * 34 + j] == 0x80 { x8[1 + b * 34 + j] = 0x81 }  // as quantizers write
        }
        if nblocks > 2 { x8[1 + 2 * 34 + 5] = 0x80 }  // one -128: the x86 sign trick's exception
        // Q8_K activations from random floats, K-quant weights from random bytes with finite scales
        let xk = Self.q8_KActivations((0..<(nblocks * 256)).map { _ in rng.gaussian() }).blocks
        var wk4 = [UInt8](repeating: 0, count: 1 + nblocks * 144), wk6 = [UInt8](repeating: 0, count: 1 + nblocks * 210)
        for b in 0..<nblocks {
            for j in 0..<144 { wk4[1 + b * 144 + j] = UInt8(truncatingIfNeeded: rng.next()) }
            for j in 0..<210 { wk6[1 + b * 210 + j] = UInt8(truncatingIfNeeded: rng.next()) }
            for (off, s) in [(0, scale()), (2, scale())] {
                wk4[1 + b * 144 + off] = UInt8(s & 0xff)
                wk4[1 + b * 144 + off + 1] = UInt8(s >> 8)
            }
            let s6 = scale()
            wk6[1 + b * 210 + 208] = UInt8(s6 & 0xff)
            wk6[1 + b * 210 + 209] = UInt8(s6 >> 8)
        }
        // magnitude for the tolerance: sum |w x| is bounded by sum over blocks |dw dx| * 32 * 128 * 128
        func magnitude32(_ w: [UInt8], _ size: Int) -> Double {
            (0..<nblocks).reduce(0.0) { acc, b in
                let dw = Self.half(UInt16(w[1 + b * size]) | UInt16(w[2 + b * size]) << 8)
                let dx = Self.half(UInt16(x8[1 + b * 34]) | UInt16(x8[2 + b * 34]) << 8)
                return acc + abs(dw * dx) * 32 * 128 * 128
            }
        }
        // K-quants: sum |w x| <= sum over blocks |dx| * sum|codes x| * (|d| * max|sc * q| + |dmin| * max m)
        func magnitudeK(_ w: [UInt8], _ size: Int, _ scaleOffsets: [Int], _ maxScaled: Double, _ maxMin: Double) -> Double {
            (0..<nblocks).reduce(0.0) { acc, b in
                let d = Self.half(UInt16(w[1 + b * size + scaleOffsets[0]]) | UInt16(w[2 + b * size + scaleOffsets[0]]) << 8)
                let dmin = scaleOffsets.count > 1
                    ? Self.half(UInt16(w[1 + b * size + scaleOffsets[1]]) | UInt16(w[2 + b * size + scaleOffsets[1]]) << 8) : 0
                let sumAbsX = withUnsafeBytes(of: xk[b].qs) { $0.reduce(0.0) { $0 + abs(Double(Int8(bitPattern: $1))) } }
                return acc + abs(Double(xk[b].d)) * sumAbsX * (abs(d) * maxScaled + abs(dmin) * maxMin)
            }
        }
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            w8.withUnsafeBytes { wp in
                x8.withUnsafeBytes { xp in
                    let w = (wp.baseAddress! + 1).assumingMemoryBound(to: kestrel_block_q8_0.self)
                    let x = (xp.baseAddress! + 1).assumingMemoryBound(to: kestrel_block_q8_0.self)
                    let got = t.vec_dot_q8_0_q8_0!(w, x, nblocks), want = scalar.vec_dot_q8_0_q8_0!(w, x, nblocks)
                    Self.expectClose(got, Double(want), magnitude: magnitude32(w8, 34), blocks: nblocks, "q8_0 \(level)")
                    // the block GEMV over one row of these blocks (x86: the four-row path's tail)
                    var y: Float = .nan
                    #expect(t.gemv_q8_0_q8_0!(w, 1, nblocks, x, &y) == KESTREL_OK)
                    Self.expectClose(y, Double(want), magnitude: 2 * magnitude32(w8, 34), blocks: nblocks, "gemv q8_0 \(level)")
                }
            }
            w4.withUnsafeBytes { wp in
                x8.withUnsafeBytes { xp in
                    let w = (wp.baseAddress! + 1).assumingMemoryBound(to: kestrel_block_q4_0.self)
                    let x = (xp.baseAddress! + 1).assumingMemoryBound(to: kestrel_block_q8_0.self)
                    let got = t.vec_dot_q4_0_q8_0!(w, x, nblocks), want = scalar.vec_dot_q4_0_q8_0!(w, x, nblocks)
                    Self.expectClose(got, Double(want), magnitude: magnitude32(w4, 18) / 16, blocks: nblocks, "q4_0 \(level)")
                    var y: Float = .nan
                    #expect(t.gemv_q4_0_q8_0!(w, 1, nblocks, x, &y) == KESTREL_OK)
                    Self.expectClose(y, Double(want), magnitude: magnitude32(w4, 18) / 8, blocks: nblocks, "gemv q4_0 \(level)")
                }
            }
            xk.withUnsafeBufferPointer { xp in
                wk4.withUnsafeBytes { wp in
                    let w = (wp.baseAddress! + 1).assumingMemoryBound(to: kestrel_block_q4_K.self)
                    let got = t.vec_dot_q4_K_q8_K!(w, xp.baseAddress, nblocks)
                    let want = scalar.vec_dot_q4_K_q8_K!(w, xp.baseAddress, nblocks)
                    Self.expectClose(got, Double(want), magnitude: magnitudeK(wk4, 144, [0, 2], 63 * 15, 63),
                                     blocks: nblocks, "q4_K \(level)")
                }
                wk6.withUnsafeBytes { wp in
                    let w = (wp.baseAddress! + 1).assumingMemoryBound(to: kestrel_block_q6_K.self)
                    let got = t.vec_dot_q6_K_q8_K!(w, xp.baseAddress, nblocks)
                    let want = scalar.vec_dot_q6_K_q8_K!(w, xp.baseAddress, nblocks)
                    Self.expectClose(got, Double(want), magnitude: magnitudeK(wk6, 210, [208], 128 * 32, 0),
                                     blocks: nblocks, "q6_K \(level)")
                }
            }
            if nblocks == 0 {
                #expect(t.vec_dot_q8_0_q8_0!(nil, nil, 0) == 0)
                #expect(t.vec_dot_q6_K_q8_K!(nil, nil, 0) == 0)
            }
        }
    }

    // MARK: - int8 GEMV / GEMM: exact

    @Test(arguments: [(1, 1), (3, 31), (5, 33), (9, 100), (70, 1000), (4, 4096)])
    func int8GemvIsExactAtEveryTier(rows: Int, cols: Int) throws {
        var rng = SeededRNG(seed: UInt64(rows * 7919 + cols))
        let stride = cols + 3
        var w = rng.int8s(1 + rows * stride)  // offset 1: unaligned rows
        var x = rng.int8s(1 + cols)
        w[1] = -128
        x[1] = -128  // -128 against -128
        let rs = (0..<rows).map { _ in rng.float(in: 0.01...2) }
        let xs: Float = 0.37
        let exact: [Float] = (0..<rows).map { r in
            var s = 0
            for c in 0..<cols { s += Int(w[1 + r * stride + c]) * Int(x[1 + c]) }
            return (rs[r] * xs) * Float(s)
        }
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            var y = [Float](repeating: .nan, count: rows)
            let st = w.withUnsafeBufferPointer { wp in
                x.withUnsafeBufferPointer { xp in
                    t.gemv_i8!(wp.baseAddress! + 1, rows, cols, stride, rs, xp.baseAddress! + 1, xs, &y)
                }
            }
            #expect(st == KESTREL_OK)
            #expect(y.map(\.bitPattern) == exact.map(\.bitPattern), "tier \(level)")
        }
        // The Swift face (active tier), with the caller's codes and scale.
        let codes = Array(w[1...].enumerated().filter { $0.offset % stride < cols }.map(\.element))
        let m = try QuantizedMatrix(rows: rows, columns: cols, codes: codes, rowScales: rs)
        var y: [Float] = []
        try m.gemv(codes: Array(x[1...]), scale: xs, into: &y, threads: 2)
        #expect(y.map(\.bitPattern) == exact.map(\.bitPattern))
    }

    @Test func int8GemvOfFloatsQuantizesSymmetrically() throws {
        var rng = SeededRNG(seed: 99)
        let rows = 17, cols = 300
        let codes = rng.int8s(rows * cols), rs = (0..<rows).map { _ in rng.float(in: 0.1...1) }
        var x = rng.floats(cols, in: -3...3)
        x[10] = -4  // the largest |x|: code -127
        let m = try QuantizedMatrix(rows: rows, columns: cols, codes: codes, rowScales: rs)
        var y: [Float] = []
        try m.gemv(x: x, into: &y)
        let scale: Float = 4 / 127, inv: Float = 127 / 4
        let q = x.map { Int(($0 * inv).rounded(.toNearestOrAwayFromZero)) }
        #expect(q[10] == -127 && q.allSatisfy { abs($0) <= 127 })
        for r in 0..<rows {
            var s = 0
            for c in 0..<cols { s += Int(codes[r * cols + c]) * q[c] }
            #expect(y[r].bitPattern == ((rs[r] * scale) * Float(s)).bitPattern, "row \(r)")
        }
        var zero: [Float] = []
        try m.gemv(x: [Float](repeating: 0, count: cols), into: &zero)
        #expect(zero == [Float](repeating: 0, count: rows))
    }

    @Test(arguments: [(1, 1, 1), (3, 5, 7), (5, 9, 33), (2, 70, 100), (7, 3, 1000), (4, 300, 640)])
    func int8GemmIsExactAtEveryTier(m: Int, n: Int, k: Int) throws {
        var rng = SeededRNG(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        var a = rng.int8s(m * k), b = rng.int8s(n * k)
        a[0] = -128
        b[0] = -128
        let rs = (0..<m).map { _ in rng.float(in: 0.01...2) }, cs = (0..<n).map { _ in rng.float(in: 0.01...2) }
        var exact = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0
                for p in 0..<k { s += Int(a[i * k + p]) * Int(b[j * k + p]) }
                exact[i * n + j] = (rs[i] * cs[j]) * Float(s)
            }
        }
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            var c = [Float](repeating: .nan, count: m * n)
            let st = t.gemm_i8!(a, m, k, k, b, n, k, rs, cs, &c, n)
            #expect(st == KESTREL_OK)
            #expect(c.map(\.bitPattern) == exact.map(\.bitPattern), "tier \(level)")
        }
        var c: [Float] = []
        try Int8GEMM.multiply(a: a, m: m, k: k, b: b, n: n, rowScales: rs, columnScales: cs, into: &c)
        #expect(c.map(\.bitPattern) == exact.map(\.bitPattern))
    }

    // MARK: - Q8_K activation quantizer (Kestrel's own rounding)

    @Test func q8KQuantizerFollowsItsDocumentedRounding() {
        var rng = SeededRNG(seed: 8)
        var x = (0..<512).map { _ in rng.gaussian() }
        // block 1: amax = 127 so id = 1 and x * id = x: exact ties round to even
        for i in 256..<512 { x[i] = 0 }
        x[256] = 127
        x[257] = 2.5
        x[258] = 3.5
        x[259] = -2.5
        x[260] = -127
        let act = Self.q8_KActivations(x).blocks
        #expect(act.count == 2)
        let b1 = act[1]
        #expect(b1.d == 1)
        let q1 = withUnsafeBytes(of: b1.qs) { $0.map { Int8(bitPattern: $0) } }
        #expect(Array(q1[0..<6]) == [127, 2, 4, -2, -127, 0])
        let b0 = act[0]
        let amax = x[0..<256].map { abs($0) }.max()!
        #expect(b0.d == amax / 127)
        let q0 = withUnsafeBytes(of: b0.qs) { $0.map { Int8(bitPattern: $0) } }
        let id: Float = 127 / amax
        for j in 0..<256 {
            let v = x[j] * id
            #expect(Int(q0[j]) == Int(v.rounded(.toNearestOrEven)), "element \(j)")
        }
        let sums = withUnsafeBytes(of: b0.bsums) { Array($0.bindMemory(to: Int16.self)) }
        for k in 0..<16 { #expect(Int(sums[k]) == q0[16 * k..<16 * k + 16].reduce(0) { $0 + Int($1) }) }
        // all zeros and too-small values give an all-zero block
        let z = Self.q8_KActivations([Float](repeating: 0, count: 256) + [Float](repeating: 1e-38, count: 256)).blocks
        for b in z {
            #expect(b.d == 0)
            #expect(withUnsafeBytes(of: b.qs) { $0.allSatisfy { $0 == 0 } })
        }
    }

    // MARK: - Swift face: validation, empty shapes, threads

    @Test func quantizedMatrixValidatesItsArguments() throws {
        let blocks = [UInt8](repeating: 0, count: 2 * 8 * 34)
        #expect(throws: KestrelError.invalidArgument(name: "type", reason: "q4_1 weights have no quantized dot product (q8_0, q4_0, q4_k, q6_k)")) {
            try QuantizedMatrix(rows: 2, columns: 256, type: .q4_1, blocks: blocks)
        }
        #expect(throws: KestrelError.invalidArgument(name: "columns", reason: "100 is not a multiple of the q8_0 block size 32")) {
            try QuantizedMatrix(rows: 2, columns: 100, type: .q8_0, blocks: blocks)
        }
        #expect(throws: KestrelError.invalidArgument(name: "columns", reason: "32 is not a multiple of the q4_k block size 256")) {
            try QuantizedMatrix(rows: 2, columns: 32, type: .q4_K, blocks: blocks)
        }
        #expect(throws: KestrelError.invalidArgument(name: "rows", reason: "-1 is negative")) {
            try QuantizedMatrix(rows: -1, columns: 256, type: .q8_0, blocks: blocks)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [544], actual: [543])) {
            try QuantizedMatrix(rows: 2, columns: 256, type: .q8_0, blocks: Array(blocks.dropLast()))
        }
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            try QuantizedMatrix(rows: Int.max / 2, columns: 256, type: .q8_0, blocks: blocks)
        }
        let m = try QuantizedMatrix(rows: 2, columns: 256, type: .q8_0, blocks: blocks)
        var y: [Float] = []
        #expect(throws: KestrelError.dimensionMismatch(expected: [256], actual: [255])) {
            try m.gemv(x: [Float](repeating: 1, count: 255), into: &y)
        }
        var x = [Float](repeating: 1, count: 256)
        x[200] = .nan
        #expect(throws: KestrelError.nonFiniteValue(index: 200)) { try m.gemv(x: x, into: &y) }
        x[200] = -.infinity
        #expect(throws: KestrelError.nonFiniteValue(index: 200)) { try m.gemv(x: x, into: &y) }
        x[200] = 1
        #expect(throws: KestrelError.invalidArgument(name: "threads", reason: "0 is below 1")) {
            try m.gemv(x: x, into: &y, threads: 0)
        }
        #expect(throws: KestrelError.invalidArgument(name: "weights", reason: "int8 activations need int8 weights; this matrix holds blocks(q4_0)")) {
            try QuantizedMatrix(rows: 2, columns: 32, type: .q4_0, blocks: [UInt8](repeating: 0, count: 36))
                .gemv(codes: [Int8](repeating: 0, count: 32), scale: 1, into: &y)
        }
        // int8 weights
        #expect(throws: KestrelError.capacityExceeded(limit: 65536, requested: 65537)) {
            try QuantizedMatrix(rows: 1, columns: 65537, codes: [], rowScales: [1])
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2, 3], actual: [5])) {
            try QuantizedMatrix(rows: 2, columns: 3, codes: [1, 2, 3, 4, 5], rowScales: [1, 1])
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2], actual: [1])) {
            try QuantizedMatrix(rows: 2, columns: 3, codes: [1, 2, 3, 4, 5, 6], rowScales: [1])
        }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) {
            try QuantizedMatrix(rows: 2, columns: 3, codes: [1, 2, 3, 4, 5, 6], rowScales: [1, .infinity])
        }
        let i8 = try QuantizedMatrix(rows: 2, columns: 3, codes: [1, 2, 3, 4, 5, 6], rowScales: [1, 2])
        #expect(throws: KestrelError.nonFiniteValue(index: 0)) { try i8.gemv(codes: [1, 1, 1], scale: .nan, into: &y) }
        #expect(throws: KestrelError.dimensionMismatch(expected: [3], actual: [2])) { try i8.gemv(codes: [1, 1], scale: 1, into: &y) }
        try i8.gemv(codes: [1, -1, 2], scale: 0.5, into: &y)
        #expect(y == [2.5, 11])  // (1 - 2 + 6) * 0.5, 2 * (4 - 5 + 12) * 0.5
    }

    @Test func emptyShapesAndThreadCountsGiveTheSameResults() throws {
        var y: [Float] = [1, 2, 3]
        try QuantizedMatrix(rows: 0, columns: 64, type: .q8_0, blocks: []).gemv(x: [Float](repeating: 1, count: 64), into: &y)
        #expect(y.isEmpty)
        try QuantizedMatrix(rows: 3, columns: 0, type: .q6_K, blocks: []).gemv(x: [], into: &y)
        #expect(y == [0, 0, 0])
        try QuantizedMatrix(rows: 2, columns: 0, codes: [], rowScales: [1, 1]).gemv(x: [], into: &y)
        #expect(y == [0, 0])
        var c: [Float] = [9]
        try Int8GEMM.multiply(a: [], m: 0, k: 5, b: [1, 2, 3, 4, 5], n: 1, rowScales: [], columnScales: [1], into: &c)
        #expect(c.isEmpty)
        try Int8GEMM.multiply(a: [], m: 2, k: 0, b: [], n: 2, rowScales: [1, 1], columnScales: [1, 1], into: &c)
        #expect(c == [0, 0, 0, 0])

        var rng = SeededRNG(seed: 4)
        let rows = 300
        for type in QuantizedMatrix.supportedBlockTypes {
            let columns = 512
            var blocks = rng.bytes(rows * columns / type.blockSize * type.bytesPerBlock)
            // finite fp16 scales (random bytes could make Inf/NaN, which propagate as documented)
            let per = type.bytesPerBlock
            let scaleOffsets: [Int] = type == .q6_K ? [208] : type == .q4_K ? [0, 2] : [0]
            for b in 0..<(blocks.count / per) { for o in scaleOffsets { blocks[b * per + o + 1] &= 0x3b } }
            let m = try QuantizedMatrix(rows: rows, columns: columns, type: type, blocks: blocks)
            let x = (0..<columns).map { _ in rng.gaussian() }
            var one: [Float] = [], four: [Float] = []
            try m.gemv(x: x, into: &one, threads: 1)
            try m.gemv(x: x, into: &four, threads: 4)
            #expect(one.map(\.bitPattern) == four.map(\.bitPattern), "\(type)")
            let finite = one.allSatisfy { $0.isFinite }
            #expect(finite, "\(type)")
        }
    }

    @Test func int8GemmValidatesItsArguments() {
        var c: [Float] = []
        #expect(throws: KestrelError.dimensionMismatch(expected: [2, 3], actual: [5])) {
            try Int8GEMM.multiply(a: [1, 2, 3, 4, 5], m: 2, k: 3, b: [1, 2, 3], n: 1, rowScales: [1, 1], columnScales: [1], into: &c)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [1, 3], actual: [2])) {
            try Int8GEMM.multiply(a: [1, 2, 3], m: 1, k: 3, b: [1, 2], n: 1, rowScales: [1], columnScales: [1], into: &c)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [1], actual: [2])) {
            try Int8GEMM.multiply(a: [1, 2, 3], m: 1, k: 3, b: [1, 2, 3], n: 1, rowScales: [1], columnScales: [1, 2], into: &c)
        }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) {
            try Int8GEMM.multiply(a: [1, 2, 3], m: 1, k: 3, b: [1, 2, 3], n: 1, rowScales: [1], columnScales: [.nan], into: &c)
        }
        #expect(throws: KestrelError.invalidArgument(name: "n", reason: "-1 is negative")) {
            try Int8GEMM.multiply(a: [], m: 0, k: 3, b: [], n: -1, rowScales: [], columnScales: [], into: &c)
        }
        #expect(throws: KestrelError.capacityExceeded(limit: 65536, requested: 70000)) {
            try Int8GEMM.multiply(a: [], m: 0, k: 70000, b: [], n: 0, rowScales: [], columnScales: [], into: &c)
        }
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            try Int8GEMM.multiply(a: [], m: Int.max / 2, k: 4, b: [], n: 0, rowScales: [], columnScales: [], into: &c)
        }
    }
}
