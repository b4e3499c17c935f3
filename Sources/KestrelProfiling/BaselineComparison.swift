/// How one case changed against a saved baseline.
public struct BaselineDelta: Codable, Sendable, Equatable {
    /// Case name.
    public var name: String
    /// Unit of the values.
    public var unit: String
    /// Baseline value.
    public var baseline: Double
    /// Current value.
    public var current: Double
    /// (current − baseline) / baseline × 100.
    public var changePercent: Double
    /// Direction used to judge (nil: not judged).
    public var higherIsBetter: Bool?
    /// Worse by more than the threshold, and the confidence intervals (when both exist) do not overlap.
    public var regression: Bool
    /// Better by more than the threshold under the same rule.
    public var improvement: Bool
    /// Status in the baseline and now.
    public var statusChange: String?
}

/// A run compared with a saved baseline: per-case changes, regressions beyond a threshold,
/// cases present in only one of them, and environment differences that make the comparison
/// suspect (another CPU, a debug build, another ISA level).
public struct BaselineComparison: Codable, Sendable, Equatable {
    /// Relative change that counts (0.05 = 5 %).
    public var threshold: Double
    /// Cases with a value in both runs.
    public var deltas: [BaselineDelta]
    /// Cases in the baseline but not in this run.
    public var missing: [String]
    /// Cases in this run but not in the baseline.
    public var added: [String]
    /// Environment fields that differ, e.g. `cpuModel: A → B`.
    public var environmentDifferences: [String]

    /// Deltas flagged as regressions.
    public var regressions: [BaselineDelta] { deltas.filter(\.regression) }
    /// Deltas flagged as improvements.
    public var improvements: [BaselineDelta] { deltas.filter(\.improvement) }

    /// Compares `current` with `baseline`.
    ///
    /// - Parameter threshold: relative change beyond which a worse value is a regression (default 5 %).
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for a negative threshold.
    public static func compare(current: BenchmarkReport, baseline: BenchmarkReport,
                               threshold: Double = 0.05) throws(ProfilingError) -> BaselineComparison {
        guard threshold >= 0, threshold.isFinite else { throw .invalidArgument(name: "threshold", reason: "must be ≥ 0") }
        let base = Dictionary(baseline.results.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Set(current.results.map(\.name))
        var deltas = [BaselineDelta]()
        for r in current.results {
            guard let b = base[r.name], let v = r.value, let bv = b.value, bv != 0 else { continue }
            let change = (v - bv) / abs(bv)
            let direction = r.higherIsBetter ?? b.higherIsBetter ?? Self.lowerIsBetterUnit(r.unit).map { !$0 }
            let overlap: Bool = {
                guard let ci = r.interval, let bci = b.interval else { return false }
                return ci.lower <= bci.upper && bci.lower <= ci.upper
            }()
            var regression = false, improvement = false
            if let up = direction, abs(change) > threshold, !overlap {
                let better = up ? change > 0 : change < 0
                regression = !better
                improvement = better
            }
            deltas.append(BaselineDelta(
                name: r.name, unit: r.unit, baseline: bv, current: v, changePercent: change * 100, higherIsBetter: direction,
                regression: regression, improvement: improvement,
                statusChange: b.status == r.status ? nil : "\(b.status.rawValue) → \(r.status.rawValue)"))
        }
        var env = [String]()
        let e0 = baseline.environment, e1 = current.environment
        if e0.cpuModel != e1.cpuModel { env.append("cpuModel: \(e0.cpuModel) → \(e1.cpuModel)") }
        if e0.isaLevel != e1.isaLevel { env.append("isaLevel: \(e0.isaLevel ?? "-") → \(e1.isaLevel ?? "-")") }
        if e0.buildConfiguration != e1.buildConfiguration { env.append("build: \(e0.buildConfiguration) → \(e1.buildConfiguration)") }
        if e0.activeCores != e1.activeCores { env.append("activeCores: \(e0.activeCores) → \(e1.activeCores)") }
        if e0.toolchain != e1.toolchain { env.append("toolchain: \(e0.toolchain) → \(e1.toolchain)") }
        return BaselineComparison(threshold: threshold, deltas: deltas,
                                  missing: baseline.results.map(\.name).filter { !now.contains($0) },
                                  added: current.results.map(\.name).filter { base[$0] == nil },
                                  environmentDifferences: env)
    }

    /// Time and size units, where lower is better; nil for other units.
    static func lowerIsBetterUnit(_ unit: String) -> Bool? {
        ["ns", "µs", "us", "ms", "s", "B", "KiB", "MiB", "GiB", "bytes"].contains(unit) ? true : nil
    }
}
