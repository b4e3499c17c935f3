import Foundation
import MCP

/// The tools over the performance history and the vector indexes (performance_report,
/// metrics_store, metrics_query, index_build, index_search). They call KestrelHistory and the
/// index operations of `kestrel index`, which land on their own branch: until they are merged,
/// this build lists none of these tools (none are faked).
enum MCPHistoryTools {
    static func all(state: MCPState) -> [MCPToolDefinition] { [] }

    /// The recent runs as JSON, nil while there is no history.
    static func recentRunsJSON(state: MCPState) throws -> String? { nil }
}
