import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

/// ggml block formats against ggml's own output (the fixture set made by
/// peers/make_quant_fixtures.py from ggml's C reference and gguf-py), at every ISA tier this CPU
/// runs, and every tier against the scalar reference on random rows.
@Suite struct BlockFormatTests {
    static let names: [(String, GGMLType)] = [
        ("Q8_0", .q8_0), ("Q8_1", .q8_1), ("Q4_0", .q4_0), ("Q4_1", .q4_1),
        ("Q5_0", .q5_0), ("Q5_1", .q5_1), ("Q4_K", .q4_K), ("Q6_K", .q6_K),
    ]

    static func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

    /// Index of the first element where two float arrays differ in bits, or nil.
    static func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
        guard a.count == b.count else { return -1 }
        return zip(a, b).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }?.offset
    }

    @Test(arguments: names)
    func fixtureBytesAndFloatsAtEveryTier(name: String, type: GGMLType) throws {
        let inputs = try Fixtures.floats("ggml-quants/inputs.bin")
        let quant = try Fixtures.bytes("ggml-quants/\(name).quant.bin")
        let dequant = try Fixtures.floats("ggml-quants/\(name).dequant.bin")
        #expect(inputs.count == 20 * 256)
        #expect(quant.count == inputs.count / type.blockSize * type.bytesPerBlock)
        for tier in ISALevel.supported {
            let mine = try GGMLBlocks.quantize(inputs, rowLength: 256, as: type, tier: tier, threads: 1)
            let bad = zip(mine, quant).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(bad.isEmpty, "\(name) at \(tier): \(bad.count) bytes differ, first at \(bad.first ?? -1)")
            let back = try GGMLBlocks.dequantize(quant, as: type, elementCount: inputs.count, tier: tier, threads: 1)
            #expect(Self.firstDifference(back, dequant) == nil, "\(name) dequantize at \(tier)")
        }
    }

    @Test(arguments: [("Q4_K", GGMLType.q4_K), ("Q6_K", GGMLType.q6_K)])
    func randomValidSuperBlocksDequantizeBitExactly(name: String, type: GGMLType) throws {
        let blocks = try Fixtures.bytes("ggml-quants/\(name).dqblocks.bin")
        let want = try Fixtures.floats("ggml-quants/\(name).dqblocks.dequant.bin")
        #expect(blocks.count == 8 * type.bytesPerBlock && want.count == 8 * 256)
        for tier in ISALevel.supported {
            let got = try GGMLBlocks.dequantize(blocks, as: type, elementCount: want.count, tier: tier, threads: 1)
            #expect(Self.firstDifference(got, want) == nil, "\(name) dqblocks at \(tier)")
        }
    }

    /// RMSE of dequantize(quantize(x)) - x over the four normal rows, in Double, against the
    /// generator's figure in the manifest (same bits, so only the summation order can differ).
    @Test(arguments: names)
    func errorOnNormalRowsMatchesTheManifest(name: String, type: GGMLType) throws {
        let data = try Data(contentsOf: Fixtures.url("ggml-quants/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let types = try #require(manifest["types"] as? [String: [String: Any]])
        let want = try #require(types[name]?["rmse_normal_rows"] as? Double)
        let cases = try #require(manifest["cases"] as? [String])
        let rows = cases.enumerated().filter { $0.element.hasPrefix("normal_") }.map(\.offset)
        #expect(rows.count == 4)
        let inputs = try Fixtures.floats("ggml-quants/inputs.bin")
        var sum = 0.0
        for r in rows {
            let x = Array(inputs[r * 256..<(r + 1) * 256])
            let q = try GGMLBlocks.quantize(x, rowLength: 256, as: type)
            let y = try GGMLBlocks.dequantize(q, as: type, elementCount: 256)
            for i in 0..<256 { sum += (Double(y[i]) - Double(x[i])) * (Double(y[i]) - Double(x[i])) }
        }
        let rmse = (sum / Double(rows.count * 256)).squareRoot()
        #expect(abs(rmse - want) <= 1e-6 * want, "\(name): rmse \(rmse), manifest \(want)")
    }

    /// Q8_0 by hand: amax 127 makes d = 1, so the codes are roundf(x) itself (ties away from 0).
    @Test func q8_0TiesRoundAwayFromZero() throws {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127
        x[1] = 2.5
        x[2] = -2.5
        x[3] = 0.5
        x[4] = -126.5
        x[5] = 1.4999999
        for tier in ISALevel.supported {
            let q = try GGMLBlocks.quantize(x, rowLength: 32, as: .q8_0, tier: tier)
            #expect(q[0] == 0x00 && q[1] == 0x3c, "fp16(1.0) = 0x3c00 little-endian")
            #expect(q[2...7].map { Int8(bitPattern: $0) } == [127, 3, -3, 1, -127, 1], "\(tier)")
        }
    }

    /// Q4_0 by hand: max = -8 (largest |x|, first on ties with +8) gives d = 1; -8 -> code 0,
    /// +8 would need 16 and is clamped to 15; element j in the low nibble of byte j, j+16 high.
    @Test func q4_0SignedMaxAndNibbleOrder() throws {
        var x = [Float](repeating: 0, count: 32)
        x[0] = -8
        x[1] = 8
        x[16] = 3
        let q = try GGMLBlocks.quantize(x, rowLength: 32, as: .q4_0)
        #expect(q[0] == 0x00 && q[1] == 0x3c)  // d = -8 / -8 = 1
        #expect(q[2] == 0xb0)  // element 0: trunc(-8 * 1 + 8.5) = 0 (low); element 16: trunc(3 + 8.5) = 11 (high)
        #expect(q[3] == 0x8f)  // element 1: 16 clamped to 15 (low); element 17: 8 (high)
        let y = try GGMLBlocks.dequantize(q, as: .q4_0, elementCount: 32)
        #expect(y[0] == -8 && y[1] == 7 && y[16] == 3 && y[2] == 0)
    }

    // MARK: every tier against the scalar reference

    /// Random rows: mixed magnitudes per block, exact ties, zero blocks, tiny values whose 1/d
    /// overflows; quantized at every tier from an unaligned slice and compared with scalar.
    @Test(arguments: names)
    func everyTierMatchesScalarOnRandomRows(name: String, type: GGMLType) throws {
        var rng = SplitMix64(seed: 0x5eed_0016 ^ UInt64(type.rawValue))
        let qk = type.blockSize
        for blocks in [0, 1, 2, 3, 7, 33] {
            let n = blocks * qk
            var x = [Float](repeating: 0, count: n + 1)  // x[0] is padding: the data starts unaligned
            for b in 0..<blocks {
                let kind = rng.next() % 5
                let scale = Float(pow(10.0, Double(Int(rng.next() % 13) - 6)))
                for j in 0..<qk {
                    let u = Float(Double(rng.next() >> 11) / Double(1 << 53)) * 2 - 1
                    switch kind {
                    case 0: x[1 + b * qk + j] = u * scale
                    case 1: x[1 + b * qk + j] = Float(Int(rng.next() % 255) - 127) + (rng.next() % 2 == 0 ? 0.5 : 0)
                    case 2: x[1 + b * qk + j] = 0
                    case 3: x[1 + b * qk + j] = u * 1e-38
                    default: x[1 + b * qk + j] = u * 1e4
                    }
                }
                if kind == 1 { x[1 + b * qk] = 127 }
            }
            let rowLength = blocks == 0 ? qk : qk * blocks
            let bytes = try GGMLBlocks.byteCount(of: type, elementCount: n)
            var want = [UInt8](repeating: 0, count: bytes + 1)
            var wantFloats = [Float](repeating: 0, count: n)
            try x.withUnsafeBufferPointer { xs in
                let src = UnsafeBufferPointer(rebasing: xs[1...])
                try want.withUnsafeMutableBytes { w in
                    try GGMLBlocks.quantize(src, rowLength: rowLength, as: type,
                                            into: UnsafeMutableRawBufferPointer(rebasing: w[1...]), tier: .scalar, threads: 1)
                    try wantFloats.withUnsafeMutableBufferPointer { f in
                        try GGMLBlocks.dequantize(UnsafeRawBufferPointer(rebasing: w[1...]), as: type, into: f,
                                                  allowNonFiniteScales: true, tier: .scalar, threads: 1)
                    }
                }
            }
            for tier in ISALevel.supported where tier != .scalar {
                var got = [UInt8](repeating: 0xA5, count: bytes + 2)
                var gotFloats = [Float](repeating: 0, count: n + 1)
                try x.withUnsafeBufferPointer { xs in
                    try got.withUnsafeMutableBytes { g in
                        let dst = UnsafeMutableRawBufferPointer(rebasing: g[1..<(bytes + 1)])
                        try GGMLBlocks.quantize(UnsafeBufferPointer(rebasing: xs[1...]), rowLength: rowLength, as: type,
                                                into: dst, tier: tier, threads: 1)
                        try gotFloats.withUnsafeMutableBufferPointer { f in
                            try GGMLBlocks.dequantize(UnsafeRawBufferPointer(dst), as: type,
                                                      into: UnsafeMutableBufferPointer(rebasing: f[1...]),
                                                      allowNonFiniteScales: true, tier: tier, threads: 1)
                        }
                    }
                }
                #expect(Array(got[1..<(bytes + 1)]) == Array(want[1...]), "\(name) \(blocks) blocks at \(tier)")
                #expect(got[0] == 0xA5 && got[bytes + 1] == 0xA5, "\(name): wrote outside the destination")
                let same = zip(gotFloats.dropFirst(), wantFloats).allSatisfy {
                    $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)
                }
                #expect(same, "\(name) \(blocks) blocks dequantized at \(tier)")
            }
        }
    }

    /// The parallel split gives the same bytes as one thread (large enough to be split).
    @Test(arguments: [GGMLType.q8_0, .q4_K])
    func threadsDoNotChangeTheResult(type: GGMLType) throws {
        var rng = SplitMix64(seed: 42)
        let n = 4 * GGMLBlocks.parallelGrain + 256 * 3
        let x = (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) * 2 - 1 }
        let one = try GGMLBlocks.quantize(x, rowLength: 256, as: type, threads: 1)
        let four = try GGMLBlocks.quantize(x, rowLength: 256, as: type, threads: 4)
        #expect(one == four)
        let y1 = try GGMLBlocks.dequantize(one, as: type, elementCount: n, threads: 1)
        let y4 = try GGMLBlocks.dequantize(one, as: type, elementCount: n, threads: 4)
        #expect(Self.bits(y1) == Self.bits(y4))
    }

    // MARK: errors

    @Test func nonFiniteInputNamesTheFirstBadIndex() {
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = [Float](repeating: 1, count: 96 * 2)
            x[150] = bad
            x[170] = .nan
            for type in GGMLBlocks.blockTypes where 96 % type.blockSize == 0 {
                #expect(throws: KestrelError.nonFiniteValue(index: 150)) {
                    _ = try GGMLBlocks.quantize(x, rowLength: 96, as: type, threads: 1)
                }
            }
        }
        // Past the first 16 KiB piece of the single-thread path.
        var long = [Float](repeating: 0.25, count: 5 * 4096)
        long[3 * 4096 + 17] = -.infinity
        #expect(throws: KestrelError.nonFiniteValue(index: 3 * 4096 + 17)) {
            _ = try GGMLBlocks.quantize(long, rowLength: 4096, as: .q4_K, threads: 1)
        }
        // In the parallel path the smallest index wins, whichever worker sees its value first.
        var big = [Float](repeating: 0.5, count: 8 * GGMLBlocks.parallelGrain)
        big[big.count - 5] = .nan
        big[3 * GGMLBlocks.parallelGrain + 7] = .infinity
        #expect(throws: KestrelError.nonFiniteValue(index: 3 * GGMLBlocks.parallelGrain + 7)) {
            _ = try GGMLBlocks.quantize(big, rowLength: 256, as: .q8_0, threads: 4)
        }
    }

    @Test func badRowLengthsAndShapes() {
        let x = [Float](repeating: 1, count: 256)
        #expect(throws: KestrelError.invalidArgument(name: "rowLength", reason: "48 is not a positive multiple of q8_0's block size 32")) {
            _ = try GGMLBlocks.quantize(x, rowLength: 48, as: .q8_0)
        }
        #expect(throws: KestrelError.invalidArgument(name: "rowLength", reason: "0 is not a positive multiple of q4_k's block size 256")) {
            _ = try GGMLBlocks.quantize(x, rowLength: 0, as: .q4_K)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [-1, 96], actual: [256])) {
            _ = try GGMLBlocks.quantize(x, rowLength: 96, as: .q8_0)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [-1, 64], actual: [32])) {
            _ = try GGMLBlocks.quantize(Array(x[..<32]), rowLength: 64, as: .q5_1)
        }
        #expect(throws: KestrelError.self) { _ = try GGMLBlocks.quantize(x, rowLength: 256, as: .f16) }
        #expect(throws: KestrelError.invalidArgument(name: "threads", reason: "must be >= 1, got 0")) {
            _ = try GGMLBlocks.quantize(x, rowLength: 256, as: .q8_0, threads: 0)
        }
        var small = [UInt8](repeating: 0, count: 33)
        #expect(throws: KestrelError.dimensionMismatch(expected: [34], actual: [33])) {
            try x[..<32].withUnsafeBufferPointer { s in
                try small.withUnsafeMutableBytes { d in try GGMLBlocks.quantize(s, rowLength: 32, as: .q8_0, into: d) }
            }
        }
        #expect(throws: KestrelError.invalidArgument(name: "elementCount", reason: "33 is not a non-negative multiple of q8_0's block size 32")) {
            _ = try GGMLBlocks.dequantize([UInt8](repeating: 0, count: 34), as: .q8_0, elementCount: 33)
        }
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            _ = try GGMLBlocks.byteCount(of: .q8_0, elementCount: Int.max - Int.max % 32)
        }
    }

    @Test(arguments: names)
    func truncatedAndOverlongStreamsThrow(name: String, type: GGMLType) throws {
        let x = (0..<512).map { Float($0 % 37) - 18 }
        let q = try GGMLBlocks.quantize(x, rowLength: 256, as: type)
        for cut in [q.count - 1, q.count - type.bytesPerBlock, 1, 0] {
            #expect(throws: KestrelError.corruptFile(path: nil, section: "ggml blocks",
                                                      reason: "truncated \(type) stream: \(cut) bytes, 512 elements need \(q.count)")) {
                _ = try GGMLBlocks.dequantize(Array(q[..<cut]), as: type, elementCount: 512)
            }
        }
        #expect(throws: KestrelError.corruptFile(path: nil, section: "ggml blocks",
                                                  reason: "over-long \(type) stream: \(q.count + 1) bytes, 512 elements need \(q.count)")) {
            _ = try GGMLBlocks.dequantize(q + [0], as: type, elementCount: 512)
        }
        // Zero elements from zero bytes is fine; from one byte it is over-long.
        #expect(try GGMLBlocks.dequantize([], as: type, elementCount: 0).isEmpty)
        #expect(throws: KestrelError.self) { _ = try GGMLBlocks.dequantize([0], as: type, elementCount: 0) }
    }

    @Test func nonFiniteScalesThrowUnlessAllowed() throws {
        let x = (0..<512).map { Float($0 % 19) - 9 }
        // (type, byte offset of a checked fp16 field in block 1, its name)
        let cases: [(GGMLType, Int, String)] = [
            (.q8_0, 0, "d"), (.q4_1, 2, "m"), (.q5_1, 2, "m"), (.q4_K, 2, "dmin"), (.q6_K, 208, "d"), (.q5_0, 0, "d"),
        ]
        for (type, offset, field) in cases {
            for pattern: UInt16 in [0x7c00, 0xfc00, 0x7e00] {  // +Inf, -Inf, NaN
                var q = try GGMLBlocks.quantize(x, rowLength: 256, as: type)
                q[type.bytesPerBlock + offset] = UInt8(pattern & 0xff)
                q[type.bytesPerBlock + offset + 1] = UInt8(pattern >> 8)
                #expect(throws: KestrelError.corruptFile(path: nil, section: "block 1",
                                                          reason: "fp16 scale \(field) of a \(type) block is NaN or infinite")) {
                    _ = try GGMLBlocks.dequantize(q, as: type, elementCount: 512)
                }
                let y = try GGMLBlocks.dequantize(q, as: type, elementCount: 512, allowNonFiniteScales: true)
                let block = type.blockSize
                #expect(y[block..<(2 * block)].contains { !$0.isFinite }, "\(type): the bad scale reaches the output")
                #expect(y[0..<block].allSatisfy { $0.isFinite })
            }
        }
        // A bad scale past the first piece of the single-thread path: its block index is global.
        let long = try GGMLBlocks.quantize((0..<(5 * 4096)).map { Float($0 % 23) - 11 }, rowLength: 4096, as: .q8_0)
        var broken = long
        broken[300 * 34 + 1] = 0x7e
        #expect(throws: KestrelError.corruptFile(path: nil, section: "block 300",
                                                  reason: "fp16 scale d of a q8_0 block is NaN or infinite")) {
            _ = try GGMLBlocks.dequantize(broken, as: .q8_0, elementCount: 5 * 4096, threads: 1)
        }
        // Q8_1's s is not used to dequantize and may overflow legitimately: never checked.
        var q = try GGMLBlocks.quantize(x, rowLength: 256, as: .q8_1)
        q[2] = 0x00
        q[3] = 0x7c
        #expect(try GGMLBlocks.dequantize(q, as: .q8_1, elementCount: 512).allSatisfy { $0.isFinite })
    }
}
