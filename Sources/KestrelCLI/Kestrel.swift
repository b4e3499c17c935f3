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
        ]
    )
}

/// Prints the CPU, its features and the kernel tiers this machine runs.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show CPU and ISA levels.")

    @Flag(help: "Print only the supported levels below the best one, space-separated (used by .ci/run).")
    var levels = false

    func run() throws {
        if levels {
            print(ISALevel.supported.dropLast().map(\.rawValue).joined(separator: " "))
            return
        }
        print("cpu: \(ISALevel.cpuName)")
        print("supported: \(ISALevel.supported.map(\.rawValue).joined(separator: " "))")
        print("active: \(ISALevel.active.rawValue)")
    }
}
