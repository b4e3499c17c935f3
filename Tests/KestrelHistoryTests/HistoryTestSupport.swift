import Foundation
import KestrelHistory
import KestrelKernels
import KestrelProfiling

/// Fixed environments and reports: no clock calibration, no /proc reads.
enum HistoryFixtures {
    static func environment(cpu: String = "Test CPU", isa: String? = "avx2", commit: String? = "abc123") -> BenchmarkEnvironment {
        BenchmarkEnvironment(
            cpuModel: cpu, architecture: "x86_64", logicalCores: 2, activeCores: 2, isaLevel: isa,
            operatingSystem: "Linux test", toolchain: "Swift compiler 6.3", buildConfiguration: "release",
            libraryVersion: "0.1.0", gitCommit: commit, physicalMemoryBytes: 1 << 34,
            clock: ClockCalibration(source: "test", overheadNanoseconds: 20, resolutionNanoseconds: 1, batches: 1))
    }

    /// A report with a latency case (ns, lower is better), a throughput case (higher is better)
    /// and a skipped case, at `date`.
    static func report(at date: Date, latency: Double = 100, throughput: Double = 5000, cpu: String = "Test CPU",
                       suite: String = "simd", latencyStatus: BenchmarkStatus = .pass) -> BenchmarkReport {
        var lat = BenchmarkCaseResult(name: "simd.dot.latency", suite: suite, summary: "dot product latency", target: nil,
                                      value: latency, unit: "ns", higherIsBetter: false, status: latencyStatus)
        lat.interval = ConfidenceInterval(estimate: latency, lower: latency * 0.99, upper: latency * 1.01, level: 0.95)
        let thr = BenchmarkCaseResult(name: "simd.dot.throughput", suite: suite, summary: "throughput", target: nil,
                                      value: throughput, unit: "ops/s", higherIsBetter: true, status: .info)
        let skip = BenchmarkCaseResult(name: "simd.skipped", suite: suite, summary: "skipped here", target: nil,
                                       value: nil, unit: "x", status: .skipped)
        return BenchmarkReport(environment: environment(cpu: cpu), suite: suite, results: [lat, thr, skip],
                               durationSeconds: 1.5, createdAt: Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
    }

    /// A fixed "now" (whole seconds).
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
}

/// Runs `body` and returns the `KestrelError` it threw (nil when it did not throw).
func kestrelError(_ body: () throws(KestrelError) -> Void) -> KestrelError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}
