import Foundation
import Testing

@testable import KestrelCLI

@Suite struct BenchTimingTests {
    @Test func medianOfOddEvenAndEmpty() {
        #expect(BenchStatistics.median([]) == nil)
        #expect(BenchStatistics.median([7]) == 7)
        #expect(BenchStatistics.median([3, 1, 2]) == 2)
        #expect(BenchStatistics.median([4, 1, 3, 2]) == 2.5)
        #expect(BenchStatistics.median([5, 5, 5, 100, 1]) == 5)  // robust to one outlier
        #expect(BenchStatistics.median([.nan, 2, 4]) == 3)  // NaN samples are dropped
        #expect(BenchStatistics.median([.nan]) == nil)
    }

    @Test func bytesToGigabytesPerSecond() {
        #expect(BenchStatistics.gigabytesPerSecond(bytes: 1e9, nanoseconds: 1e9) == 1)
        #expect(BenchStatistics.gigabytesPerSecond(bytes: 3072, nanoseconds: 100) == 30.72)
        #expect(BenchStatistics.gigabytesPerSecond(bytes: 3 * 64 * 1_048_576, nanoseconds: 20_132_659.2) == 10)
        #expect(BenchStatistics.gigabytesPerSecond(bytes: 100, nanoseconds: 0) == 0)
        #expect(BenchStatistics.gigabytesPerSecond(bytes: 100, nanoseconds: -1) == 0)
    }

    @Test func speedupIsBaselineOverCandidate() {
        #expect(BenchStatistics.speedup(baseline: 800, candidate: 100) == 8)
        #expect(BenchStatistics.speedup(baseline: 100, candidate: 0) == 0)
        #expect(BenchStatistics.speedup(baseline: .nan, candidate: 1) == 0)
    }

    @Test func callsPerSampleFillsTheBudget() {
        let p = TimingPolicy(minSeconds: 0.2, repetitions: 5)
        #expect(p.callsPerSample(estimatedNanosecondsPerCall: 1_000) == 40_000)  // 40 ms / 1 µs
        #expect(p.callsPerSample(estimatedNanosecondsPerCall: 30_000_000) == 2)  // rounds up
        #expect(p.callsPerSample(estimatedNanosecondsPerCall: 1e9) == 1)  // never zero
        #expect(p.callsPerSample(estimatedNanosecondsPerCall: 0) == 1)
        #expect(p.callsPerSample(estimatedNanosecondsPerCall: .nan) == 1)
    }

    @Test func measureTakesEnoughSamplesAndTime() {
        let p = TimingPolicy(minSeconds: 0.01, repetitions: 7, warmupSeconds: 0.001)
        var calls = 0
        let m = measure(p) {
            calls += 1
            return 1
        }
        #expect(m.samples.count >= 7)
        #expect(m.callsPerSample >= 1)
        #expect(m.nanosecondsPerCall > 0)
        #expect(m.nanosecondsPerCall == BenchStatistics.median(m.samples))
        #expect(Double(calls) == m.checksum)  // every call's result is consumed
        let timed = m.samples.reduce(0, +) * Double(m.callsPerSample)
        #expect(timed >= 0.01e9)
    }

    @Test func jsonLineEscapesAndNulls() throws {
        var line = JSONLine()
        line.append("s", .string("a\"b\\c\n\u{1}"))
        line.append("nan", .double(.nan))
        line.append("inf", .double(.infinity))
        line.append("n", .null)
        line.append("b", .bool(true))
        line.append("i", .int(-3))
        #expect(line.text == #"{"s":"a\"b\\c\n\u0001","nan":null,"inf":null,"n":null,"b":true,"i":-3}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any]
        #expect(parsed?["s"] as? String == "a\"b\\c\n\u{1}")
    }

    @Test func roundingKeepsSignificantDigits() {
        #expect(JSONLine.rounded(3579.04321, significantDigits: 6) == 3579.04)
        #expect(JSONLine.rounded(0.000123456789, significantDigits: 3) == 0.000123)
        #expect(JSONLine.rounded(0) == 0)
        #expect(JSONLine.rounded(-12.3456, significantDigits: 3) == -12.3)
        #expect(JSONLine.rounded(.infinity).isInfinite)
    }
}
