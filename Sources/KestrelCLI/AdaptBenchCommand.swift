import ArgumentParser
import Foundation
import Kestrel

/// `kestrel adapt-bench`: latency of one adapter's training step and apply (issue 19's measurement
/// contract). Prints one JSON line
/// `{"dim","rank","loss","ewc","p50_ns","p99_ns","p999_ns","apply_p50_ns","allocations_per_step","isa"}`
/// plus the clock's overhead and the apply p99.
struct AdaptBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt-bench",
        abstract: "Time a Micro-LoRA / LoRA training step and apply (one JSON line).",
        discussion: """
            Builds a residual adapter of dimension --dim and rank --rank (MicroLoRA up to rank 8, LoRA above; \
            Adam, lr 1e-3, clip 10; with --ewc, EWC++ with lambda 0.1 and a consolidation before timing), cycles \
            through 64 seeded samples of the chosen loss (contrastive: --negatives negatives, temperature 0.1), \
            runs --warmup untimed steps, counts Swift heap allocations over min(steps, 1000) steps, then times \
            --steps steps and max(steps, 1000) applies one call at a time (MonotonicClock, HdrHistogram). \
            Latencies include one clock reading (clock_overhead_ns); allocations_per_step is null when the \
            runtime hook is unavailable (allocation_counter_probe: what it counts while 16 arrays are made, \
            16 when it works). Run it in a process of its own: the hook is process-wide. --task regression|query-drift|forgetting runs a learning experiment \
            over --seeds seeds instead (dimension 64 unless --dim is given; see Documentation/Adaptation.md, \
            "Experiments") and prints its figures, mean and 95 % half-width per metric, as one JSON line. \
            Bad flags exit 64.
            """
    )

    @Option(help: "Vector dimension d (default 768; 64 for --task).")
    var dim: Int?
    @Option(help: "Adapter rank r (1...d).")
    var rank: Int = 1
    @Flag(help: "Train with EWC++ (running Fisher and a live penalty).")
    var ewc = false
    @Option(help: "Loss: squared, binary or contrastive.")
    var loss: String = "squared"
    @Option(help: "Timed steps (>= 1).")
    var steps: Int = 100_000
    @Option(help: "Untimed steps before timing.")
    var warmup: Int = 2000
    @Option(help: "Negatives per contrastive sample.")
    var negatives: Int = 8
    @Flag(help: "Print the JSON line (the only output format; accepted for the documented command line).")
    var json = false
    @Option(help: "Run a learning experiment instead: regression, query-drift or forgetting (AdaptExperiments).")
    var task: String?
    @Option(help: "Seeds of --task (>= 2 for a confidence interval).")
    var seeds: Int = 5
    @Option(help: "query-drift only: reflection (default; norm-preserving) or inflation (the first design, whose control is not null).")
    var drift: String = "reflection"

    func validate() throws {
        let dim = self.dim ?? 768
        guard dim >= 1 else { throw ValidationError("--dim must be >= 1") }
        guard rank >= 1, rank <= dim else { throw ValidationError("--rank must be in 1...dim") }
        guard steps >= 1 else { throw ValidationError("--steps must be >= 1") }
        guard warmup >= 0, negatives >= 0 else { throw ValidationError("--warmup and --negatives must be >= 0") }
        if let task, AdaptExperiments.Task(rawValue: task) == nil {
            throw ValidationError("--task must be regression, query-drift or forgetting")
        }
        guard AdaptExperiments.Drift(rawValue: drift) != nil else { throw ValidationError("--drift must be reflection or inflation") }
        if task == AdaptExperiments.Task.queryDrift.rawValue, (self.dim ?? 64) < 8 { throw ValidationError("--task query-drift needs --dim >= 8") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be >= 1") }
        guard AdaptBench.Loss(rawValue: loss) != nil else { throw ValidationError("--loss must be squared, binary or contrastive") }
    }

    func run() throws {
        if let task, let t = AdaptExperiments.Task(rawValue: task) {
            var experiments = AdaptExperiments(seeds: seeds, dim: dim ?? 64)
            experiments.drift = AdaptExperiments.Drift(rawValue: drift)!
            print(jsonLine(try experiments.run(t)))
            return
        }
        let dim = self.dim ?? 768
        let bench = AdaptBench(dim: dim, rank: rank, loss: AdaptBench.Loss(rawValue: loss)!, ewc: ewc, steps: steps,
                               warmup: warmup, negatives: negatives)
        let r = try bench.run()
        print(jsonLine([
            ("dim", dim), ("rank", rank), ("loss", loss), ("ewc", ewc),
            ("p50_ns", Int(r.step.percentile(50))), ("p99_ns", Int(r.step.percentile(99))),
            ("p999_ns", Int(r.step.percentile(99.9))), ("apply_p50_ns", Int(r.apply.percentile(50))),
            ("allocations_per_step", r.allocationsPerStep as Any), ("isa", r.isa),
            ("allocation_counter_probe", r.counterProbe as Any),
            ("apply_p99_ns", Int(r.apply.percentile(99))), ("samples", Int(r.step.count)),
            ("clock_overhead_ns", MonotonicClock.calibration.overheadNanoseconds),
        ]))
    }
}
