import ArgumentParser
import Foundation
import Kestrel

/// `kestrel quant-bench`: quantized GEMV (Q8_0, Q4_0, Q4_K, Q6_K, int8) against f32 `cblas_sgemv`
/// on the same problem, one thread, in one run, with the issue's targets (Q8_0 ≥ 2×, Q4_0 ≥ 3×).
struct QuantBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quant-bench",
        abstract: "Time quantized GEMV (q8_0, q4_0, q4_k, q6_k, int8) against f32 cblas_sgemv, one thread."
    )

    @Option(help: "Rows of the weight matrix (1...65536).")
    var rows: Int = 4096

    @Option(help: "Columns (a multiple of 256 in 256...65536: the K-quants' super-block).")
    var cols: Int = 4096

    @Option(help: "Timed repetitions per contender (after one warm-up).")
    var reps: Int = 15

    @Option(help: "Kernel tier to use (scalar, avx2, avx512, avx512vnni, neon, neondot); default: the best.")
    var isa: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    /// Speed-ups over sgemv the issue asks for, by contender name.
    static let targets: [String: Double] = ["q8_0 x q8_0": 2, "q4_0 x q8_0": 3]

    func validate() throws {
        guard (1...65536).contains(rows) else { throw ValidationError("--rows must be in 1...65536") }
        guard (256...65536).contains(cols), cols % 256 == 0 else {
            throw ValidationError("--cols must be a multiple of 256 in 256...65536")
        }
        guard (1...10_000).contains(reps) else { throw ValidationError("--reps must be in 1...10000") }
        if let isa {
            guard let level = ISALevel(rawValue: isa) else {
                throw ValidationError("--isa must be one of \(ISALevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard level.isSupported else { throw ValidationError("--isa \(isa) is not supported on this CPU") }
        }
    }

    func run() throws {
        let results = try QuantBench(rows: rows, columns: cols, reps: reps).run(isa: isa.flatMap(ISALevel.init(rawValue:)))
        let tier = ISALevel.active.rawValue
        if json {
            let doc: [String: Any] = [
                "cpu": ISALevel.cpuName, "isa": tier, "rows": rows, "cols": cols, "reps": reps, "threads": 1,
                "results": results.map {
                    ["name": $0.name, "weight_bytes": $0.weightBytes, "median_s": $0.seconds, "min_s": $0.minSeconds,
                     "speedup_vs_sgemv": $0.speedupVsSgemv, "min_speedup_vs_sgemv": $0.minSpeedupVsSgemv,
                     "gb_per_s": $0.gigabytesPerSecond] as [String: Any]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("quant-bench: \(rows)×\(cols), 1 thread, tier \(tier), CPU \(ISALevel.cpuName), \(reps) reps (medians)")
        print(pad(["contender", "ms", "min ms", "weights MB", "GB/s", "× sgemv", "min × sgemv", "target (medians)"]))
        for r in results {
            let target = Self.targets[r.name].map { t in String(format: "≥ %.0f× %@", t, r.speedupVsSgemv >= t ? "met" : "NOT met") } ?? ""
            print(pad([r.name, String(format: "%.3f", r.seconds * 1e3), String(format: "%.3f", r.minSeconds * 1e3),
                       String(format: "%.1f", Double(r.weightBytes) / 1e6), String(format: "%.1f", r.gigabytesPerSecond),
                       String(format: "%.2f", r.speedupVsSgemv), String(format: "%.2f", r.minSpeedupVsSgemv), target]))
        }
    }

    private func pad(_ cols: [String]) -> String {
        cols.enumerated().map { i, s in s.padding(toLength: max(i == 0 ? 20 : 11, s.count + 1), withPad: " ", startingAt: 0) }
            .joined()
    }
}
