import Foundation
import KestrelQuantization
import KestrelVectorIndex

/// Small valid files for every target, written at run time (no binary files in the repository).
/// Without them the fuzzer would rarely get past the magic numbers and checksums. Every codec
/// and metric appears at least once, with tombstones, a trained codec, kept f32 vectors and an
/// empty index, so mutations start from each branch of the loaders.
enum SeedCorpus {
    /// Writes `dir/<target>/<name>` for every target; returns the number of files.
    static func write(to dir: URL) throws -> Int {
        var written = 0
        func folder(_ t: FuzzTarget) throws -> URL {
            let u = dir.appendingPathComponent(t.rawValue)
            try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
            return u
        }
        let hnswDirs = [try folder(.hnsw), try folder(.hnswRaw)]
        let flatDirs = [try folder(.flat), try folder(.flatRaw)]
        let vecsDir = try folder(.vecs)
        let npyDir = try folder(.npy)

        // HNSW: ~50 vectors of dimension 8 (16 bits for hamming); small M keeps the files a few KB.
        let hnswSeeds: [(String, DistanceMetric, VectorStorageKind, Int, Bool, Int)] = [
            ("f32-l2", .l2Squared, .f32, 4, false, 50),
            ("int8-l2-full", .l2Squared, .int8, 4, true, 50),
            ("int8-ip", .innerProduct, .int8, 3, false, 40),
            ("binary-hamming", .hamming, .binary, 4, false, 50),
            ("binary-l2-full", .l2Squared, .binary, 2, true, 30),
            ("f16-cos-full", .cosine, .f16, 4, true, 30),
            ("bf16-ip", .innerProduct, .bf16, 2, false, 30),
            ("empty", .l2Squared, .f32, 4, false, 0),
        ]
        for (name, metric, storage, m, full, n) in hnswSeeds {
            let dim = metric == .hamming ? 16 : 8
            let index = try HNSWIndex(dimension: dim, metric: metric, storage: storage,
                                      parameters: HNSWParameters(M: m, efConstruction: 16, efSearch: 8, keepFullPrecision: full))
            if n > 0 {
                try index.add(keys: (0..<n).map { UInt64($0) * 3 }, vectors: vectors(n, dim, binary: metric == .hamming, seed: UInt64(m * n)))
                try index.remove(key: 6)
            }
            for d in hnswDirs {
                try index.save(to: d.appendingPathComponent("hnsw-\(name).kvx"))
                written += 1
            }
        }

        let flatSeeds: [(String, DistanceMetric, VectorStorageKind, Int)] = [
            ("f32-l2", .l2Squared, .f32, 50),
            ("f32-cos", .cosine, .f32, 20),
            ("int8-cos", .cosine, .int8, 30),
            ("int8-l2", .l2Squared, .int8, 30),
            ("f16-ip", .innerProduct, .f16, 20),
            ("bf16-l2", .l2Squared, .bf16, 20),
            ("binary-hamming", .hamming, .binary, 30),
            ("binary-ip", .innerProduct, .binary, 20),
            ("empty", .l2Squared, .f32, 0),
        ]
        for (name, metric, storage, n) in flatSeeds {
            let dim = metric == .hamming ? 16 : 8
            let index = try FlatIndex(dimension: dim, metric: metric, storage: storage)
            if n > 0 {
                try index.add(keys: (0..<n).map { UInt64($0) + 1 }, vectors: vectors(n, dim, binary: metric == .hamming, seed: UInt64(n)))
                try index.remove(key: 3)
            }
            for d in flatDirs {
                try index.save(to: d.appendingPathComponent("flat-\(name).kvx"))
                written += 1
            }
        }

        // TEXMEX files: the three element types, and a single one-component row.
        let floats = vectors(10, 8, binary: false, seed: 7)
        try Dataset.write(try DatasetMatrix(rows: 10, dimension: 8, values: floats), to: vecsDir.appendingPathComponent("a.fvecs"))
        try Dataset.write(try DatasetMatrix(rows: 1, dimension: 1, values: [0.5] as [Float]), to: vecsDir.appendingPathComponent("one.fvecs"))
        try Dataset.write(try DatasetMatrix(rows: 10, dimension: 4, values: (0..<40).map { Int32($0 * 7 - 100) }), to: vecsDir.appendingPathComponent("a.ivecs"))
        try Dataset.write(try DatasetMatrix(rows: 10, dimension: 8, values: (0..<80).map { UInt8(truncatingIfNeeded: $0 * 37) }), to: vecsDir.appendingPathComponent("a.bvecs"))
        written += 4

        // NumPy: the writer's 1.0 files (f4, f2, i4), plus hand-made 1-D, 2.0, 3.0 and empty ones.
        try Dataset.write(try DatasetMatrix(rows: 10, dimension: 8, values: floats), to: npyDir.appendingPathComponent("f4.npy"))
        try Dataset.write(try DatasetMatrix(rows: 10, dimension: 8, values: floats), to: npyDir.appendingPathComponent("f2.npy"), halfPrecision: true)
        try Dataset.write(try DatasetMatrix(rows: 10, dimension: 4, values: (0..<40).map { Int32($0 - 20) }), to: npyDir.appendingPathComponent("i4.npy"))
        let payload8 = (0..<8).flatMap { (i: Int) -> [UInt8] in withUnsafeBytes(of: Float(i).bitPattern.littleEndian, Array.init) }
        let crafted: [(String, [UInt8])] = [
            ("1d.npy", npy(major: 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }", payload8)),
            ("v2.npy", npy(major: 2, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 4), }", payload8)),
            ("v3.npy", npy(major: 3, "{\"descr\": \"<f2\", \"fortran_order\": False, \"shape\": (4, 4)}", payload8)),
            ("empty.npy", npy(major: 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 8), }", [])),
        ]
        for (name, bytes) in crafted { try Data(bytes).write(to: npyDir.appendingPathComponent(name)) }
        written += 3 + crafted.count
        written += try ggufSeeds(folder(.gguf))
        written += try kqtSeeds(folder(.kqt))
        return written
    }

    /// The gguf-py reference files of Tests/Fixtures/gguf (every metadata type, alignment 64,
    /// version 2, no tensors) and one file of our writer (alignment 128, empty array, blocks).
    static func ggufSeeds(_ dir: URL) throws -> Int {
        let fixtures = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()  // Fuzz
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/gguf")
        var n = 0
        for name in ["all-types.gguf", "align64.gguf", "align64-v2.gguf", "no-tensors.gguf"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: dir.appendingPathComponent(name))
            n += 1
        }
        var w = GGUFWriter()
        try w.setValue(.uint32(128), forKey: "general.alignment")
        try w.setValue(.array(elementType: .array, [.array(elementType: .int8, []), .array(elementType: .int8, [.int8(-1)])]), forKey: "a")
        try w.setValue(.bool(true), forKey: "b")
        try w.addTensor(named: "x", Tensor(vectors(6, 1, binary: false, seed: 3), shape: [2, 3]).converted(to: .bf16))
        try w.addTensor(named: "q", QuantizedTensor(shape: [32], format: .ggml(.q8_0), data: [UInt8](repeating: 1, count: 34)))
        try w.write(to: dir.appendingPathComponent("writer.gguf"))
        return n + 1
    }

    /// `.kqt` containers of every kind of format: ggml blocks (from the real quantizers, so the
    /// payloads decode), int8/int4 schemes at each granularity, f16, an empty and a scalar tensor.
    static func kqtSeeds(_ dir: URL) throws -> Int {
        let x = try Tensor(vectors(4 * 64, 1, binary: false, seed: 11), shape: [4, 64])
        var n = 0
        for name in ["q8_0", "q4_1", "q5_0", "f16", "int8", "int4"] {
            for group: Int? in name.hasPrefix("int") ? [nil, 32] : [nil] {
                let q = try QuantizerCatalog.quantizer(named: name, group: group, symmetric: group == nil).quantize(x)
                try QuantizedTensorFile.write(q, to: dir.appendingPathComponent("\(name)-\(group ?? 0).kqt"))
                n += 1
            }
        }
        let k = try QuantizerCatalog.quantizer(named: "q6_k").quantize(try Tensor(vectors(256, 1, binary: false, seed: 12), shape: [1, 256]))
        try QuantizedTensorFile.write(k, to: dir.appendingPathComponent("q6_k.kqt"))
        try QuantizedTensorFile.write(QuantizedTensor(shape: [0, 32], format: .ggml(.q8_0), data: []), to: dir.appendingPathComponent("empty.kqt"))
        return n + 2
    }

    /// `n × dim` deterministic values in [-1, 1) (or 0/1 for hamming), from a SplitMix64 stream.
    static func vectors(_ n: Int, _ dim: Int, binary: Bool, seed: UInt64) -> [Float] {
        var s = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<(n * dim)).map { _ in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return binary ? Float(z >> 63) : Float(z >> 40) / Float(1 << 23) - 1
        }
    }

    /// A `.npy` file: magic, version, header length (u16 for 1.0, u32 for 2.0/3.0), the header
    /// dictionary padded with spaces and a newline to a 64-byte boundary, then `payload`.
    static func npy(major: UInt8, _ dict: String, _ payload: [UInt8]) -> [UInt8] {
        let prefix = major == 1 ? 10 : 12
        var text = dict
        while (prefix + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
        let len = text.utf8.count
        if major == 1 {
            out += [UInt8(len & 0xFF), UInt8(len >> 8)]
        } else {
            out += [UInt8(len & 0xFF), UInt8((len >> 8) & 0xFF), UInt8((len >> 16) & 0xFF), UInt8(len >> 24)]
        }
        return out + Array(text.utf8) + payload
    }
}
