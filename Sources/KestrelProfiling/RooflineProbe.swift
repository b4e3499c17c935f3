import Foundation

/// A loop that performs a known number of FLOPs, used to measure the compute roof.
///
/// The built-in ``swiftSIMD`` kernel is portable Swift and therefore compiled for the baseline
/// ISA (SSE2 on x86-64: no FMA, 4-wide): KestrelProfiling imports no C kernels and SwiftPM
/// forbids `-march`. A caller that has an FMA loop at the best ISA (the `kestrel` CLI, from the C
/// kernels) injects it here to measure the real peak.
public struct PeakFlopsKernel: Sendable {
    /// Name recorded with the peak.
    public var name: String
    /// Runs `iterations` iterations and returns the FLOPs performed.
    public var run: @Sendable (Int) -> Double

    /// Creates a kernel.
    public init(name: String, run: @escaping @Sendable (Int) -> Double) {
        self.name = name
        self.run = run
    }

    /// `SIMD8<Float>` multiply-add over 8 independent accumulators (128 FLOPs per iteration), so
    /// the loop is throughput-bound rather than latency-bound.
    public static let swiftSIMD = PeakFlopsKernel(name: "Swift SIMD8<Float> multiply-add ×8 accumulators (baseline ISA)") {
        RooflineProbe.simdMultiplyAdd($0)
    }
}

/// Measures this machine's roofs (peak FLOP/s and STREAM-triad bandwidth) and caches them in a
/// JSON file keyed by CPU model, kernel, threads and build, so they are measured once.
///
/// Measurements take about a second in a release build; in a debug build they are far below the
/// machine's real roofs (and are never cached).
public enum RooflineProbe {
    /// `$XDG_CACHE_HOME/kestrel/roofline.json`, else `~/.cache/kestrel/roofline.json` (Linux) or
    /// `~/Library/Caches/kestrel/roofline.json` (macOS).
    public static var defaultCacheFile: URL {
        let env = ProcessInfo.processInfo.environment
        let base: URL
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg)
        } else {
            #if canImport(Darwin)
            base = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent("Library/Caches")
            #else
            base = URL(fileURLWithPath: env["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache")
            #endif
        }
        return base.appendingPathComponent("kestrel/roofline.json")
    }

    /// Most threads a probe runs: each keeps a result slot, and past a few thousand the
    /// measurement says nothing about this machine.
    public static let maxThreads = 4096

    /// Peak FLOP/s of `kernel` on `threads` threads: the iteration count is doubled until one run
    /// lasts `duration / 5`, then the best of 5 runs is kept.
    ///
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for threads outside 1...``maxThreads``.
    public static func measurePeakFlops(threads: Int = 1, duration: UInt64 = 200_000_000,
                                        kernel: PeakFlopsKernel = .swiftSIMD) throws(ProfilingError) -> Double {
        guard (1...maxThreads).contains(threads) else {
            throw .invalidArgument(name: "threads", reason: "must be in 1...\(maxThreads), got \(threads)")
        }
        var iterations = 1_024
        let slice = Swift.max(duration / 5, 1)
        while true {
            let t0 = MonotonicClock.now()
            _ = kernel.run(iterations)
            if MonotonicClock.elapsed(since: t0) >= slice || iterations >= 1 << 40 { break }
            iterations *= 2
        }
        var best = 0.0
        let n = iterations
        for _ in 0..<5 {
            let t0 = MonotonicClock.now()
            let flops = parallel(threads) { _ in kernel.run(n) }
            let dt = Double(MonotonicClock.elapsed(since: t0)) / 1e9
            if dt > 0 { best = Swift.max(best, flops / dt) }
        }
        return best
    }

    /// STREAM-triad bandwidth `a[i] = b[i] + s·c[i]` over three `Double` arrays of `elements`
    /// each (default 2^23: 64 MiB per array, several times any last-level cache), best of
    /// `repetitions`. Counts 24 bytes per element as STREAM does.
    ///
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for too few elements, threads or
    ///   repetitions, more threads than elements, or arrays that would exceed physical memory.
    /// - Complexity: O(elements × repetitions) time, 24 × elements bytes of memory.
    public static func measureTriadBandwidth(elements: Int = 1 << 23, repetitions: Int = 10,
                                             threads: Int = 1) throws(ProfilingError) -> Double {
        guard elements >= 1024 else { throw .invalidArgument(name: "elements", reason: "must be ≥ 1024") }
        guard repetitions >= 1 else { throw .invalidArgument(name: "repetitions", reason: "must be ≥ 1") }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1") }
        // Checked up front: a failed allocation below would abort the process.
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: 24)
        guard !overflow, bytes <= Int(clamping: ProcessInfo.processInfo.physicalMemory) else {
            throw .invalidArgument(name: "elements", reason: "three arrays of \(elements) doubles exceed physical memory")
        }
        guard threads <= Swift.min(elements, maxThreads) else {
            throw .invalidArgument(name: "threads", reason: "must be ≤ \(Swift.min(elements, maxThreads)), got \(threads)")
        }
        let a = UnsafeMutableBufferPointer<Double>.allocate(capacity: elements)
        let b = UnsafeMutableBufferPointer<Double>.allocate(capacity: elements)
        let c = UnsafeMutableBufferPointer<Double>.allocate(capacity: elements)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        let arrays = TriadArrays(a: a, b: b, c: c)
        // First touch by the threads that will use the pages (NUMA placement), outside the timing.
        _ = parallel(threads) { t in
            let r = chunk(t, of: threads, elements)
            for i in r { arrays.a[i] = 0; arrays.b[i] = 1; arrays.c[i] = 2 }
            return 0
        }
        var best = 0.0
        for _ in 0..<repetitions {
            let t0 = MonotonicClock.now()
            _ = parallel(threads) { t in
                triad(arrays, chunk(t, of: threads, elements), scalar: 3)
                return 0
            }
            let dt = Double(MonotonicClock.elapsed(since: t0)) / 1e9
            if dt > 0 { best = Swift.max(best, Double(24 * elements) / dt) }
        }
        blackHole(a[elements / 2])
        return best
    }

    /// Measures both roofs.
    public static func measure(threads: Int = 1, flopsKernel: PeakFlopsKernel = .swiftSIMD,
                               triadElements: Int = 1 << 23) throws(ProfilingError) -> MachinePeaks {
        let flops = try measurePeakFlops(threads: threads, kernel: flopsKernel)
        let bandwidth = try measureTriadBandwidth(elements: triadElements, threads: threads)
        let mib = Double(triadElements * 8) / 1_048_576
        return MachinePeaks(
            cpuModel: BenchmarkEnvironment.cpuModelName, peakFlopsPerSecond: flops, memoryBandwidthBytesPerSecond: bandwidth,
            threads: threads, flopsKernel: flopsKernel.name,
            bandwidthKernel: String(format: "STREAM triad, 3 × %.0f MiB f64 arrays, best of 10", mib),
            buildConfiguration: ProfilingBuildInfo.buildConfiguration, measuredAt: Date.wholeSeconds())
    }

    /// The peaks of this machine from the cache file, measuring and saving them on a miss.
    ///
    /// - Parameters:
    ///   - cacheFile: the JSON cache (default ``defaultCacheFile``).
    ///   - threads: threads for the measurement.
    ///   - flopsKernel: the FLOP kernel (part of the cache key).
    ///   - remeasure: ignore a cached entry.
    /// - Throws: ``ProfilingError`` from the measurement; a missing, unreadable or corrupt cache
    ///   is not an error (it is logged and rewritten).
    public static func cachedPeaks(cacheFile: URL = defaultCacheFile, threads: Int = 1,
                                   flopsKernel: PeakFlopsKernel = .swiftSIMD, remeasure: Bool = false) throws(ProfilingError) -> MachinePeaks {
        try cachedPeaks(cacheFile: cacheFile, key: cacheKey(cpuModel: BenchmarkEnvironment.cpuModelName, kernel: flopsKernel.name,
                                                             threads: threads, build: ProfilingBuildInfo.buildConfiguration),
                        remeasure: remeasure) { () throws(ProfilingError) -> MachinePeaks in
            try measure(threads: threads, flopsKernel: flopsKernel)
        }
    }

    static func cacheKey(cpuModel: String, kernel: String, threads: Int, build: String) -> String {
        "\(cpuModel)|\(kernel)|threads=\(threads)|\(build)"
    }

    /// The cache logic, with the measurement injected (tests use a synthetic one).
    static func cachedPeaks(cacheFile: URL, key: String, remeasure: Bool,
                            measure: () throws(ProfilingError) -> MachinePeaks) throws(ProfilingError) -> MachinePeaks {
        var cache = RooflineCache()
        if let data = try? Data(contentsOf: cacheFile) {
            do {
                cache = try JSONDecoder.iso8601.decode(RooflineCache.self, from: data)
            } catch {
                profilingLogger.warning("ignoring corrupt roofline cache", metadata: ["file": "\(cacheFile.path)", "error": "\(error)"])
            }
        }
        if !remeasure, cache.schemaVersion == RooflineCache.currentVersion, let hit = cache.entries[key] { return hit }
        let peaks = try measure()
        guard peaks.buildConfiguration == "release" else { return peaks }
        cache.schemaVersion = RooflineCache.currentVersion
        cache.entries[key] = peaks
        do {
            try FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try JSONEncoder.iso8601.encode(cache).write(to: cacheFile, options: .atomic)
        } catch {
            profilingLogger.warning("could not write roofline cache", metadata: ["file": "\(cacheFile.path)", "error": "\(error)"])
        }
        return peaks
    }

    @inline(never)
    static func simdMultiplyAdd(_ iterations: Int) -> Double {
        // x ← x·m + c converges to c / (1 − m) = 1: values stay normal (no denormal slow paths).
        let m = SIMD8<Float>(repeating: 0.999_999_9), c = SIMD8<Float>(repeating: 1e-7)
        var a0 = SIMD8<Float>(repeating: 0.5), a1 = SIMD8<Float>(repeating: 0.6), a2 = SIMD8<Float>(repeating: 0.7)
        var a3 = SIMD8<Float>(repeating: 0.8), a4 = SIMD8<Float>(repeating: 0.9), a5 = SIMD8<Float>(repeating: 1.1)
        var a6 = SIMD8<Float>(repeating: 1.2), a7 = SIMD8<Float>(repeating: 1.3)
        for _ in 0..<iterations {
            a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c
            a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c
        }
        blackHole(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)))
        return Double(iterations) * 8 * 8 * 2
    }

    struct TriadArrays: @unchecked Sendable {
        // @unchecked: each thread writes a disjoint chunk.
        var a, b, c: UnsafeMutableBufferPointer<Double>
    }

    @inline(never)
    static func triad(_ x: TriadArrays, _ range: Range<Int>, scalar: Double) {
        guard let a = x.a.baseAddress, let b = x.b.baseAddress, let c = x.c.baseAddress else { return }
        for i in range { a[i] = b[i] + scalar * c[i] }
    }

    static func chunk(_ t: Int, of threads: Int, _ n: Int) -> Range<Int> {
        let per = (n + threads - 1) / threads
        return Swift.min(t * per, n)..<Swift.min((t + 1) * per, n)
    }

    /// Runs `body(t)` for t in 0..<threads concurrently and sums the results.
    static func parallel(_ threads: Int, _ body: @Sendable (Int) -> Double) -> Double {
        if threads == 1 { return body(0) }
        let results = LockedValue([Double](repeating: 0, count: threads))
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let v = body(t)
            results.withLock { $0[t] = v }
        }
        return results.withLock { $0.reduce(0, +) }
    }
}

/// On-disk cache of measured peaks.
struct RooflineCache: Codable {
    static let currentVersion = 1
    var schemaVersion = RooflineCache.currentVersion
    var entries: [String: MachinePeaks] = [:]
}
