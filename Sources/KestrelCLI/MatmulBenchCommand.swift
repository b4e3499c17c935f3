import ArgumentParser
import Foundation
import Kestrel

#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// `kestrel matmul-bench`: Tensor matmul (AcceleratedBackend) against a direct `cblas_sgemm`
/// call on the same buffers, and the one-row (gemv) route against `sgemm` with M = 1.
///
/// Repetitions of the contenders are interleaved (alternating which goes first) so drift in
/// clock speed or machine load hits both alike; each reports the median time, and the ratio
/// of medians is printed per size.
struct MatmulBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul-bench",
        abstract: "Time Tensor matmul against direct cblas_sgemm (square sizes) and the M=1 gemv route."
    )

    @Option(help: "Comma-separated square sizes N (an N×N·N×N product each).")
    var sizes: String = "256,512,1024"

    @Option(help: "Timed repetitions per contender and size (after one warm-up).")
    var reps: Int = 15

    @Option(help: "BLAS threads (default: leave OpenBLAS's setting).")
    var threads: Int?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard reps >= 1 && reps <= 10_000 else { throw ValidationError("--reps must be in 1...10000") }
        guard !parsedSizes().isEmpty, parsedSizes().allSatisfy({ $0 >= 1 && $0 <= 8192 }) else {
            throw ValidationError("--sizes must be a comma-separated list of integers in 1...8192")
        }
    }

    private func parsedSizes() -> [Int] {
        let parts = sizes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        return values.count == parts.count ? values : []
    }

    func run() throws {
        if let threads { try BLASThreads.setCount(threads) }
        var rows: [[String: Any]] = []
        if !json {
            print("BLAS threads: \(BLASThreads.count), reps: \(reps), medians in ms; ratio = Tensor / direct (median; min = ratio of minima)")
            print(pad(["N", "tensor", "tensor-into", "sgemm", "into/sgemm", "tensor/sgemm", "GFLOP/s",
                       "min into/sgemm", "min tensor/sgemm"]))
        }
        for n in parsedSizes() {
            let r = try square(n)
            rows.append(r)
            if !json {
                print(pad(["\(n)", ms(r["tensor_s"]), ms(r["tensor_into_s"]), ms(r["sgemm_s"]),
                           fmt(r["ratio_into"]), fmt(r["ratio_alloc"]), fmt(r["gflops_sgemm"], 1),
                           fmt(r["min_ratio_into"]), fmt(r["min_ratio_alloc"])]))
            }
        }
        var gemvRows: [[String: Any]] = []
        if !json {
            print("\nOne row (M = 1, [1, N] · [N, N]), medians in µs")
            print(pad(["N", "tensor(gemv)", "sgemm M=1", "sgemv", "sgemm/tensor", "tensor/sgemv"]))
        }
        for n in parsedSizes() {
            let r = try oneRow(n)
            gemvRows.append(r)
            if !json {
                print(pad(["\(n)", us(r["tensor_s"]), us(r["sgemm_m1_s"]), us(r["sgemv_s"]),
                           fmt(r["speedup_vs_sgemm"]), fmt(r["ratio_vs_sgemv"])]))
            }
        }
        if json {
            let doc: [String: Any] = ["blas_threads": BLASThreads.count, "reps": reps,
                                      "square": rows, "one_row": gemvRows]
            let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    // MARK: Square products

    private func square(_ n: Int) throws -> [String: Any] {
        let backend = AcceleratedBackend()
        let a = try Tensor.random([n, n], seed: 1), b = try Tensor.random([n, n], seed: 2)
        var out = try Tensor.zeros([n, n])
        var direct = try Tensor.zeros([n, n])
        let ni = Int32(n)
        let inner = try calibrate { try backend.matmul(a, b, into: &out) }
        let contenders: [() throws -> Void] = [
            { _ = try backend.matmul(a, b) },
            { try backend.matmul(a, b, into: &out) },
            {
                try a.withUnsafeBufferPointer { (pa) throws(KestrelError) in
                    try b.withUnsafeBufferPointer { (pb) throws(KestrelError) in
                        try direct.withUnsafeMutableBufferPointer { (pc) throws(KestrelError) in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1,
                                        pa.baseAddress, ni, pb.baseAddress, ni, 0, pc.baseAddress, ni)
                        }
                    }
                }
            },
        ]
        let (med, low) = try interleaved(contenders, inner: inner)
        let diff = zip(out.scalars(), direct.scalars()).map { abs($0 - $1) }.max() ?? 0
        return ["n": n, "tensor_s": med[0], "tensor_into_s": med[1], "sgemm_s": med[2],
                "ratio_alloc": med[0] / med[2], "ratio_into": med[1] / med[2],
                "gflops_sgemm": 2 * pow(Double(n), 3) / med[2] / 1e9, "max_abs_diff": Double(diff),
                "min_tensor_s": low[0], "min_tensor_into_s": low[1], "min_sgemm_s": low[2],
                "min_ratio_into": low[1] / low[2], "min_ratio_alloc": low[0] / low[2]]
    }

    // MARK: One row

    private func oneRow(_ n: Int) throws -> [String: Any] {
        let backend = AcceleratedBackend()
        let x = try Tensor.random([1, n], seed: 3), b = try Tensor.random([n, n], seed: 4)
        var out = try Tensor.zeros([1, n])
        var direct = try Tensor.zeros([1, n])
        let ni = Int32(n)
        let inner = try calibrate { try backend.matmul(x, b, into: &out) }
        let contenders: [() throws -> Void] = [
            { try backend.matmul(x, b, into: &out) },
            {
                try x.withUnsafeBufferPointer { (px) throws(KestrelError) in
                    try b.withUnsafeBufferPointer { (pb) throws(KestrelError) in
                        try direct.withUnsafeMutableBufferPointer { (pc) throws(KestrelError) in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, ni, ni, 1,
                                        px.baseAddress, ni, pb.baseAddress, ni, 0, pc.baseAddress, ni)
                        }
                    }
                }
            },
            {
                try x.withUnsafeBufferPointer { (px) throws(KestrelError) in
                    try b.withUnsafeBufferPointer { (pb) throws(KestrelError) in
                        try direct.withUnsafeMutableBufferPointer { (pc) throws(KestrelError) in
                            cblas_sgemv(CblasRowMajor, CblasTrans, ni, ni, 1, pb.baseAddress, ni,
                                        px.baseAddress, 1, 0, pc.baseAddress, 1)
                        }
                    }
                }
            },
        ]
        let (med, low) = try interleaved(contenders, inner: inner)
        return ["n": n, "tensor_s": med[0], "sgemm_m1_s": med[1], "sgemv_s": med[2],
                "speedup_vs_sgemm": med[1] / med[0], "ratio_vs_sgemv": med[0] / med[2],
                "min_tensor_s": low[0], "min_sgemm_m1_s": low[1], "min_sgemv_s": low[2]]
    }

    // MARK: Timing

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Calls per sample so that one sample lasts at least ~2 ms (clock resolution, call overhead).
    private func calibrate(_ body: () throws -> Void) throws -> Int {
        let clock = ContinuousClock()
        try body()  // warm-up: page faults, BLAS thread start
        let t0 = clock.now
        try body()
        let one = Self.seconds(clock.now - t0)
        return max(1, min(10_000, Int((2e-3 / max(one, 1e-9)).rounded(.up))))
    }

    /// Median and minimum seconds per call of each contender; repetitions interleaved, order
    /// rotated per rep. The minimum is the least disturbed by other load on the machine.
    private func interleaved(_ contenders: [() throws -> Void], inner: Int) throws -> (median: [Double], min: [Double]) {
        let clock = ContinuousClock()
        for c in contenders { try c() }  // warm-up
        var samples = [[Double]](repeating: [], count: contenders.count)
        for rep in 0..<reps {
            for j in 0..<contenders.count {
                let i = (j + rep) % contenders.count
                let t0 = clock.now
                for _ in 0..<inner { try contenders[i]() }
                samples[i].append(Self.seconds(clock.now - t0) / Double(inner))
            }
        }
        let medians = samples.map { s in
            let sorted = s.sorted()
            let mid = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        }
        return (medians, samples.map { $0.min() ?? .nan })
    }

    // MARK: Formatting

    private func pad(_ cols: [String]) -> String {
        cols.map { $0.padding(toLength: max(13, $0.count + 1), withPad: " ", startingAt: 0) }.joined()
    }
    private func fmt(_ v: Any?, _ digits: Int = 3) -> String {
        String(format: "%.\(digits)f", (v as? Double) ?? .nan)
    }
    private func ms(_ v: Any?) -> String { String(format: "%.3f", ((v as? Double) ?? .nan) * 1e3) }
    private func us(_ v: Any?) -> String { String(format: "%.2f", ((v as? Double) ?? .nan) * 1e6) }
}
