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
        #expect(latency.count == 1_000)
        #expect(!verdict.description.isEmpty)
    }
}
