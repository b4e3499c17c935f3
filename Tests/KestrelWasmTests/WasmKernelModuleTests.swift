import CKestrelKernels
import KestrelKernels
import KestrelWasm
import Testing
import _KestrelTestSupport

/// Every export of both modules, run in WasmKit, against the native scalar kernels of this
/// process (`kestrel_kernels_for(KESTREL_ISA_SCALAR)`). The scalar module must return the
/// native bits (exp and softmax: its polynomial, within 2 ulp / the softmax bound of libm's);
/// the simd128 module the native bits for integer kernels, conversions, element-wise helpers,
/// max and the Q8_0 / Q4_0 dots, and the `kestrel_kernels.h` bounds for float sums.
@Suite(.enabled(if: WasmModuleBuild.available, "needs the toolchain's clang with the wasm32 target"))
struct WasmKernelModuleTests {
    static let sizes = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000]
    static let scalarModule = Result { try WasmKernelModule(bytes: WasmModuleBuild.bytes("kestrel-kernels-scalar.wasm")) }
    static let simdModule = Result { try WasmKernelModule(bytes: WasmModuleBuild.bytes("kestrel-kernels.wasm")) }
    var native: kestrel_kernel_table { kestrel_kernels_for(KESTREL_ISA_SCALAR)!.pointee }

    static func modules() throws -> [WasmKernelModule] { [try scalarModule.get(), try simdModule.get()] }

    // MARK: tolerances (CKernels/test/neon_check.c)

    static func sumTol(_ n: Int, _ s: Double) -> Double { (2 * Double(n) + 4) * 0x1p-24 * s + Double(n) * 0x1p-148 }
    static func cosTol(_ n: Int, _ aa: Double, _ bb: Double) -> Double {
        aa == 0 || bb == 0 ? 0 : 4 * (Double(n) + 2) * 0x1p-24 + 0x1p-22 + Double(n) * 0x1p-148 / (aa * bb).squareRoot()
    }
    static func close(_ got: Float, _ want: Float, _ tol: Double) -> Bool {
        if want.isNaN { return got.isNaN }
        if want.isInfinite { return got == want }
        return got.isFinite && abs(Double(got) - Double(want)) <= tol
    }

    /// Exact for the scalar module; within `tol` for the simd one.
    static func agree(_ m: WasmKernelModule, _ got: Float, _ want: Float, _ tol: Double) -> Bool {
        m.tier == .scalar ? got.bitPattern == want.bitPattern : close(got, want, tol)
    }

    // MARK: loading

    @Test func modulesLoadWithTheirTier() throws {
        let ms = try Self.modules()
        #expect(ms[0].tier == .scalar)
        #expect(ms[1].tier == .simd128)
        #expect(WasmKernelModule.requiredExports.count == 58)
    }

    @Test func refusesModulesThatAreNotOurs() throws {
        let header: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
        // An empty module: no memory.
        #expect(throws: KestrelError.self) { try WasmKernelModule(bytes: header) }
        do {
            _ = try WasmKernelModule(bytes: header)
        } catch {
            guard case .wrongFileKind = error else { Issue.record("empty module: \(error)"); return }
        }
        // Memory but no kernels.
        let memoryOnly = header + [0x05, 0x03, 0x01, 0x00, 0x01] + [0x07, 0x0a, 0x01, 0x06] + Array("memory".utf8) + [0x02, 0x00]
        expectWrongKind(memoryOnly, "missing exports")
        // A module that imports a function.
        let importing = header + [0x01, 0x04, 0x01, 0x60, 0x00, 0x00] + [0x02, 0x09, 0x01, 0x03] + Array("env".utf8) + [0x01]
            + Array("f".utf8) + [0x00, 0x00]
        expectWrongKind(importing, "an import")
        // Not WebAssembly, and a truncated module of ours.
        expectCorrupt(Array("not a module".utf8))
        let ours = try WasmModuleBuild.bytes("kestrel-kernels.wasm")
        expectCorrupt(Array(ours[0..<(ours.count / 2)]))
        // An export of ours with another signature: the first byte of the first function type
        // changed from a parameter count ... is hard to patch safely, so rename one export instead.
        var renamed = ours
        let name = Array("kestrel_dot_f32".utf8)
        if let at = firstIndex(of: name, in: renamed) {
            renamed[at + name.count - 1] = UInt8(ascii: "x")
            expectWrongKind(renamed, "a renamed export")
        } else {
            Issue.record("export name not found in the module bytes")
        }
    }

    private func expectWrongKind(_ bytes: [UInt8], _ what: String) {
        do {
            _ = try WasmKernelModule(bytes: bytes)
            Issue.record("\(what): accepted")
        } catch {
            guard case .wrongFileKind = error else { Issue.record("\(what): \(error)"); return }
        }
    }

    private func expectCorrupt(_ bytes: [UInt8]) {
        do {
            _ = try WasmKernelModule(bytes: bytes)
            Issue.record("garbage accepted")
        } catch {
            guard case .corruptFile = error else { Issue.record("garbage: \(error)"); return }
        }
    }

    private func firstIndex(of needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }

    @Test func lengthsAreCheckedBeforeCallingIn() throws {
        for m in try Self.modules() {
            #expect(throws: KestrelError.dimensionMismatch(expected: [3], actual: [2])) { try m.dot([Float](repeating: 1, count: 3), [1, 2]) }
            #expect(throws: KestrelError.self) { try m.dot(query: [Float](repeating: 1, count: 4), rows: [Float](repeating: 1, count: 6)) }
            #expect(throws: KestrelError.self) { try m.l2sq(query: [Int8](repeating: 1, count: 4), rows: [Int8](repeating: 1, count: 8), stride: 3) }
            #expect(throws: KestrelError.self) { try m.dot(query: [Int8](repeating: 1, count: 40000), rows: [Int8](repeating: 1, count: 40000)) }
            #expect(throws: KestrelError.self) { try m.blockDot(.q8_0, weights: [UInt8](repeating: 0, count: 34), activations: [UInt8](repeating: 0, count: 33)) }
            #expect(throws: KestrelError.self) { try m.blockGEMV(.q4_0, weights: [UInt8](repeating: 0, count: 18), rows: 2, activations: [UInt8](repeating: 0, count: 34)) }
            #expect(throws: KestrelError.self) { try m.gemv(weights: [Int8](repeating: 0, count: 10), rows: 2, stride: 3, rowScales: [1, 1], x: [1, 2, 3, 4], xScale: 1) }
            #expect(throws: KestrelError.self) { try m.gemm(a: [1, 2], b: [1, 2, 3], k: 2, rowScales: [1], colScales: [1, 1]) }
            #expect(throws: KestrelError.self) { try m.quantizeQ8_0([Float](repeating: 1, count: 31)) }
            #expect(throws: KestrelError.nonFiniteValue(index: 3)) { try m.quantizeQ8_K([0, 0, 0, .nan] + [Float](repeating: 1, count: 252)) }
            #expect(throws: KestrelError.self) { try m.axpy(2, [1, 2], [1]) }
            // still usable after refusals
            #expect(try m.dot([Float](repeating: 1, count: 5), [Float](repeating: 2, count: 5)) == 10)
        }
    }

    // MARK: distances

    private func floatDistances<E: FloatDistanceElement>(_ m: WasmKernelModule, _ a: [E], _ b: [E], widen: (E) -> Double,
                                                         _ nat: (String, [E], [E]) -> Float) throws {
        let n = a.count
        let x = a.map(widen), y = b.map(widen)
        let dotS = zip(x, y).reduce(0) { $0 + abs($1.0 * $1.1) }, l2S = zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let aa = x.reduce(0) { $0 + $1 * $1 }, bb = y.reduce(0) { $0 + $1 * $1 }
        let d = try m.dot(a, b), l = try m.l2sq(a, b), c = try m.cosine(a, b)
        #expect(Self.agree(m, d, nat("dot", a, b), Self.sumTol(n, dotS)), "dot \(E.self) n=\(n) \(m.tier)")
        #expect(Self.agree(m, l, nat("l2sq", a, b), Self.sumTol(n, l2S)), "l2sq \(E.self) n=\(n) \(m.tier)")
        #expect(Self.agree(m, c, nat("cosine", a, b), Self.cosTol(n, aa, bb)), "cosine \(E.self) n=\(n) \(m.tier)")
    }

    @Test func floatDistancesMatchNativeScalar() throws {
        var rng = SeededRNG(seed: 21)
        let t = native
        for m in try Self.modules() {
            for n in Self.sizes {
                let a = rng.floats(n), b = rng.floats(n)
                try floatDistances(m, a, b, widen: { Double($0) }) { op, a, b in
                    let f = op == "dot" ? t.dot_f32 : op == "l2sq" ? t.l2sq_f32 : t.cosine_f32
                    return f!(a, b, a.count)
                }
                let ab = a.map { BFloat16($0) }, bb = b.map { BFloat16($0) }
                try floatDistances(m, ab, bb, widen: { Double($0.floatValue) }) { op, a, b in
                    let f = op == "dot" ? t.dot_bf16 : op == "l2sq" ? t.l2sq_bf16 : t.cosine_bf16
                    return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in
                        f!(pa.baseAddress?.assumingMemoryBound(to: UInt16.self), pb.baseAddress?.assumingMemoryBound(to: UInt16.self), a.count)
                    } }
                }
                #if !(os(macOS) && arch(x86_64))
                let ah = a.map { Float16($0) }, bh = b.map { Float16($0) }
                try floatDistances(m, ah, bh, widen: { Double($0) }) { op, a, b in
                    let f = op == "dot" ? t.dot_f16 : op == "l2sq" ? t.l2sq_f16 : t.cosine_f16
                    return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in
                        f!(pa.baseAddress?.assumingMemoryBound(to: UInt16.self), pb.baseAddress?.assumingMemoryBound(to: UInt16.self), a.count)
                    } }
                }
                #endif
            }
            var bad = rng.floats(33)
            bad[7] = .nan
            #expect(try m.dot(bad, rng.floats(33)).isNaN)
        }
    }

    @Test func floatScansEqualTheirPairKernels() throws {
        var rng = SeededRNG(seed: 22)
        for m in try Self.modules() {
            for dim in [1, 3, 16, 17, 65, 768] {
                for count in [0, 1, 2, 3, 5] {
                    let stride = dim + dim % 3
                    let q = rng.floats(dim), rows = rng.floats(stride * count)
                    let d = try m.dot(query: q, rows: rows, stride: stride)
                    let l = try m.l2sq(query: q, rows: rows, stride: stride)
                    let c = try m.cosine(query: q, rows: rows, stride: stride)
                    let qb = q.map { BFloat16($0) }, rb = rows.map { BFloat16($0) }
                    let db = try m.dot(query: qb, rows: rb, stride: stride), lb = try m.l2sq(query: qb, rows: rb, stride: stride)
                    let cb = try m.cosine(query: qb, rows: rb, stride: stride)
                    #expect(d.count == count && c.count == count)
                    for r in 0..<count {
                        let row = Array(rows[(r * stride)..<(r * stride + dim)]), rowb = Array(rb[(r * stride)..<(r * stride + dim)])
                        #expect(d[r].bitPattern == (try m.dot(q, row)).bitPattern)
                        #expect(l[r].bitPattern == (try m.l2sq(q, row)).bitPattern)
                        #expect(c[r].bitPattern == (try m.cosine(q, row)).bitPattern)
                        #expect(db[r].bitPattern == (try m.dot(qb, rowb)).bitPattern)
                        #expect(lb[r].bitPattern == (try m.l2sq(qb, rowb)).bitPattern)
                        #expect(cb[r].bitPattern == (try m.cosine(qb, rowb)).bitPattern)
                    }
                    #if !(os(macOS) && arch(x86_64))
                    let qh = q.map { Float16($0) }, rh = rows.map { Float16($0) }
                    let dh = try m.dot(query: qh, rows: rh, stride: stride), lh = try m.l2sq(query: qh, rows: rh, stride: stride)
                    let ch = try m.cosine(query: qh, rows: rh, stride: stride)
                    for r in 0..<count {
                        let row = Array(rh[(r * stride)..<(r * stride + dim)])
                        #expect(dh[r].bitPattern == (try m.dot(qh, row)).bitPattern)
                        #expect(lh[r].bitPattern == (try m.l2sq(qh, row)).bitPattern)
                        #expect(ch[r].bitPattern == (try m.cosine(qh, row)).bitPattern)
                    }
                    #endif
                }
            }
        }
    }

    @Test func intDistancesAreExact() throws {
        var rng = SeededRNG(seed: 23)
        let t = native
        for m in try Self.modules() {
            for n in Self.sizes + [16385, 40000] {
                let a = rng.int8s(n), b = rng.int8s(n)
                #expect(try m.dot(a, b) == t.dot_i8(a, b, n))
                #expect(try m.l2sq(a, b) == t.l2sq_i8(a, b, n))
                #expect(try m.cosine(a, b).bitPattern == t.cosine_i8(a, b, n).bitPattern)
                let u = rng.bytes(n), v = rng.bytes(n)
                #expect(try m.hamming(u, v) == Int(t.hamming_b1(u, v, n)))
                #expect(try m.jaccard(u, v).bitPattern == t.jaccard_b1(u, v, n).bitPattern)
            }
            let extreme = [Int8](repeating: -128, count: 40000)
            #expect(try m.dot(extreme, extreme) == 40000 * 16384)
            for dim in [0, 1, 17, 768] {
                for count in [0, 1, 5] {
                    let q = rng.int8s(dim), rows = rng.int8s((dim + 1) * count)
                    let d = try m.dot(query: q, rows: rows, stride: dim + 1), l = try m.l2sq(query: q, rows: rows, stride: dim + 1)
                    let c = try m.cosine(query: q, rows: rows, stride: dim + 1)
                    let qb = rng.bytes(dim), rb = rng.bytes((dim + 2) * count)
                    let h = try m.hamming(query: qb, rows: rb, stride: dim + 2), j = try m.jaccard(query: qb, rows: rb, stride: dim + 2)
                    for r in 0..<count {
                        let row = Array(rows[(r * (dim + 1))..<(r * (dim + 1) + dim)])
                        #expect(Int64(d[r]) == t.dot_i8(q, row, dim))
                        #expect(Int64(l[r]) == t.l2sq_i8(q, row, dim))
                        #expect(c[r].bitPattern == t.cosine_i8(q, row, dim).bitPattern)
                        let rowb = Array(rb[(r * (dim + 2))..<(r * (dim + 2) + dim)])
                        #expect(UInt64(h[r]) == t.hamming_b1(qb, rowb, dim))
                        #expect(j[r].bitPattern == t.jaccard_b1(qb, rowb, dim).bitPattern)
                    }
                }
            }
        }
    }

    // MARK: conversion and math

    @Test func conversionsAreBitExact() throws {
        var rng = SeededRNG(seed: 24)
        let t = native
        let every = (0...UInt16.max).map { $0 }
        var want = [Float](repeating: 0, count: every.count)
        t.f16_to_f32(every, &want, every.count)
        var bits = (0..<20000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        bits += [0, -0.0, .infinity, -.infinity, .nan, 65504, 65520, 0x1p-24, 0x1p-25, 0x1p-14, Float(bitPattern: 1)]
        var h = [UInt16](repeating: 0, count: bits.count), b = [UInt16](repeating: 0, count: bits.count)
        t.f32_to_f16(bits, &h, bits.count)
        t.f32_to_bf16(bits, &b, bits.count)
        var wantB = [Float](repeating: 0, count: every.count)
        t.bf16_to_f32(every, &wantB, every.count)
        for m in try Self.modules() {
            #expect(try m.float(float16Bits: every).map(\.bitPattern) == want.map(\.bitPattern))
            #expect(try m.float(every.map { BFloat16(bitPattern: $0) }).map(\.bitPattern) == wantB.map(\.bitPattern))
            #expect(try m.float16Bits(bits) == h)
            #expect(try m.bfloat16(bits).map(\.bitPattern) == b)
            for n in Self.sizes {
                let x = rng.floats(n, in: -70000...70000)
                var w = [UInt16](repeating: 0, count: n)
                t.f32_to_f16(x, &w, n)
                #expect(try m.float16Bits(x) == w)
            }
        }
    }

    @Test func mathMatchesNativeScalar() throws {
        var rng = SeededRNG(seed: 25)
        let t = native
        for m in try Self.modules() {
            for n in Self.sizes {
                let x = rng.floats(n, in: -80...80), y = rng.floats(n)
                var e = [Float](repeating: 0, count: n)
                t.exp_f32(x, &e, n)
                // libm's expf natively, the module's polynomial (<= 0.94 ulp measured) in wasm
                for (g, w) in zip(try m.exp(x), e) {
                    #expect(abs(Double(g) - Double(w)) <= 2 * Double(w.ulp), "exp \(g) vs \(w)")
                }
                let sx = x.map { $0 / 8 }
                var s = [Float](repeating: 0, count: n)
                t.softmax_f32(sx, &s, n)
                let rel = (2 * Double(n) + 16) * 0x1p-24
                for (g, w) in zip(try m.softmax(sx), s) { #expect(abs(Double(g) - Double(w)) <= rel * Double(w) + 0x1p-125) }
                var ax = y
                t.axpy_f32(0.37, x, &ax, n)
                #expect(try m.axpy(0.37, x, y).map(\.bitPattern) == ax.map(\.bitPattern))
                var sc = [Float](repeating: 0, count: n), ad = sc, mu = sc
                t.scale_f32(-1.5, x, &sc, n)
                t.add_f32(x, y, &ad, n)
                t.mul_f32(x, y, &mu, n)
                #expect(try m.scale(-1.5, x).map(\.bitPattern) == sc.map(\.bitPattern))
                #expect(try m.add(x, y).map(\.bitPattern) == ad.map(\.bitPattern))
                #expect(try m.mul(x, y).map(\.bitPattern) == mu.map(\.bitPattern))
                #expect(try m.max(x).bitPattern == t.max_f32(x, n).bitPattern)
                let absSum = x.reduce(0.0) { $0 + abs(Double($1)) }, sq = x.reduce(0.0) { $0 + Double($1) * Double($1) }
                #expect(Self.agree(m, try m.sum(x), t.sum_f32(x, n), Self.sumTol(n, absSum)))
                #expect(Self.agree(m, try m.sumOfSquares(x), t.sumsq_f32(x, n), Self.sumTol(n, sq)))
            }
            #expect(try m.softmax([1, .nan, 2]).allSatisfy(\.isNaN))
            #expect(try m.softmax([-.infinity, -.infinity]) == [0, 0])
            #expect(try m.max([1, .nan, 3, 4, 5, 6, 7, 8, 9]).isNaN)
            #expect(try m.exp([.infinity, -.infinity, 89, -104]) == [.infinity, 0, .infinity, 0])
        }
    }

    // MARK: quantized

    private func q8_0Blocks(_ nb: Int, _ rng: inout SeededRNG) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<nb {
            let d = Float16(Float.random(in: 0.001...0.05, using: &rng)).bitPattern
            out += [UInt8(d & 0xff), UInt8(d >> 8)] + rng.bytes(32)
        }
        return out
    }

    private func rawBlocks(_ format: WasmBlockDot, _ nb: Int, _ rng: inout SeededRNG) -> [UInt8] {
        var out = rng.bytes(nb * format.weightBlockBytes)
        for b in 0..<nb {
            let d = Float16(Float.random(in: 0.001...0.05, using: &rng)).bitPattern
            let at = format == .q6_K ? b * 210 + 208 : b * format.weightBlockBytes
            out[at] = UInt8(d & 0xff)
            out[at + 1] = UInt8(d >> 8)
            if format == .q4_K { // dmin: a finite scale too (random bits could be NaN)
                out[at + 2] = UInt8(d & 0xff)
                out[at + 3] = UInt8(d >> 8)
            }
        }
        return out
    }

    @Test func quantizedKernelsMatchNativeScalar() throws {
        var rng = SeededRNG(seed: 26)
        let t = native
        for m in try Self.modules() {
            for nb in [0, 1, 3, 8] {
                let x = q8_0Blocks(nb, &rng)
                let xk = try m.quantizeQ8_K(rng.floats(256 * nb, in: -3...3))
                for format in WasmBlockDot.allCases {
                    let act = format == .q8_0 || format == .q4_0 ? x : xk
                    let w = format == .q8_0 ? q8_0Blocks(nb, &rng) : rawBlocks(format, nb, &rng)
                    let want: Float = w.withUnsafeBytes { pw in act.withUnsafeBytes { px in
                        switch format {
                        case .q8_0: t.vec_dot_q8_0_q8_0(pw.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_0.self),
                                                        px.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_0.self), nb)
                        case .q4_0: t.vec_dot_q4_0_q8_0(pw.baseAddress?.assumingMemoryBound(to: kestrel_block_q4_0.self),
                                                        px.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_0.self), nb)
                        case .q4_K: t.vec_dot_q4_K_q8_K(pw.baseAddress?.assumingMemoryBound(to: kestrel_block_q4_K.self),
                                                        px.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_K.self), nb)
                        case .q6_K: t.vec_dot_q6_K_q8_K(pw.baseAddress?.assumingMemoryBound(to: kestrel_block_q6_K.self),
                                                        px.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_K.self), nb)
                        }
                    } }
                    // every tier's Q8_0 / Q4_0 adds the block terms in the reference's order; K-quants are scalar
                    let got = try m.blockDot(format, weights: w, activations: act)
                    #expect(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN), "\(format) nb=\(nb)")
                    let rows = 3
                    var ws: [UInt8] = []
                    for _ in 0..<rows { ws += format == .q8_0 ? q8_0Blocks(nb, &rng) : rawBlocks(format, nb, &rng) }
                    let y = try m.blockGEMV(format, weights: ws, rows: rows, activations: act)
                    for r in 0..<rows {
                        let row = Array(ws[(r * nb * format.weightBlockBytes)..<((r + 1) * nb * format.weightBlockBytes)])
                        #expect(y[r].bitPattern == (try m.blockDot(format, weights: row, activations: act)).bitPattern)
                    }
                }
                // activation quantizers: the native bits
                let xf = rng.floats(256 * nb, in: -2...2)
                var q0 = [UInt8](repeating: 0, count: 34 * 8 * nb), qk = [UInt8](repeating: 0, count: 292 * nb)
                q0.withUnsafeMutableBytes { kestrel_quantize_row_q8_0_ref(xf, $0.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_0.self), xf.count) }
                qk.withUnsafeMutableBytes { kestrel_quantize_row_q8_K(xf, $0.baseAddress?.assumingMemoryBound(to: kestrel_block_q8_K.self), xf.count) }
                #expect(try m.quantizeQ8_0(xf) == q0)
                #expect(try m.quantizeQ8_K(xf) == qk)
            }
            for (rows, cols) in [(0, 5), (1, 0), (3, 17), (5, 64), (4, 1000)] {
                let stride = cols + 3
                let w = rng.int8s(rows * stride), x = rng.int8s(cols), rs = rng.floats(rows, in: 0.1...2)
                var want = [Float](repeating: 0, count: rows)
                let st = t.gemv_i8(w, rows, cols, stride, rs, x, 0.01, &want)
                #expect(st == KESTREL_OK)
                #expect(try m.gemv(weights: w, rows: rows, stride: stride, rowScales: rs, x: x, xScale: 0.01).map(\.bitPattern)
                    == want.map(\.bitPattern))
            }
            for (mm, k, n) in [(0, 3, 2), (1, 1, 1), (3, 17, 5), (6, 64, 7)] {
                let a = rng.int8s(mm * k), b = rng.int8s(n * k), rs = rng.floats(mm, in: 0.1...2), cs = rng.floats(n, in: 0.1...2)
                var want = [Float](repeating: 0, count: mm * n)
                #expect(t.gemm_i8(a, mm, k, k, b, n, k, rs, cs, &want, n) == KESTREL_OK)
                #expect(try m.gemm(a: a, b: b, k: k, rowScales: rs, colScales: cs).map(\.bitPattern) == want.map(\.bitPattern))
            }
        }
    }

    @Test func benchmarkLoopRunsInsideTheModule() throws {
        var rng = SeededRNG(seed: 27)
        for m in try Self.modules() {
            let a = rng.floats(64)
            let bytes = a.withUnsafeBytes { Array($0) }
            let one = try m.dot(a, a)
            let sum = try m.benchmark(.dotF32, a: bytes, b: bytes, count: 64, iterations: 7)
            #expect(abs(sum - 7 * Double(one)) <= 1e-9 * abs(Double(one)) * 7)
            for k in WasmKernelModule.BenchKernel.allCases {
                _ = try m.benchmark(k, a: [UInt8](repeating: 0, count: 34 * 4), b: [UInt8](repeating: 0, count: 34 * 4), count: 4, iterations: 2)
            }
        }
    }
}
