import Foundation
import Testing
@testable import KestrelProfiling

@Suite("Roofline")
struct RooflineTests {
    static func peaks(flops: Double = 100e9, bandwidth: Double = 10e9, cpu: String = "Test CPU") -> MachinePeaks {
        MachinePeaks(cpuModel: cpu, peakFlopsPerSecond: flops, memoryBandwidthBytesPerSecond: bandwidth, threads: 1,
                     flopsKernel: "synthetic", bandwidthKernel: "synthetic", buildConfiguration: "release",
                     measuredAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("classifies memory- and compute-bound operations with the % of roof")
    func classify() throws {
        let model = RooflineModel(peaks: Self.peaks())  // ridge = 10 FLOP/B
        #expect(model.peaks.ridgePoint == 10)
        // f32 dot product of n = 1M: 2n FLOPs, 8n bytes → AI 0.25; at 8 GB/s it reaches 80 % of 10 GB/s.
        let n = 1_000_000.0
        let dot = try model.classify(flops: 2 * n, bytes: 8 * n, seconds: 8 * n / 8e9)
        #expect(dot.bound == .memory)
        #expect(abs(dot.arithmeticIntensity - 0.25) < 1e-12)
        #expect(abs(dot.attainableFlopsPerSecond - 2.5e9) < 1)
        #expect(abs(dot.percentOfRoof - 80) < 1e-9)
        #expect(dot.line.hasPrefix("memory-bound"))
        // 512³ GEMM: 2·512³ FLOPs, 3·512²·4 bytes → AI ≈ 85; at 50 GFLOP/s: 50 % of the compute roof.
        let m = 512.0
        let gemm = try model.classify(flops: 2 * m * m * m, bytes: 3 * m * m * 4, seconds: 2 * m * m * m / 50e9)
        #expect(gemm.bound == .compute)
        #expect(abs(gemm.percentOfRoof - 50) < 1e-9)
        #expect(gemm.line.hasPrefix("compute-bound"))
        #expect(throws: ProfilingError.self) { try model.classify(flops: 1, bytes: 0, seconds: 1) }
        #expect(throws: ProfilingError.self) { try model.classify(flops: 1, bytes: 1, seconds: -1) }
        #expect(throws: ProfilingError.self) { try model.classify(flops: .nan, bytes: 1, seconds: 1) }
    }

    @Test("peaks are cached per key, corrupt caches are replaced, debug peaks are not cached")
    func cache() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-roofline-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sub/roofline.json")
        var measured = 0
        let make = { () throws(ProfilingError) -> MachinePeaks in
            measured += 1
            return Self.peaks(flops: Double(measured) * 1e9)
        }
        let first = try RooflineProbe.cachedPeaks(cacheFile: file, key: "cpu A", remeasure: false, measure: make)
        let second = try RooflineProbe.cachedPeaks(cacheFile: file, key: "cpu A", remeasure: false, measure: make)
        #expect(measured == 1 && first == second)
        _ = try RooflineProbe.cachedPeaks(cacheFile: file, key: "cpu B", remeasure: false, measure: make)
        #expect(measured == 2)
        _ = try RooflineProbe.cachedPeaks(cacheFile: file, key: "cpu A", remeasure: true, measure: make)
        #expect(measured == 3)
        try Data("{ not json".utf8).write(to: file)
        let afterCorrupt = try RooflineProbe.cachedPeaks(cacheFile: file, key: "cpu A", remeasure: false, measure: make)
        #expect(measured == 4 && afterCorrupt.peakFlopsPerSecond == 4e9)
        #expect(try RooflineProbe.cachedPeaks(cacheFile: file, key: "cpu A", remeasure: false, measure: make) == afterCorrupt)

        let debugFile = dir.appendingPathComponent("debug.json")
        var debugPeaks = Self.peaks()
        debugPeaks.buildConfiguration = "debug"
        let dp = debugPeaks
        _ = try RooflineProbe.cachedPeaks(cacheFile: debugFile, key: "k", remeasure: false) { () throws(ProfilingError) in dp }
        #expect(!FileManager.default.fileExists(atPath: debugFile.path))
        #expect(RooflineProbe.cacheKey(cpuModel: "X", kernel: "k", threads: 2, build: "release") == "X|k|threads=2|release")
    }

    @Test("the probes run and return positive roofs (tiny sizes; values not asserted)")
    func probesRun() throws {
        let flops = try RooflineProbe.measurePeakFlops(threads: 1, duration: 2_000_000)
        #expect(flops > 0)
        let twoThreads = try RooflineProbe.measurePeakFlops(threads: 2, duration: 2_000_000)
        #expect(twoThreads > 0)
        let bw = try RooflineProbe.measureTriadBandwidth(elements: 1 << 14, repetitions: 2, threads: 2)
        #expect(bw > 0)
        #expect(throws: ProfilingError.self) { try RooflineProbe.measureTriadBandwidth(elements: 10) }
        // Sizes past memory or overflowing the byte count are refused before allocating.
        for elements in [Int.max, Int.max / 24 + 1, 1 << 50] {
            let e = #expect(throws: ProfilingError.self) { try RooflineProbe.measureTriadBandwidth(elements: elements) }
            if case .invalidArgument(let name, _) = e { #expect(name == "elements") } else { Issue.record("\(String(describing: e))") }
        }
        let t = #expect(throws: ProfilingError.self) { try RooflineProbe.measureTriadBandwidth(elements: 1024, threads: Int.max) }
        if case .invalidArgument(let name, _) = t { #expect(name == "threads") } else { Issue.record("\(String(describing: t))") }
        let f = #expect(throws: ProfilingError.self) { try RooflineProbe.measurePeakFlops(threads: Int.max) }
        if case .invalidArgument(let name, _) = f { #expect(name == "threads") } else { Issue.record("\(String(describing: f))") }
        #expect(throws: ProfilingError.self) { try RooflineProbe.measurePeakFlops(threads: 0) }
        #expect(RooflineProbe.defaultCacheFile.path.hasSuffix("kestrel/roofline.json"))
        let custom = PeakFlopsKernel(name: "custom") { Double($0) * 2 }
        #expect(try RooflineProbe.measurePeakFlops(duration: 1_000_000, kernel: custom) > 0)
    }
}
