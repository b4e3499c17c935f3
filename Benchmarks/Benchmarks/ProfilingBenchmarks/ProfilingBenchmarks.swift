import Benchmark
import KestrelBenchmarkSupport
import KestrelProfiling

// Both Benchmark and KestrelProfiling export `blackHole`; the harness's is used here.
import func Benchmark.blackHole

/// The recording side of KestrelProfiling: what instrumenting a hot path costs.
///
/// Names are `<type>.<operation>`. 1000 operations per measured iteration (`.kilo`), so the
/// figures are per single sample / clock reading and the harness's own clock and malloc-counter
/// reads stay negligible. Recording must never allocate: `mallocCountTotal` is checked against
/// `Thresholds/` with zero tolerance like the kernels.
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    let configuration = BenchmarkDefaults.configuration(scalingFactor: .kilo)

    // One sample per inner iteration, from a table of pseudo-random latencies (below), with the
    // default precision (3 significant digits, 1 ns ... 1 hour).
    Benchmark("LatencyRecorder.record", configuration: configuration) { benchmark, state in
        let values = state.latencies.readOnly, mask = Latencies.mask
        var i = 0
        for _ in benchmark.scaledIterations {
            // In place through the class: the histogram's storage stays uniquely referenced, so
            // no copy-on-write copy is made.
            state.recorder.record(values[i & mask])
            i &+= 1
        }
        blackHole(state.recorder.count)
    } setup: { SequentialState() }

    Benchmark("ConcurrentLatencyRecorder.record", configuration: configuration) { benchmark, state in
        let values = state.latencies.readOnly, mask = Latencies.mask, recorder = state.recorder
        var i = 0
        for _ in benchmark.scaledIterations {
            recorder.record(values[i & mask])
            i &+= 1
        }
    } setup: { try ConcurrentState() }

    // Typed so the synchronous, non-throwing initializer is the only candidate.
    let readClock: Benchmark.BenchmarkClosure = { benchmark in
        var sink: UInt64 = 0
        for _ in benchmark.scaledIterations { sink &+= MonotonicClock.now() }
        blackHole(sink)
    }
    Benchmark("MonotonicClock.now", configuration: configuration, closure: readClock)
}

/// Pseudo-random latencies, log-uniform from 64 ns to 16.8 ms (every power of two equally
/// likely, random low bits): samples land in many HdrHistogram buckets, as real latencies do,
/// instead of hitting one counter over and over.
enum Latencies {
    /// Table size (a power of two; 32 KiB, so reading it costs an L1/L2 hit, not a miss).
    static let count = 4096
    static let mask = count - 1

    static func make(seed: UInt64) -> AlignedBuffer<UInt64> {
        var rng = SplitMix64(seed: seed)
        return AlignedBuffer(count: count) { _ in
            let r = rng.next()
            let exponent = 6 + (r >> 58) % 18  // 2^6 ... 2^23
            let top = UInt64(1) << exponent
            return top | (r & (top - 1))
        }
    }
}

/// A `LatencyRecorder` (a value type) kept in a class so the measured closure mutates it in place.
final class SequentialState: @unchecked Sendable {
    var recorder: LatencyRecorder
    let latencies = Latencies.make(seed: 7)

    init() {
        // The default arguments are valid, so this never throws.
        recorder = try! LatencyRecorder()
    }
}

final class ConcurrentState: @unchecked Sendable {
    let recorder: ConcurrentLatencyRecorder
    let latencies = Latencies.make(seed: 7)

    init() throws {
        recorder = try ConcurrentLatencyRecorder()
    }
}
