import Foundation

/// The verdict of a benchmark case against its target.
public enum BenchmarkStatus: String, Codable, Sendable, CaseIterable {
    /// Meets the target.
    case pass = "PASS"
    /// Meets the target, but not surely (its confidence interval crosses a bound) or only within
    /// the warning margin; or the case flagged a caveat.
    case warn = "WARN"
    /// Misses the target, or the case failed to run.
    case fail = "FAIL"
    /// Not run on this machine (e.g. hardware missing); never counted as a pass.
    case skipped = "SKIP"
    /// Measured, but the case has no target.
    case info = "INFO"
}

/// A target for one benchmark figure: a minimum, a maximum or both, in a unit.
public struct BenchmarkTarget: Codable, Sendable, Equatable, CustomStringConvertible {
    /// What is measured, e.g. `speedup over naive attention`.
    public var metric: String
    /// Unit of the value and bounds, e.g. `×`, `ms`, `%`.
    public var unit: String
    /// Smallest acceptable value (inclusive), if any.
    public var minimum: Double?
    /// Largest acceptable value (exclusive when ``maximumExclusive``), if any.
    public var maximum: Double?
    /// True when the maximum itself fails (a `< 500 ms` target). Default true.
    public var maximumExclusive: Bool
    /// Relative distance to a bound inside which a passing value is only a WARN (default 0: off).
    public var warnMargin: Double

    /// Creates a target; at least one bound should be given.
    public init(metric: String, unit: String, minimum: Double? = nil, maximum: Double? = nil,
                maximumExclusive: Bool = true, warnMargin: Double = 0) {
        self.metric = metric
        self.unit = unit
        self.minimum = minimum
        self.maximum = maximum
        self.maximumExclusive = maximumExclusive
        self.warnMargin = warnMargin
    }

    /// `value ≥ minimum`, e.g. a speedup of at least 2.49×.
    public static func atLeast(_ minimum: Double, _ unit: String, metric: String) -> BenchmarkTarget {
        BenchmarkTarget(metric: metric, unit: unit, minimum: minimum)
    }

    /// `value < maximum`, e.g. start-up under 500 ms.
    public static func below(_ maximum: Double, _ unit: String, metric: String) -> BenchmarkTarget {
        BenchmarkTarget(metric: metric, unit: unit, maximum: maximum)
    }

    /// `minimum ≤ value ≤ maximum`, e.g. a memory reduction of 50–75 %.
    public static func between(_ minimum: Double, _ maximum: Double, _ unit: String, metric: String) -> BenchmarkTarget {
        BenchmarkTarget(metric: metric, unit: unit, minimum: minimum, maximum: maximum, maximumExclusive: false)
    }

    /// True when larger values are better (minimum only), false when smaller are (maximum only),
    /// nil for a range.
    public var higherIsBetter: Bool? {
        switch (minimum, maximum) {
        case (.some, nil): return true
        case (nil, .some): return false
        default: return nil
        }
    }

    /// `≥ 2.49 ×`, `< 500 ms`, `50–75 %`.
    public var description: String {
        switch (minimum, maximum) {
        case let (lo?, hi?): return "\(Self.format(lo))–\(Self.format(hi)) \(unit)"
        case let (lo?, nil): return "≥ \(Self.format(lo)) \(unit)"
        case let (nil, hi?): return "\(maximumExclusive ? "<" : "≤") \(Self.format(hi)) \(unit)"
        default: return "(no bound)"
        }
    }

    /// Judges `value`, using its confidence interval when given.
    ///
    /// FAIL outside the bounds (or NaN); WARN inside when the interval crosses a bound or the
    /// value is within ``warnMargin`` of one; PASS otherwise.
    public func evaluate(_ value: Double, interval: ConfidenceInterval? = nil) -> BenchmarkStatus {
        guard !value.isNaN else { return .fail }
        if let lo = minimum, value < lo { return .fail }
        if let hi = maximum, maximumExclusive ? value >= hi : value > hi { return .fail }
        if let ci = interval {
            if let lo = minimum, ci.lower < lo { return .warn }
            if let hi = maximum, maximumExclusive ? ci.upper >= hi : ci.upper > hi { return .warn }
        }
        if warnMargin > 0 {
            if let lo = minimum, value < lo + abs(lo) * warnMargin { return .warn }
            if let hi = maximum, value > hi - abs(hi) * warnMargin { return .warn }
        }
        return .pass
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(format: "%.0f", v) }
        return String(format: "%.3g", v)
    }
}
