import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

/// `GGMLQuantizer`: the Quantizer face of the block formats and the plain f32/f16/bf16 types.
@Suite struct BlockFormatQuantizerTests {
    static func sample(_ n: Int, seed: UInt64 = 7) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in rng.nextSignedUnit() * 3 }
    }

    @Test(arguments: GGMLBlocks.blockTypes)
    func tensorPayloadIsTheBlockStream(type: GGMLType) throws {
        let x = Self.sample(2 * 512)
        let q = try GGMLQuantizer(type, threads: 1)
        let t = try q.quantize(Tensor(x, shape: [2, 512]))
        #expect(t.shape == [2, 512] && t.format == .ggml(type))
        #expect(t.data == (try GGMLBlocks.quantize(x, rowLength: 512, as: type, threads: 1)))
        #expect(t.data.count == (try q.quantizedByteCount(shape: [2, 512])))
        let back = try q.dequantize(t)
        #expect(back.shape.dims == [2, 512] && back.dtype == .f32)
        let want = try GGMLBlocks.dequantize(t.data, as: type, elementCount: x.count, threads: 1)
        #expect(back.scalars().map(\.bitPattern) == want.map(\.bitPattern))
    }

    @Test func effectiveBitsPerValue() throws {
        let expected: [GGMLType: Double] = [.q8_0: 8.5, .q8_1: 9, .q4_0: 4.5, .q4_1: 5, .q5_0: 5.5, .q5_1: 6,
                                            .q4_K: 4.5, .q6_K: 6.5625, .f32: 32, .f16: 16, .bf16: 16]
        for (type, bits) in expected {
            #expect(try GGMLQuantizer(type).effectiveBitsPerValue(shape: [4, 256]) == bits, "\(type)")
        }
    }

    @Test func halfInputsAreWidenedExactly() throws {
        let x = Self.sample(256)
        let half = try Tensor(x, shape: [256]).converted(to: .f16)
        let widened = half.scalars()
        let q = try GGMLQuantizer(.q4_K)
        #expect(try q.quantize(half).data == (try GGMLBlocks.quantize(widened, rowLength: 256, as: .q4_K)))
    }

    @Test(arguments: [GGMLType.f32, .f16, .bf16])
    func plainTypesRoundTripThroughTheTensorConversions(type: GGMLType) throws {
        let x = Self.sample(3 * 5) + [0, -0.0, 65504, 1e-8]
        let q = try GGMLQuantizer(type)
        let t = try q.quantize(Tensor(x, shape: [19]))
        #expect(t.data.count == 19 * type.bytesPerBlock)
        let dtype: DType = type == .f32 ? .f32 : (type == .f16 ? .f16 : .bf16)
        let want = try Tensor(x, shape: [19]).converted(to: dtype).converted(to: .f32).scalars()
        #expect(try q.dequantize(t).scalars().map(\.bitPattern) == want.map(\.bitPattern))
        if type == .f16 {  // little-endian binary16 of 1.0 is 00 3c
            #expect(try q.quantize(Tensor([Float(1)], shape: [1])).data == [0x00, 0x3c])
        }
    }

    @Test func errors() throws {
        let q = try GGMLQuantizer(.q8_0)
        #expect(throws: KestrelError.invalidArgument(name: "shape", reason: "last axis 48 is not a multiple of q8_0's block size 32")) {
            _ = try q.quantize(Tensor([Float](repeating: 1, count: 96), shape: [2, 48]))
        }
        #expect(throws: KestrelError.invalidArgument(name: "shape", reason: "a rank-0 tensor has no row to cut into q8_0 blocks")) {
            _ = try q.quantizedByteCount(shape: [])
        }
        var x = [Float](repeating: 1, count: 64)
        x[33] = .nan
        #expect(throws: KestrelError.nonFiniteValue(index: 33)) { _ = try q.quantize(Tensor(x, shape: [2, 32])) }
        #expect(throws: KestrelError.nonFiniteValue(index: 33)) {
            _ = try GGMLQuantizer(.f16).quantize(Tensor(x, shape: [2, 32]))
        }
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            _ = try q.quantizedByteCount(shape: [1 << 40, 1 << 40, 32])
        }
        #expect(throws: KestrelError.invalidArgument(name: "type", reason: "q8_k is not supported")) {
            _ = try GGMLQuantizer(.q8_K)
        }
        let good = try q.quantize(Tensor([Float](repeating: 1, count: 64), shape: [2, 32]))
        #expect(throws: KestrelError.invalidArgument(name: "format", reason: "expected ggml(q4_0), got ggml(q8_0)")) {
            _ = try GGMLQuantizer(.q4_0).dequantize(good)
        }
        let cut = QuantizedTensor(shape: good.shape, format: good.format, data: Array(good.data.dropLast()))
        #expect(throws: KestrelError.corruptFile(path: nil, section: "ggml blocks",
                                                  reason: "truncated q8_0 payload: 67 bytes, shape [2, 32] needs 68")) {
            _ = try q.dequantize(cut)
        }
        let empty = try q.quantize(Tensor.zeros([0, 32]))
        #expect(empty.data.isEmpty)
        #expect(try q.dequantize(empty).shape.dims == [0, 32])
    }
}
