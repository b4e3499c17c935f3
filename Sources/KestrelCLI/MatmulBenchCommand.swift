import ArgumentParser
import Foundation
import Kestrel

/// `kestrel matmul-bench`: Tensor matmul (AcceleratedBackend) against a direct `cblas_sgemm`
/// call on the same buffers, and the one-row (gemv) route against `sgemm` with M = 1.
///
/// The measuring is ``MatmulBench`` (shared with the `simd` suite of `kestrel benchmark`);
/// this command prints its results as a table or JSON.
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

    // MARK: Rows of the table and JSON

    private func square(_ n: Int) throws -> [String: Any] {
        let r = try MatmulBench(reps: reps).square(n)
        return ["n": n, "tensor_s": r.tensorSeconds, "tensor_into_s": r.tensorIntoSeconds, "sgemm_s": r.sgemmSeconds,
                "ratio_alloc": r.ratioAllocating, "ratio_into": r.ratioInto,
                "gflops_sgemm": r.sgemmGigaflops, "max_abs_diff": r.maxAbsDifference,
                "min_tensor_s": r.minTensorSeconds, "min_tensor_into_s": r.minTensorIntoSeconds,
                "min_sgemm_s": r.minSgemmSeconds, "min_ratio_into": r.minRatioInto,
                "min_ratio_alloc": r.minRatioAllocating]
    }

    private func oneRow(_ n: Int) throws -> [String: Any] {
        let r = try MatmulBench(reps: reps).oneRow(n)
        return ["n": n, "tensor_s": r.tensorSeconds, "sgemm_m1_s": r.sgemmM1Seconds, "sgemv_s": r.sgemvSeconds,
                "speedup_vs_sgemm": r.speedupVsSgemm, "ratio_vs_sgemv": r.ratioVsSgemv,
                "min_tensor_s": r.minTensorSeconds, "min_sgemm_m1_s": r.minSgemmM1Seconds,
                "min_sgemv_s": r.minSgemvSeconds]
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
