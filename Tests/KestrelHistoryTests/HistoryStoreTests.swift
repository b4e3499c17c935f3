import Foundation
import KestrelHistory
import KestrelKernels
import KestrelProfiling
import Testing
import _KestrelTestSupport

/// Round trips, timeframes, TTL expiry and trend flags of the SQLite performance history.
@Suite struct HistoryStoreTests {
    typealias F = HistoryFixtures

    @Test func runsRoundTripWithTheirCasesAndReport() throws {
        let dir = TempDir(prefix: "history")
        let url = dir.file("nested/h.sqlite")
        let r1 = F.report(at: F.now.addingTimeInterval(-60), latency: 100)
        let r2 = F.report(at: F.now, latency: 120, cpu: "Other CPU")
        let ids: [Int64]
        do {
            let h = try PerformanceHistory(url: url, now: F.now)
            ids = [try h.record(r1).id, try h.record(r2).id]
            #expect(ids[0] < ids[1])
        }
        // Reopened from disk: everything is there.
        let h = try PerformanceHistory(url: url, now: F.now)
        let runs = try h.runs(in: .all, now: F.now)
        #expect(runs.map(\.id) == ids)
        #expect(runs[0].cpuModel == "Test CPU" && runs[1].cpuModel == "Other CPU")
        #expect(runs[0].isaLevel == "avx2" && runs[0].gitCommit == "abc123" && runs[0].libraryVersion == "0.1.0")
        #expect(runs[0].recordedAt == r1.createdAt && runs[0].caseCount == 3 && runs[0].failures == 0)
        #expect(try h.report(runID: ids[0]) == r1)
        #expect(try h.report(runID: ids[1]) == r2)
        #expect(try h.report(runID: 999) == nil)
        #expect(try h.run(id: ids[1]) == runs[1])

        let cases = try h.caseValues(runID: ids[1])
        #expect(cases.map(\.name) == ["simd.dot.latency", "simd.dot.throughput", "simd.skipped"])
        #expect(cases[0].value == 120 && cases[0].unit == "ns" && cases[0].higherIsBetter == false && cases[0].status == "PASS")
        #expect(cases[0].lower == 120 * 0.99 && cases[0].upper == 120 * 1.01)
        #expect(cases[1].higherIsBetter == true && cases[2].value == nil && cases[2].status == "SKIP")
        #expect(try h.series(case: "simd.dot.latency", in: .all, now: F.now).map(\.value) == [100, 120])
        #expect(try h.series(case: "no.such.case", in: .all, now: F.now).isEmpty)
    }

    @Test func emptyHistoryAndEmptyFileAreUsable() throws {
        let dir = TempDir(prefix: "history")
        let url = dir.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: url.path, contents: Data()))
        let h = try PerformanceHistory(url: url, now: F.now)
        #expect(try h.runs(in: .all, now: F.now).isEmpty)
        let t = try h.trend(timeframe: .all, now: F.now)
        #expect(t.latest == nil && t.comparison == nil && t.series.isEmpty && t.regressions.isEmpty)
        #expect(try h.metrics(namespace: "x", now: F.now).isEmpty)
    }

    @Test func timeframesSelectRunsSeriesAndMetrics() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"), now: F.now)
        for (age, latency) in [(10.0 * 86_400, 90.0), (3 * 86_400, 95), (7200, 100)] {
            _ = try h.record(F.report(at: F.now.addingTimeInterval(-age), latency: latency))
        }
        // A run "from the future" (clock skew between machines) is outside every window ending now.
        _ = try h.record(F.report(at: F.now.addingTimeInterval(3600), latency: 1))
        #expect(try h.runs(in: .day, now: F.now).count == 1)
        #expect(try h.runs(in: .week, now: F.now).count == 2)
        #expect(try h.runs(in: .all, now: F.now).count == 3)
        #expect(try h.runs(in: .all, suite: "hnsw", now: F.now).isEmpty)
        #expect(try h.series(case: "simd.dot.latency", in: .week, now: F.now).map(\.value) == [95, 100])
        // Exactly 24 h old is inside the window, one second more is not.
        _ = try h.record(F.report(at: F.now.addingTimeInterval(-86_400), latency: 99))
        _ = try h.record(F.report(at: F.now.addingTimeInterval(-86_401), latency: 98))
        #expect(try h.series(case: "simd.dot.latency", in: .day, now: F.now).map(\.value) == [99, 100])

        try h.storeMetric(namespace: "ns", key: "old", value: 1, now: F.now.addingTimeInterval(-2 * 86_400))
        try h.storeMetric(namespace: "ns", key: "new", value: 2, now: F.now.addingTimeInterval(-60))
        #expect(try h.metrics(namespace: "ns", in: .day, now: F.now).map(\.key) == ["new"])
        #expect(try h.metrics(namespace: "ns", in: .week, now: F.now).map(\.key) == ["new", "old"])
        #expect(HistoryTimeframe(rawValue: "24h") == .day && HistoryTimeframe(rawValue: "7d") == .week)
        #expect(HistoryTimeframe.all.start(endingAt: F.now) == nil)
    }

    @Test func metricsExpireAfterTheirTTLAndArePruned() throws {
        let dir = TempDir(prefix: "history")
        let url = dir.file("h.sqlite")
        let t0 = F.now
        do {
            let h = try PerformanceHistory(url: url, now: t0)
            try h.storeMetric(namespace: "agent", key: "tokens.in", value: 10, ttl: 60, now: t0)
            try h.storeMetric(namespace: "agent", key: "tokens.out", value: 20, now: t0)
            #expect(try h.metrics(namespace: "agent", now: t0.addingTimeInterval(59)).count == 2)
            // Expired at t0 + 60: no longer returned, even before pruning.
            #expect(try h.metrics(namespace: "agent", now: t0.addingTimeInterval(60)).map(\.key) == ["tokens.out"])
            #expect(try h.metricNamespaces(now: t0) == ["agent"])
        }
        // Opening prunes: the expired row is gone for good, the other kept.
        let h = try PerformanceHistory(url: url, now: t0.addingTimeInterval(61))
        #expect(try h.pruneExpired(now: t0.addingTimeInterval(61)) == 0)
        #expect(try h.metrics(namespace: "agent", now: t0).map(\.key) == ["tokens.out"])
        try h.storeMetric(namespace: "agent", key: "x", value: 1, ttl: 1, now: t0)
        #expect(try h.pruneExpired(now: t0.addingTimeInterval(1)) == 1)
    }

    @Test func metricsSelectByKeyPrefixLatestAndReplace() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"), now: F.now)
        for (i, key) in ["a.b", "a.c", "a%", "a_", "b.a", "a.b"].enumerated() {
            try h.storeMetric(namespace: "p", key: key, value: Double(i), now: F.now.addingTimeInterval(Double(i)))
        }
        try h.storeMetric(namespace: "q", key: "a.b", value: 99, text: "{\"k\":1}", now: F.now)
        let later = F.now.addingTimeInterval(10)
        #expect(try h.metrics(namespace: "p", keyPrefix: "a.", now: later).map(\.value) == [5, 1, 0])
        #expect(try h.metrics(namespace: "p", keyPrefix: "a.", latestOnly: true, now: later).map(\.value) == [5, 1])
        // % and _ are literal characters in a prefix, not wildcards.
        #expect(try h.metrics(namespace: "p", keyPrefix: "a%", now: later).map(\.key) == ["a%"])
        #expect(try h.metrics(namespace: "p", keyPrefix: "a_", now: later).map(\.key) == ["a_"])
        #expect(try h.metrics(namespace: "p", now: later).count == 6)
        #expect(try h.metrics(namespace: "p", limit: 2, now: later).count == 2)
        #expect(try h.metrics(namespace: "q", now: later).first?.text == "{\"k\":1}")
        try h.storeMetric(namespace: "p", key: "a.b", value: 7, replacing: true, now: later)
        #expect(try h.metrics(namespace: "p", keyPrefix: "a.b", now: later).map(\.value) == [7])
    }

    @Test func invalidMetricArgumentsThrowAndStoreNothing() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"), now: F.now)
        let bad: [(String, () throws(KestrelError) -> Void)] = [
            ("namespace", { () throws(KestrelError) in try h.storeMetric(namespace: "", key: "k", value: 1) }),
            ("key", { () throws(KestrelError) in try h.storeMetric(namespace: "n", key: "", value: 1) }),
            ("value", { () throws(KestrelError) in try h.storeMetric(namespace: "n", key: "k", value: .nan) }),
            ("value", { () throws(KestrelError) in try h.storeMetric(namespace: "n", key: "k", value: .infinity) }),
            ("value", { () throws(KestrelError) in try h.storeMetric(namespace: "n", key: "k", value: nil) }),
            ("ttl", { () throws(KestrelError) in try h.storeMetric(namespace: "n", key: "k", value: 1, ttl: 0) }),
            ("ttl", { () throws(KestrelError) in try h.storeMetric(namespace: "n", key: "k", value: 1, ttl: -.infinity) }),
            ("text", { () throws(KestrelError) in
                try h.storeMetric(namespace: "n", key: "k", value: nil, text: String(repeating: "x", count: (1 << 20) + 1)) }),
            ("limit", { () throws(KestrelError) in _ = try h.metrics(namespace: "n", limit: 0) }),
            ("threshold", { () throws(KestrelError) in _ = try h.trend(timeframe: .all, threshold: -1) }),
        ]
        for (name, call) in bad {
            guard case .invalidArgument(let n, _) = kestrelError(call) else {
                Issue.record("\(name): expected invalidArgument")
                continue
            }
            #expect(n == name)
        }
        #expect(try h.metricNamespaces(now: F.now).isEmpty)
    }

    @Test func trendFlagsRegressionsAgainstThePreviousComparableRun() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"), now: F.now)
        _ = try h.record(F.report(at: F.now.addingTimeInterval(-300), latency: 100, throughput: 5000))
        // Another CPU in between: not the baseline while a same-CPU run exists.
        _ = try h.record(F.report(at: F.now.addingTimeInterval(-200), latency: 50, throughput: 9000, cpu: "Faster CPU"))
        let last = try h.record(F.report(at: F.now.addingTimeInterval(-100), latency: 130, throughput: 5100))
        let t = try h.trend(timeframe: .day, threshold: 0.05, now: F.now)
        #expect(t.latest == last)
        #expect(t.baseline?.cpuModel == "Test CPU" && t.baseline?.recordedAt == F.now.addingTimeInterval(-300))
        // The same verdict BaselineComparison gives on the two reports.
        let expected = try BaselineComparison.compare(
            current: try #require(try h.report(runID: last.id)), baseline: try #require(try h.report(runID: t.baseline!.id)))
        #expect(t.comparison == expected)
        #expect(t.regressions.map(\.name) == ["simd.dot.latency"])
        #expect(t.improvements.isEmpty)  // +2 % throughput is under the threshold
        let series = try #require(t.series.first { $0.name == "simd.dot.latency" })
        #expect(series.values == [100, 50, 130] && series.higherIsBetter == false)
        #expect(abs(try #require(series.changePercent) - 30) < 1e-9)
        #expect(t.series.map(\.name) == ["simd.dot.latency", "simd.dot.throughput", "simd.skipped"])

        // A single run in the window: nothing to compare with.
        let one = try h.trend(timeframe: .all, suite: "simd", now: F.now.addingTimeInterval(-250))
        #expect(one.runs.count == 1 && one.comparison == nil && one.baseline == nil)
    }

    @Test func serverStatsArePublishedReplacedAndExpire() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"), now: F.now)
        let s1 = MCPServerStats(processID: 41, startedAt: F.now, updatedAt: F.now, transport: "stdio", requests: 3, errors: 1,
                                p50Milliseconds: 0.5, p95Milliseconds: 2, p99Milliseconds: 3, maxMilliseconds: 4)
        var s2 = s1
        s2.requests = 10
        s2.updatedAt = F.now.addingTimeInterval(1)
        let other = MCPServerStats(processID: 7, startedAt: F.now, updatedAt: F.now, transport: "stdio-sdk", requests: 0, errors: 0)
        try h.publish(s1, ttl: 5)
        try h.publish(other, ttl: 5)
        try h.publish(s2, ttl: 5)
        #expect(try h.serverStats(now: F.now.addingTimeInterval(2)) == [other, s2])
        #expect(try h.metrics(namespace: PerformanceHistory.serverStatsNamespace, keyPrefix: "server.41",
                              now: F.now.addingTimeInterval(2)).count == 1)
        // `other` expires 5 s after its publication; s2 one second later.
        #expect(try h.serverStats(now: F.now.addingTimeInterval(5)) == [s2])
        try h.removeServerStats(processID: 41)
        #expect(try h.serverStats(now: F.now.addingTimeInterval(2)) == [other])

        let summary = LatencySummary(count: 0, min: 0, max: 0, mean: 0, standardDeviation: 0, p50: 0, p90: 0, p95: 0, p99: 0,
                                     p999: 0, significantDigits: 3, buckets: [])
        let empty = MCPServerStats(processID: 1, startedAt: F.now, transport: "stdio", requests: 0, errors: 0, latency: summary)
        #expect(empty.p50Milliseconds == nil && empty.maxMilliseconds == nil)
    }

    @Test func publisherCountsRequestsAndRemovesItsEntryOnStop() throws {
        let dir = TempDir(prefix: "history")
        let h = try PerformanceHistory(url: dir.file("h.sqlite"))
        let p = MCPStatsPublisher(history: h, transport: "stdio", interval: .milliseconds(20))
        for ms in 1...100 { p.record(latencyNanoseconds: UInt64(ms) * 1_000_000, failed: ms % 10 == 0) }
        let s = p.snapshot()
        #expect(s.requests == 100 && s.errors == 10 && s.processID == getpid())
        // 2 significant digits: within 1 % of the exact order statistics.
        #expect(abs(try #require(s.p50Milliseconds) - 50) <= 0.5 + 1e-9)
        #expect(abs(try #require(s.p95Milliseconds) - 95) <= 0.95 + 1e-9)
        #expect(abs(try #require(s.maxMilliseconds) - 100) <= 1 + 1e-9)
        p.start()
        var seen: [MCPServerStats] = []
        for _ in 0..<500 where seen.isEmpty {
            seen = try h.serverStats()
            if seen.isEmpty { usleep(10_000) }
        }
        #expect(seen.map(\.requests) == [100])
        p.stop()
        #expect(try h.serverStats().isEmpty)
    }
}
