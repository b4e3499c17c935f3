import CKestrelKernels
import Kestrel

/// Bytes of one tensor stored as f32, f16 and int8, measured from the buffers of real
/// `Tensor.converted(to:)` results, and what the smaller types cost in accuracy.
struct StorageFootprint: Sendable, Equatable {
    /// Elements of the tensor.
    var elements: Int
    var f32Bytes: Int
    var f16Bytes: Int
    var int8Bytes: Int
    /// Largest |x − f32(f16(x))| over the tensor (values uniform in [-1, 1)).
    var f16MaxAbsError: Double
    /// Largest |x − int8(x·127)/127| over the tensor (symmetric per-tensor scale 127).
    var int8MaxAbsError: Double

    /// 1 − f16/f32 bytes, in percent.
    var f16ReductionPercent: Double { Self.reduction(f16Bytes, f32Bytes) }
    /// 1 − int8/f32 bytes, in percent.
    var int8ReductionPercent: Double { Self.reduction(int8Bytes, f32Bytes) }

    static func reduction(_ small: Int, _ large: Int) -> Double {
        large > 0 ? (1 - Double(small) / Double(large)) * 100 : .nan
    }
}

/// A repeated workload on a ``BufferPool``: hits, misses and the time per request with and
/// without the pool.
struct PoolWorkload: Sendable, Equatable {
    var requests: Int
    var statistics: BufferPool.Statistics
    /// Median nanoseconds per request taking its scratch tensors from the pool.
    var pooledNanosecondsPerRequest: Double
    /// The same requests allocating fresh tensors.
    var freshNanosecondsPerRequest: Double

    /// hits / (hits + misses), in percent.
    var hitRatePercent: Double {
        let total = statistics.hits + statistics.misses
        return total > 0 ? Double(statistics.hits) / Double(total) * 100 : .nan
    }
}

/// What recording one latency sample costs, in nanoseconds.
struct RecorderCost: Sendable, Equatable {
    /// Median of `LatencyRecorder.record` (single-threaded HdrHistogram), with its bootstrap interval.
    var single: ConfidenceInterval
    /// Median of `ConcurrentLatencyRecorder.record` (wait-free sharded counters), uncontended.
    var concurrent: Double
    /// The clock's cost left in each per-call time (already subtracted).
    var timerOverheadPerCall: Double
    /// How it was measured (samples, inner iterations, outliers).
    var method: String
}

/// Peak FLOP/s of an FMA loop.
struct PeakFlops: Sendable, Equatable {
    var flopsPerSecond: Double
    /// Which loop, at which tier.
    var kernel: String
}

/// The measurements behind the `memory` suite. ``SystemMemoryProbe`` measures this machine;
/// tests inject fixed numbers.
protocol MemoryMeasuring {
    /// STREAM triad bandwidth in GB/s with `threads` threads.
    func streamTriad(threads: Int) throws -> Double
    /// Peak FLOP/s of the C-kernel FMA loop (one thread).
    func peakFlops() throws -> PeakFlops
    /// Storage of one tensor in f32, f16 and int8.
    func storageFootprint() throws -> StorageFootprint
    /// The buffer-pool workload.
    func bufferPoolWorkload() throws -> PoolWorkload
    /// Cost of recording one latency sample.
    func recorderCost() throws -> RecorderCost
    /// Why `kestrel --help` cannot be launched from here (e.g. inside the test runner), nil when it can.
    func startupSkipReason() -> String?
    /// Wall times of `kestrel --help` launched as a child process, milliseconds, in launch order.
    func startupMilliseconds() throws -> [Double]
}

/// The `memory` suite: bandwidth and compute roofs, storage reduction of the smaller types,
/// buffer reuse, the recorder's own cost and the CLI's start-up time.
struct MemorySuite {
    let probe: any MemoryMeasuring
    var settings: SuiteSettings
    /// Threads of the all-core triad.
    var cores: Int = SystemProbe.activeProcessorCount

    static let name = "memory"

    /// Registers every case.
    /// - Throws: `ProfilingError` for a duplicate case name.
    func register(into suite: inout BenchmarkSuite) throws {
        let probe = self.probe
        let cores = self.cores
        let mib = settings.streamArrayBytes >> 20
        try suite.register(BenchmarkCase(
            name: "memory.stream-triad", suite: Self.name,
            summary: "STREAM triad a[i] = b[i] + s·c[i] over 3 × \(mib) MiB f64 arrays, 1 thread (the bandwidth a "
                + "single-thread scan can reach), best pass; the all-core figure as a metric.",
            run: { _ in
                let one = try probe.streamTriad(threads: 1)
                let all = cores > 1 ? try probe.streamTriad(threads: cores) : one
                return BenchmarkOutcome(value: one, unit: "GB/s", higherIsBetter: true,
                                        metrics: ["all_cores_gb_per_s": all, "threads_all_cores": Double(cores)])
            }))
        try suite.register(BenchmarkCase(
            name: "memory.roofline.peak-flops", suite: Self.name,
            summary: "Compute roof: repeated kestrel_axpy_f32 (FMA through dispatch) on an L1-resident buffer, "
                + "2n FLOPs per call, 1 thread; the ridge point uses the 1-thread triad.",
            run: { _ in
                let peak = try probe.peakFlops()
                let triad = try probe.streamTriad(threads: 1)
                return Self.peakOutcome(peak, triadGigabytesPerSecond: triad)
            }))
        try suite.register(BenchmarkCase(
            name: "memory.f16-storage-reduction", suite: Self.name,
            summary: "Bytes of a \(settings.storageRows) × \(settings.dim) tensor converted f32 → f16 "
                + "(Tensor.converted), against its f32 bytes.",
            target: .between(50, 75, "%", metric: "memory reduction (issue 7)"),
            run: { _ in Self.f16Outcome(try probe.storageFootprint()) }))
        try suite.register(BenchmarkCase(
            name: "memory.int8-storage-reduction", suite: Self.name,
            summary: "Bytes of a \(settings.storageRows) × \(settings.dim) tensor converted f32 → int8 "
                + "(symmetric scale 127, Tensor.converted), against its f32 bytes.",
            target: .between(50, 75, "%", metric: "memory reduction (issue 7)"),
            run: { _ in Self.int8Outcome(try probe.storageFootprint()) }))
        try suite.register(BenchmarkCase(
            name: "memory.buffer-pool-hit-rate", suite: Self.name,
            summary: "\(settings.poolRequests) requests each taking 3 scratch tensors (query, scores, a 64-row tile) "
                + "from one BufferPool; hit rate = hits / acquisitions.",
            target: .atLeast(90, "%", metric: "pool hit rate on a steady workload (project target)"),
            run: { _ in Self.poolOutcome(try probe.bufferPoolWorkload()) }))
        try suite.register(BenchmarkCase(
            name: "memory.recorder-cost", suite: Self.name,
            summary: "LatencyRecorder.record of pseudo-random latencies (100 ns … 10 ms), inner loop, clock cost "
                + "subtracted; median ns per sample with its 95% interval.",
            target: BenchmarkTarget(metric: "ns to record one sample (issue 7)", unit: "ns", maximum: 50,
                                    maximumExclusive: false),
            run: { _ in Self.recorderOutcome(try probe.recorderCost()) }))
        try suite.register(BenchmarkCase(
            name: "memory.cli-startup", suite: Self.name,
            summary: "`kestrel --help` launched \(settings.startupRuns)× as a child process, wall time from launch to "
                + "exit on the monotonic clock; value: median (the first, cold launch as a metric).",
            target: .below(500, "ms", metric: "CLI start-up (issue 7)"),
            skipReason: { probe.startupSkipReason() },
            run: { _ in try Self.startupOutcome(try probe.startupMilliseconds()) }))
        try KVCacheMemoryCases.register(into: &suite)
    }

    // MARK: - Outcomes from measurements (pure, tested with injected numbers)

    static func peakOutcome(_ p: PeakFlops, triadGigabytesPerSecond triad: Double) -> BenchmarkOutcome {
        let gflops = p.flopsPerSecond / 1e9
        return BenchmarkOutcome(
            value: gflops, unit: "GFLOP/s", higherIsBetter: true,
            metrics: ["ridge_flop_per_byte": triad > 0 ? gflops / triad : .nan, "triad_gb_per_s": triad],
            notes: ["kernel: \(p.kernel); axpy does 2 loads and 1 store per FMA, so this is the roof for "
                + "streaming kernels, below the FMA units' own peak"])
    }

    static func f16Outcome(_ s: StorageFootprint) -> BenchmarkOutcome {
        BenchmarkOutcome(
            value: s.f16ReductionPercent, unit: "%",
            metrics: ["f32_bytes": Double(s.f32Bytes), "f16_bytes": Double(s.f16Bytes),
                      "max_abs_error": s.f16MaxAbsError])
    }

    static func int8Outcome(_ s: StorageFootprint) -> BenchmarkOutcome {
        BenchmarkOutcome(
            value: s.int8ReductionPercent, unit: "%",
            metrics: ["f32_bytes": Double(s.f32Bytes), "int8_bytes": Double(s.int8Bytes),
                      "max_abs_error": s.int8MaxAbsError])
    }

    static func poolOutcome(_ w: PoolWorkload) -> BenchmarkOutcome {
        BenchmarkOutcome(
            value: w.hitRatePercent, unit: "%",
            metrics: ["hits": Double(w.statistics.hits), "misses": Double(w.statistics.misses),
                      "evictions": Double(w.statistics.evictions), "bytes_held": Double(w.statistics.bytesHeld),
                      "pooled_ns_per_request": w.pooledNanosecondsPerRequest,
                      "fresh_ns_per_request": w.freshNanosecondsPerRequest])
    }

    static func recorderOutcome(_ c: RecorderCost) -> BenchmarkOutcome {
        BenchmarkOutcome(
            value: c.single.estimate, unit: "ns", interval: c.single, higherIsBetter: false,
            metrics: ["concurrent_recorder_ns": c.concurrent, "timer_overhead_per_call_ns": c.timerOverheadPerCall],
            notes: [c.method])
    }

    /// The median launch time; the first (cold) launch, min and max as metrics, and the
    /// distribution (as nanoseconds) for the latency chart.
    /// - Throws: `KestrelError.invalidArgument` without any launch.
    static func startupOutcome(_ ms: [Double]) throws -> BenchmarkOutcome {
        guard let median = BenchStatistics.median(ms), let first = ms.first else {
            throw KestrelError.invalidArgument(name: "startup", reason: "no launch was timed")
        }
        var recorder = try LatencyRecorder()
        for m in ms { recorder.record(UInt64(max(0, m * 1e6).rounded())) }
        return BenchmarkOutcome(
            value: median, unit: "ms", higherIsBetter: false, latency: recorder.summary(),
            metrics: ["first_launch_ms": first, "min_ms": ms.min() ?? .nan, "max_ms": ms.max() ?? .nan,
                      "launches": Double(ms.count)])
    }
}
