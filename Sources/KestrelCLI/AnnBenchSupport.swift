import Foundation
import Kestrel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Clocks and memory probes for `kestrel ann-bench`.
enum AnnBenchClock {
    /// Monotonic wall time in seconds.
    static func wall() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// CPU time of the whole process (all threads) in seconds.
    static func processCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Resident set size in bytes (Linux /proc/self/statm; 0 where unavailable).
    static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = s.split(separator: " ")
        guard parts.count > 1, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Recall@k of `found` rows (keys = 0-based base rows) against ground-truth rows.
func annRecall(_ found: [[SearchResult]], truth: DatasetMatrix<Int32>, k: Int) -> Double {
    var hits = 0
    let kk = min(k, truth.dimension)
    for (i, row) in found.enumerated() where i < truth.rows {
        let t = Set(truth[row: i].prefix(kk).map { Int64($0) })
        for r in row.prefix(k) where t.contains(Int64(r.key)) { hits += 1 }
    }
    return Double(hits) / Double(max(1, min(found.count, truth.rows) * kk))
}

/// Percentile (nearest rank) of an unsorted sample.
func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return 0 }
    let s = xs.sorted()
    let rank = Int((p / 100 * Double(s.count)).rounded(.up)) - 1
    return s[max(0, min(s.count - 1, rank))]
}

/// One JSON object on one line, keys in the order given (numbers as JSON numbers).
func jsonLine(_ fields: [(String, Any)]) -> String {
    let body = fields.map { key, value -> String in
        let v: String
        switch value {
        case let s as String: v = "\"\(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        case let b as Bool: v = b ? "true" : "false"
        case let d as Double: v = d.isFinite ? "\(d)" : "null"
        case let i as Int: v = "\(i)"
        default: v = "null"
        }
        return "\"\(key)\":\(v)"
    }
    return "{" + body.joined(separator: ",") + "}"
}

/// The version string reported by `ann-bench` (library version and active kernel tier).
let kestrelVersionString = "kestrel 0.1.0 (\(ISALevel.active.rawValue))"
