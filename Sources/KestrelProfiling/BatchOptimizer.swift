/// What ``BatchOptimizer`` measured for one batch size.
public struct BatchEvaluation: Codable, Sendable, Equatable {
    /// Items per call.
    public var batchSize: Int
    /// Median latency of one call, nanoseconds.
    public var medianNanoseconds: Double
    /// Latency at the configured percentile (p95 by default), nanoseconds.
    public var percentileNanoseconds: Double
    /// Items per second at the median latency.
    public var itemsPerSecond: Double
    /// Memory one call needed, bytes (nil when it could not be measured).
    public var memoryBytes: UInt64?
    /// True when within the memory cap (or no cap).
    public var withinMemoryCap: Bool
    /// True when the latency percentile is within the ceiling (or no ceiling).
    public var withinLatencyCeiling: Bool

    /// Both constraints hold.
    public var feasible: Bool { withinMemoryCap && withinLatencyCeiling }
}

/// The outcome of a batch-size search.
public struct BatchOptimizationResult: Codable, Sendable, Equatable {
    /// The feasible batch size with the highest throughput (nil when none is feasible).
    public var best: BatchEvaluation?
    /// Every size evaluated, in evaluation order.
    public var evaluations: [BatchEvaluation]
    /// Why the search stopped growing the batch, e.g. `latency ceiling at 512`.
    public var stopReason: String
}

/// Constraints and method of a batch-size search.
public struct BatchSearchOptions: Codable, Sendable, Equatable {
    /// Sizes tried in increasing order (default powers of two 1…4096).
    public var candidates: [Int] = (0...12).map { 1 << $0 }
    /// Largest memory one call may need, bytes (nil: no cap).
    public var memoryCapBytes: UInt64?
    /// Largest latency allowed at ``latencyPercentile``, nanoseconds (nil: no ceiling).
    public var latencyCeilingNanoseconds: UInt64?
    /// Percentile of the call latency held to the ceiling (default 95).
    public var latencyPercentile: Double = 95
    /// Timed calls per batch size (default 20).
    public var repetitions: Int = 20
    /// Bisection steps between the best size and its larger neighbour after the coarse pass (default 2).
    public var refinementSteps: Int = 2
    /// Stop growing after this many sizes in a row with lower throughput than the best (default 2).
    public var patience: Int = 2

    /// The defaults above.
    public init() {}
}

/// Searches the batch size that maximises throughput (items/s) under a memory cap and a
/// latency ceiling, by measuring: a coarse pass over increasing candidate sizes (stopping at the
/// first size that breaks a constraint — both grow with the batch — or when throughput has
/// fallen for ``BatchSearchOptions/patience`` sizes), then a bisection between the best size
/// and the next larger one.
public enum BatchOptimizer {
    /// Measures `work(batchSize)` at candidate sizes and returns the best feasible one.
    ///
    /// - Parameters:
    ///   - options: candidates and constraints.
    ///   - memoryEstimate: bytes one call needs at a batch size; when nil and a memory cap is set,
    ///     memory is measured as the growth of the peak resident set during one call (Linux; the
    ///     peak is reset before each call).
    ///   - work: processes one batch of the given size (prepare data outside and capture it).
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for bad options,
    ///   ``ProfilingError/unavailable(_:)`` when a memory cap is set but memory cannot be measured.
    public static func optimize(options: BatchSearchOptions = BatchSearchOptions(), memoryEstimate: ((Int) -> UInt64)? = nil,
                                work: (Int) -> Void) throws(ProfilingError) -> BatchOptimizationResult {
        try validate(options)
        if options.memoryCapBytes != nil && memoryEstimate == nil && !SystemProbe.resetPeakResidentSize() {
            throw .unavailable("peak RSS cannot be reset on this system: pass memoryEstimate to enforce a memory cap")
        }
        return try search(options: options) { (size: Int) throws(ProfilingError) -> (latencies: [Double], memory: UInt64?) in
            work(size)  // warm-up call
            var memory: UInt64?
            if let estimate = memoryEstimate {
                memory = estimate(size)
            } else if options.memoryCapBytes != nil {
                _ = SystemProbe.resetPeakResidentSize()
                let before = try SystemProbe.processSample().residentBytes
                work(size)
                let peak = try SystemProbe.processSample().peakResidentBytes
                memory = peak > before ? peak - before : 0
            }
            var latencies = [Double]()
            latencies.reserveCapacity(options.repetitions)
            for _ in 0..<options.repetitions {
                let t0 = MonotonicClock.now()
                work(size)
                latencies.append(Double(MonotonicClock.elapsed(since: t0)))
            }
            return (latencies, memory)
        }
    }

    /// The search on an injected evaluation (tests, or measurements taken elsewhere).
    ///
    /// - Parameter evaluate: returns the call latencies (nanoseconds) and memory (bytes) at a size.
    public static func search(options: BatchSearchOptions,
                              evaluate: (Int) throws(ProfilingError) -> (latencies: [Double], memory: UInt64?))
        throws(ProfilingError) -> BatchOptimizationResult {
        try validate(options)
        var evaluations = [BatchEvaluation]()
        var cache = [Int: BatchEvaluation]()
        func run(_ size: Int) throws(ProfilingError) -> BatchEvaluation {
            if let e = cache[size] { return e }
            let (latencies, memory) = try evaluate(size)
            guard !latencies.isEmpty else { throw .insufficientData(needed: 1, got: 0) }
            let sorted = latencies.sorted()
            let median = Descriptive.quantile(sorted: sorted, 0.5)
            let tail = Descriptive.quantile(sorted: sorted, options.latencyPercentile / 100)
            let e = BatchEvaluation(
                batchSize: size, medianNanoseconds: median, percentileNanoseconds: tail,
                itemsPerSecond: median > 0 ? Double(size) / median * 1e9 : .infinity, memoryBytes: memory,
                withinMemoryCap: options.memoryCapBytes.map { cap in memory.map { $0 <= cap } ?? false } ?? true,
                withinLatencyCeiling: options.latencyCeilingNanoseconds.map { tail <= Double($0) } ?? true)
            cache[size] = e
            evaluations.append(e)
            return e
        }
        func best() -> BatchEvaluation? {
            evaluations.filter(\.feasible).max { $0.itemsPerSecond < $1.itemsPerSecond }
        }

        var stop = "all candidates evaluated"
        var worse = 0
        for size in options.candidates.sorted() {
            let e = try run(size)
            if !e.withinLatencyCeiling { stop = "latency ceiling at batch \(size)"; break }
            if !e.withinMemoryCap { stop = "memory cap at batch \(size)"; break }
            if let b = best(), e.itemsPerSecond < b.itemsPerSecond {
                worse += 1
                if worse >= options.patience { stop = "throughput falling after batch \(b.batchSize)"; break }
            } else {
                worse = 0
            }
        }
        // Bisect between the best size and the next larger evaluated one.
        for _ in 0..<options.refinementSteps {
            guard let b = best(), let upper = evaluations.map(\.batchSize).filter({ $0 > b.batchSize }).min() else { break }
            let mid = b.batchSize + (upper - b.batchSize) / 2
            if mid == b.batchSize || cache[mid] != nil { break }
            _ = try run(mid)
        }
        return BatchOptimizationResult(best: best(), evaluations: evaluations, stopReason: stop)
    }

    private static func validate(_ o: BatchSearchOptions) throws(ProfilingError) {
        guard !o.candidates.isEmpty, o.candidates.allSatisfy({ $0 >= 1 }) else {
            throw .invalidArgument(name: "candidates", reason: "need at least one size, all ≥ 1")
        }
        guard o.repetitions >= 1 else { throw .invalidArgument(name: "repetitions", reason: "must be ≥ 1") }
        guard o.latencyPercentile > 0, o.latencyPercentile <= 100 else {
            throw .invalidArgument(name: "latencyPercentile", reason: "must be in (0, 100]")
        }
        guard o.patience >= 1, o.refinementSteps >= 0 else { throw .invalidArgument(name: "patience", reason: "must be ≥ 1") }
    }
}
