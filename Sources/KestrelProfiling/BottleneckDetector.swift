import Foundation

/// Applies threshold rules to component observations and explains each bottleneck with a
/// recommendation drawn from the measured values (see ``BottleneckFinding/Rule``).
///
/// Pure and deterministic: the same observations give the same findings. Thread-safe (a value type).
public struct BottleneckDetector: Sendable {
    /// Thresholds in force.
    public var configuration: BottleneckConfiguration

    /// Creates a detector.
    public init(configuration: BottleneckConfiguration = BottleneckConfiguration()) {
        self.configuration = configuration
    }

    /// Findings for every observation, most severe first (stable within a severity).
    ///
    /// - Complexity: O(observations × rules).
    public func analyze(_ observations: [ComponentObservation]) -> [BottleneckFinding] {
        let all = observations.flatMap { findings(for: $0) }
        return all.enumerated().sorted { x, y in
            x.element.severity != y.element.severity ? x.element.severity > y.element.severity : x.offset < y.offset
        }.map(\.element)
    }

    /// Findings for one observation, in rule order.
    public func findings(for o: ComponentObservation) -> [BottleneckFinding] {
        let t = configuration.thresholds(for: o.component)
        var out = [BottleneckFinding]()
        func add(_ rule: BottleneckFinding.Rule, _ severity: BottleneckFinding.Severity, _ measured: Double, _ threshold: Double,
                 _ unit: String, _ summary: String, _ recommendation: String) {
            out.append(BottleneckFinding(component: o.component, rule: rule, severity: severity, measured: measured,
                                         threshold: threshold, unit: unit, summary: summary, recommendation: recommendation))
        }
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        /// Critical when the value has used up three quarters of the room between threshold and 100 %.
        func percentSeverity(_ v: Double, _ threshold: Double) -> BottleneckFinding.Severity {
            v >= threshold + (100 - threshold) * 0.75 ? .critical : .warning
        }

        if let u = o.usage, u.cpuPercentOfMachine > t.cpuPercent {
            let cores = u.cpuPercentOfMachine > 0 ? u.cpuPercent / u.cpuPercentOfMachine : 1
            var advice = "The component keeps the cores busy: it is compute-limited on this machine. "
            if let r = o.roofline, r.bound == .memory {
                advice += "Its roofline point is memory-bound, so the busy cores are waiting on memory: move fewer bytes (quantize, fuse passes) rather than adding threads."
            } else {
                advice += "Profile the hot loop, check that the best ISA level is in use, reduce the work per request (smaller batches, int8 distances), or give it more cores."
            }
            add(.cpuSaturation, percentSeverity(u.cpuPercentOfMachine, t.cpuPercent), u.cpuPercentOfMachine, t.cpuPercent, "%",
                "CPU at \(f(u.cpuPercentOfMachine))% of \(Int(cores.rounded())) cores (\(f(u.cpuPercent))% of one core) over \(f(u.wallSeconds, 2)) s",
                advice)
        }

        if let m = o.memory, m.usedFraction * 100 > t.memoryPercent {
            let used = m.usedFraction * 100
            let rss = o.usage.map { ", process resident \(Double($0.residentBytes).formattedBytes)" } ?? ""
            let own = o.usage.map { Double($0.residentBytes) / Double(Swift.max(m.totalBytes, 1)) } ?? 0
            let advice = own > 0.5
                ? "This process holds most of it: quantize stored vectors and caches (f16 halves f32, int8 quarters it), cap KV-cache and pool sizes, or stream data instead of loading it."
                : "Other processes hold most of it: leave headroom or move the workload; within this process, cap caches and pools."
            add(.memoryPressure, percentSeverity(used, t.memoryPercent), used, t.memoryPercent, "%",
                "memory \(f(used))% used (\(Double(m.totalBytes - m.availableBytes).formattedBytes) of \(Double(m.totalBytes).formattedBytes)\(rss))",
                advice)
        }

        if let l = o.latency, l.count > 0 {
            let p50 = Double(l.p50) / 1e6, p95 = Double(l.p95) / 1e6, p99 = Double(l.p99) / 1e6
            if p95 > t.latencyP95Milliseconds {
                let advice = p50 > t.latencyP95Milliseconds * 0.5
                    ? "The median (\(f(p50, 2)) ms) is itself high: every request is slow, so cut the work per request (smaller batches, approximate search, lower precision) rather than chasing the tail."
                    : "The median (\(f(p50, 2)) ms) is fine: a minority of requests is slow; look for queueing, contention and cold caches on those requests."
                add(.latencyP95, p95 > t.latencyP95Milliseconds * 2 ? .critical : .warning, p95, t.latencyP95Milliseconds, "ms",
                    "p95 latency \(f(p95, 2)) ms over \(l.count) requests", advice)
            }
            if p99 > t.latencyP99Milliseconds {
                add(.latencyP99, p99 > t.latencyP99Milliseconds * 2 ? .critical : .warning, p99, t.latencyP99Milliseconds, "ms",
                    "p99 latency \(f(p99, 2)) ms (p50 \(f(p50, 2)) ms) over \(l.count) requests",
                    "One request in a hundred takes over \(f(t.latencyP99Milliseconds, 0)) ms: set a deadline per request, pre-allocate buffers, and check for page faults or lock waits on the slow path.")
            }
            if l.p50 > 0, l.tailRatio > t.tailRatio {
                var causes = "allocation on the request path, lock contention, page faults or background work (compaction, GC in a host runtime)"
                if let u = o.usage, u.majorFaults > 0 { causes = "page faults (\(u.majorFaults) major faults measured), " + causes }
                add(.tailLatency, l.tailRatio > t.tailRatio * 3 ? .critical : .warning, l.tailRatio, t.tailRatio, "×",
                    "tail latency: p99/p50 = \(f(l.tailRatio)) (p50 \(Double(l.p50).formattedNanoseconds), p99 \(Double(l.p99).formattedNanoseconds))",
                    "Requests are usually fast but sometimes far slower: look for \(causes); reuse buffers (a pool), shard locks, and warm caches at start-up.")
            }
        }

        if let r = o.roofline {
            if r.bound == .memory, r.percentOfRoof >= t.bandwidthRoofPercent {
                add(.bandwidthBound, r.percentOfRoof >= 90 ? .critical : .warning, r.percentOfRoof, t.bandwidthRoofPercent, "% of bandwidth",
                    "memory-bound at \(f(r.percentOfRoof, 0))% of bandwidth (intensity \(f(r.arithmeticIntensity, 3)) FLOP/B, ridge \(f(r.ridgePoint, 2)) FLOP/B)",
                    "More threads or wider SIMD will not help: it already streams memory at \(String(format: "%.1f", r.achievedBytesPerSecond / 1e9)) GB/s. Move fewer bytes: quantize (f16 halves, int8 quarters the traffic of f32), fuse passes over the same data, or block so data is reused from cache.")
            } else if r.bound == .compute, r.percentOfRoof < t.computeRoofPercent {
                add(.computeUnderused, r.percentOfRoof < t.computeRoofPercent / 3 ? .critical : .warning, r.percentOfRoof, t.computeRoofPercent, "% of compute",
                    "compute-bound at only \(f(r.percentOfRoof, 0))% of the compute roof (\(String(format: "%.2f", r.achievedFlopsPerSecond / 1e9)) GFLOP/s, intensity \(f(r.arithmeticIntensity, 1)) FLOP/B)",
                    "The arithmetic is not using the cores: check the ISA level in use, vectorise the inner loop with several independent accumulators, split the work across threads, or call BLAS for matrix products.")
            }
        }

        if let c = o.counters {
            if let ipc = c.instructionsPerCycle, ipc < t.instructionsPerCycle {
                let why = (c.cacheMissRate ?? 0) > t.cacheMissRate
                    ? "with a cache miss rate of \(f((c.cacheMissRate ?? 0) * 100))%, the stalls are memory latency: improve locality, prefetch, or shrink the data type"
                    : "the cache miss rate is low, so look at long dependency chains (use more accumulators) and branch misses" + (c.branchMissRate.map { " (\(f($0 * 100, 2))% mispredicted)" } ?? "")
                add(.lowIPC, ipc < t.instructionsPerCycle / 2 ? .critical : .warning, ipc, t.instructionsPerCycle, "IPC",
                    "low IPC: \(f(ipc, 2)) instructions per cycle", "The core is mostly stalled; \(why).")
            }
            if let miss = c.cacheMissRate, miss > t.cacheMissRate {
                add(.cacheMisses, miss > Swift.min(1, t.cacheMissRate * 2) ? .critical : .warning, miss * 100, t.cacheMissRate * 100, "%",
                    "last-level cache miss rate \(f(miss * 100))% (\(c.value(.cacheMisses) ?? 0) misses)",
                    "The working set does not fit in cache: tile or block the loops, store vectors in a smaller type, and keep hot data contiguous.")
            }
        }

        if let u = o.usage, u.wallSeconds > 0 {
            let switches = Double(u.involuntaryContextSwitches) / u.wallSeconds
            if switches > t.involuntarySwitchesPerSecond {
                add(.oversubscription, switches > t.involuntarySwitchesPerSecond * 5 ? .critical : .warning, switches,
                    t.involuntarySwitchesPerSecond, "switches/s",
                    "\(f(switches, 0)) involuntary context switches per second (\(u.involuntaryContextSwitches) in \(f(u.wallSeconds, 2)) s)",
                    "More runnable threads than cores (\(SystemProbe.activeProcessorCount) active): cap parallel regions at the active core count and keep BLAS single-threaded inside them.")
            }
            let faults = Double(u.majorFaults) / u.wallSeconds
            if faults > t.majorFaultsPerSecond {
                add(.majorPageFaults, faults > t.majorFaultsPerSecond * 10 ? .critical : .warning, faults, t.majorFaultsPerSecond, "faults/s",
                    "\(f(faults, 0)) major page faults per second (\(u.majorFaults) total)",
                    "Memory is being read from disk: a cold memory-mapped index or swapping. Pre-fault (touch) the mapping at load time, or reduce memory use.")
            }
        }

        if let out = o.outliers, out.count >= 4, out.tukeyFraction > t.outlierFraction {
            add(.noisyMeasurement, out.tukeyFraction > 0.25 ? .warning : .info, out.tukeyFraction * 100, t.outlierFraction * 100, "% of samples",
                "noisy measurement: \(out.line)",
                "Timings were disturbed by other work on the machine: rerun on an idle machine, pin the process, and use more samples before trusting small differences.")
        }
        return out
    }
}
