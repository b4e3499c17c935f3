import ArgumentParser
import Kestrel

/// The `kestrel` command-line tool.
@main
struct KestrelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kestrel",
        abstract: "Fast CPU building blocks for on-device AI: kernels, tensors, benchmarks.",
        subcommands: [
            BenchmarkCommand.self, ProfileCommand.self, AnalyzeCommand.self, ReportCommand.self,
            InfoCommand.self, KernelBenchCommand.self, MatmulBenchCommand.self, AnnBenchCommand.self,
            QuantizeCommand.self, DequantizeCommand.self, QuantBenchCommand.self, AttentionBenchCommand.self,
            AdaptBenchCommand.self,
            MCPCommand.self, MCPBenchCommand.self,
            // Issue 20: performance history, live status and vector-index files.
            StatusCommand.self, IndexCommand.self, HistoryWriterCommand.self,
        ]
    )
}

/// Prints the CPU (model, vendor, caches), the kernel tiers this machine runs and the prefetch
/// plan chosen for it.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the CPU (model, vendor, caches), ISA levels and the prefetch plan.")

    @Flag(help: "Print only the supported levels below the best one, space-separated (used by .ci/run).")
    var levels = false

    func run() throws {
        if levels {
            print(ISALevel.supported.dropLast().map(\.rawValue).joined(separator: " "))
            return
        }
        for line in Self.lines(cpu: .current, plan: .current, rejected: PrefetchPlan.rejectedEnvironment) { print(line) }
    }

    /// The report, one line per fact.
    static func lines(cpu: CPUDescription, plan: PrefetchPlan, rejected: [String],
                      blasKernelSet: String? = BLASLibrary.kernelSet, blasConfig: String? = BLASLibrary.configuration) -> [String] {
        func size(_ bytes: Int) -> String {
            if bytes == 0 { return "unknown" }
            if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
            if bytes >= 1 << 20 { return Format.fixed(Double(bytes) / Double(1 << 20), 1) + " MiB" }
            return "\(bytes >> 10) KiB"
        }
        func distance(_ bytes: Int) -> String { bytes == 0 ? "off" : "\(bytes) B" }
        let graph = plan.graphAhead == 0
            ? "off" : "\(plan.graphAhead) vectors ahead, up to \(plan.graphMaxLines) lines each"
        var out = [
            "cpu: \(ISALevel.cpuName)",
            "vendor: \(cpu.vendor)" + (cpu.vendorID.isEmpty ? "" : " (\(cpu.vendorID))")
                + (cpu.family == 0 && cpu.model == 0 ? "" : ", family \(cpu.family), model \(cpu.model)"),
            "caches: L1d \(size(cpu.l1dBytes)), L2 \(size(cpu.l2Bytes)), L3 \(size(cpu.l3Bytes))"
                + (cpu.lineBytes == 0 ? "" : ", line \(cpu.lineBytes) B") + " (per instance)",
            "supported: \(ISALevel.supported.map(\.rawValue).joined(separator: " "))",
            "active: \(ISALevel.active.rawValue)",
            "prefetch: scans f32 \(distance(plan.scanBytesF32)), f16/bf16 \(distance(plan.scanBytesF16)), "
                + "i8/b1 \(distance(plan.scanBytesI8))"
                + (plan.scanLongRowBytes == 0 ? "" : ", none for rows of >= \(plan.scanLongRowBytes) B")
                + "; graph \(graph) (\(plan.source.rawValue): \(plan.reason))",
        ]
        for name in rejected { out.append("prefetch: \(name) ignored (not off, auto or a value in range); the rule applies") }
        if let blasKernelSet {
            out.append("blas: kernel set \(blasKernelSet)" + (blasConfig.map { " (\($0))" } ?? ""))
        }
        if let warning = BLASLibrary.narrowKernelWarning(kernelSet: blasKernelSet, best: ISALevel.best) {
            out.append("blas: warning: \(warning)")
        }
        return out
    }
}
