/// The non-dominated configurations of a multi-objective tuning problem: lower latency, higher
/// recall and lower memory are better. A point is dominated when another is at least as good in
/// every objective and strictly better in one; a missing objective counts as the worst value
/// (recall −∞, memory +∞) unless both points lack it.
///
/// Objectives are compared on the evaluations' summaries (median latency, mean recall, mean
/// memory); whether a latency difference is beyond noise is the ``Autotuner``'s verdict's job.
public struct ParetoFront: Sendable, Equatable, Codable {
    /// The non-dominated evaluations, fastest first.
    public let points: [TuningEvaluation]

    /// The front of `evaluations`. Duplicated objective vectors are all kept.
    /// - Complexity: O(n²).
    public init(_ evaluations: [TuningEvaluation]) {
        points = evaluations.filter { e in !evaluations.contains { Self.dominates($0, e) } }
            .sorted { ($0.medianLatencyNanoseconds, -($0.recall ?? -.infinity)) < ($1.medianLatencyNanoseconds, -($1.recall ?? -.infinity)) }
    }

    /// Whether `a` dominates `b`.
    public static func dominates(_ a: TuningEvaluation, _ b: TuningEvaluation) -> Bool {
        let ra = a.recall ?? -.infinity, rb = b.recall ?? -.infinity
        let ma = a.memoryBytes ?? .infinity, mb = b.memoryBytes ?? .infinity
        let la = a.medianLatencyNanoseconds, lb = b.medianLatencyNanoseconds
        let noWorse = la <= lb && ra >= rb && (ma <= mb || (a.memoryBytes == nil && b.memoryBytes == nil))
        let better = la < lb || ra > rb || (ma < mb)
        return noWorse && better
    }

    /// The fastest point meeting `requirement` (e.g. "fastest with recall ≥ 0.95"), nil when none does.
    public func fastest(meeting requirement: TuningRequirement) -> TuningEvaluation? {
        points.first { requirement.admits($0) }
    }
}
