import ArgumentParser
import Foundation
import Kestrel

/// Where `quantize` and `analyze --target memory` read floats from: a `.npy` file (float32 or
/// float16, 1-D or 2-D) or one tensor / every tensor of a GGUF file (block tensors dequantized).
enum FloatSource {
    /// Reads named f32 tensors. `.npy`: one tensor named after the file. `.gguf`: the tensor
    /// `tensor`, or every tensor when `tensor` is nil and `all` is true.
    /// - Throws: `invalidArgument(name: "in")` for another extension, `invalidArgument(name: "tensor")`
    ///   when `--tensor` is missing for a GGUF file or given for a `.npy` one; whatever the readers throw.
    static func read(_ path: String, tensor: String?, all: Bool = false) throws(KestrelError) -> [NamedTensor] {
        let url = URL(fileURLWithPath: path)
        switch url.pathExtension.lowercased() {
        case "npy":
            guard tensor == nil else { throw .invalidArgument(name: "tensor", reason: "applies to GGUF files, not .npy") }
            let m = try Dataset.readFloats(url)
            return [NamedTensor(url.lastPathComponent, try Tensor(m.values, shape: [m.rows, m.dimension]))]
        case "gguf":
            let file = try GGUFFile.open(path: path)
            if let tensor { return [NamedTensor(tensor, try file.floatTensor(named: tensor))] }
            guard all else {
                throw .invalidArgument(name: "tensor", reason: "a GGUF file needs --tensor NAME (one of: "
                    + file.tensors.prefix(8).map(\.name).joined(separator: ", ") + (file.tensors.count > 8 ? ", …)" : ")"))
            }
            var out: [NamedTensor] = []
            for info in file.tensors { out.append(NamedTensor(info.name, try file.floatTensor(named: info.name))) }
            return out
        default:
            throw .invalidArgument(name: "in", reason: "read floats from .npy or .gguf, not '.\(url.pathExtension)'")
        }
    }
}

/// Shape text `4096,4096` ⇄ `[4096, 4096]`.
enum ShapeText {
    static func parse(_ s: String) -> [Int]? {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let dims = parts.compactMap { Int($0) }
        return dims.count == parts.count && !dims.isEmpty && dims.allSatisfy({ $0 >= 0 }) ? dims : nil
    }

    static func format(_ dims: [Int]) -> String { dims.map(String.init).joined(separator: "×") }
}

/// `kestrel quantize`: a float tensor to a quantized file (`.kqt` container, or the raw payload).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a .npy tensor (or a GGUF file's tensor) to a ggml block format or an integer scheme.",
        discussion: """
            Formats: \(QuantizerCatalog.names.joined(separator: "|")). ggml formats are bit-exact with llama.cpp's \
            reference quantizers; rows are the last axis and must be a multiple of the block size (32, or 256 for \
            q4_k/q6_k). int8/int4 use one scale per row unless --group gives per-group scales. Without --raw the \
            output is the .kqt container (Documentation/FileFormats.md); with --raw only the payload (a ggml block \
            stream for ggml formats, for byte comparison with llama.cpp). Prints the error report.
            """
    )

    @Option(help: "Format: \(QuantizerCatalog.names.joined(separator: ", ")).")
    var format: String

    @Option(help: "int8/int4 only: elements per scale group along the last axis (32, 64 or 128).")
    var group: Int?

    @Flag(help: "int8/int4 only: asymmetric (zero point) instead of symmetric.")
    var asymmetric = false

    @Flag(help: "Write only the payload (no header).")
    var raw = false

    @Option(name: .customLong("in"), help: "Input: X.npy (float32/float16, 1-D or 2-D) or model.gguf with --tensor.")
    var input: String

    @Option(help: "GGUF input: the tensor to quantize.")
    var tensor: String?

    @Option(help: "Output file.")
    var out: String

    func validate() throws {
        guard QuantizerCatalog.names.contains(format.lowercased()) else {
            throw ValidationError("--format must be one of \(QuantizerCatalog.names.joined(separator: ", "))")
        }
        if group != nil && !["int8", "int4"].contains(format.lowercased()) {
            throw ValidationError("--group applies to int8 and int4 only")
        }
        if asymmetric && !["int8", "int4"].contains(format.lowercased()) {
            throw ValidationError("--asymmetric applies to int8 and int4 only")
        }
    }

    func run() throws {
        let quantizer = try QuantizerCatalog.quantizer(named: format, group: group, symmetric: !asymmetric)
        let source = try FloatSource.read(input, tensor: tensor)[0]
        let q = try quantizer.quantize(source.tensor)
        let url = URL(fileURLWithPath: out)
        if raw {
            try withBytes(q.data) { (b) throws(KestrelError) in try AtomicFile.write(b, to: url) }
        } else {
            try QuantizedTensorFile.write(q, to: url)
        }
        let report = try QuantizationReport(name: source.name, tensor: source.tensor, quantizer: quantizer)
        print(QuantizationTable.render([report]), terminator: "")
        print("wrote \(out) (\(raw ? "raw payload" : ".kqt container"), \(q.data.count) payload bytes)")
    }
}

/// `kestrel dequantize`: a quantized file back to a float32 `.npy`.
struct DequantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dequantize",
        abstract: "Dequantize a .kqt file (or a raw payload with --format and --shape) to a float32 .npy.",
        discussion: """
            The .npy is 2-D: [product of the leading axes, last axis] (1-D tensors become one row). A truncated \
            or altered file is refused: the container's checksums and the payload's length are checked before \
            any value is read.
            """
    )

    @Option(name: .customLong("in"), help: "Input: a .kqt container, or a raw payload with --raw.")
    var input: String

    @Option(help: "Output .npy file.")
    var out: String

    @Flag(help: "The input is a raw payload: give --format and --shape.")
    var raw = false

    @Option(help: "With --raw: the payload's format (\(QuantizerCatalog.names.joined(separator: ", "))).")
    var format: String?

    @Option(help: "With --raw: the tensor shape, e.g. 4096,4096.")
    var shape: String?

    @Option(help: "With --raw int8/int4: the group size the payload was written with.")
    var group: Int?

    @Flag(help: "With --raw int8/int4: the payload is asymmetric.")
    var asymmetric = false

    func validate() throws {
        if raw {
            guard let format, QuantizerCatalog.names.contains(format.lowercased()) else {
                throw ValidationError("--raw needs --format (one of \(QuantizerCatalog.names.joined(separator: ", ")))")
            }
            guard let shape, ShapeText.parse(shape) != nil else { throw ValidationError("--raw needs --shape R,C (non-negative integers)") }
        } else if format != nil || shape != nil || group != nil || asymmetric {
            throw ValidationError("--format, --shape, --group and --asymmetric apply with --raw only (a .kqt file carries them)")
        }
    }

    func run() throws {
        let url = URL(fileURLWithPath: input)
        let q: QuantizedTensor
        let quantizer: any Quantizer
        if raw, let format, let shape, let dims = ShapeText.parse(shape) {
            quantizer = try QuantizerCatalog.quantizer(named: format, group: group, symmetric: !asymmetric)
            let bytes: [UInt8]
            do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
                throw KestrelError.io(path: input, operation: "read", errno: Int32((error as NSError).code))
            }
            q = QuantizedTensor(shape: dims, format: quantizer.format, data: bytes)
        } else {
            q = try QuantizedTensorFile.read(from: url)
            quantizer = try QuantizerCatalog.quantizer(for: q.format)
        }
        let x = try quantizer.dequantize(q)
        let last = q.shape.last ?? 1
        let rows = last == 0 ? 0 : q.elementCount / last
        try Dataset.write(try DatasetMatrix(rows: rows, dimension: last, values: try x.toArray(of: Float.self)),
                          to: URL(fileURLWithPath: out))
        print("wrote \(out): \(ShapeText.format(q.shape)) float32 from \(q.format.displayName)")
    }
}

/// The report table of `quantize` and `analyze --target memory`.
enum QuantizationTable {
    static func render(_ reports: [QuantizationReport]) -> String {
        var out = Format.left("tensor", 28) + Format.left("shape", 14) + Format.left("format", 27)
            + Format.right("bytes f32", 13) + Format.right("bytes after", 13) + Format.right("reduction", 10)
            + Format.right("bits/val", 9) + Format.right("RMSE", 11) + Format.right("max |err|", 11)
            + Format.right("SNR dB", 8) + Format.right("cosine", 10) + "\n"
        for r in reports {
            out += Format.left(String(r.name.prefix(27)), 28) + Format.left(ShapeText.format(r.shape), 14)
                + Format.left(String(r.format.prefix(26)), 27) + Format.right(String(r.bytesBefore), 13)
                + Format.right(String(r.bytesAfter), 13) + Format.right(Format.fixed(r.reductionPercent, 1) + "%", 10)
                + Format.right(Format.fixed(r.effectiveBits, 3), 9) + Format.right(String(format: "%.3e", r.rmse), 11)
                + Format.right(String(format: "%.3e", r.maxAbsError), 11) + Format.right(Format.fixed(r.snrDB, 2), 8)
                + Format.right(Format.fixed(r.cosineSimilarity, 6), 10) + "\n"
        }
        return out
    }
}
