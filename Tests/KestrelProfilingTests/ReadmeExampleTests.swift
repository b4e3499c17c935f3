import KestrelProfiling
import Testing

/// The KestrelProfiling sample of README.md, kept here so it is known to compile and run.
@Suite struct ReadmeProfilingExampleTests {
    @Test func profilingSample() throws {
        var data = [Float](repeating: 1, count: 4096)
        // README: KestrelProfiling
        var recorder = try LatencyRecorder()
        for _ in 0..<1_000 {
            recorder.time { data[0] += 1 }
        }
        let latency = recorder.summary()                    // p50, p90, p99, p99.9, mean, stddev…
        var options = ComparisonOptions()
        options.rounds = 10; options.maxRounds = 10         // short, for the sample
        let result = try Comparison.run(
            baseline: ComparisonSubject("loop") { for i in data.indices { data[i] *= 0.5 } },
            candidates: [ComparisonSubject("loop x2") { for _ in 0..<2 { for i in data.indices { data[i] *= 0.5 } } }],
            options: options)
        let verdict = result.candidates[0].verdict          // "… slower" or "no significant difference"
        #expect(latency.count == 1_000 && latency.p50 <= latency.p99)
        // Twice the work is never faster; what the timing decides (slower or undecided on a busy
        // machine) is not asserted, only that the verdict says what its kind and factor are.
        #expect(verdict.kind != .faster, "\(result.lines)")
        switch verdict.kind {
        case .slower: #expect(verdict.factor > 1 && verdict.description == String(format: "%.2f× slower", verdict.factor))
        case .noSignificantDifference: #expect(verdict.factor == 1 && verdict.description == "no significant difference")
        case .faster: break
        }
        #expect(result.baselineSamplesNanoseconds.count == 10 && result.candidates[0].samplesNanoseconds.count == 10)
    }
}
