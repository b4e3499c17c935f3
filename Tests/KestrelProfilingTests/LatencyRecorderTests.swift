import Foundation
import Histogram
import Metrics
import MetricsTestKit
import Testing
@testable import KestrelProfiling

@Suite("Clock and latency recorders")
struct LatencyRecorderTests {
    @Test("clock is monotonic and its overhead is measured")
    func clock() {
        var previous = MonotonicClock.now()
        for _ in 0..<10_000 {
            let t = MonotonicClock.now()
            #expect(t >= previous)
            previous = t
        }
        let c = MonotonicClock.calibrate(samples: 2_000)
        #expect(c.overheadNanoseconds > 0)
        #expect(c.resolutionNanoseconds > 0)
        #expect(c.source.isEmpty == false)
    }

    @Test("percentiles match an exact sorted computation within HdrHistogram precision")
    func percentilesAgainstSorted() throws {
        var rng = TestRNG(seed: 7)
        for n in [1, 2, 3, 10, 1000, 20_000] {
            var r = try LatencyRecorder()
            var values = [UInt64]()
            for _ in 0..<n {
                let v = rng.latency()
                values.append(v)
                r.record(v)
            }
            values.sort()
            #expect(r.count == UInt64(n))
            #expect(r.min == values.first!)
            #expect(r.max == values.last!)
            let exactMean = values.reduce(0.0) { $0 + Double($1) } / Double(n)
            #expect(abs(r.mean - exactMean) <= 1e-9 * exactMean)
            if n > 1 {
                let sd = (values.reduce(0.0) { $0 + (Double($1) - exactMean) * (Double($1) - exactMean) } / Double(n - 1)).squareRoot()
                #expect(abs(r.standardDeviation - sd) <= 1e-6 * sd + 1e-9)
            }
            for p in [0.0, 1, 25, 50, 90, 95, 99, 99.9, 100] {
                let exact = exactPercentile(values, p)
                let got = r.percentile(p)
                // Same HdrHistogram bucket as the exact value, and within 0.1 % (3 significant digits).
                #expect(r.histogram.valuesAreEquivalent(got, exact), "n=\(n) p=\(p) exact=\(exact) got=\(got)")
                #expect(Double(got) >= Double(exact) * (1 - 1e-3) && Double(got) <= Double(exact) * (1 + 1e-3) + 1)
            }
            let s = r.summary()
            #expect(s.p50 == r.percentile(50) && s.p999 == r.percentile(99.9))
            #expect(s.buckets.reduce(0) { $0 + $1.count } == UInt64(n))
        }
    }

    @Test("empty recorder and argument validation")
    func emptyAndInvalid() throws {
        let r = try LatencyRecorder()
        #expect(r.count == 0 && r.percentile(99) == 0 && r.min == 0 && r.max == 0 && r.buckets().isEmpty)
        let e1 = #expect(throws: ProfilingError.self) { try LatencyRecorder(significantDigits: 0) }
        #expect({ if case .invalidArgument(name: "significantDigits", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let e2 = #expect(throws: ProfilingError.self) { try LatencyRecorder(significantDigits: 6) }
        #expect({ if case .invalidArgument(name: "significantDigits", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: ProfilingError.self) { try LatencyRecorder(highestTrackableNanoseconds: 1) }
        #expect({ if case .invalidArgument(name: "highestTrackableNanoseconds", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        var a = try LatencyRecorder(significantDigits: 2)
        a.record(5)
        let e4 = #expect(throws: ProfilingError.self) { try a.merge(LatencyRecorder(significantDigits: 3)) }
        #expect({ if case .incompatible(reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
    }

    @Test("merging histograms equals the histogram of the union")
    func mergeEqualsUnion() throws {
        var rng = TestRNG(seed: 11)
        var a = try LatencyRecorder(), b = try LatencyRecorder(), union = try LatencyRecorder()
        for i in 0..<5_000 {
            let v = rng.latency()
            if i % 3 == 0 { a.record(v) } else { b.record(v) }
            union.record(v)
        }
        var merged = a
        try merged.merge(b)
        #expect(merged.histogram == union.histogram)
        #expect(merged == union)
        #expect(abs(merged.mean - union.mean) <= 1e-9 * union.mean)
        #expect(abs(merged.standardDeviation - union.standardDeviation) <= 1e-9 * union.standardDeviation)
        #expect(merged.summary().p99 == union.summary().p99)
        // Merging an empty recorder changes nothing.
        try merged.merge(LatencyRecorder())
        #expect(merged == union)
    }

    @Test("values beyond the initial range are kept, not dropped")
    func beyondRange() throws {
        var r = try LatencyRecorder(highestTrackableNanoseconds: 1_000)
        r.record(10)
        r.record(5_000_000)
        #expect(r.count == 2 && r.max == 5_000_000)
        #expect(r.histogram.valuesAreEquivalent(r.percentile(100), 5_000_000))
    }

    @Test("the concurrent layout is HdrHistogram's")
    func layoutMatchesHistogram() throws {
        for digits in 1...4 {
            let layout = HDRLayout(significantDigits: digits, highestTrackable: 3_600_000_000_000)
            let h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000,
                                      numberOfSignificantValueDigits: SignificantDigits(rawValue: Int8(digits))!)
            var rng = TestRNG(seed: UInt64(digits))
            for _ in 0..<2_000 {
                let v = rng.latency()
                let back = layout.value(at: layout.index(v))
                #expect(back == h.lowestEquivalentForValue(v), "digits=\(digits) v=\(v)")
            }
            #expect(layout.index(0) == 0)
            #expect(layout.index(3_600_000_000_000) < layout.countsLength)
        }
    }

    @Test("the concurrent recorder loses no sample when 4 threads record at once")
    func concurrentNoLoss() throws {
        let recorder = try ConcurrentLatencyRecorder(shards: 4)
        let perThread = 50_000
        let threads = 4
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            let thread = Thread {
                var rng = TestRNG(seed: UInt64(100 + t))
                for _ in 0..<perThread { recorder.record(rng.latency()) }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        let snap = recorder.snapshot()
        #expect(snap.count == UInt64(perThread * threads))

        // Same counters as a sequential HdrHistogram of the same values, and an exact mean.
        var sequential = try LatencyRecorder()
        var sum = 0.0
        for t in 0..<threads {
            var rng = TestRNG(seed: UInt64(100 + t))
            for _ in 0..<perThread {
                let v = rng.latency()
                sequential.record(v)
                sum += Double(v)
            }
        }
        let a = Array(snap.histogram.recordedValues().map { ($0.value, $0.count) })
        let b = Array(sequential.histogram.recordedValues().map { ($0.value, $0.count) })
        #expect(a.count == b.count)
        #expect(zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(abs(snap.mean - sum / Double(perThread * threads)) <= 1e-9 * snap.mean)
        for p in [50.0, 99, 99.9] { #expect(snap.percentile(p) == sequential.percentile(p)) }
        // Standard deviation from bucket midpoints: within the histogram's 0.1 % precision.
        #expect(abs(snap.standardDeviation - sequential.standardDeviation) <= 2e-3 * sequential.standardDeviation)
        #expect(sequential.histogram.valuesAreEquivalent(snap.min, sequential.min))
        #expect(sequential.histogram.valuesAreEquivalent(snap.max, sequential.max))
        #expect(recorder.clampedCount == 0)
        recorder.reset()
        #expect(recorder.snapshot().count == 0)
    }

    @Test("values beyond the concurrent range are clamped and counted")
    func concurrentClamp() throws {
        let r = try ConcurrentLatencyRecorder(highestTrackableNanoseconds: 1_000_000, shards: 1)
        r.record(10)
        r.record(5_000_000)
        #expect(r.clampedCount == 1)
        #expect(r.snapshot().count == 2)
        // A snapshot merges with recorders holding values beyond its range (it grows, never traps).
        var snap = r.snapshot()
        var big = try LatencyRecorder()
        big.record(7_200_000_000_000)  // two hours
        try snap.merge(big)
        #expect(snap.count == 3 && snap.max == 7_200_000_000_000)
        let e5 = #expect(throws: ProfilingError.self) { try ConcurrentLatencyRecorder(significantDigits: 9) }
        #expect({ if case .invalidArgument(name: "significantDigits", reason: _)? = e5 { true } else { false } }(), "\(String(describing: e5))")
        let e6 = #expect(throws: ProfilingError.self) { try ConcurrentLatencyRecorder(shards: 0) }
        #expect({ if case .invalidArgument(name: "shards", reason: _)? = e6 { true } else { false } }(), "\(String(describing: e6))")
    }

    @Test("recorders feed a swift-metrics Timer")
    func metricsTimer() throws {
        let metrics = TestMetrics()
        let timer = Metrics.Timer(label: "kestrel.test.latency", dimensions: [("op", "search")], factory: metrics)
        let r = try ConcurrentLatencyRecorder(shards: 2, timer: timer)
        r.record(1_500)
        r.record(2_500)
        let t = try metrics.expectTimer("kestrel.test.latency", [("op", "search")])
        #expect(t.values == [1_500, 2_500])

        var single = try LatencyRecorder()
        single.record(700, to: timer)
        #expect(t.values.last == 700)
        #expect(single.count == 1)
    }
}
