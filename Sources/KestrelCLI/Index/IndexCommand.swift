import ArgumentParser
import Foundation
import Kestrel

/// `kestrel index build|search|info|compact`: vector indexes over embeddings kept in .npy /
/// .fvecs / .bvecs files, saved in KestrelVectorIndex's file format. The same operations back the
/// MCP `index_build` / `index_search` tools (``IndexOperations``).
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build, search, describe and compact vector indexes over .npy/.fvecs embedding files.",
        subcommands: [IndexBuildCommand.self, IndexSearchCommand.self, IndexInfoCommand.self, IndexCompactCommand.self]
    )
}

extension IndexKind: ExpressibleByArgument {}

/// Prints `value` as sorted, pretty JSON.
private func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try e.encode(value), as: UTF8.self))
}

extension IndexInfo {
    /// `kestrel index info` lines.
    var lines: [String] {
        var out = [
            "kind: \(kind.rawValue)", "dimension: \(dimension)", "metric: \(metric)", "storage: \(storage)",
            "vectors: \(count)" + (kind == .hnsw ? " (\(tombstones) removed, kept until compact)" : ""),
            "memory: \(bytesUsed) bytes",
        ]
        if let M { out.append("hnsw: M \(M), ef_search \(efSearch ?? 0)") }
        if let path { out.insert("file: \(path)" + (fileBytes.map { " (\($0) bytes)" } ?? ""), at: 0) }
        if let name { out.insert("name: \(name)", at: 0) }
        return out
    }
}

/// `kestrel index build`.
struct IndexBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an index from a vector file (.npy, .fvecs, .bvecs) and save it.")

    @Option(help: "Vectors, one per row (.npy float32/float16/int32, .fvecs, .bvecs).")
    var vectors: String
    @Option(help: "Keys, one per row (.ivecs or int32 .npy with one column); default: the row numbers.")
    var keys: String?
    @Option(help: "The index file to write.")
    var output: String
    @Option(help: "Index kind: hnsw or flat.")
    var kind: IndexKind = .hnsw
    @Option(help: "Distance: l2, ip, cos or hamming.")
    var metric = "l2"
    @Option(help: "Vector storage: f32, f16, bf16, int8 or binary.")
    var storage = "f32"
    @Option(name: .customLong("m"), help: "HNSW links per node (2...256).")
    var M = 16
    @Option(name: .customLong("ef-construction"), help: "HNSW build beam width.")
    var efConstruction = 200
    @Option(name: .customLong("ef-search"), help: "HNSW default search beam width.")
    var efSearch = 64
    @Option(help: "Insertion threads.")
    var threads = 1
    @Flag(help: "Print the index description as JSON.")
    var json = false

    func validate() throws {
        guard DistanceMetric(name: metric) != nil else { throw ValidationError("--metric must be l2, ip, cos or hamming") }
        guard VectorStorageKind(rawValue: storage) != nil else { throw ValidationError("--storage must be f32, f16, bf16, int8 or binary") }
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
    }

    var options: IndexBuildOptions {
        IndexBuildOptions(kind: kind, metric: DistanceMetric(name: metric) ?? .l2Squared,
                          storage: VectorStorageKind(rawValue: storage) ?? .f32, M: M, efConstruction: efConstruction,
                          efSearch: efSearch, threads: threads)
    }

    func run() throws {
        let start = MonotonicClock.now()
        let m = try IndexOperations.readVectors(URL(fileURLWithPath: vectors))
        let k = try keys.map { (p) throws(KestrelError) in try IndexOperations.readKeys(URL(fileURLWithPath: p)) }
        let loaded = try IndexOperations.build(vectors: m, keys: k, options: options)
        try loaded.index.save(to: URL(fileURLWithPath: output))
        let info = IndexOperations.info(loaded, path: output)
        if json { return try printJSON(info) }
        let seconds = Double(MonotonicClock.now() - start) / 1e9
        print("built \(info.kind.rawValue) index of \(info.count) vectors in " + String(format: "%.2f s", seconds))
        for l in info.lines { print(l) }
    }
}

/// `kestrel index search`.
struct IndexSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search a saved index with query vectors from a file or the command line.")

    @Option(help: "The index file (built by `kestrel index build` or saved by the library).")
    var index: String
    @Option(help: "Query vectors, one per row (.npy, .fvecs, .bvecs).")
    var queries: String?
    @Option(help: "One query vector, comma-separated components (instead of --queries).")
    var vector: String?
    @Option(help: "Neighbours per query.")
    var k = 10
    @Option(help: "HNSW search beam width (default: the index's).")
    var ef: Int?
    @Option(help: "Search threads.")
    var threads = 1
    @Flag(help: "Use the file's pages in place (read-only memory mapping) instead of loading it.")
    var mapped = false
    @Flag(help: "Print the hits as JSON.")
    var json = false

    func validate() throws {
        guard (queries == nil) != (vector == nil) else { throw ValidationError("give exactly one of --queries and --vector") }
        guard k >= 1 else { throw ValidationError("--k must be ≥ 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
        if let ef, ef < 1 { throw ValidationError("--ef must be ≥ 1") }
        if let vector { _ = try Self.parse(vector) }
    }

    /// Parses `0.5,1,-2` into floats.
    static func parse(_ text: String) throws -> [Float] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Float($0) }
        guard !parts.isEmpty, values.count == parts.count else {
            throw ValidationError("--vector must be comma-separated numbers, got '\(text)'")
        }
        return values
    }

    func run() throws {
        let loaded = try IndexOperations.load(URL(fileURLWithPath: index), mapped: mapped)
        let q: DatasetMatrix<Float>
        if let vector {
            let v = try Self.parse(vector)
            q = try DatasetMatrix(rows: 1, dimension: v.count, values: v)
        } else {
            q = try IndexOperations.readVectors(URL(fileURLWithPath: queries ?? ""))
        }
        let hits = try IndexOperations.search(loaded, queries: q, k: k, ef: ef, threads: threads)
        if json { return try printJSON(hits) }
        for h in hits {
            print("query \(h.query): " + zip(h.keys, h.distances).map { "\($0) (\(String(format: "%.6g", $1)))" }.joined(separator: ", "))
        }
    }
}

/// `kestrel index info`.
struct IndexInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe a saved index.")

    @Argument(help: "The index file.")
    var path: String
    @Flag(help: "Print the description as JSON.")
    var json = false

    func run() throws {
        let info = IndexOperations.info(try IndexOperations.load(URL(fileURLWithPath: path), mapped: true), path: path)
        if json { return try printJSON(info) }
        for l in info.lines { print(l) }
    }
}

/// `kestrel index compact`.
struct IndexCompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Drop removed vectors from an HNSW index and renumber it in search order (rewritten atomically).")

    @Argument(help: "The index file.")
    var path: String
    @Option(help: "Write the compacted index here instead of replacing the input.")
    var output: String?
    @Flag(help: "Print the descriptions before and after as JSON.")
    var json = false

    func run() throws {
        let (before, after) = try IndexOperations.compact(URL(fileURLWithPath: path), output: output.map { URL(fileURLWithPath: $0) })
        if json { return try printJSON(["before": before, "after": after]) }
        print("compacted \(path)" + (output.map { " into \($0)" } ?? "") + ": \(before.tombstones) removed vector(s) dropped, "
            + "\(before.fileBytes ?? 0) → \(after.fileBytes ?? 0) bytes")
    }
}
