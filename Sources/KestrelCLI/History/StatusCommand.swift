import ArgumentParser
import Foundation
import Kestrel
import KestrelBenchmarkKit
import KestrelHistory

/// One reading of what `kestrel status` shows.
struct StatusSnapshot: Sendable {
    /// When it was taken.
    var time: Date
    /// Per-core busy/total ticks (nil where unavailable).
    var cores: [CoreTimes]?
    /// Machine memory (cgroup-bounded).
    var memory: MemoryStatus
    /// 1-minute load average (nil where unknown).
    var load: Double?
    /// Statistics of the `kestrel mcp` servers publishing to the history.
    var servers: [MCPServerStats]
    /// Why the servers could not be read (missing or unreadable history), if so.
    var serverNote: String?

    /// Reads the machine now and the servers from `history` (nil: none open, `note` says why).
    static func take(history: PerformanceHistory?, note: String?) -> StatusSnapshot {
        var servers: [MCPServerStats] = []
        var note = note
        if let history {
            do {
                servers = try history.serverStats()
            } catch {
                note = "cannot read the history: \(error)"
            }
        }
        return StatusSnapshot(time: Date(), cores: try? SystemProbe.coreTimes(), memory: SystemProbe.memoryStatus(),
                              load: MachineLoad.oneMinute(), servers: servers, serverNote: note)
    }
}

/// `kestrel status [--watch]`: live system metrics (CPU %, memory, load) and, for each running
/// `kestrel mcp` server, its requests, latency percentiles and process usage (CPU %, RSS, page
/// faults, context switches), which the servers publish to the history every second
/// (``MCPStatsPublisher``).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show live system metrics and running `kestrel mcp` servers (requests, latency percentiles).",
        discussion: """
            Without --watch, prints one reading (CPU % measured over --interval). With --watch, \
            redraws the screen every --interval seconds until interrupted; --once stops after the \
            first redraw (for scripts and tests). Servers are found through the history database \
            (--db, default $KESTREL_HISTORY or ~/.cache/kestrel/history.sqlite), which this command \
            never creates.
            """
    )

    @Flag(help: "Refresh in place every --interval seconds until interrupted.")
    var watch = false
    @Flag(help: "With --watch, draw one frame and exit.")
    var once = false
    @Option(help: "Seconds between readings (0.1...60).")
    var interval = 1.0
    @Option(help: "The history database the servers publish to.")
    var db: String?

    func validate() throws {
        guard interval >= 0.1, interval <= 60 else { throw ValidationError("--interval must be in 0.1...60 seconds") }
        if let db, db.isEmpty { throw ValidationError("--db needs a path") }
    }

    func run() throws {
        let url = db.map { URL(fileURLWithPath: $0) } ?? PerformanceHistory.defaultURL
        var history: PerformanceHistory?
        var note: String?
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                history = try PerformanceHistory(url: url)
            } catch {
                note = "cannot open the history: \(error)"
            }
        } else {
            note = "no history at \(url.path) yet: no server has published"
        }
        var previous = StatusSnapshot.take(history: history, note: note)
        let inPlace = watch && !once && isatty(STDOUT_FILENO) == 1
        while true {
            Thread.sleep(forTimeInterval: interval)
            let now = StatusSnapshot.take(history: history, note: note)
            let frame = Self.frame(now, previous: previous, historyPath: url.path, interval: interval, watching: watch && !once)
            // Home + clear to the end of the screen: the frame is redrawn in place, without scrolling.
            // Written unbuffered: a watched frame must appear now, not when a buffer fills.
            FileHandle.standardOutput.write(Data(((inPlace ? "\u{1B}[H\u{1B}[J" : "") + frame).utf8))
            previous = now
            if !watch || once { return }
        }
    }

    /// The text of one reading, with rates computed against `previous`.
    static func frame(_ s: StatusSnapshot, previous: StatusSnapshot?, historyPath: String, interval: Double,
                      watching: Bool) -> String {
        var out = "kestrel status — \(HistoryTrendReport.time(s.time)) UTC"
            + (watching ? " (every \(Format.fixed(interval, 1)) s, Ctrl-C to stop)" : "") + "\n"
        if let now = s.cores, let before = previous?.cores {
            let per = SystemProbe.coreUtilization(from: before, to: now)
            let mean = per.isEmpty ? 0 : per.reduce(0, +) / Double(per.count)
            out += "cpu: \(Format.fixed(mean, 1)) % of \(per.count) cores"
                + (per.count <= 16 ? " (" + per.map { Format.fixed($0, 0) }.joined(separator: " ") + ")" : "")
        } else {
            out += "cpu: unavailable"
        }
        out += s.load.map { ", load average \(Format.fixed($0, 2))" } ?? ""
        out += "\n"
        let gib = { (b: UInt64) in Format.fixed(Double(b) / Double(1 << 30), 1) }
        out += "memory: \(gib(s.memory.totalBytes - s.memory.availableBytes)) GiB used of \(gib(s.memory.totalBytes)) GiB "
            + "(\(Format.fixed(s.memory.usedFraction * 100, 0)) %)\n"
        out += "\nkestrel mcp servers (history \(historyPath)):\n"
        if s.servers.isEmpty {
            out += "  none running" + (s.serverNote.map { " — \($0)" } ?? "") + "\n"
            return out
        }
        let before = Dictionary((previous?.servers ?? []).map { ($0.processID, $0) }, uniquingKeysWith: { a, _ in a })
        let ms = { (v: Double?) in v.map { Format.fixed($0, $0 < 10 ? 3 : 1) } ?? "—" }
        let rows: [[String]] = s.servers.map { srv in
            let prev = before[srv.processID]
            let seconds = srv.updatedAt.timeIntervalSince(prev?.updatedAt ?? srv.updatedAt)
            let rate = prev.flatMap { p in seconds > 0 && srv.requests >= p.requests ? Double(srv.requests - p.requests) / seconds : nil }
            var cpu = "—", rss = "—", faults = "—", switches = "—"
            if let p = srv.process {
                rss = Format.fixed(Double(p.residentBytes) / Double(1 << 20), 1) + " MiB"
                faults = "\(p.minorFaults)/\(p.majorFaults)"
                switches = "\(p.voluntaryContextSwitches)/\(p.involuntaryContextSwitches)"
                if let q = prev?.process, p.timestampNanoseconds > q.timestampNanoseconds {
                    cpu = Format.fixed(SystemProbe.usage(from: q, to: p).cpuPercent, 1)
                }
            }
            let up = max(0, s.time.timeIntervalSince(srv.startedAt))
            return [String(srv.processID), srv.transport, Self.duration(up), String(srv.requests), String(srv.errors),
                    rate.map { Format.fixed($0, 1) } ?? "—", ms(srv.p50Milliseconds), ms(srv.p95Milliseconds),
                    ms(srv.p99Milliseconds), ms(srv.maxMilliseconds), cpu, rss, faults, switches]
        }
        out += TextTable(header: ["PID", "Transport", "Up", "Requests", "Errors", "Req/s", "p50 ms", "p95 ms", "p99 ms", "Max ms",
                                  "CPU %", "RSS", "Faults min/maj", "Ctx sw vol/invol"], rows: rows).render()
        return out
    }

    /// `42 s`, `3 m 05 s`, `2 h 07 m`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%d m %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d m", s / 3600, (s % 3600) / 60)
    }
}
