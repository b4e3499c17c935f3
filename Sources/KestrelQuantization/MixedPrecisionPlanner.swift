/// A tensor with a name (a layer's weight, an embedding table…), as the model-level report and the
/// planner take them. Value type; thread-safe.
public struct NamedTensor: Sendable {
    /// Name shown in reports and plans.
    public var name: String
    /// The tensor (any dtype convertible to f32).
    public var tensor: Tensor

    /// Pairs a name with a tensor.
    public init(_ name: String, _ tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// One quantizer applied to every tensor of a model, with the layers ranked by sensitivity.
/// Value type; thread-safe.
public struct ModelQuantizationReport: Sendable {
    /// One report per tensor, most sensitive first: by increasing SNR (the relative error
    /// Σ(x−y)²/Σx² decreasing), equal SNRs by name.
    public let layers: [QuantizationReport]

    /// Quantizes and dequantizes every tensor with `quantizer`.
    /// - Throws: whatever the quantizer throws on a tensor.
    /// - Complexity: one quantize/dequantize per tensor, plus O(L log L) for the ranking.
    public init(_ tensors: [NamedTensor], quantizer: some Quantizer) throws(KestrelError) {
        var reports = [QuantizationReport]()
        for t in tensors { reports.append(try QuantizationReport(name: t.name, tensor: t.tensor, quantizer: quantizer)) }
        layers = reports.sorted { $0.snrDB < $1.snrDB || ($0.snrDB == $1.snrDB && $0.name < $1.name) }
    }

    /// Bytes of all tensors before.
    public var bytesBefore: Int { layers.reduce(0) { $0 + $1.bytesBefore } }
    /// Bytes of all payloads.
    public var bytesAfter: Int { layers.reduce(0) { $0 + $1.bytesAfter } }
    /// Size reduction over the whole model in percent (0 when it holds no bytes).
    public var reductionPercent: Double {
        bytesBefore == 0 ? 0 : 100 * (1 - Double(bytesAfter) / Double(bytesBefore))
    }
}

/// Picks a storage format per layer from a list of candidate quantizers (any ``Quantizer``: the
/// integer schemes, half precision, ggml blocks), keeping the original precision as a further
/// option, under an error bound or a memory budget. Value type; thread-safe.
///
/// - ``Constraint/minimumSNR(dB:)``: each layer independently takes the candidate with the fewest
///   bytes whose SNR meets the bound (ties: higher SNR, then earlier candidate); the original
///   always meets it. The constraint is per layer and the cost additive, so per-layer minima are
///   the optimum.
/// - ``Constraint/memoryBudget(bytes:)``: minimises the summed error (``Objective``) subject to
///   total bytes ≤ budget — a multiple-choice knapsack, solved exactly by dynamic programming over
///   Pareto frontiers (Documentation/Quantization.md gives the argument).
public struct MixedPrecisionPlanner: Sendable {
    /// What the memory-budget plan minimises.
    public enum Objective: Sendable, Hashable {
        /// Σ over layers of Σ(x−y)² (layers with large weights count more).
        case totalSquaredError
        /// Σ over layers of Σ(x−y)²/Σx² (every layer counts alike; a layer with Σx² = 0 and
        /// nonzero error counts as +∞).
        case sumOfRelativeErrors
    }

    /// What the plan must satisfy.
    public enum Constraint: Sendable, Hashable {
        /// Every layer's SNR ≥ `dB`.
        case minimumSNR(dB: Double)
        /// Total stored bytes ≤ `bytes`.
        case memoryBudget(bytes: Int)
    }

    /// Candidate quantizers, in order of preference for ties.
    public let candidates: [any Quantizer]
    /// Objective of budget plans.
    public let objective: Objective
    /// Largest Pareto frontier the budget search keeps (a guard on pathological inputs).
    public let maxStates: Int

    /// - Parameters:
    ///   - candidates: quantizers to choose from (may be empty: every layer stays original).
    ///   - objective: default ``Objective/totalSquaredError``.
    ///   - maxStates: default 1 000 000 frontier states per layer.
    public init(candidates: [any Quantizer], objective: Objective = .totalSquaredError, maxStates: Int = 1_000_000) {
        self.candidates = candidates
        self.objective = objective
        self.maxStates = maxStates
    }

    /// Evaluates every candidate on every tensor and returns the plan.
    /// - Throws: `nonFiniteValue(index:)` when a tensor holds NaN/Inf; `capacityExceeded(limit: budget,
    ///   requested: smallest possible total)` when no choice fits the budget, or (limit `maxStates`)
    ///   when a frontier grows past `maxStates`; `invalidArgument` for a negative budget or a
    ///   non-finite SNR bound. A candidate that refuses a tensor's shape is simply not an option there.
    /// - Complexity: L·C quantize/dequantize round trips, plus O(L · F · (C+1) · log) for a budget,
    ///   F the frontier size (at most the number of distinct byte totals).
    public func plan(_ tensors: [NamedTensor], constraint: Constraint) throws(KestrelError) -> MixedPrecisionPlan {
        switch constraint {
        case .minimumSNR(let db):
            guard !db.isNaN else { throw .invalidArgument(name: "dB", reason: "must not be NaN") }
        case .memoryBudget(let b):
            guard b >= 0 else { throw .invalidArgument(name: "bytes", reason: "must be >= 0, got \(b)") }
        }
        // options[i][0] is the original; options[i][j + 1] candidate j, when it applies.
        var options = [[MixedPrecisionPlan.Choice]]()
        for t in tensors {
            let original = t.tensor.dtype == .f32 ? t.tensor.scalars() : try t.tensor.converted(to: .f32).scalars()
            if let i = original.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: i) }
            let bytes = t.tensor.shape.elementCount * t.tensor.dtype.byteSize
            var row = [MixedPrecisionPlan.Choice(
                name: t.name, candidate: nil,
                report: try QuantizationReport(name: t.name, shape: t.tensor.shape.dims, format: "original \(t.tensor.dtype)",
                                               original: original, reconstruction: original,
                                               bytesBefore: bytes, bytesAfter: bytes))]
            for (j, q) in candidates.enumerated() {
                do throws(KestrelError) {
                    row.append(.init(name: t.name, candidate: j, report: try QuantizationReport(name: t.name, tensor: t.tensor, quantizer: q)))
                } catch {
                    if case .nonFiniteValue = error { throw error }
                    if case .capacityExceeded = error { throw error }
                }
            }
            options.append(row)
        }
        switch constraint {
        case .minimumSNR(let db):
            let picks = options.map { row in
                row.filter { $0.report.snrDB >= db }.min { a, b in
                    (a.report.bytesAfter, -a.report.snrDB, a.candidate ?? -1) < (b.report.bytesAfter, -b.report.snrDB, b.candidate ?? -1)
                }!
            }
            return MixedPrecisionPlan(choices: picks)
        case .memoryBudget(let budget):
            return MixedPrecisionPlan(choices: try knapsack(options, budget: budget))
        }
    }

    func cost(_ r: QuantizationReport) -> Double {
        switch objective {
        case .totalSquaredError: return r.squaredError
        case .sumOfRelativeErrors:
            if r.squaredError == 0 { return 0 }
            return r.signalEnergy == 0 ? .infinity : r.squaredError / r.signalEnergy
        }
    }

    /// Exact multiple-choice knapsack: after layer i the frontier holds, for every reachable total
    /// size ≤ budget that no other reachable total beats, the least error; dominated partial plans
    /// (no fewer bytes and no less error than another) can be dropped since any completion of
    /// them is matched by the same completion of the dominating one.
    private func knapsack(_ options: [[MixedPrecisionPlan.Choice]], budget: Int) throws(KestrelError) -> [MixedPrecisionPlan.Choice] {
        struct State { var bytes: Int; var error: Double; var parent: Int; var option: Int }
        var layers = [[State]]()
        var frontier = [State(bytes: 0, error: 0, parent: -1, option: -1)]
        for row in options {
            var next = [State]()
            for (s, st) in frontier.enumerated() {
                for (o, c) in row.enumerated() {
                    let (b, over) = st.bytes.addingReportingOverflow(c.report.bytesAfter)
                    guard !over && b <= budget else { continue }
                    next.append(State(bytes: b, error: st.error + cost(c.report), parent: s, option: o))
                }
            }
            guard !next.isEmpty else {
                let least = options.reduce(0) { acc, row in acc &+ row.map(\.report.bytesAfter).min()! }
                throw .capacityExceeded(limit: budget, requested: least)
            }
            // Ascending bytes, then error: keep a state only if it has strictly less error than
            // every state with fewer or equal bytes.
            next.sort { ($0.bytes, $0.error, $0.parent, $0.option) < ($1.bytes, $1.error, $1.parent, $1.option) }
            var kept = [State]()
            for st in next where kept.isEmpty || st.error < kept[kept.count - 1].error { kept.append(st) }
            guard kept.count <= maxStates else { throw .capacityExceeded(limit: maxStates, requested: kept.count) }
            layers.append(kept)
            frontier = kept
        }
        // The last frontier state has the least error (and the fewest bytes among equals).
        var picks = [MixedPrecisionPlan.Choice]()
        var idx = frontier.count - 1
        for i in stride(from: options.count - 1, through: 0, by: -1) {
            let st = layers[i][idx]
            picks.append(options[i][st.option])
            idx = st.parent
        }
        return picks.reversed()
    }
}

/// The planner's answer: one choice per layer, in input order. Value type; thread-safe.
public struct MixedPrecisionPlan: Sendable {
    /// A layer's choice.
    public struct Choice: Sendable {
        /// Layer name.
        public let name: String
        /// Index into the planner's candidates, or nil to keep the original precision.
        public let candidate: Int?
        /// The error and size of that choice.
        public let report: QuantizationReport
    }

    /// Per layer, in input order.
    public let choices: [Choice]

    /// Total stored bytes.
    public var totalBytes: Int { choices.reduce(0) { $0 + $1.report.bytesAfter } }
    /// Total bytes before.
    public var bytesBefore: Int { choices.reduce(0) { $0 + $1.report.bytesBefore } }
    /// Σ(x−y)² over all layers.
    public var totalSquaredError: Double { choices.reduce(0) { $0 + $1.report.squaredError } }
    /// Names of the layers kept at their original precision.
    public var keptAtOriginalPrecision: [String] { choices.filter { $0.candidate == nil }.map(\.name) }
}
