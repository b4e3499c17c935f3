/// A registry of benchmark cases that runs them and produces a ``BenchmarkReport``.
///
/// Usage by a CLI: create a suite, let every module register its cases
/// (`KestrelAttention.registerBenchmarks(into: &suite)`), then `run(suite: "all", …)` with a
/// progress callback (``BenchmarkProgressPrinter``), then save or inspect the report (the `kestrel` CLI
/// renders it as tables, Markdown and SVG charts). Not thread-safe: register and run from one thread.
public struct BenchmarkSuite {
    /// Registered cases, in registration order.
    public private(set) var cases: [BenchmarkCase] = []

    /// An empty suite.
    public init() {}

    /// Adds a case.
    ///
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for an empty or duplicate name
    ///   or an empty suite name.
    public mutating func register(_ benchmark: BenchmarkCase) throws(ProfilingError) {
        guard !benchmark.name.isEmpty else { throw .invalidArgument(name: "name", reason: "must not be empty") }
        guard !benchmark.suite.isEmpty, benchmark.suite != "all" else {
            throw .invalidArgument(name: "suite", reason: "must be a non-empty name other than 'all'")
        }
        guard !cases.contains(where: { $0.name == benchmark.name }) else {
            throw .invalidArgument(name: "name", reason: "a case named '\(benchmark.name)' is already registered")
        }
        cases.append(benchmark)
    }

    /// Suite names in order of first registration.
    public var suites: [String] {
        var seen = Set<String>()
        return cases.compactMap { seen.insert($0.suite).inserted ? $0.suite : nil }
    }

    /// The cases of `suite` (`nil` or `"all"`: every case).
    ///
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for an unknown suite (the
    ///   message lists the known ones).
    public func cases(inSuite suite: String?) throws(ProfilingError) -> [BenchmarkCase] {
        guard let s = suite, s != "all" else { return cases }
        let selected = cases.filter { $0.suite == s }
        if selected.isEmpty {
            throw .invalidArgument(name: "suite", reason: "unknown suite '\(s)'; registered: all, \(suites.joined(separator: ", "))")
        }
        return selected
    }

    /// Runs the cases of `suite` in registration order.
    ///
    /// - Parameters:
    ///   - suite: a suite name, or nil / `"all"`.
    ///   - environment: embedded in the report (the CLI injects ISA level and commit).
    ///   - context: measurement options and seed given to each case (its `report` is replaced
    ///     by one that forwards to `progress`).
    ///   - progress: called on the running thread for every event.
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for an unknown suite. A case
    ///   that throws does not stop the run: it is reported as FAIL with its error.
    public func run(suite: String? = nil, environment: BenchmarkEnvironment = .current(),
                    context: BenchmarkContext = BenchmarkContext(),
                    progress: (BenchmarkProgress) -> Void = { _ in }) throws(ProfilingError) -> BenchmarkReport {
        let selected = try cases(inSuite: suite)
        let started = MonotonicClock.now()
        var results = [BenchmarkCaseResult]()
        withoutActuallyEscaping(progress) { progress in
            for (i, c) in selected.enumerated() {
                progress(.started(case: c.name, index: i, total: selected.count))
                let result = runOne(c, context: context, progress: progress)
                results.append(result)
                progress(.finished(result: result, index: i, total: selected.count))
            }
        }
        return BenchmarkReport(environment: environment, suite: suite ?? "all", results: results,
                               durationSeconds: Double(MonotonicClock.elapsed(since: started)) / 1e9)
    }

    private func runOne(_ c: BenchmarkCase, context: BenchmarkContext,
                        progress: @escaping (BenchmarkProgress) -> Void) -> BenchmarkCaseResult {
        var result = BenchmarkCaseResult(name: c.name, suite: c.suite, summary: c.summary, target: c.target,
                                         unit: c.target?.unit ?? "", status: .skipped)
        if let reason = c.skipReason() {
            result.notes = [reason]
            return result
        }
        var ctx = context
        let name = c.name
        ctx.report = { text in progress(.message(case: name, text: text)) }
        let t0 = MonotonicClock.now()
        do {
            let outcome = try c.run(ctx)
            result.durationSeconds = Double(MonotonicClock.elapsed(since: t0)) / 1e9
            result.value = outcome.value.isFinite ? outcome.value : nil
            result.unit = outcome.unit ?? c.target?.unit ?? ""
            result.interval = outcome.interval
            result.higherIsBetter = outcome.higherIsBetter ?? c.target?.higherIsBetter
            result.latency = outcome.latency
            result.comparison = outcome.comparison
            result.metrics = outcome.metrics
            result.notes = outcome.notes
            var status = c.target?.evaluate(outcome.value, interval: outcome.interval) ?? (outcome.value.isNaN ? .fail : .info)
            if outcome.warning && status == .pass { status = .warn }
            result.status = status
        } catch {
            result.durationSeconds = Double(MonotonicClock.elapsed(since: t0)) / 1e9
            result.status = .fail
            result.error = "\(error)"
            profilingLogger.debug("benchmark case failed", metadata: ["case": "\(c.name)", "error": "\(error)"])
        }
        return result
    }
}
