import Foundation
import PropertyBased
import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

/// The documented integer-scheme rule written out plainly in Double (no shared code with the
/// quantizer): per-slot range, step, zero point, codes and reconstruction.
struct ReferenceIntegerScheme {
    let bits: Int, symmetric: Bool, granularity: QuantizationGranularity

    var qmin: Int { symmetric ? -((1 << (bits - 1)) - 1) : -(1 << (bits - 1)) }
    var qmax: Int { (1 << (bits - 1)) - 1 }

    /// Slot of flat index i for `shape`.
    func slot(_ i: Int, shape: [Int]) -> Int {
        switch granularity {
        case .perTensor: return 0
        case .perChannel(let axis):
            let inner = shape[(axis + 1)...].reduce(1, *)
            return (i / inner) % shape[axis]
        case .perGroup(let g):
            let last = shape.last!
            let row = i / last, col = i % last
            let groupsPerRow = (last + g - 1) / g
            return row * groupsPerRow + col / g
        }
    }

    func slotCount(_ shape: [Int]) -> Int {
        switch granularity {
        case .perTensor: return 1
        case .perChannel(let axis): return shape[axis]
        case .perGroup(let g):
            let last = shape.last!
            let rows = last == 0 ? shape.dropLast().reduce(1, *) : shape.reduce(1, *) / last
            return rows * ((last + g - 1) / g)
        }
    }

    /// Step and zero point from a range, as the documentation states it.
    func parameters(lo: Float, hi: Float) -> (step: Float, zero: Int) {
        let cap = Float(Double(Float.greatestFiniteMagnitude) / Double(1 << bits))
        if symmetric {
            let m = Swift.max(Double(abs(lo)), Double(abs(hi)))
            let step = Float(m / Double(qmax))
            return (Swift.min(cap, Swift.max(step, Float.leastNormalMagnitude)), 0)
        }
        let l = Swift.min(Double(lo), 0), h = Swift.max(Double(hi), 0)
        let step = Swift.min(cap, Swift.max(Float((h - l) / Double(qmax - qmin)), Float.leastNormalMagnitude))
        let z = (Double(qmin) - l / Double(step)).rounded(.toNearestOrEven)
        return (step, Int(Swift.min(Double(qmax), Swift.max(Double(qmin), z))))
    }

    func code(_ x: Float, step: Float, zero: Int) -> Int {
        let inv = Float(1 / Double(step))  // the f32 reciprocal, correctly rounded
        let t = Double(Float(Double(x) * Double(inv)))  // the f32 product
        let q = Int(t.rounded(.toNearestOrEven)) + zero
        return Swift.min(qmax, Swift.max(qmin, q))
    }

    /// With `ranges`, those are the slots' ranges; else each slot's min and max (and 0).
    func run(_ x: [Float], shape: [Int], ranges: [ClosedRange<Float>]? = nil) -> (steps: [Float], zeros: [Int], codes: [Int], recon: [Float]) {
        let s = slotCount(shape)
        var lo = [Float](repeating: 0, count: s), hi = [Float](repeating: 0, count: s)
        if let ranges {
            lo = ranges.map(\.lowerBound)
            hi = ranges.map(\.upperBound)
        } else {
            for (i, v) in x.enumerated() {
                let k = slot(i, shape: shape)
                lo[k] = Swift.min(lo[k], v)
                hi[k] = Swift.max(hi[k], v)
            }
        }
        let p = (0..<s).map { parameters(lo: lo[$0], hi: hi[$0]) }
        var codes = [Int](), recon = [Float]()
        for (i, v) in x.enumerated() {
            let k = slot(i, shape: shape)
            let c = code(v, step: p[k].step, zero: p[k].zero)
            codes.append(c)
            recon.append(Float(Double(c - p[k].zero) * Double(p[k].step)))
        }
        return (p.map(\.step), p.map(\.zero), codes, recon)
    }
}

/// Reads a payload as Documentation/Quantization.md lays it out.
func parsePayload(_ data: [UInt8], slots: Int, n: Int, bits: Int, symmetric: Bool) -> (steps: [Float], zeros: [Int], codes: [Int]) {
    var steps = [Float]()
    for k in 0..<slots {
        let b = UInt32(data[4 * k]) | UInt32(data[4 * k + 1]) << 8 | UInt32(data[4 * k + 2]) << 16 | UInt32(data[4 * k + 3]) << 24
        steps.append(Float(bitPattern: b))
    }
    var off = 4 * slots
    var zeros = [Int](repeating: 0, count: slots)
    if !symmetric {
        for k in 0..<slots { zeros[k] = Int(Int8(bitPattern: data[off + k])) }
        off += slots
    }
    var codes = [Int]()
    for i in 0..<n {
        if bits == 8 {
            codes.append(Int(Int8(bitPattern: data[off + i])))
        } else {
            let byte = data[off + i / 2]
            let nib = Int(i % 2 == 0 ? byte & 0x0F : byte >> 4)
            codes.append(nib >= 8 ? nib - 16 : nib)
        }
    }
    return (steps, zeros, codes)
}

let allGranularities: [QuantizationGranularity] = [
    .perTensor, .perChannel(axis: 0), .perChannel(axis: 1), .perChannel(axis: 2),
    .perGroup(size: 32), .perGroup(size: 64), .perGroup(size: 128),
]

@Suite struct IntegerSchemeTests {
    /// Random data with edge values: zeros, a constant run, a subnormal, huge magnitudes.
    static func data(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var x = (0..<n).map { _ in rng.gaussian() * 3 }
        if n > 10 {
            x[0] = 0
            x[1] = Float.leastNonzeroMagnitude
            x[2] = -x[3]
            for i in 4..<9 { x[i] = 0.25 }
        }
        return x
    }

    @Test(arguments: [8, 4], [true, false])
    func payloadMatchesTheReferenceEverywhere(bits: Int, symmetric: Bool) throws {
        // Last axis 70: per-group 32/64/128 all leave a short last group.
        let shape = [3, 5, 70]
        let n = shape.reduce(1, *)
        for (g, granularity) in allGranularities.enumerated() {
            let x = Self.data(n, seed: UInt64(100 + g))
            let scheme = IntegerScheme(bits: bits, symmetric: symmetric, granularity: granularity)
            let q = try IntegerQuantizer(scheme: scheme)
            let ref = ReferenceIntegerScheme(bits: bits, symmetric: symmetric, granularity: granularity).run(x, shape: shape)
            let payload = try q.quantize(Tensor(x, shape: shape))
            #expect(payload.data.count == (try q.quantizedByteCount(shape: shape)))
            let got = parsePayload(payload.data, slots: ref.steps.count, n: n, bits: bits, symmetric: symmetric)
            #expect(got.steps == ref.steps, "\(scheme)")
            #expect(got.zeros == ref.zeros, "\(scheme)")
            #expect(got.codes == ref.codes, "\(scheme)")
            #expect(try q.dequantize(payload).scalars() == ref.recon, "\(scheme)")
            let expectedBytes = ref.steps.count * (symmetric ? 4 : 5) + (bits == 8 ? n : (n + 1) / 2)
            #expect(payload.data.count == expectedBytes)
        }
    }

    @Test func int4NibbleOrderAndHeaderBytes() throws {
        // max |x| = 7 → step 1; codes 7, −7, 1: byte 0 = low 7 | high (−7 & 0xF = 9) << 4, byte 1 = 1.
        let q = try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: true, granularity: .perTensor))
        let p = try q.quantize(Tensor([7, -7, 1] as [Float], shape: [3]))
        #expect(p.data == [0x00, 0x00, 0x80, 0x3F, 0x97, 0x01])  // f32 1.0 little-endian, then codes
        let q8 = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: false, granularity: .perTensor))
        // [0, 255] → step 1, zero point −128: 0 → −128 (0x80), 255 → 127 (0x7F), 1.5 → round-half-even(1.5) − 128 = −126.
        let p8 = try q8.quantize(Tensor([0, 255, 1.5, 2.5] as [Float], shape: [4]))
        #expect(p8.data == [0x00, 0x00, 0x80, 0x3F, 0x80, 0x80, 0x7F, 0x82, 0x82])
    }

    @Test func roundTripErrorIsAtMostHalfAStep() async {
        await propertyCheck(count: 40, input: Gen.int(in: 1...300), Gen.int(in: 0...4), Gen.int(in: 0...Int(Int32.max))) { n, kind, seed in
            let bits = kind % 2 == 0 ? 8 : 4
            let symmetric = kind < 2
            let x = Self.data(n, seed: UInt64(seed))
            let granularity: QuantizationGranularity = kind == 4 ? .perGroup(size: 32) : .perTensor
            let q = try! IntegerQuantizer(scheme: IntegerScheme(bits: bits, symmetric: symmetric, granularity: granularity))
            let shape = kind == 4 ? [n] : [1, n]
            let payload = try! q.quantize(Tensor(x, shape: shape))
            let steps = try! q.parameters(of: payload).steps
            let y = try! q.dequantize(payload).scalars()
            for i in 0..<n {
                let step = Double(steps[kind == 4 ? i / 32 : 0])
                // Half a step, plus the f32 rounding of x·(1/step) and of the reconstruction.
                #expect(abs(Double(x[i]) - Double(y[i])) <= step * (0.5 + 1e-6) + Double(abs(x[i])) * 1e-6, "i=\(i) step=\(step)")
            }
        }
    }

    @Test func nonFiniteInputThrowsWithTheFirstIndex() throws {
        for bits in [8, 4] {
            let q = try IntegerQuantizer(scheme: IntegerScheme(bits: bits, symmetric: false, granularity: .perGroup(size: 32)))
            var x = [Float](repeating: 1, count: 100)
            x[37] = .infinity
            x[80] = .nan
            #expect(throws: KestrelError.nonFiniteValue(index: 37)) { try q.quantize(Tensor(x, shape: [2, 50])) }
            x[3] = -.infinity
            #expect(throws: KestrelError.nonFiniteValue(index: 3)) { try q.quantize(Tensor(x, shape: [2, 50])) }
            x = [.nan]
            #expect(throws: KestrelError.nonFiniteValue(index: 0)) { try q.quantize(Tensor(x, shape: [1, 1])) }
        }
    }

    @Test func emptyAndTinyTensors() throws {
        let group = try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: true, granularity: .perGroup(size: 64)))
        let e = try group.quantize(Tensor.zeros([0, 64]))
        #expect(e.data.isEmpty)
        #expect(try group.dequantize(e).shape.dims == [0, 64])
        let tensor = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: false, granularity: .perTensor))
        let t = try tensor.quantize(Tensor.zeros([0]))
        #expect(t.data.count == 5)  // one step and one zero point, no codes
        #expect(try tensor.dequantize(t).scalars().isEmpty)
        // Rank 0 holds one element; zero stays zero.
        let s = try tensor.quantize(Tensor(scalar: -3))
        let ref = ReferenceIntegerScheme(bits: 8, symmetric: false, granularity: .perTensor).run([-3], shape: [])
        #expect(try tensor.dequantize(s).scalars() == ref.recon)
        #expect(abs(ref.recon[0] + 3) <= 3 / 255)
        let z = try tensor.quantize(Tensor.zeros([5]))
        #expect(try tensor.dequantize(z).scalars() == [0, 0, 0, 0, 0])
        // Per channel along an empty axis: no slots at all.
        let ch = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 1)))
        #expect(try ch.quantize(Tensor.zeros([4, 0])).data.isEmpty)
    }

    @Test func nonContiguousAndNonF32Inputs() throws {
        let x = Self.data(6 * 40, seed: 7)
        let q = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 1)))
        let t = try Tensor(x, shape: [6, 40]).transposed()  // a strided view
        let ref = ReferenceIntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 1))
            .run(t.scalars(), shape: [40, 6])
        #expect(try q.dequantize(q.quantize(t)).scalars() == ref.recon)
        // An unaligned start: a slice one element in.
        let sliced = try Tensor(x, shape: [240]).slice(axis: 0, 1..<240)
        let q1 = try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: false, granularity: .perGroup(size: 32)))
        let ref1 = ReferenceIntegerScheme(bits: 4, symmetric: false, granularity: .perGroup(size: 32)).run(Array(x[1...]), shape: [239])
        #expect(try q1.dequantize(q1.quantize(sliced)).scalars() == ref1.recon)
        // f16 input is widened first (exactly).
        let h = try Tensor(x, shape: [6, 40]).converted(to: .f16)
        let refh = ReferenceIntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 1)).run(h.scalars(), shape: [6, 40])
        #expect(try q.dequantize(q.quantize(h)).scalars() == refh.recon)
    }

    @Test func extremeMagnitudesStayFinite() throws {
        let x: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, 0]
        for symmetric in [true, false] {
            let q = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: symmetric, granularity: .perTensor))
            let y = try q.dequantize(q.quantize(Tensor(x, shape: [4]))).scalars()
            #expect(y.allSatisfy { $0.isFinite })
            #expect(y[3] == 0)
            let ref = ReferenceIntegerScheme(bits: 8, symmetric: symmetric, granularity: .perTensor).run(x, shape: [4])
            #expect(y == ref.recon)
        }
    }

    @Test func badPayloadsThrowAndNeverReadOutOfBounds() throws {
        let q = try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: false, granularity: .perGroup(size: 32)))
        let good = try q.quantize(Tensor(Self.data(99, seed: 3), shape: [3, 33]))
        func corrupt(_ f: (inout [UInt8]) -> Void) -> QuantizedTensor {
            var d = good.data
            f(&d)
            return QuantizedTensor(shape: good.shape, format: good.format, data: d)
        }
        func isCorrupt(_ p: QuantizedTensor) -> Bool {
            do { _ = try q.dequantize(p); return false } catch {
                if case .corruptFile(nil, "integer payload", _) = error { return true }
                return false
            }
        }
        #expect(isCorrupt(corrupt { $0.removeLast() }))
        #expect(isCorrupt(corrupt { $0.append(0) }))
        #expect(isCorrupt(corrupt { $0 = [] }))
        #expect(isCorrupt(corrupt { $0.replaceSubrange(0..<4, with: [0, 0, 0, 0]) }))  // step 0
        #expect(isCorrupt(corrupt { $0.replaceSubrange(0..<4, with: [0, 0, 0xC0, 0x7F]) }))  // NaN
        #expect(isCorrupt(corrupt { $0.replaceSubrange(0..<4, with: [0, 0, 0x80, 0xBF]) }))  // −1
        #expect(isCorrupt(corrupt { $0[4 * 6] = 8 }))  // int4 zero point outside −8…7
        #expect(isCorrupt(corrupt { $0[$0.count - 1] |= 0x10 }))  // the unused nibble of 99 codes
        // A shape that does not match the payload.
        #expect(isCorrupt(QuantizedTensor(shape: [3, 34], format: good.format, data: good.data)))
        // Another format.
        let other = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: false, granularity: .perGroup(size: 32)))
        #expect(throws: KestrelError.invalidArgument(name: "format", reason: "payload is \(good.format), this quantizer reads \(other.format)")) {
            try other.dequantize(good)
        }
        #expect(try q.dequantize(good).shape.dims == [3, 33])
    }

    @Test func invalidSchemesAndShapes() throws {
        #expect(throws: KestrelError.invalidArgument(name: "bits", reason: "integer schemes have 8 or 4 bits, got 3")) {
            try IntegerQuantizer(scheme: IntegerScheme(bits: 3, symmetric: true, granularity: .perTensor))
        }
        #expect(throws: KestrelError.invalidArgument(name: "group", reason: "group size must be 32, 64 or 128, got 48")) {
            try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perGroup(size: 48)))
        }
        let ch = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 2)))
        #expect(throws: KestrelError.invalidArgument(name: "axis", reason: "axis 2 out of range for rank 2")) {
            try ch.quantize(Tensor.zeros([2, 2]))
        }
        let g = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perGroup(size: 32)))
        #expect(throws: KestrelError.invalidArgument(name: "granularity", reason: "per-group quantization needs rank >= 1")) {
            try g.quantize(Tensor(scalar: 1))
        }
        // Overflowing sizes are refused, not trapped on.
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            try g.quantizedByteCount(shape: [Int.max / 2, 4])
        }
        let t = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perTensor))
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            try t.quantizedByteCount(shape: [Int.max, 1])
        }
        #expect(throws: KestrelError.self) { try t.quantizedByteCount(shape: [-1, 4]) }
    }

    @Test func memoryTargets() throws {
        let shape = [4096, 4096]
        let f32 = 4096 * 4096 * 4
        func ratio(_ bits: Int, _ symmetric: Bool, _ g: QuantizationGranularity) throws -> Double {
            let q = try IntegerQuantizer(scheme: IntegerScheme(bits: bits, symmetric: symmetric, granularity: g))
            return Double(try q.quantizedByteCount(shape: shape)) / Double(f32)
        }
        #expect(try ratio(8, true, .perChannel(axis: 0)) <= 0.26)
        #expect(try ratio(8, false, .perChannel(axis: 0)) <= 0.26)
        #expect(try ratio(8, true, .perGroup(size: 128)) <= 0.26)
        #expect(try ratio(4, true, .perChannel(axis: 0)) <= 0.13)
        #expect(try ratio(4, true, .perGroup(size: 32)) <= 0.16)  // 5 bits per value
        #expect(try ratio(4, false, .perGroup(size: 128)) <= 0.14)
        // Effective bits include the steps: int8 per group of 32 = 8 + 32/32 bits.
        let g32 = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perGroup(size: 32)))
        #expect(try g32.effectiveBitsPerValue(shape: [64, 64]) == 9)
        // A real quantization's payload has that size.
        let x = Self.data(256 * 64, seed: 9)
        let p = try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0)))
        #expect(try p.quantize(Tensor(x, shape: [256, 64])).data.count == 256 * 64 + 256 * 4)
    }

    @Test func halfPrecisionMatchesSwiftsOwnConversion() throws {
        var x = Self.data(333, seed: 11)
        x[5] = 65504
        x[6] = -1e-8
        let f16 = try HalfPrecisionQuantizer(.f16)
        let p = try f16.quantize(Tensor(x, shape: [3, 111]))
        #expect(p.data.count == 666)
        #expect(try f16.dequantize(p).scalars() == x.map { Float(Float16($0)) })
        let bf16 = try HalfPrecisionQuantizer(.bf16)
        let pb = try bf16.quantize(Tensor(x, shape: [333]))
        // bf16 is the top half of f32, rounded to nearest even.
        let refBF = x.map { v -> Float in
            let b = v.bitPattern
            let r = (b &+ 0x7FFF &+ ((b >> 16) & 1)) & 0xFFFF_0000
            return Float(bitPattern: r)
        }
        #expect(try bf16.dequantize(pb).scalars() == refBF)
        #expect(throws: KestrelError.nonFiniteValue(index: 2)) { try f16.quantize(Tensor([1, 2, .nan] as [Float], shape: [3])) }
        #expect(throws: KestrelError.invalidArgument(name: "x", reason: "element 1 = 70000.0 overflows f16")) {
            try f16.quantize(Tensor([1, 70000] as [Float], shape: [2]))
        }
        #expect(throws: KestrelError.self) { try HalfPrecisionQuantizer(.q8_0) }
        var bad = p.data
        bad.removeLast()
        #expect(throws: KestrelError.corruptFile(path: nil, section: "half payload", reason: "665 bytes, shape [3, 111] needs 666")) {
            try f16.dequantize(QuantizedTensor(shape: p.shape, format: p.format, data: bad))
        }
        bad = p.data
        bad[1] = 0x7C  // +Inf in f16
        bad[0] = 0
        #expect(throws: KestrelError.corruptFile(path: nil, section: "half payload", reason: "element 0 is not finite")) {
            try f16.dequantize(QuantizedTensor(shape: p.shape, format: p.format, data: bad))
        }
        #expect(try f16.dequantize(f16.quantize(Tensor.zeros([0, 3]))).shape.dims == [0, 3])
        #expect(try f16.effectiveBitsPerValue(shape: [10]) == 16)
    }
}
