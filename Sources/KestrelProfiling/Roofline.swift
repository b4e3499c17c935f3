import Foundation

/// This machine's two roofs: peak floating-point throughput and sustainable memory bandwidth,
/// as measured by ``RooflineProbe``. `Codable` (cached on disk, embedded in reports).
public struct MachinePeaks: Codable, Sendable, Equatable {
    /// CPU model the peaks were measured on (the cache key).
    public var cpuModel: String
    /// Peak FLOP/s reached by the FLOP kernel (one FMA or multiply-add = 2 FLOPs).
    public var peakFlopsPerSecond: Double
    /// STREAM-triad bandwidth, bytes/s (24 bytes per element, write-allocate traffic not counted,
    /// as STREAM reports it).
    public var memoryBandwidthBytesPerSecond: Double
    /// Threads used for both measurements.
    public var threads: Int
    /// Which kernel produced the FLOP peak (the ISA matters: a baseline-ISA loop is far below an
    /// AVX-512 FMA loop).
    public var flopsKernel: String
    /// How bandwidth was measured.
    public var bandwidthKernel: String
    /// `debug` or `release` (debug-build peaks are meaningless and never cached).
    public var buildConfiguration: String
    /// When the measurement was taken.
    public var measuredAt: Date

    /// Creates a record (normally from ``RooflineProbe/measure(threads:flopsKernel:triadElements:)``).
    public init(cpuModel: String, peakFlopsPerSecond: Double, memoryBandwidthBytesPerSecond: Double, threads: Int,
                flopsKernel: String, bandwidthKernel: String, buildConfiguration: String, measuredAt: Date) {
        self.cpuModel = cpuModel
        self.peakFlopsPerSecond = peakFlopsPerSecond
        self.memoryBandwidthBytesPerSecond = memoryBandwidthBytesPerSecond
        self.threads = threads
        self.flopsKernel = flopsKernel
        self.bandwidthKernel = bandwidthKernel
        self.buildConfiguration = buildConfiguration
        self.measuredAt = measuredAt
    }

    /// The arithmetic intensity (FLOP/byte) where the two roofs meet: below it an operation is
    /// memory-bound, above it compute-bound.
    public var ridgePoint: Double { peakFlopsPerSecond / memoryBandwidthBytesPerSecond }
}

/// Which roof limits an operation.
public enum RooflineBound: String, Codable, Sendable {
    /// Arithmetic intensity below the ridge point: bandwidth limits it.
    case memory
    /// Arithmetic intensity at or above the ridge point: FLOP throughput limits it.
    case compute
}

/// An operation placed on the roofline.
public struct RooflinePoint: Codable, Sendable, Equatable {
    /// FLOPs the operation performs.
    public var flops: Double
    /// Bytes it moves to and from memory.
    public var bytes: Double
    /// Time it took, seconds.
    public var seconds: Double
    /// FLOPs per byte.
    public var arithmeticIntensity: Double
    /// The machine's ridge point, FLOP/byte.
    public var ridgePoint: Double
    /// The limiting roof.
    public var bound: RooflineBound
    /// min(peak FLOP/s, intensity × bandwidth): the best this operation can do here.
    public var attainableFlopsPerSecond: Double
    /// flops / seconds.
    public var achievedFlopsPerSecond: Double
    /// bytes / seconds.
    public var achievedBytesPerSecond: Double
    /// Achieved / attainable × 100: how close to its roof the operation runs.
    public var percentOfRoof: Double

    /// One line, e.g. `memory-bound (AI 0.25 FLOP/B < ridge 9.8): 78% of the bandwidth roof, 11.2 GB/s`.
    public var line: String {
        let roofName = bound == .memory ? "bandwidth" : "compute"
        return "\(bound.rawValue)-bound (AI " + String(format: "%.3g", arithmeticIntensity) + " FLOP/B "
            + (bound == .memory ? "<" : "≥") + " ridge " + String(format: "%.3g", ridgePoint) + "): "
            + String(format: "%.0f", percentOfRoof) + "% of the \(roofName) roof, "
            + String(format: "%.3g GFLOP/s, %.3g GB/s", achievedFlopsPerSecond / 1e9, achievedBytesPerSecond / 1e9)
    }
}

/// The roofline model of a machine: classifies an operation from its FLOPs, bytes and time.
public struct RooflineModel: Codable, Sendable, Equatable {
    /// The machine's roofs.
    public var peaks: MachinePeaks

    /// Creates a model.
    public init(peaks: MachinePeaks) { self.peaks = peaks }

    /// Places an operation on the roofline.
    ///
    /// - Parameters:
    ///   - flops: floating-point operations performed (an FMA counts 2).
    ///   - bytes: bytes moved between memory and the core (compulsory traffic, e.g. every operand
    ///     read once and the result written once).
    ///   - seconds: measured time.
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` unless bytes and seconds are
    ///   positive, flops non-negative and the peaks positive.
    public func classify(flops: Double, bytes: Double, seconds: Double) throws(ProfilingError) -> RooflinePoint {
        guard flops >= 0, flops.isFinite else { throw .invalidArgument(name: "flops", reason: "must be finite and ≥ 0") }
        guard bytes > 0, bytes.isFinite else { throw .invalidArgument(name: "bytes", reason: "must be finite and > 0") }
        guard seconds > 0, seconds.isFinite else { throw .invalidArgument(name: "seconds", reason: "must be finite and > 0") }
        guard peaks.peakFlopsPerSecond > 0, peaks.memoryBandwidthBytesPerSecond > 0 else {
            throw .invalidArgument(name: "peaks", reason: "peak FLOP/s and bandwidth must be positive")
        }
        let intensity = flops / bytes
        let ridge = peaks.ridgePoint
        let bound: RooflineBound = intensity < ridge ? .memory : .compute
        let attainable = Swift.min(peaks.peakFlopsPerSecond, intensity * peaks.memoryBandwidthBytesPerSecond)
        let achievedFlops = flops / seconds
        let achievedBytes = bytes / seconds
        // A memory-bound operation with no FLOPs is judged against the bandwidth roof directly.
        let percent = bound == .memory
            ? achievedBytes / peaks.memoryBandwidthBytesPerSecond * 100
            : achievedFlops / attainable * 100
        return RooflinePoint(flops: flops, bytes: bytes, seconds: seconds, arithmeticIntensity: intensity, ridgePoint: ridge,
                             bound: bound, attainableFlopsPerSecond: attainable, achievedFlopsPerSecond: achievedFlops,
                             achievedBytesPerSecond: achievedBytes, percentOfRoof: percent)
    }
}
