import ArgumentParser
import Kestrel
import KestrelHistory

/// `kestrel benchmark`: the project's main job. Runs the benchmark suites on built-in synthetic
/// data and ends with the targets table (PASS / WARN / FAIL / SKIP per target).
struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "Run the benchmark suites on synthetic data and check every performance target.",
        discussion: """
            Suites: all, simd, flash-attention, hnsw, quantization, adaptation, memory, mcp, wasm-simd. The full \
            `all` run takes under a minute on 2 cores (about 16 s measured at a load average of \
            5 before flash-attention, which adds about 22 s, mostly NaiveAttention at N = 4096); \
            mcp (start-to-initialize and kernel_info round trips of `kestrel mcp`, \
            both transports) adds a few seconds; wasm-simd (the WebAssembly modules in wasmtime, \
            from the checkout's .build/wasm-venv made by `bash CKernels/wasm/check.sh`; SKIP without \
            it) about a minute; --quick is a smoke run of a few seconds.

            Progress goes to standard error when it is a terminal (quiet otherwise). Every report \
            embeds its environment: CPU, ISA level in use, cores, toolchain, library version and git \
            commit (read with `git rev-parse` in the current directory when it is a Kestrel checkout, \
            else "unknown").

            Exit status: 0 even when a target FAILs, so the main job always completes and prints its \
            table; with --strict, 2 when a target FAILs and 3 when --baseline finds a regression. \
            Validation errors exit with 64.
            """
    )

    @Option(help: "Suite to run: all, simd, flash-attention, hnsw, quantization, adaptation, memory, mcp, wasm-simd.")
    var suite = "all"

    @Flag(help: "Print the report as JSON (versioned schema) instead of the terminal report.")
    var json = false

    @Option(help: "Save the JSON report to this file (render it later with `kestrel report`); also records the run in the history.")
    var save: String?

    @Option(help: "Record the run in this history database (default with --save: $KESTREL_HISTORY or ~/.cache/kestrel/history.sqlite).")
    var db: String?

    @Flag(name: .customLong("no-history"), help: "With --save, do not record the run in the history.")
    var noHistory = false

    @Option(help: "Compare with a JSON report saved by --save and flag regressions.")
    var baseline: String?

    @Option(help: "Relative change, in percent, beyond which a worse figure is a regression.")
    var threshold = 5.0

    @Option(help: "Write SVG charts (latency histograms, speedup against size) and index.html into this directory.")
    var plot: String?

    @Flag(help: "Smoke run: smaller data and fewer samples (ratios are indicative only).")
    var quick = false

    @Flag(help: "Exit with 2 when a target FAILs, 3 when --baseline finds a regression.")
    var strict = false

    func validate() throws {
        let names = SuiteCatalog.standard().acceptedNames
        guard names.contains(suite) else {
            throw ValidationError("unknown suite '\(suite)' (expected \(names.joined(separator: ", ")))")
        }
        guard threshold >= 0, threshold <= 1000 else { throw ValidationError("--threshold must be in 0...1000 percent") }
        for (flag, value) in [("--save", save), ("--baseline", baseline), ("--plot", plot), ("--db", db)] {
            if let value, value.isEmpty { throw ValidationError("\(flag) needs a path") }
        }
        if db != nil, noHistory { throw ValidationError("--db and --no-history exclude each other") }
    }

    /// The history the run is recorded in: --db, else the default one with --save; none with --no-history.
    var historyPath: String? {
        if noHistory { return nil }
        return db ?? (save != nil ? PerformanceHistory.defaultURL.path : nil)
    }

    var request: BenchmarkRequest {
        BenchmarkRequest(suite: suite, json: json, save: save, baseline: baseline, plot: plot, strict: strict,
                         regressionThreshold: threshold / 100, quick: quick)
    }

    func run() throws {
        var request = self.request
        request.history = historyPath  // resolved here: the default path depends on the environment
        let result = try BenchmarkRunner().run(request)
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
