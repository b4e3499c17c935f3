import Foundation
import Kestrel
import KestrelHistory
import MCP

/// The performance history of a server, opened on first use and kept open (a damaged or foreign
/// file gives the same typed error on every call and is never touched). Thread-safe.
final class HistoryHandle: @unchecked Sendable {
    let path: String
    private let lock = PlainLock()
    private var opened: Result<PerformanceHistory, KestrelError>?

    init(path: String) { self.path = path }

    func history() throws(KestrelError) -> PerformanceHistory {
        let r: Result<PerformanceHistory, KestrelError> = lock.withLock {
            if let opened, case .success = opened { return opened }
            let r = Result { () throws(KestrelError) in try PerformanceHistory(url: URL(fileURLWithPath: path)) }
            opened = r
            return r
        }
        return try r.get()
    }
}

/// The tools over the performance history (performance_report, metrics_store, metrics_query)
/// and the named vector indexes (index_build, index_search), on KestrelHistory and the index
/// operations of `kestrel index`.
enum MCPHistoryTools {
    static func all(state: MCPState) -> [MCPToolDefinition] {
        var tools: [MCPToolDefinition] = []
        if let handle = state.history {
            tools += [performanceReport(handle), metricsStore(handle), metricsQuery(handle)]
        }
        return tools + [indexBuild(state.indexes), indexSearch(state.indexes)]
    }

    /// The recent runs as JSON, nil while there is no history.
    static func recentRunsJSON(state: MCPState) throws -> String? {
        guard let handle = state.history else { return nil }
        let runs = try handle.history().runs(in: .all).suffix(20).reversed()
        return ToolOutput.json(try ToolOutput.encode(Array(runs)))
    }

    static let timeframes = HistoryTimeframe.allCases.map(\.rawValue)

    static func performanceReport(_ handle: HistoryHandle) -> MCPToolDefinition {
        let input = Schema.object([
            "format": Schema.string("markdown (default), json or detailed (the terminal report).", enum: ["markdown", "json", "detailed"]),
            "timeframe": Schema.string("Window of the history (default 7d).", enum: timeframes),
            "suite": Schema.string("Only runs of this suite.", minLength: 1, maxLength: 100),
            "threshold_percent": Schema.number("Relative change beyond which a worse figure is a regression (default 5).",
                                               minimum: 0, maximum: 1000),
        ])
        let output = Schema.object([
            "format": Schema.string("Format.", enum: ["markdown", "json", "detailed"]),
            "timeframe": Schema.string("Window.", enum: timeframes),
            "runs": Schema.integer("Runs in the window.", minimum: 0),
            "regressions": Schema.array(Schema.string("Case."), description: "Cases of the latest run flagged as regressions."),
            "improvements": Schema.array(Schema.string("Case."), description: "Cases flagged as improvements."),
            "report": Schema.string("The rendered report."),
            "trend": Schema.freeObject,
        ], required: ["format", "timeframe", "runs", "regressions", "improvements", "report"])
        let tool = Tool(name: "performance_report", title: "Performance trends and regressions",
                        description: "Renders the performance history over a timeframe (24h, 7d, all): the runs, each case's trend, "
                            + "and the latest run compared with the previous comparable one (KestrelProfiling's BaselineComparison), "
                            + "regressions flagged. The same report as `kestrel report --timeframe`.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false), outputSchema: output)
        return MCPToolDefinition(tool: tool) { call in
            let format = ReportFormat(rawValue: call.string("format") ?? "markdown") ?? .markdown
            let timeframe = HistoryTimeframe(rawValue: call.string("timeframe") ?? "7d") ?? .week
            let trend = try handle.history().trend(timeframe: timeframe, suite: call.string("suite"),
                                                   threshold: (call.double("threshold_percent") ?? 5) / 100)
            let text = try trend.rendered(format)
            var out: [String: Value] = [
                "format": .string(format.rawValue), "timeframe": .string(timeframe.rawValue), "runs": .int(trend.runs.count),
                "regressions": .array(trend.regressions.map { .string($0.name) }),
                "improvements": .array(trend.improvements.map { .string($0.name) }), "report": .string(text),
            ]
            if format == .json { out["trend"] = try PlainJSON.decode(trend.jsonData()) }
            return ToolOutput(structured: .object(out), text: text)
        }
    }

    static let metricSchema = Schema.object([
        "id": Schema.integer("Row id."), "namespace": Schema.string("Namespace."), "key": Schema.string("Key."),
        "value": Schema.any(["number", "null"]), "text": Schema.any(["string", "null"]),
        "recordedAt": Schema.string("ISO-8601 time stored."), "expiresAt": Schema.any(["string", "null"]),
    ], required: ["id", "namespace", "key", "recordedAt"], additional: true)

    static func metricsStore(_ handle: HistoryHandle) -> MCPToolDefinition {
        let input = Schema.object([
            "namespace": Schema.string("Namespace, e.g. a project.", minLength: 1, maxLength: 200),
            "key": Schema.string("Key (dots group keys; queries select by prefix).", minLength: 1, maxLength: 500),
            "value": Schema.number("A finite number."),
            "text": Schema.string("A text value (e.g. JSON), up to 1 MiB.", maxLength: 1 << 20),
            "ttl_seconds": Schema.number("Seconds until the point expires (default: kept).", minimum: 0.001),
            "replace": Schema.boolean("Remove the key's earlier points (a current value, not a series)."),
        ], required: ["namespace", "key"])
        let tool = Tool(name: "metrics_store", title: "Store a metric",
                        description: "Stores a number and/or a text under namespace/key in the performance history (SQLite), "
                            + "with an optional time to live; expired points are pruned and never returned.",
                        inputSchema: input, annotations: .init(readOnlyHint: false, destructiveHint: false, openWorldHint: false),
                        outputSchema: Schema.object(["metric": metricSchema], required: ["metric"]))
        return MCPToolDefinition(tool: tool) { call in
            guard call.arguments["value"] != nil || call.arguments["text"] != nil else {
                throw MCPError.invalidParams("metrics_store needs a value, a text or both")
            }
            let m = try handle.history().storeMetric(namespace: call.string("namespace") ?? "", key: call.string("key") ?? "",
                                                     value: call.double("value"), text: call.string("text"),
                                                     ttl: call.double("ttl_seconds"), replacing: call.bool("replace") ?? false)
            return ToolOutput(.object(["metric": try ToolOutput.encode(m)]))
        }
    }

    static func metricsQuery(_ handle: HistoryHandle) -> MCPToolDefinition {
        let input = Schema.object([
            "namespace": Schema.string("Namespace.", minLength: 1, maxLength: 200),
            "key_prefix": Schema.string("Only keys starting with this (default all).", maxLength: 500),
            "timeframe": Schema.string("Only points stored in this window (default all).", enum: timeframes),
            "latest_only": Schema.boolean("Only the newest point of each key."),
            "limit": Schema.integer("At most this many points (default 1000).", minimum: 1, maximum: 100_000),
        ], required: ["namespace"])
        let tool = Tool(name: "metrics_query", title: "Query metrics",
                        description: "Unexpired metric points of a namespace from the performance history, newest first.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false),
                        outputSchema: Schema.object(["metrics": Schema.array(metricSchema, description: "Newest first.")],
                                                    required: ["metrics"]))
        return MCPToolDefinition(tool: tool) { call in
            let points = try handle.history().metrics(
                namespace: call.string("namespace") ?? "", keyPrefix: call.string("key_prefix") ?? "",
                in: HistoryTimeframe(rawValue: call.string("timeframe") ?? "all") ?? .all,
                latestOnly: call.bool("latest_only") ?? false, limit: call.int("limit") ?? 1000)
            return ToolOutput(.object(["metrics": try ToolOutput.encode(points)]))
        }
    }

    static func indexBuild(_ registry: IndexRegistry) -> MCPToolDefinition {
        let input = Schema.object([
            "name": Schema.string("Name to register the index under (replaces an index of that name).", minLength: 1, maxLength: 100),
            "path": Schema.string("Vectors: a .npy (float32/float16, 2-D), .fvecs or .bvecs file.", minLength: 1),
            "open": Schema.string("Instead of path: a saved index file to open.", minLength: 1),
            "keys": Schema.string("Keys: an .ivecs or int32 .npy file with one key per row (default row numbers).", minLength: 1),
            "kind": Schema.string("hnsw (default) or flat.", enum: IndexKind.allCases.map(\.rawValue)),
            "metric": Schema.string("l2 (default), ip, cos or hamming.", enum: DistanceMetric.allCases.map(\.rawValue)),
            "save": Schema.string("Also save the index to this file.", minLength: 1),
        ], required: ["name"])
        let info = Schema.object([
            "name": Schema.any(["string", "null"]), "path": Schema.any(["string", "null"]), "kind": Schema.string("Kind."),
            "dimension": Schema.integer("Components per vector."), "count": Schema.integer("Live vectors."),
        ], required: ["kind", "dimension", "count"], additional: true)
        let tool = Tool(name: "index_build", title: "Build or open a vector index",
                        description: "Builds a named in-memory vector index (HNSW or flat) from a .npy/.fvecs file, or opens a "
                            + "saved one, optionally saving it; the same operations as `kestrel index build`. Search it with index_search.",
                        inputSchema: input, annotations: .init(readOnlyHint: false, destructiveHint: false, openWorldHint: false),
                        outputSchema: info)
        return MCPToolDefinition(tool: tool) { call in
            let name = call.string("name") ?? ""
            call.progress(0, 1, "building \(name)")
            let result: IndexInfo
            switch (call.string("path"), call.string("open")) {
            case (let path?, nil):
                var options = IndexBuildOptions()
                options.kind = IndexKind(rawValue: call.string("kind") ?? "hnsw") ?? .hnsw
                options.metric = DistanceMetric(rawValue: call.string("metric") ?? "l2") ?? .l2Squared
                result = try registry.build(name: name, vectors: URL(fileURLWithPath: path),
                                            keys: call.string("keys").map { URL(fileURLWithPath: $0) }, options: options,
                                            saveTo: call.string("save").map { URL(fileURLWithPath: $0) })
            case (nil, let file?):
                result = try registry.open(name: name, path: URL(fileURLWithPath: file))
            default: throw MCPError.invalidParams("index_build needs exactly one of path and open")
            }
            call.progress(1, 1, nil)
            return ToolOutput(try ToolOutput.encode(result))
        }
    }

    static func indexSearch(_ registry: IndexRegistry) -> MCPToolDefinition {
        let input = Schema.object([
            "name": Schema.string("An index built or opened with index_build.", minLength: 1, maxLength: 100),
            "query": Schema.array(Schema.number("A component."), description: "The query vector.", minItems: 1, maxItems: 65_536),
            "k": Schema.integer("Neighbours (default 10).", minimum: 1, maximum: 10_000),
            "ef": Schema.integer("HNSW beam width for this search (default the index's).", minimum: 1, maximum: 100_000),
        ], required: ["name", "query"])
        let tool = Tool(name: "index_search", title: "Search a vector index",
                        description: "The k nearest keys of a query vector in a named index, nearest first, with distances.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false),
                        outputSchema: Schema.object([
                            "keys": Schema.array(Schema.integer("Key."), description: "Nearest first."),
                            "distances": Schema.array(Schema.any(["number", "string"]), description: "Aligned with keys."),
                        ], required: ["keys", "distances"], additional: true))
        return MCPToolDefinition(tool: tool, runsInline: true) { call in
            let query = (call.arguments["query"]?.arrayValue ?? []).map { v -> Float in
                switch v {
                case .int(let i): return Float(i)
                case .double(let d): return Float(d)
                default: return .nan
                }
            }
            let hits = try registry.search(name: call.string("name") ?? "", query: query, k: call.int("k") ?? 10, ef: call.int("ef"))
            return ToolOutput(try ToolOutput.encode(hits))
        }
    }
}
