import Foundation
import Kestrel
import MCP

/// What the server keeps between calls and between runs, in one directory (default
/// `$XDG_CACHE_HOME/kestrel/mcp` or `~/.cache/kestrel/mcp`, beside the roofline cache):
/// `last-report.json` (the last `benchmark_run`) and `baselines/NAME.json` (reports saved with
/// `save_baseline`, the same files `kestrel benchmark --save` writes). Files are written
/// atomically (``BenchmarkReport/save(to:)``). Thread-safe: no mutable state besides the files.
struct MCPState: Sendable {
    /// The directory.
    let directory: URL
    /// The performance history, when the server has one (nil: `--no-history`).
    let history: HistoryHandle?
    /// The named vector indexes of `index_build` / `index_search` (in memory, per process).
    let indexes = IndexRegistry()

    /// The default directory.
    static var defaultDirectory: URL {
        RooflineProbe.defaultCacheFile.deletingLastPathComponent().appendingPathComponent("mcp", isDirectory: true)
    }

    /// - Parameter historyPath: the history database (nil: none).
    init(directory: URL = MCPState.defaultDirectory, historyPath: String? = nil) {
        self.directory = directory
        self.history = historyPath.map(HistoryHandle.init(path:))
    }

    var lastReportURL: URL { directory.appendingPathComponent("last-report.json") }
    var baselinesURL: URL { directory.appendingPathComponent("baselines", isDirectory: true) }

    func saveLastReport(_ report: BenchmarkReport) throws { try report.save(to: lastReportURL) }

    /// Saves `report` as baseline `name` (letters, digits, `-`, `_`, `.`; no path).
    /// - Throws: `MCPError.invalidParams` for another name.
    func saveBaseline(_ report: BenchmarkReport, name: String) throws {
        try report.save(to: try baselineURL(name))
    }

    func baselineURL(_ name: String) throws -> URL {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !name.isEmpty, name.count <= 64, !name.hasPrefix("."), name.unicodeScalars.allSatisfy(allowed.contains) else {
            throw MCPError.invalidParams("a baseline name is 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (got '\(name)')")
        }
        return baselinesURL.appendingPathComponent(name + ".json")
    }

    /// Names of the saved baselines, sorted.
    func baselineNames() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: baselinesURL.path)) ?? []
        return files.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }.sorted()
    }
}

/// The resources of `kestrel mcp`: the last report, the saved baselines, the history's recent runs.
enum MCPResources {
    static let lastReportURI = "kestrel://reports/last"
    static let baselinePrefix = "kestrel://baselines/"
    static let recentRunsURI = "kestrel://history/recent-runs"

    /// What `resources/list` shows now.
    static func list(state: MCPState) -> [Resource] {
        var out: [Resource] = []
        if FileManager.default.fileExists(atPath: state.lastReportURL.path) {
            out.append(Resource(name: "last-report", uri: lastReportURI,
                                description: "The report of the last benchmark_run (the JSON of `kestrel benchmark --json`).",
                                mimeType: "application/json"))
        }
        for name in state.baselineNames() {
            out.append(Resource(name: "baseline \(name)", uri: baselinePrefix + name,
                                description: "A benchmark report saved with benchmark_run save_baseline=\(name).",
                                mimeType: "application/json"))
        }
        if state.history != nil {
            out.append(Resource(name: "recent-runs", uri: recentRunsURI,
                                description: "The performance history's most recent benchmark runs (newest first).",
                                mimeType: "application/json"))
        }
        return out
    }

    /// `resources/read`.
    /// - Throws: `MCPError.invalidParams` for an unknown URI or a resource that does not exist
    ///   (yet); errors of the history.
    static func read(_ uri: String, state: MCPState) throws -> Resource.Content {
        if uri == lastReportURI {
            return .text(try text(of: state.lastReportURL, uri: uri), uri: uri, mimeType: "application/json")
        }
        if uri.hasPrefix(baselinePrefix) {
            let url = try state.baselineURL(String(uri.dropFirst(baselinePrefix.count)))
            return .text(try text(of: url, uri: uri), uri: uri, mimeType: "application/json")
        }
        if uri == recentRunsURI, let json = try MCPHistoryTools.recentRunsJSON(state: state) {
            return .text(json, uri: uri, mimeType: "application/json")
        }
        throw MCPError.invalidParams("unknown resource '\(uri)'")
    }

    private static func text(of url: URL, uri: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MCPError.invalidParams("resource '\(uri)' does not exist yet")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
