import KestrelProfiling

/// One model call's token usage.
public struct TokenUsageRecord: Codable, Sendable, Equatable {
    /// Operation (prompt template, endpoint, agent step) the call belongs to.
    public var operation: String
    /// Input (prompt) tokens, cached ones included.
    public var inputTokens: Int
    /// Output (completion) tokens.
    public var outputTokens: Int
    /// Input tokens served from a prompt/prefix cache.
    public var cachedInputTokens: Int
    /// Tokens of the prompt's stable prefix (system prompt, tools, shared context), when known.
    public var sharedPrefixTokens: Int?

    /// Creates a record.
    public init(operation: String, inputTokens: Int, outputTokens: Int, cachedInputTokens: Int = 0, sharedPrefixTokens: Int? = nil) {
        self.operation = operation
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.sharedPrefixTokens = sharedPrefixTokens
    }
}

/// Prices per million tokens (any currency), for cost figures.
public struct TokenPricing: Codable, Sendable, Equatable {
    /// Price of a million uncached input tokens.
    public var inputPerMillion: Double
    /// Price of a million cached input tokens.
    public var cachedInputPerMillion: Double
    /// Price of a million output tokens.
    public var outputPerMillion: Double

    /// Creates a price list.
    public init(inputPerMillion: Double, cachedInputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.cachedInputPerMillion = cachedInputPerMillion
        self.outputPerMillion = outputPerMillion
    }
}

/// Token totals of a set of calls.
public struct TokenTotals: Codable, Sendable, Equatable {
    /// Calls.
    public var calls: Int = 0
    /// Input tokens (cached included).
    public var inputTokens: Int = 0
    /// Output tokens.
    public var outputTokens: Int = 0
    /// Cached input tokens.
    public var cachedInputTokens: Int = 0
    /// Cached / input tokens (0 when there is no input).
    public var cacheHitRate: Double { inputTokens == 0 ? 0 : Double(cachedInputTokens) / Double(inputTokens) }
    /// Input tokens not served from cache.
    public var uncachedInputTokens: Int { inputTokens - cachedInputTokens }
}

/// One operation's share of the usage.
public struct OperationTokenUsage: Codable, Sendable, Equatable {
    /// Operation name.
    public var operation: String
    /// Its totals.
    public var totals: TokenTotals
    /// Its share of all input tokens, percent.
    public var inputSharePercent: Double
    /// Its cost under the pricing, when given.
    public var cost: Double?
}

/// A pattern that wastes tokens, with what is at stake.
public struct TokenInefficiency: Codable, Sendable, Equatable {
    /// Kinds of waste detected.
    public enum Kind: String, Codable, Sendable {
        /// Repeated calls with large inputs and no cache hit at all.
        case largeUncachedInput
        /// Repeated calls whose cache-hit rate is low although caching works for them.
        case lowCacheHitRate
    }

    /// Kind.
    public var kind: Kind
    /// Operation concerned.
    public var operation: String
    /// Input tokens involved.
    public var tokens: Int
    /// Explanation with the numbers.
    public var detail: String
}

/// What prefix caching would save.
public struct PrefixCachingSaving: Codable, Sendable, Equatable {
    /// Input tokens that would be served from cache, using the declared shared prefixes.
    public var tokens: Int
    /// Upper bound when no prefix was declared: every repeated call's input up to the smallest
    /// input of its operation is assumed shared.
    public var upperBoundTokens: Int
    /// ``tokens`` as a fraction of all input tokens.
    public var fractionOfInput: Double
    /// Cost saved for ``tokens`` under the pricing (input price − cached price), when given.
    public var cost: Double?
}

/// The analysis of a set of token records.
public struct TokenUsageReport: Codable, Sendable, Equatable {
    /// Totals over every call.
    public var totals: TokenTotals
    /// Per operation, largest input share first.
    public var breakdown: [OperationTokenUsage]
    /// Wasteful patterns.
    public var inefficiencies: [TokenInefficiency]
    /// The saving prefix caching would bring.
    public var prefixCachingSaving: PrefixCachingSaving
    /// Total cost under the pricing, when given.
    public var cost: Double?
}

/// Analyses per-call token usage: totals, per-operation breakdown, cache-hit rate,
/// inefficiencies (large repeated inputs without cache hits) and the saving of prefix caching.
public struct TokenUsageAnalyzer: Sendable {
    /// An input at or above this many tokens is large. Default 1000.
    public var largeInputTokens = 1_000
    /// A cache-hit rate below this is low. Default 0.2.
    public var lowCacheHitRate = 0.2
    /// Calls of one operation needed before caching could pay off. Default 2.
    public var minimumRepeatedCalls = 2
    /// Prices for cost figures (nil: token counts only).
    public var pricing: TokenPricing?

    /// Creates an analyzer.
    public init(pricing: TokenPricing? = nil) { self.pricing = pricing }

    /// Analyses `records` (in call order: the first call of an operation fills the cache).
    ///
    /// - Throws: ``ProfilingError/invalidArgument(name:reason:)`` for negative counts or more
    ///   cached than input tokens.
    /// - Complexity: O(n log n).
    public func analyze(_ records: [TokenUsageRecord]) throws(ProfilingError) -> TokenUsageReport {
        for (i, r) in records.enumerated() {
            guard r.inputTokens >= 0, r.outputTokens >= 0, r.cachedInputTokens >= 0, (r.sharedPrefixTokens ?? 0) >= 0 else {
                throw .invalidArgument(name: "records[\(i)]", reason: "token counts must be ≥ 0")
            }
            guard r.cachedInputTokens <= r.inputTokens else {
                throw .invalidArgument(name: "records[\(i)]", reason: "cached tokens \(r.cachedInputTokens) exceed input tokens \(r.inputTokens)")
            }
        }
        var totals = TokenTotals()
        var order = [String]()
        var groups = [String: [TokenUsageRecord]]()
        for r in records {
            totals.add(r)
            if groups[r.operation] == nil { order.append(r.operation) }
            groups[r.operation, default: []].append(r)
        }
        var breakdown = [OperationTokenUsage]()
        var inefficiencies = [TokenInefficiency]()
        var saving = 0, upperBound = 0
        for op in order {
            let calls = groups[op]!
            var t = TokenTotals()
            for r in calls { t.add(r) }
            breakdown.append(OperationTokenUsage(
                operation: op, totals: t,
                inputSharePercent: totals.inputTokens == 0 ? 0 : Double(t.inputTokens) / Double(totals.inputTokens) * 100,
                cost: pricing.map { cost(of: t, $0) }))
            guard calls.count >= minimumRepeatedCalls else { continue }

            let large = calls.filter { $0.inputTokens >= largeInputTokens && $0.cachedInputTokens == 0 }
            if large.count >= minimumRepeatedCalls {
                let tokens = large.reduce(0) { $0 + $1.inputTokens }
                inefficiencies.append(TokenInefficiency(
                    kind: .largeUncachedInput, operation: op, tokens: tokens,
                    detail: "\(large.count) of \(calls.count) calls send ≥ \(largeInputTokens) input tokens with no cache hit "
                        + "(\(tokens) tokens): put the stable part (system prompt, tools, shared context) first and enable prefix caching"))
            } else if t.cacheHitRate > 0 && t.cacheHitRate < lowCacheHitRate {
                inefficiencies.append(TokenInefficiency(
                    kind: .lowCacheHitRate, operation: op, tokens: t.uncachedInputTokens,
                    detail: String(format: "cache-hit rate %.1f%% over %d calls: ", t.cacheHitRate * 100, calls.count)
                        + "the cached prefix is short or changes between calls; move variable content after the stable prefix"))
            }
            // Prefix caching: every call after the first could read its shared prefix from cache.
            let smallestInput = calls.map(\.inputTokens).min() ?? 0
            for r in calls.dropFirst() {
                if let p = r.sharedPrefixTokens { saving += Swift.max(0, Swift.min(p, r.inputTokens) - r.cachedInputTokens) }
                upperBound += Swift.max(0, Swift.min(r.sharedPrefixTokens ?? smallestInput, r.inputTokens) - r.cachedInputTokens)
            }
        }
        breakdown.sort { $0.totals.inputTokens != $1.totals.inputTokens ? $0.totals.inputTokens > $1.totals.inputTokens : $0.operation < $1.operation }
        let prefix = PrefixCachingSaving(
            tokens: saving, upperBoundTokens: Swift.max(upperBound, saving),
            fractionOfInput: totals.inputTokens == 0 ? 0 : Double(saving) / Double(totals.inputTokens),
            cost: pricing.map { Double(saving) * ($0.inputPerMillion - $0.cachedInputPerMillion) / 1e6 })
        return TokenUsageReport(totals: totals, breakdown: breakdown, inefficiencies: inefficiencies,
                                prefixCachingSaving: prefix, cost: pricing.map { cost(of: totals, $0) })
    }

    private func cost(of t: TokenTotals, _ p: TokenPricing) -> Double {
        (Double(t.uncachedInputTokens) * p.inputPerMillion + Double(t.cachedInputTokens) * p.cachedInputPerMillion
            + Double(t.outputTokens) * p.outputPerMillion) / 1e6
    }
}

extension TokenTotals {
    mutating func add(_ r: TokenUsageRecord) {
        calls += 1
        inputTokens += r.inputTokens
        outputTokens += r.outputTokens
        cachedInputTokens += r.cachedInputTokens
    }
}
