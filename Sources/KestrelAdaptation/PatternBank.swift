import Foundation
import KestrelTensor
import KestrelVectorIndex

/// Running statistics of the rewards seen by one pattern (Welford's update; merges by Chan et al.'s
/// pairwise formula, so merging two patterns gives the statistics of the union).
public struct RewardStatistics: Sendable, Equatable, Codable {
    /// Rewards seen.
    public private(set) var count = 0
    /// Their mean (0 when none).
    public private(set) var mean = 0.0
    private var m2 = 0.0
    /// Smallest reward (+∞ when none).
    public private(set) var minimum = Double.infinity
    /// Largest reward (−∞ when none).
    public private(set) var maximum = -Double.infinity

    /// Empty statistics.
    public init() {}

    /// Sample variance (n − 1 denominator); 0 with fewer than two rewards.
    public var variance: Double { count > 1 ? m2 / Double(count - 1) : 0 }

    /// Adds one reward. O(1).
    public mutating func add(_ x: Double) {
        count += 1
        let d = x - mean
        mean += d / Double(count)
        m2 += d * (x - mean)
        minimum = Swift.min(minimum, x)
        maximum = Swift.max(maximum, x)
    }

    /// Adds every reward `other` saw. O(1).
    public mutating func merge(_ other: RewardStatistics) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let n = Double(count + other.count)
        let d = other.mean - mean
        m2 += other.m2 + d * d * Double(count) * Double(other.count) / n
        mean += d * Double(other.count) / n
        count += other.count
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
    }
}

/// One pattern of a ``PatternBank``: a centroid of context embeddings with what worked there.
public struct Pattern: Sendable, Equatable {
    /// Stable identifier (a merged pattern keeps the identifier of the one with more observations).
    public var id: UInt64
    /// Mean of the embeddings assigned to it (``PatternBankConfiguration/dimension`` floats).
    public var centroid: [Float]
    /// Embeddings assigned to it.
    public var count: Int
    /// Statistics of their rewards.
    public var reward: RewardStatistics
    /// The settings of the highest reward seen, nil when none was given.
    public var bestSettings: [Int]?
    /// That reward (−∞ when none).
    public var bestReward: Double
}

/// Which ``VectorIndex`` a ``PatternBank`` finds its nearest centroids with.
public enum PatternIndexKind: Sendable, Equatable {
    /// Exact search (``FlatIndex``); the right choice for up to a few thousand patterns.
    case flat
    /// Approximate search (``HNSWIndex``) with its default parameters.
    case hnsw
}

/// How a ``PatternBank`` assigns, merges and re-clusters. Distances are squared Euclidean.
public struct PatternBankConfiguration: Sendable, Equatable {
    /// Floats per embedding (≥ 1).
    public var dimension: Int
    /// Most patterns kept (≥ 1). When a new pattern is needed and the bank is full, the two
    /// closest patterns are merged first, or the observation joins its nearest pattern when that
    /// is closer than the closest pair.
    public var maxPatterns: Int
    /// An observation farther than this from every centroid starts a new pattern (> 0).
    public var newPatternDistance: Double
    /// Two centroids at most this far apart after an update are merged (≥ 0, < newPatternDistance).
    public var mergeDistance: Double
    /// Observations between mini-batch k-means passes (0: only on ``PatternBank/recluster(k:)``).
    public var reclusterInterval: Int
    /// Embeddings kept by reservoir sampling for k-means (≥ 1).
    public var reservoirSize: Int
    /// Samples per mini-batch (≥ 1).
    public var miniBatchSize: Int
    /// Mini-batch iterations per pass (≥ 1).
    public var miniBatchIterations: Int
    /// Seed of the reservoir, k-means++ and mini-batch draws.
    public var seed: UInt64
    /// The index over centroids.
    public var index: PatternIndexKind

    /// A configuration; see each property for its meaning and bounds.
    public init(dimension: Int, maxPatterns: Int = 256, newPatternDistance: Double, mergeDistance: Double? = nil,
                reclusterInterval: Int = 0, reservoirSize: Int = 1024, miniBatchSize: Int = 64,
                miniBatchIterations: Int = 20, seed: UInt64 = 0x5EED, index: PatternIndexKind = .flat) {
        self.dimension = dimension
        self.maxPatterns = maxPatterns
        self.newPatternDistance = newPatternDistance
        self.mergeDistance = mergeDistance ?? newPatternDistance / 4
        self.reclusterInterval = reclusterInterval
        self.reservoirSize = reservoirSize
        self.miniBatchSize = miniBatchSize
        self.miniBatchIterations = miniBatchIterations
        self.seed = seed
        self.index = index
    }

    func validate() throws(KestrelError) {
        guard dimension >= 1 else { throw .invalidArgument(name: "dimension", reason: "must be ≥ 1, got \(dimension)") }
        guard maxPatterns >= 1 else { throw .invalidArgument(name: "maxPatterns", reason: "must be ≥ 1, got \(maxPatterns)") }
        guard newPatternDistance > 0, newPatternDistance.isFinite else {
            throw .invalidArgument(name: "newPatternDistance", reason: "must be finite and > 0, got \(newPatternDistance)")
        }
        guard mergeDistance >= 0, mergeDistance < newPatternDistance else {
            throw .invalidArgument(name: "mergeDistance", reason: "must be in [0, newPatternDistance), got \(mergeDistance)")
        }
        guard reclusterInterval >= 0 else { throw .invalidArgument(name: "reclusterInterval", reason: "must be ≥ 0") }
        guard reservoirSize >= 1, miniBatchSize >= 1, miniBatchIterations >= 1 else {
            throw .invalidArgument(name: "reservoirSize", reason: "reservoir, mini-batch size and iterations must be ≥ 1")
        }
        _ = try SizeCheck.bytes(reservoirSize, dimension, 4)
        _ = try SizeCheck.bytes(maxPatterns, dimension, 4)
    }
}

/// What ``PatternBank/observe(_:settings:reward:)`` did with an observation.
public struct PatternAssignment: Sendable, Equatable {
    /// The pattern the observation now belongs to.
    public var pattern: UInt64
    /// Whether that pattern was created for it.
    public var created: Bool
    /// Squared distance to the nearest centroid before the update (0 for a new pattern).
    public var distance: Double
    /// Patterns that disappeared, each with the pattern that absorbed it.
    public var merged: [(from: UInt64, into: UInt64)]

    public static func == (a: PatternAssignment, b: PatternAssignment) -> Bool {
        a.pattern == b.pattern && a.created == b.created && a.distance == b.distance
            && a.merged.map(\.from) == b.merged.map(\.from) && a.merged.map(\.into) == b.merged.map(\.into)
    }
}

/// A bounded memory of context patterns: each observation (an embedding with the settings used and
/// the reward obtained) joins its nearest centroid or starts a new pattern; near-duplicate
/// centroids merge; every ``PatternBankConfiguration/reclusterInterval`` observations a mini-batch
/// k-means pass (k-means++ seeding, D²-weighted and seeded) re-centres the patterns. Each pattern
/// keeps its reward statistics and the best settings seen. Nearest centroids are found through a
/// ``VectorIndex`` (``FlatIndex`` or ``HNSWIndex``).
///
/// Thread-safety: not thread-safe (one owner; wrap it in the caller's lock to share it). Not
/// `Sendable`.
public final class PatternBank {
    /// The configuration it was created with.
    public let configuration: PatternBankConfiguration
    private var index: any VectorIndex
    private var patterns: [UInt64: Pattern] = [:]
    private var nextID: UInt64 = 1
    private var rng: SplitMix64
    private var reservoir: [Float]
    private var reservoirCount = 0
    /// Observations so far.
    public private(set) var observations = 0
    /// Mini-batch k-means passes run so far.
    public private(set) var reclusterPasses = 0

    /// An empty bank.
    /// - Throws: `invalidArgument` for a bad configuration (see ``PatternBankConfiguration``);
    ///   `capacityExceeded` when its buffers would not fit in memory.
    /// - Complexity: O(reservoirSize × dimension) memory, allocated here.
    public init(_ configuration: PatternBankConfiguration) throws(KestrelError) {
        try configuration.validate()
        self.configuration = configuration
        index = try Self.makeIndex(configuration)
        rng = SplitMix64(seed: configuration.seed)
        reservoir = [Float](repeating: 0, count: configuration.reservoirSize * configuration.dimension)
    }

    private static func makeIndex(_ c: PatternBankConfiguration) throws(KestrelError) -> any VectorIndex {
        switch c.index {
        case .flat: return try FlatIndex(dimension: c.dimension, metric: .l2Squared, capacity: c.maxPatterns)
        case .hnsw: return try HNSWIndex(dimension: c.dimension, metric: .l2Squared, capacity: c.maxPatterns)
        }
    }

    /// Number of patterns.
    public var count: Int { patterns.count }

    /// Every pattern, by identifier.
    public var allPatterns: [Pattern] { patterns.values.sorted { $0.id < $1.id } }

    /// The pattern with identifier `id`, nil when there is none (never created, or merged away).
    public func pattern(_ id: UInt64) -> Pattern? { patterns[id] }

    private func check(_ v: [Float]) throws(KestrelError) {
        guard v.count == configuration.dimension else {
            throw .dimensionMismatch(expected: [configuration.dimension], actual: [v.count])
        }
        for i in v.indices where !v[i].isFinite { throw .nonFiniteValue(index: i) }
    }

    /// The `k` patterns nearest to `embedding`, closest first, with their squared distances.
    /// Like every ``VectorIndex``, fewer than `k` are returned when the bank holds fewer.
    /// - Throws: `invalidArgument` when the bank is empty or `k < 1`; `dimensionMismatch`;
    ///   `nonFiniteValue(index:)`.
    /// - Complexity: one index search (exact O(count × dimension) with ``PatternIndexKind/flat``).
    public func nearest(_ embedding: [Float], k: Int = 1) throws(KestrelError) -> [(pattern: Pattern, distance: Double)] {
        try check(embedding)
        guard k >= 1 else { throw .invalidArgument(name: "k", reason: "must be ≥ 1, got \(k)") }
        guard !patterns.isEmpty else { throw .invalidArgument(name: "patternBank", reason: "the bank is empty") }
        return try index.search(embedding, k: k).compactMap { r in patterns[r.key].map { ($0, Double(r.distance)) } }
    }

    /// Adds an observation: joins the nearest pattern (its centroid moves to the mean of its
    /// members) or starts a new one, updates that pattern's reward statistics and best settings,
    /// merges near-duplicates, and runs a mini-batch k-means pass when one is due.
    ///
    /// - Parameters:
    ///   - settings: the settings used (kept as the pattern's best when `reward` is its highest).
    ///   - reward: finite; higher is better.
    /// - Throws: `dimensionMismatch`, `nonFiniteValue(index:)`, `invalidArgument` (non-finite
    ///   reward). Validation comes first: a throw changes nothing.
    /// - Complexity: a few index searches and updates; a due k-means pass costs
    ///   O(iterations × miniBatchSize × count × dimension).
    @discardableResult
    public func observe(_ embedding: [Float], settings: [Int]? = nil, reward: Double) throws(KestrelError) -> PatternAssignment {
        try check(embedding)
        guard reward.isFinite else { throw .invalidArgument(name: "reward", reason: "must be finite, got \(reward)") }
        observations += 1
        sampleIntoReservoir(embedding)
        var merged: [(from: UInt64, into: UInt64)] = []
        var assignment: PatternAssignment
        let near = patterns.isEmpty ? nil : try index.search(embedding, k: 1).first
        if let near, Double(near.distance) <= configuration.newPatternDistance {
            assignment = PatternAssignment(pattern: near.key, created: false, distance: Double(near.distance), merged: [])
            try absorb(near.key, embedding, settings: settings, reward: reward)
        } else {
            var joinNearest = false
            if patterns.count >= configuration.maxPatterns, let near {
                let pair = try closestPair()
                if pair.distance < Double(near.distance) {
                    let into = try mergePatterns(pair.a, pair.b)
                    merged.append((from: into == pair.a ? pair.b : pair.a, into: into))
                } else {
                    joinNearest = true
                }
            }
            if joinNearest, let near {
                assignment = PatternAssignment(pattern: near.key, created: false, distance: Double(near.distance), merged: [])
                try absorb(near.key, embedding, settings: settings, reward: reward)
            } else {
                let id = nextID
                nextID += 1
                var stats = RewardStatistics()
                stats.add(reward)
                patterns[id] = Pattern(id: id, centroid: embedding, count: 1, reward: stats, bestSettings: settings,
                                       bestReward: reward)
                try index.add(key: id, vector: embedding)
                assignment = PatternAssignment(pattern: id, created: true, distance: near.map { Double($0.distance) } ?? 0,
                                               merged: [])
            }
        }
        // A moved centroid may now sit on top of another one.
        if !assignment.created, let p = patterns[assignment.pattern], patterns.count > 1 {
            for r in try index.search(p.centroid, k: 2) where r.key != p.id && Double(r.distance) <= configuration.mergeDistance {
                let into = try mergePatterns(p.id, r.key)
                merged.append((from: into == p.id ? r.key : p.id, into: into))
                assignment.pattern = into
                break
            }
        }
        if configuration.reclusterInterval > 0, observations % configuration.reclusterInterval == 0,
           reservoirCount >= patterns.count, patterns.count >= 1 {
            for (from, into) in try recluster() where from != into { merged.append((from: from, into: into)) }
            assignment.pattern = merged.last(where: { $0.from == assignment.pattern })?.into ?? assignment.pattern
        }
        assignment.merged = merged
        return assignment
    }

    private func absorb(_ id: UInt64, _ x: [Float], settings: [Int]?, reward: Double) throws(KestrelError) {
        guard var p = patterns[id] else { return }
        p.count += 1
        let w = 1 / Float(p.count)
        for i in p.centroid.indices { p.centroid[i] += (x[i] - p.centroid[i]) * w }
        p.reward.add(reward)
        if reward > p.bestReward, let settings {
            p.bestReward = reward
            p.bestSettings = settings
        }
        patterns[id] = p
        try index.add(key: id, vector: p.centroid)
    }

    /// Merges two patterns into the one with more observations (ties: the older); returns its id.
    private func mergePatterns(_ a: UInt64, _ b: UInt64) throws(KestrelError) -> UInt64 {
        guard let pa = patterns[a], let pb = patterns[b] else { return a }
        var (keep, gone) = pa.count > pb.count || (pa.count == pb.count && pa.id < pb.id) ? (pa, pb) : (pb, pa)
        let n = Float(keep.count + gone.count)
        for i in keep.centroid.indices {
            keep.centroid[i] = (keep.centroid[i] * Float(keep.count) + gone.centroid[i] * Float(gone.count)) / n
        }
        keep.count += gone.count
        keep.reward.merge(gone.reward)
        if gone.bestReward > keep.bestReward, gone.bestSettings != nil {
            keep.bestReward = gone.bestReward
            keep.bestSettings = gone.bestSettings
        }
        patterns[gone.id] = nil
        patterns[keep.id] = keep
        _ = try index.remove(key: gone.id)
        try index.add(key: keep.id, vector: keep.centroid)
        return keep.id
    }

    private func closestPair() throws(KestrelError) -> (a: UInt64, b: UInt64, distance: Double) {
        var best = (a: UInt64(0), b: UInt64(0), distance: Double.infinity)
        for p in patterns.values {
            for r in try index.search(p.centroid, k: 2) where r.key != p.id && Double(r.distance) < best.distance {
                best = (p.id, r.key, Double(r.distance))
            }
        }
        return best
    }

    private func sampleIntoReservoir(_ x: [Float]) {
        // Algorithm R: after n observations each one is in the reservoir with probability size / n.
        let d = configuration.dimension
        let slot: Int
        if reservoirCount < configuration.reservoirSize {
            slot = reservoirCount
            reservoirCount += 1
        } else {
            let j = Int.random(in: 0..<observations, using: &rng)
            guard j < configuration.reservoirSize else { return }
            slot = j
        }
        for i in 0..<d { reservoir[slot * d + i] = x[i] }
    }

    /// Runs one mini-batch k-means pass over the reservoir: k-means++ seeds, then
    /// ``PatternBankConfiguration/miniBatchIterations`` mini-batches with per-centre learning rate
    /// 1/(samples seen by the centre) (Sculley, "Web-scale k-means clustering", 2010). Every old
    /// pattern then joins its nearest new centre (statistics merged, best settings kept, the id of
    /// the member with most observations kept); centres no old pattern joined are dropped.
    ///
    /// - Parameter k: centres (default: the current pattern count).
    /// - Returns: each old pattern's id with the id it now belongs to.
    /// - Throws: `invalidArgument` when the bank is empty, `k < 1` or `k` exceeds the embeddings
    ///   in the reservoir (nothing changes then).
    /// - Complexity: O(k × reservoir × dimension) seeding + O(iterations × miniBatchSize × k × dimension).
    @discardableResult
    public func recluster(k: Int? = nil) throws(KestrelError) -> [(from: UInt64, into: UInt64)] {
        guard !patterns.isEmpty else { throw .invalidArgument(name: "patternBank", reason: "the bank is empty") }
        let k = k ?? patterns.count
        let d = configuration.dimension
        let points = Array(reservoir[0..<(reservoirCount * d)])
        let seeds = try KMeans.plusPlusSeeds(points, dimension: d, k: k, rng: &rng)
        var centres = [Float](repeating: 0, count: k * d)
        for (c, s) in seeds.enumerated() { for i in 0..<d { centres[c * d + i] = points[s * d + i] } }
        KMeans.miniBatch(points, dimension: d, centres: &centres, batchSize: configuration.miniBatchSize,
                         iterations: configuration.miniBatchIterations, rng: &rng)
        // Old patterns join their nearest new centre.
        var groups = [[Pattern]](repeating: [], count: k)
        for p in allPatterns {
            groups[KMeans.nearest(p.centroid[...], centres, dimension: d).index].append(p)
        }
        var mapping: [(from: UInt64, into: UInt64)] = []
        var rebuilt: [UInt64: Pattern] = [:]
        for (c, members) in groups.enumerated() where !members.isEmpty {
            var keep = members.max { ($0.count, $1.id) < ($1.count, $0.id) }!
            for m in members where m.id != keep.id {
                keep.count += m.count
                keep.reward.merge(m.reward)
                if m.bestReward > keep.bestReward, m.bestSettings != nil {
                    keep.bestReward = m.bestReward
                    keep.bestSettings = m.bestSettings
                }
            }
            keep.centroid = Array(centres[(c * d)..<((c + 1) * d)])
            rebuilt[keep.id] = keep
            for m in members { mapping.append((from: m.id, into: keep.id)) }
        }
        let fresh = try Self.makeIndex(configuration)
        for p in rebuilt.values.sorted(by: { $0.id < $1.id }) { try fresh.add(key: p.id, vector: p.centroid) }
        index = fresh
        patterns = rebuilt
        reclusterPasses += 1
        return mapping.sorted { $0.from < $1.from }
    }

    /// Checks internal invariants (tests): every pattern is in the index and vice versa, counts ≥ 1,
    /// size within bounds.
    public func checkInvariants() -> Bool {
        patterns.count <= configuration.maxPatterns && index.count == patterns.count
            && patterns.values.allSatisfy { $0.count >= 1 && index.contains(key: $0.id) && $0.centroid.count == configuration.dimension }
    }
}
