import Foundation
import Kestrel

/// Measures the `memory` suite on this machine. The single-thread triad is measured once and
/// reused by the roofline case, so the ridge point and the bandwidth case agree.
final class SystemMemoryProbe: MemoryMeasuring {
    let settings: SuiteSettings
    private var triads: [Int: Double] = [:]

    init(settings: SuiteSettings) { self.settings = settings }

    func streamTriad(threads: Int) throws -> Double {
        if let t = triads[threads] { return t }
        let r = try StreamTriad(arrayBytes: settings.streamArrayBytes, threads: threads).run()
        triads[threads] = r.gigabytesPerSecond
        return r.gigabytesPerSecond
    }

    func peakFlops() throws -> PeakFlops {
        let kernel = FMAPeak.axpyKernel()
        return PeakFlops(flopsPerSecond: try RooflineProbe.measurePeakFlops(threads: 1, kernel: kernel), kernel: kernel.name)
    }

    func storageFootprint() throws -> StorageFootprint {
        let shape = [settings.storageRows, settings.dim]
        let f32 = try Tensor.random(shape, seed: settings.seed)
        let f16 = try f32.converted(to: .f16)
        let values = f32.scalars()
        let scaled = try Tensor(values.map { $0 * 127 }, shape: shape)
        let int8 = try scaled.converted(to: .int8)
        let back16 = try f16.converted(to: .f32).scalars()
        let back8 = try int8.converted(to: .f32).scalars()
        var e16 = 0.0, e8 = 0.0
        for i in 0..<values.count {
            e16 = max(e16, Double(abs(values[i] - back16[i])))
            e8 = max(e8, Double(abs(values[i] - back8[i] / 127)))
        }
        return StorageFootprint(
            elements: values.count, f32Bytes: try Self.bytes(f32, Float.self), f16Bytes: try Self.bytes(f16, UInt16.self),
            int8Bytes: try Self.bytes(int8, Int8.self), f16MaxAbsError: e16, int8MaxAbsError: e8)
    }

    /// Bytes of the tensor's element buffer, from the buffer itself.
    static func bytes<T: TensorElement>(_ t: Tensor, _: T.Type) throws(KestrelError) -> Int {
        try t.withUnsafeBufferPointer(as: T.self) { (b) throws(KestrelError) in b.count * MemoryLayout<T>.stride }
    }

    func bufferPoolWorkload() throws -> PoolWorkload {
        let dim = settings.dim
        let pool = try BufferPool(capacity: 64 << 20)
        // One request: a query, its scores against 4096 rows, and a 64-row tile, all scratch.
        func request(_ pool: BufferPool?) throws -> Double {
            var q = try Tensor.zeros([1, dim], pool: pool)
            let s = try Tensor.zeros([1, 4096], pool: pool)
            let tile = try Tensor.zeros([64, dim], pool: pool)
            try q.setScalar(1, at: [0, 0])
            return Double(try q.scalar(at: [0, 0]) + s.scalar(at: [0, 0]) + tile.scalar(at: [63, dim - 1]))
        }
        var sum = 0.0
        for _ in 0..<settings.poolRequests { sum += try request(pool) }
        let stats = pool.statistics
        var failure: (any Error)?
        func timed(_ p: BufferPool?) -> Double {
            measure(settings.sweepPolicy) {
                do { return try request(p) } catch { failure = error; return .nan }
            }.nanosecondsPerCall
        }
        let pooled = timed(pool), fresh = timed(nil)
        if let failure { throw failure }
        blackHole(sum)
        return PoolWorkload(requests: settings.poolRequests, statistics: stats, pooledNanosecondsPerRequest: pooled,
                            freshNanosecondsPerRequest: fresh)
    }

    func recorderCost() throws -> RecorderCost {
        // Log-uniform latencies from 100 ns to 10 ms: the values spread over many buckets, as
        // real latencies do (one repeated value would keep a single counter hot).
        var rng = SplitMix64(seed: settings.seed)
        let values = (0..<4096).map { _ in UInt64(100 * pow(1e5, Double(rng.next() >> 11) * 0x1p-53)) }
        var options = MeasurementOptions()
        options.warmUpNanoseconds = 20_000_000
        options.samples = 40
        var single = try LatencyRecorder()
        var i = 0
        let s = try values.withUnsafeBufferPointer { v in
            try Measurer.measure("LatencyRecorder.record", options: options) {
                single.record(v[i & 4095])
                i &+= 1
            }
        }
        let concurrent = try ConcurrentLatencyRecorder()
        let c = try values.withUnsafeBufferPointer { v in
            try Measurer.measure("ConcurrentLatencyRecorder.record", options: options) {
                concurrent.record(v[i & 4095])
                i &+= 1
            }
        }
        blackHole(single.count + concurrent.snapshot().count)
        return RecorderCost(single: s.medianInterval, concurrent: c.statistics.median,
                            timerOverheadPerCall: s.timerOverheadPerCallNanoseconds, method: s.line)
    }

    func startupSkipReason() -> String? {
        if case .failure(let why) = StartupTimer.currentExecutable() { return why.reason }
        return nil
    }

    func startupMilliseconds() throws -> [Double] {
        let url = try StartupTimer.currentExecutable().get()
        return try StartupTimer(executable: url, runs: settings.startupRuns).measure()
    }
}
