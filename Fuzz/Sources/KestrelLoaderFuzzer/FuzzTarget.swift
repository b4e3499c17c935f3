import Foundation
import KestrelQuantization
@_spi(Fuzzing) import KestrelVectorIndex

/// The loaders under test. A file an index loader accepts is checked against an independent
/// reading of the format (``SpecCheck``) and the loaded index is used (counts, lookups, searches,
/// an insert and a removal), so a file that validates but is inconsistent is caught; dataset
/// targets check the parsed shape against the input size.
enum FuzzTarget: String, CaseIterable {
    /// `HNSWIndex.load(bytes:)`: the public path, every CRC verified (the mutator re-seals them).
    case hnsw
    /// `HNSWIndex.load(bytes:verifyChecksums: false)` (SPI), then, when it loads, the same file
    /// through `load(from:mapped: true, verifyChecksums: false)`: structural validation alone.
    case hnswRaw = "hnsw-raw"
    /// `FlatIndex.load(bytes:)`.
    case flat
    /// `FlatIndex.load(bytes:verifyChecksums: false)`, then the mapped file load.
    case flatRaw = "flat-raw"
    /// `Dataset.parseFvecs`, `parseIvecs` and `parseBvecs` on the same bytes.
    case vecs
    /// `Dataset.parseNPYFloats` and `parseNPYInts` on the same bytes.
    case npy
    /// `GGUFFile(bytes:)`; an accepted file is checked (``GGUFCheck``), every tensor read, and the
    /// file rewritten with `GGUFWriter` and parsed again to the same values.
    case gguf
    /// `QuantizedTensorFile.decode` (the `.kqt` container of `kestrel quantize`); an accepted file
    /// must re-encode to the same bytes, and its payload is dequantized by the quantizer of its
    /// format (which must throw, never trap, on a payload that does not fit the shape).
    case kqt

    enum Reseal { case all, headers, kqt }

    /// Which checksums the custom mutator recomputes after mutating an input (nil: none).
    var reseal: Reseal? {
        switch self {
        case .hnsw, .flat: return .all
        // Payload CRCs are not checked here, but header CRCs are.
        case .hnswRaw, .flatRaw: return .headers
        case .kqt: return .kqt
        case .vecs, .npy, .gguf: return nil
        }
    }

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .hnsw:
            if let index = try? HNSWIndex.load(bytes: bytes) {
                conforms(bytes, payloadCRCs: true, SpecCheck.hnsw)
                exercise(index)
            }
        case .hnswRaw:
            if let index = try? HNSWIndex.load(bytes: bytes, verifyChecksums: false) {
                conforms(bytes, payloadCRCs: false, SpecCheck.hnsw)
                exercise(index)
                let file = ScratchFile.write(bytes)
                if let mapped = try? HNSWIndex.load(from: file, mapped: true, verifyChecksums: false) {
                    exercise(mapped)
                }
                // Graph copied, kept f32 vectors left in the file: searches re-rank through the
                // mapping and the first insert must copy them before writing.
                if let partly = try? HNSWIndex.load(from: file, mapFullPrecision: true, verifyChecksums: false) {
                    partly.rerankDepth = 5
                    exercise(partly)
                }
            }
        case .flat:
            if let index = try? FlatIndex.load(bytes: bytes) {
                conforms(bytes, payloadCRCs: true, SpecCheck.flat)
                exercise(index)
            }
        case .flatRaw:
            if let index = try? FlatIndex.load(bytes: bytes, verifyChecksums: false) {
                conforms(bytes, payloadCRCs: false, SpecCheck.flat)
                exercise(index)
                if let mapped = try? FlatIndex.load(from: ScratchFile.write(bytes), mapped: true, verifyChecksums: false) {
                    exercise(mapped)
                }
            }
        case .vecs:
            if let m = try? Dataset.parseFvecs(bytes) { check(m, bytes.count, elementSize: 4) }
            if let m = try? Dataset.parseIvecs(bytes) { check(m, bytes.count, elementSize: 4) }
            if let m = try? Dataset.parseBvecs(bytes) { check(m, bytes.count, elementSize: 1) }
        case .npy:
            if let m = try? Dataset.parseNPYFloats(bytes) { check(m, bytes.count) }
            if let m = try? Dataset.parseNPYInts(bytes) { check(m, bytes.count) }
            // The any-rank header behind Tensor.readNPY: an accepted shape fills the payload exactly.
            if let h = try? NPY.parseHeader(bytes, maxRank: 8) {
                precondition(h.offset + h.elementCount * h.itemBytes == bytes.count, "npy: shape \(h.shape) vs \(bytes.count) bytes")
            }
        case .gguf:
            if let file = try? GGUFFile(bytes: bytes) { GGUFCheck.accepted(file, bytes) }
        case .kqt:
            if let q = try? QuantizedTensorFile.decode(bytes) {
                let again = try? QuantizedTensorFile.encode(q)
                precondition(again == Array(bytes), "an accepted .kqt file does not re-encode to its own bytes")
                // Bound the work: the payload's length is what was read; huge shapes must be refused.
                if let quantizer = try? QuantizerCatalog.quantizer(for: q.format), q.elementCount <= 1 << 22 {
                    if let x = try? quantizer.dequantize(q) {
                        precondition(x.shape.dims == q.shape, "dequantized shape \(x.shape.dims) for \(q.shape)")
                    }
                }
            }
        }
    }
}

/// A file a loader accepted must satisfy the independent reading of the format (SpecCheck).
func conforms(
    _ bytes: UnsafeRawBufferPointer, payloadCRCs: Bool,
    _ check: (UnsafeRawBufferPointer, Bool) throws(SpecCheck.Violation) -> Void
) {
    do {
        try check(bytes, payloadCRCs)
    } catch {
        preconditionFailure("the loader accepted a file that breaks the format: \(error)")
    }
}

/// Uses a loaded index the way an application would. Errors are fine (a cosine index rejects the
/// zero query); traps, sanitizer reports and hangs are findings, and so is a result that breaks
/// the index's contract (more than k results, a key the index does not contain).
func exercise<I: VectorIndex>(_ index: I) {
    let d = index.dimension
    for key: UInt64 in [0, 1, 2, 3, 100, .max] { _ = index.contains(key: key) }
    let queries = [[Float](repeating: 0, count: d), [Float](repeating: 1, count: d)]
    func search() {
        let live = index.count
        for q in queries {
            for filter: ((UInt64) -> Bool)? in [nil, { $0 & 1 == 0 }] {
                guard let hits = try? index.search(q, k: 3, filter: filter) else { continue }
                precondition(hits.count <= min(3, live), "\(hits.count) hits for k = 3 in an index of \(live)")
                for h in hits {
                    precondition(index.contains(key: h.key), "search returned key \(h.key), which the index does not contain")
                    precondition(filter?(h.key) ?? true, "search returned key \(h.key), which the filter rejects")
                }
            }
        }
    }
    search()
    // Mutations walk and rewrite the loaded graph (a mapped index rejects them with an error).
    _ = try? index.add(key: 0xF0F0_F0F0, vector: queries[1])
    _ = try? index.remove(key: 0)
    search()
}

/// The parsed shape must account for every input byte.
func check<E>(_ m: DatasetMatrix<E>, _ count: Int, elementSize: Int) {
    precondition(m.rows > 0 && m.dimension > 0 && m.values.count == m.rows * m.dimension)
    precondition(m.rows * (4 + m.dimension * elementSize) == count, "\(m.rows) × \(m.dimension) from \(count) bytes")
    _ = m[row: m.rows - 1]
}

func check<E>(_ m: DatasetMatrix<E>, _ count: Int) {
    precondition(m.rows >= 0 && m.dimension >= 0 && m.values.count == m.rows * m.dimension)
    precondition(m.values.count <= count, "\(m.rows) × \(m.dimension) values from \(count) bytes")
    if m.rows > 0 && m.dimension > 0 { _ = m[row: m.rows - 1] }
}

/// A per-process temporary file for the mapped loads (removed at exit).
enum ScratchFile {
    nonisolated(unsafe) static var url: URL?

    static func write(_ bytes: UnsafeRawBufferPointer) -> URL {
        let u: URL
        if let url {
            u = url
        } else {
            u = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-fuzz-\(getpid()).kvx")
            url = u
            atexit { if let u = ScratchFile.url { unlink(u.path) } }
        }
        try? Data(bytes).write(to: u)
        return u
    }
}
