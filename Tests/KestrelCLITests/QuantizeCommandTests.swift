import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelCLI
@testable import Kestrel

/// `kestrel quantize`, `dequantize` and `analyze --target memory --quantization` against the
/// library called directly on the same data, and their refusals.
@Suite struct QuantizeCommandTests {
    static func input(in dir: URL) throws -> (url: URL, values: [Float]) {
        var rng = SeededRNG(seed: 99)
        let values = (0..<(8 * 256)).map { _ in Float.random(in: -2...2, using: &rng) }
        let url = dir.appendingPathComponent("w.npy")
        try Dataset.write(try DatasetMatrix(rows: 8, dimension: 256, values: values), to: url)
        return (url, values)
    }

    @Test func rawOutputIsTheLibrarysBlockStreamAndRoundTrips() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
            let (url, values) = try Self.input(in: dir)
            for format in ["q4_0", "q6_k", "q8_1"] {
                let raw = dir.appendingPathComponent("w.\(format)")
                try QuantizeCommand.parse(["--format", format, "--raw", "--in", url.path, "--out", raw.path]).run()
                let type = try #require(GGMLType.allCases.first { $0.description == format })
                let expected = try GGMLBlocks.quantize(values, rowLength: 256, as: type)
                #expect([UInt8](try Data(contentsOf: raw)) == expected)
                let back = dir.appendingPathComponent("b.npy")
                try DequantizeCommand.parse(["--raw", "--format", format, "--shape", "8,256", "--in", raw.path, "--out", back.path]).run()
                let floats = try Dataset.readFloats(back)
                #expect(floats.rows == 8 && floats.dimension == 256)
                #expect(floats.values == (try GGMLBlocks.dequantize(expected, as: type, elementCount: values.count)))
            }
    }

    @Test func containerRoundTripsEveryIntegerScheme() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
            let (url, values) = try Self.input(in: dir)
            for args in [["--format", "int8"], ["--format", "int4", "--group", "64", "--asymmetric"]] {
                let kqt = dir.appendingPathComponent("w.kqt")
                try QuantizeCommand.parse(args + ["--in", url.path, "--out", kqt.path]).run()
                let q = try QuantizedTensorFile.read(from: kqt)
                let quantizer = try QuantizerCatalog.quantizer(named: args[1], group: args.count > 2 ? 64 : nil, symmetric: args.count == 2)
                let direct = try quantizer.quantize(try Tensor(values, shape: [8, 256]))
                #expect(q == direct)
                let back = dir.appendingPathComponent("b.npy")
                try DequantizeCommand.parse(["--in", kqt.path, "--out", back.path]).run()
                #expect(try Dataset.readFloats(back).values == (try quantizer.dequantize(direct).toArray(of: Float.self)))
            }
    }

    @Test func refusals() throws {
        #expect(throws: (any Error).self) { try QuantizeCommand.parse(["--format", "q3_k", "--in", "a.npy", "--out", "b"]) }
        #expect(throws: (any Error).self) { try QuantizeCommand.parse(["--format", "q4_0", "--group", "32", "--in", "a.npy", "--out", "b"]) }
        #expect(throws: (any Error).self) { try DequantizeCommand.parse(["--raw", "--in", "a", "--out", "b.npy"]) }
        #expect(throws: (any Error).self) { try DequantizeCommand.parse(["--raw", "--format", "q4_0", "--shape", "4,x", "--in", "a", "--out", "b.npy"]) }
        #expect(throws: (any Error).self) { try DequantizeCommand.parse(["--format", "q4_0", "--in", "a", "--out", "b.npy"]) }
        #expect(throws: (any Error).self) { try AnalyzeCommand.parse(["--target", "latency", "--quantization", "int8", "--in", "a.npy"]) }
        #expect(throws: (any Error).self) { try AnalyzeCommand.parse(["--target", "memory", "--quantization", "int8"]) }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
            let (url, _) = try Self.input(in: dir)
            // A row length the format cannot hold, a tensor name for a .npy, a truncated container.
            #expect(throws: KestrelError.self) {
                try QuantizeCommand.parse(["--format", "q4_k", "--in", url.path, "--out", dir.appendingPathComponent("x").path, "--tensor", "t"]).run()
            }
            let kqt = dir.appendingPathComponent("w.kqt")
            try QuantizeCommand.parse(["--format", "q4_0", "--in", url.path, "--out", kqt.path]).run()
            let bytes = try Data(contentsOf: kqt)
            try bytes.prefix(bytes.count - 1).write(to: kqt)
            let e = #expect(throws: KestrelError.self) {
                try DequantizeCommand.parse(["--in", kqt.path, "--out", dir.appendingPathComponent("o.npy").path]).run()
            }
            if case .corruptFile(let path, "payload", _)? = e { #expect(path == kqt.path) } else { Issue.record("\(String(describing: e))") }
    }

    @Test func memoryAnalysisReportsEveryTensorAgainstTheLibrary() throws {
        let text = try AnalyzeCommand.quantizationMemory(input: Fixtures.url("gguf/all-types.gguf").path, tensor: nil,
                                                         format: "int8", group: nil, minSNR: 30)
        // The four block tensors and the finite float ones are reported; f32.matrix holds NaN/Inf.
        #expect(text.contains("blk.q6_k") && text.contains("f16.cube") && text.contains("skipped: f32.matrix"))
        let file = try GGUFFile.open(path: Fixtures.url("gguf/all-types.gguf").path)
        let r = try QuantizationReport(name: "blk.q4_k", tensor: try file.floatTensor(named: "blk.q4_k"),
                                       quantizer: try QuantizerCatalog.quantizer(named: "int8"))
        #expect(text.contains(Format.fixed(r.snrDB, 2)) && text.contains(String(r.bytesAfter)))
        #expect(text.contains("Mixed precision for SNR ≥ 30.0 dB"))
    }
}
