import Foundation
import KestrelQuantization
import Testing
import _KestrelTestSupport

/// GGUFWriter: byte-identical to gguf-py on the reference files, read back by GGUFFile, and its
/// argument checks. (Scripts/check_gguf_roundtrip.py reads our files back with gguf-py.)
@Suite struct GGUFWriterTests {
    /// Rewrites a reference file key by key and tensor by tensor.
    static func rewrite(_ file: GGUFFile, floatTensorsAsTensors: Bool) throws -> GGUFWriter {
        var w = GGUFWriter()
        for key in file.metadataKeys { try w.setValue(file.metadata[key]!, forKey: key) }
        for t in file.tensors {
            if floatTensorsAsTensors, [.f32, .f16, .bf16].contains(t.type) {
                try w.addTensor(named: t.name, file.tensor(named: t.name))
            } else {
                try w.addTensor(named: t.name, file.quantizedTensor(named: t.name))
            }
        }
        return w
    }

    @Test(arguments: GGUFFixtureTests.files, [false, true])
    func rewritingAReferenceFileGivesTheSameBytes(_ name: String, asTensors: Bool) throws {
        var original = try Fixtures.bytes("gguf/\(name)")
        let file = try GGUFFile.open(path: Fixtures.url("gguf/\(name)").path)
        let out = try Self.rewrite(file, floatTensorsAsTensors: asTensors).serialized()
        original[4] = 3  // we write version 3 (the v2 fixture differs only there)
        #expect(out == original)
    }

    @Test func writtenFileReadsBack() throws {
        let dir = TempDir(prefix: "gguf")
        let url = dir.file("model.gguf")
        var w = GGUFWriter()
        try w.setValue(.string("kestrel"), forKey: "general.architecture")
        try w.setValue(.array(elementType: .array, [.array(elementType: .uint64, [.uint64(.max)]), .array(elementType: .uint64, [])]),
                       forKey: "nested")
        try w.setValue(.array(elementType: .string, []), forKey: "empty")
        try w.setValue(.float64(-0.0), forKey: "zero")
        // A transposed (non-contiguous) view is written row-major.
        let m = try Tensor((0..<6).map(Float.init), shape: [2, 3]).transposed()
        try w.addTensor(named: "t", m)
        try w.addTensor(named: "h", Tensor([Float](repeating: 1.5, count: 33), shape: [33]).converted(to: .bf16))
        try w.addTensor(named: "empty", Tensor.zeros([0, 4]))
        let q8 = try Fixtures.bytes("ggml-quants/Q8_0.quant.bin")
        try w.addTensor(named: "q", QuantizedTensor(shape: [2, 256], format: .ggml(.q8_0), data: Array(q8[0..<544])))
        try w.write(to: url)
        let f = try GGUFFile.open(path: url.path)
        #expect(f.version == 3 && f.alignment == 32)
        #expect(f.metadataKeys == ["general.architecture", "nested", "empty", "zero"])
        #expect(sameBits(f.metadata["zero"]!, .float64(-0.0)))
        #expect(f.metadata["nested"] == .array(elementType: .array, [.array(elementType: .uint64, [.uint64(.max)]), .array(elementType: .uint64, [])]))
        #expect(f.metadata["empty"] == .array(elementType: .string, []))
        #expect(f.tensorInfo(named: "t")?.dimensions == [2, 3])
        #expect(try f.tensor(named: "t").withUnsafeBufferPointer { Array($0) } == [0, 3, 1, 4, 2, 5])
        #expect(try f.floatTensor(named: "h").withUnsafeBufferPointer { Array($0) } == [Float](repeating: 1.5, count: 33))
        #expect(f.tensorInfo(named: "empty")?.dimensions == [4, 0] && f.tensorInfo(named: "empty")?.byteCount == 0)
        #expect(try f.quantizedTensor(named: "q").data == Array(q8[0..<544]))
        for t in f.tensors { #expect(t.offset % 32 == 0) }
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["model.gguf"])
    }

    @Test func customAlignmentPadsEveryTensor() throws {
        var w = GGUFWriter()
        try w.setValue(.uint32(128), forKey: "general.alignment")
        #expect(w.alignment == 128)
        try w.addTensor(named: "a", Tensor([Float](repeating: 1, count: 3), shape: [3]))
        try w.addTensor(named: "b", Tensor([Float](repeating: 2, count: 40), shape: [40]))
        let bytes = try w.serialized()
        #expect(bytes.count % 128 == 0)
        let f = try bytes.withUnsafeBytes { (p) throws(KestrelError) in try GGUFFile(bytes: p) }
        #expect(f.alignment == 128 && f.dataOffset % 128 == 0)
        #expect(f.tensors.map(\.offset) == [0, 128])
        #expect(bytes.count == f.dataOffset + 128 + 256)
        // The padding is zeros.
        #expect(bytes[(f.dataOffset + 12)..<(f.dataOffset + 128)].allSatisfy { $0 == 0 })
    }

    @Test func emptyWriterMakesAValidFile() throws {
        let bytes = try GGUFWriter().serialized()
        #expect(bytes.count == 32)  // 24-byte header padded to 32
        let f = try bytes.withUnsafeBytes { (p) throws(KestrelError) in try GGUFFile(bytes: p) }
        #expect(f.tensors.isEmpty && f.metadata.isEmpty && f.dataOffset == 32)
    }

    @Test func settingAKeyAgainReplacesItInPlace() throws {
        var w = GGUFWriter()
        try w.setValue(.int32(1), forKey: "a")
        try w.setValue(.int32(2), forKey: "b")
        try w.setValue(.string("x"), forKey: "a")
        let f = try w.serialized().withUnsafeBytes { (p) throws(KestrelError) in try GGUFFile(bytes: p) }
        #expect(f.metadataKeys == ["a", "b"] && f.metadata["a"] == .string("x"))
    }

    @Test func badArgumentsThrow() throws {
        var w = GGUFWriter()
        #expect(throws: KestrelError.invalidArgument(name: "value", reason: "array element [1] of k does not have the array's element type")) {
            try w.setValue(.array(elementType: .int32, [.int32(1), .int64(2)]), forKey: "k")
        }
        #expect(throws: KestrelError.invalidArgument(name: "value", reason: "array element [0, 1] of k does not have the array's element type")) {
            try w.setValue(.array(elementType: .array, [.array(elementType: .bool, [.bool(true), .uint8(1)])]), forKey: "k")
        }
        for bad: GGUFValue in [.uint32(0), .uint32(48), .uint64(32), .int32(32)] {
            #expect(throws: KestrelError.invalidArgument(name: "value", reason: "general.alignment must be a uint32 power of two, not \(bad)")) {
                try w.setValue(bad, forKey: "general.alignment")
            }
        }
        try w.addTensor(named: "x", Tensor([Float](repeating: 0, count: 4), shape: [4]))
        #expect(throws: KestrelError.invalidArgument(name: "name", reason: "a tensor named \"x\" was already added")) {
            try w.addTensor(named: "x", Tensor([Float](repeating: 0, count: 4), shape: [4]))
        }
        #expect(throws: KestrelError.invalidArgument(name: "value", reason: "general.alignment must be set before tensors are added")) {
            try w.setValue(.uint32(64), forKey: "general.alignment")
        }
        try w.setValue(.uint32(32), forKey: "general.alignment")  // unchanged: allowed
        #expect(throws: KestrelError.invalidArgument(name: "tensor", reason: "GGUF tensors have at most 4 axes, not 5")) {
            try w.addTensor(named: "r5", Tensor.zeros([1, 1, 1, 1, 2]))
        }
        #expect(throws: KestrelError.invalidArgument(name: "tensor", reason: "GGUF tensors are f32, f16, bf16 or ggml blocks, not int8")) {
            try w.addTensor(named: "i8", Tensor.zeros([4], dtype: .int8))
        }
        let int8 = QuantizedTensor(shape: [4], format: .integer(IntegerScheme(bits: 8, symmetric: true, granularity: .perTensor)), data: [0, 0, 0, 0])
        #expect(throws: KestrelError.invalidArgument(name: "tensor", reason: "integer schemes have no GGUF type; use a ggml format")) {
            try w.addTensor(named: "q", int8)
        }
        #expect(throws: KestrelError.invalidArgument(name: "tensor", reason: "last axis 31 is not a multiple of the q8_0 block size 32")) {
            try w.addTensor(named: "q", QuantizedTensor(shape: [2, 31], format: .ggml(.q8_0), data: []))
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [68], actual: [67])) {
            try w.addTensor(named: "q", QuantizedTensor(shape: [2, 32], format: .ggml(.q8_0), data: [UInt8](repeating: 0, count: 67)))
        }
        #expect(throws: KestrelError.invalidArgument(name: "tensor", reason: "negative extent in [-2, 32]")) {
            try w.addTensor(named: "q", QuantizedTensor(shape: [-2, 32], format: .ggml(.q8_0), data: []))
        }
        #expect(throws: KestrelError.invalidArgument(name: "shape", reason: "element count of [1099511627776, 1099511627776, 32] overflows Int")) {
            try w.addTensor(named: "q", QuantizedTensor(shape: [1 << 40, 1 << 40, 32], format: .ggml(.q8_0), data: []))
        }
        #expect(throws: KestrelError.invalidArgument(name: "shape", reason: "element count of [0, 4294967296, 0, 4294967296] overflows Int")) {
            try w.addTensor(named: "q", QuantizedTensor(shape: [0, 1 << 32, 0, 1 << 32], format: .ggml(.q8_0), data: []))
        }
        // Bytes that overflow although the element count fits: 2^61 f32 elements.
        #expect(throws: KestrelError.capacityExceeded(limit: .max, requested: .max)) {
            try w.addTensor(named: "q", QuantizedTensor(shape: [1 << 61], format: .ggml(.f32), data: []))
        }
        // Nothing bad was added: the file still holds only "x".
        let f = try w.serialized().withUnsafeBytes { (p) throws(KestrelError) in try GGUFFile(bytes: p) }
        #expect(f.tensors.map(\.name) == ["x"])
    }

    @Test func writingIntoADirectoryThrowsIO() throws {
        let dir = TempDir(prefix: "gguf")
        #expect(throws: KestrelError.io(path: dir.url.path, operation: "open", errno: EISDIR)) {
            try GGUFWriter().write(to: dir.url)
        }
        #expect(throws: KestrelError.io(path: dir.file("no/such/dir.gguf").path, operation: "create", errno: ENOENT)) {
            try GGUFWriter().write(to: dir.file("no/such/dir.gguf"))
        }
    }
}

/// Files our writer makes for gguf-py to read back (Scripts/check_gguf_roundtrip.py sets
/// KESTREL_GGUF_EXPORT_DIR and runs this test; without it the files go to a temporary directory
/// and are read back by GGUFFile only).
@Suite struct GGUFExportTests {
    /// Content of extras.gguf; check_gguf_roundtrip.py holds the same list.
    static func extras() throws -> GGUFWriter {
        var w = GGUFWriter()
        try w.setValue(.uint32(128), forKey: "general.alignment")
        try w.setValue(.string("kestrel-extras"), forKey: "general.architecture")
        try w.setValue(.array(elementType: .int32, []), forKey: "extras.empty_array")
        try w.setValue(.string(""), forKey: "extras.empty_string")
        try w.setValue(.array(elementType: .array, [.array(elementType: .uint64, [.uint64(.max), .uint64(0)]), .array(elementType: .uint64, [.uint64(7)])]),
                       forKey: "extras.nested_uint64")
        try w.setValue(.array(elementType: .float64, [.float64(-0.0), .float64(.infinity)]), forKey: "extras.float64s")
        try w.setValue(.int16(-2), forKey: "extras.int16")
        try w.addTensor(named: "w.f32", Tensor((0..<12).map { Float($0) * 0.25 - 1 }, shape: [3, 4]))
        try w.addTensor(named: "w.f16", Tensor((0..<12).map { Float($0) * 0.25 - 1 }, shape: [2, 2, 3]).converted(to: .f16))
        try w.addTensor(named: "w.bf16", Tensor((0..<5).map { Float($0) - 2 }, shape: [5]).converted(to: .bf16))
        let q4 = try Fixtures.bytes("ggml-quants/Q4_0.quant.bin")
        try w.addTensor(named: "w.q4_0", QuantizedTensor(shape: [2, 256], format: .ggml(.q4_0), data: Array(q4[0..<288])))
        let q6 = try Fixtures.bytes("ggml-quants/Q6_K.quant.bin")
        try w.addTensor(named: "w.q6_k", QuantizedTensor(shape: [1, 256], format: .ggml(.q6_K), data: Array(q6[0..<210])))
        return w
    }

    @Test func exportForGGUFPy() throws {
        let temp = TempDir(prefix: "gguf-export")
        let dir = ProcessInfo.processInfo.environment["KESTREL_GGUF_EXPORT_DIR"].map { URL(fileURLWithPath: $0) } ?? temp.url
        try Self.extras().write(to: dir.appendingPathComponent("extras.gguf"))
        for name in GGUFFixtureTests.files {
            let f = try GGUFFile.open(path: Fixtures.url("gguf/\(name)").path)
            try GGUFWriterTests.rewrite(f, floatTensorsAsTensors: true).write(to: dir.appendingPathComponent("rewrite-\(name)"))
        }
        let back = try GGUFFile.open(path: dir.appendingPathComponent("extras.gguf").path)
        #expect(back.alignment == 128 && back.tensors.count == 5 && back.metadata.count == 7)
        #expect(back.tensors.allSatisfy { $0.offset % 128 == 0 })
    }
}

/// The sample of Documentation/Quantization.md ("GGUF files"), verbatim but for the checks.
@Suite struct GGUFDocumentationSampleTests {
    @Test func quantizationGuideSample() throws {
        let dir = TempDir(prefix: "gguf-doc")
        let url = dir.file("model.gguf")
        var writer = GGUFWriter()
        try writer.setValue(.string("llama"), forKey: "general.architecture")
        try writer.setValue(.uint32(4096), forKey: "llama.context_length")
        try writer.setValue(.array(elementType: .string, [.string("<s>"), .string("</s>")]), forKey: "tokenizer.ggml.tokens")
        try writer.addTensor(named: "output_norm.weight", Tensor.filled(1, shape: [64]))
        try writer.addTensor(named: "token_embd.weight", Tensor.zeros([2, 64], dtype: .f16))
        try writer.write(to: url)

        let file = try GGUFFile.open(path: url.path)
        let context = file.metadata["llama.context_length"]?.intValue
        let info = file.tensorInfo(named: "token_embd.weight")!
        let embeddings = try file.floatTensor(named: "token_embd.weight")
        let blocks = try file.quantizedTensor(named: "token_embd.weight")
        let view = try file.rawBytes(of: "output_norm.weight")
        #expect(context == 4096)
        #expect(info.type == .f16 && info.shape == [2, 64] && info.dimensions == [64, 2])
        #expect(embeddings.dtype == .f32 && embeddings.shape.dims == [2, 64] && embeddings.scalars().allSatisfy { $0 == 0 })
        #expect(blocks.format == .ggml(.f16) && blocks.data.count == 256)
        #expect(view.count == 256 && view.load(as: Float.self) == 1)
    }
}

@Suite struct GGUFValueTests {
    @Test func identityComparesBitsAndTypes() {
        #expect(GGUFValue.float32(.nan).isIdentical(to: .float32(.nan)))
        #expect(GGUFValue.float32(.nan) != .float32(.nan))
        #expect(!GGUFValue.float64(-0.0).isIdentical(to: .float64(0.0)))
        #expect(GGUFValue.float64(-0.0) == .float64(0.0))
        #expect(!GGUFValue.int32(1).isIdentical(to: .uint32(1)))
        #expect(GGUFValue.array(elementType: .float32, [.float32(.nan)]).isIdentical(to: .array(elementType: .float32, [.float32(.nan)])))
        #expect(!GGUFValue.array(elementType: .int8, []).isIdentical(to: .array(elementType: .uint8, [])))
    }

    @Test func accessors() {
        #expect(GGUFValue.uint64(.max).intValue == nil && GGUFValue.uint64(5).intValue == 5 && GGUFValue.int8(-3).intValue == -3)
        #expect(GGUFValue.float32(0.5).doubleValue == 0.5 && GGUFValue.string("a").doubleValue == nil)
        #expect(GGUFValue.string("a").stringValue == "a" && GGUFValue.bool(true).boolValue == true)
        #expect(GGUFValue.array(elementType: .bool, [.bool(false)]).arrayValue == [.bool(false)] && GGUFValue.bool(true).arrayValue == nil)
        #expect(GGUFValue.array(elementType: .string, [.string("x")]).description == "array<string>[string(\"x\")]")
        #expect(GGUFValueType.allCases.map(\.rawValue) == Array(0...12))
        // FileFormats.md: decoded metadata costs about 24 bytes per array element (no boxing).
        #expect(MemoryLayout<GGUFValue>.stride <= 24)
    }
}
