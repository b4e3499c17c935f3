import Foundation
import KestrelAdaptation
import KestrelTensor
import Testing

@Suite struct PatternBankTests {
    private func blobs(_ centres: [[Float]], perBlob: Int, spread: Float, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        var out: [[Float]] = []
        for _ in 0..<perBlob {
            for c in centres { out.append(c.map { $0 + spread * rng.nextSignedUnit() }) }
        }
        return out
    }

    private func l2(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    }

    @Test(arguments: [PatternIndexKind.flat, .hnsw])
    func nearestPatternsMatchBruteForce(kind: PatternIndexKind) throws {
        let bank = try PatternBank(PatternBankConfiguration(dimension: 8, maxPatterns: 64, newPatternDistance: 0.3,
                                                            mergeDistance: 0.01, index: kind))
        var rng = SplitMix64(seed: 7)
        for _ in 0..<150 {
            let x = (0..<8).map { _ in rng.nextSignedUnit() }
            try bank.observe(x, reward: 0)
        }
        #expect(bank.count > 10)
        #expect(bank.checkInvariants())
        for _ in 0..<30 {
            let q = (0..<8).map { _ in rng.nextSignedUnit() }
            let got = try bank.nearest(q, k: 3)
            let want = bank.allPatterns.map { ($0.id, l2(q, $0.centroid)) }.sorted { $0.1 < $1.1 }.prefix(3)
            #expect(got.map(\.pattern.id) == want.map(\.0))
            for (g, w) in zip(got, want) { #expect(abs(g.distance - w.1) <= 1e-5 * max(1, w.1)) }
        }
        // k larger than the bank: every pattern, like a VectorIndex.
        #expect(try bank.nearest([Float](repeating: 0, count: 8), k: 1000).count == bank.count)
    }

    @Test func streamingAssignmentKeepsMeansStatisticsAndBestSettings() throws {
        let bank = try PatternBank(PatternBankConfiguration(dimension: 2, newPatternDistance: 1, mergeDistance: 0.01))
        let a = try bank.observe([0, 0], settings: [1], reward: 1)
        #expect(a.created && a.pattern == 1)
        let b = try bank.observe([0.5, 0], settings: [2], reward: 3)
        #expect(!b.created && b.pattern == 1 && b.distance == 0.25)
        try bank.observe([0.1, 0.3], settings: [3], reward: 2)
        let c = try bank.observe([5, 5], settings: [9], reward: -1)
        #expect(c.created && c.pattern == 2 && bank.count == 2)
        let p = try #require(bank.pattern(1))
        #expect(p.count == 3)
        #expect(abs(p.centroid[0] - 0.2) < 1e-6 && abs(p.centroid[1] - 0.1) < 1e-6)
        #expect(p.reward.count == 3 && abs(p.reward.mean - 2) < 1e-12 && abs(p.reward.variance - 1) < 1e-12)
        #expect(p.reward.minimum == 1 && p.reward.maximum == 3)
        #expect(p.bestSettings == [2] && p.bestReward == 3)
        #expect(bank.observations == 4)
    }

    @Test func nearDuplicatePatternsMerge() throws {
        let bank = try PatternBank(PatternBankConfiguration(dimension: 1, newPatternDistance: 1, mergeDistance: 0.25))
        try bank.observe([0], settings: [10], reward: 5)
        #expect(try bank.observe([1.1], settings: [11], reward: 0).created)
        try bank.observe([0.6], reward: 0)  // joins 2 (0.25 < 0.36) → centroid 0.85
        try bank.observe([0.45], reward: 0)  // joins 2 → 0.7167
        try bank.observe([0.35], reward: 1)  // joins 1 → 0.175
        let m = try bank.observe([0.45], reward: 0)  // joins 2 → 0.65, now 0.2256 from pattern 1: merge
        #expect(m.merged.count == 1 && m.merged[0].from == 1 && m.merged[0].into == 2)
        #expect(m.pattern == 2 && bank.count == 1)
        let p = try #require(bank.pattern(2))
        #expect(p.count == 6)
        #expect(abs(Double(p.centroid[0]) - (0.65 * 4 + 0.175 * 2) / 6) < 1e-6)
        #expect(p.reward.count == 6 && p.bestSettings == [10] && p.bestReward == 5)
        #expect(bank.pattern(1) == nil && bank.checkInvariants())
    }

    @Test func sizeStaysBoundedByMergingTheClosestPair() throws {
        let bank = try PatternBank(PatternBankConfiguration(dimension: 1, maxPatterns: 3, newPatternDistance: 0.5))
        let xs: [Float] = [0, 10, 20, 21, 100, 200, 1000]
        for x in xs { try bank.observe([x], reward: Double(x)) }
        #expect(bank.count == 3)
        #expect(bank.checkInvariants())
        #expect(bank.allPatterns.reduce(0) { $0 + $1.count } == xs.count)
        #expect(bank.allPatterns.reduce(0) { $0 + $1.reward.count } == xs.count)
        // The newest far-away observation has its own pattern.
        #expect(try bank.nearest([1000])[0].distance == 0)
    }

    @Test func reclusterFindsTheBlobsAndKeepsEveryObservation() throws {
        let centres: [[Float]] = [[0, 0, 0], [10, 10, 10]]
        let bank = try PatternBank(PatternBankConfiguration(dimension: 3, newPatternDistance: 0.5, mergeDistance: 0.001,
                                                            miniBatchSize: 32, miniBatchIterations: 30, seed: 3))
        let data = blobs(centres, perBlob: 60, spread: 1, seed: 11)
        for (i, x) in data.enumerated() { try bank.observe(x, settings: [i], reward: Double(i)) }
        #expect(bank.count > 4)
        let mapping = try bank.recluster(k: 2)
        #expect(mapping.count > 4)
        #expect(bank.count == 2 && bank.checkInvariants())
        #expect(bank.allPatterns.reduce(0) { $0 + $1.count } == data.count)
        for c in centres {
            let near = try bank.nearest(c)[0]
            #expect(near.distance < 0.5)
        }
        // The best settings are the best of all: the last observation had the highest reward.
        let best = bank.allPatterns.max { $0.bestReward < $1.bestReward }!
        #expect(best.bestSettings == [data.count - 1])
        #expect(bank.reclusterPasses == 1)
    }

    @Test func periodicReclusterRunsOnSchedule() throws {
        let bank = try PatternBank(PatternBankConfiguration(dimension: 2, newPatternDistance: 0.05, reclusterInterval: 50, seed: 5))
        for x in blobs([[0, 0], [5, 5]], perBlob: 50, spread: 0.5, seed: 2) { try bank.observe(x, reward: 0) }
        #expect(bank.reclusterPasses == 2)
        #expect(bank.checkInvariants())
    }

    @Test func kMeansPlusPlusDrawsProportionallyToSquaredDistance() throws {
        // Points 0, 1, 3 on a line. Given the first seed, the second is drawn with probability D²/ΣD².
        let points: [Float] = [0, 1, 3]
        let expected: [[Double]] = [[0, 1.0 / 10, 9.0 / 10], [1.0 / 5, 0, 4.0 / 5], [9.0 / 13, 4.0 / 13, 0]]
        var rng = SplitMix64(seed: 42)
        var tally = [[Int]](repeating: [0, 0, 0], count: 3)
        let trials = 30_000
        for _ in 0..<trials {
            let s = try KMeans.plusPlusSeeds(points, dimension: 1, k: 2, rng: &rng)
            tally[s[0]][s[1]] += 1
        }
        for first in 0..<3 {
            let n = tally[first].reduce(0, +)
            // The first seed is uniform.
            #expect(abs(Double(n) / Double(trials) - 1.0 / 3) < 5 * (2.0 / 9 / Double(trials)).squareRoot())
            for second in 0..<3 {
                let p = expected[first][second]
                let f = Double(tally[first][second]) / Double(n)
                // 5 standard errors: a uniform second draw (p = 1/2) would miss by > 40 of them.
                #expect(abs(f - p) <= 5 * max(p * (1 - p), 1e-12).squareRoot() / Double(n).squareRoot(),
                        "first \(first) second \(second): \(f) vs \(p)")
            }
        }
    }

    @Test func kMeansPlusPlusSeedsOnePointPerSeparatedCluster() throws {
        let centres: [[Float]] = [[0, 0], [100, 0], [0, 100], [100, 100]]
        let pts = blobs(centres, perBlob: 25, spread: 1, seed: 8)
        var rng = SplitMix64(seed: 1)
        for _ in 0..<20 {
            let s = try KMeans.plusPlusSeeds(pts.flatMap { $0 }, dimension: 2, k: 4, rng: &rng)
            #expect(Set(s.map { $0 % 4 }).count == 4)  // point i belongs to blob i % 4
        }
        // Duplicates only: seeds are still distinct rows.
        var r2 = SplitMix64(seed: 2)
        let same = try KMeans.plusPlusSeeds([Float](repeating: 1, count: 5), dimension: 1, k: 5, rng: &r2)
        #expect(Set(same).count == 5)
    }

    @Test func badInputThrowsTypedErrorsAndChangesNothing() throws {
        var rng = SplitMix64(seed: 1)
        #expect(throws: KestrelError.invalidArgument(name: "k", reason: "must be in 1...3 (the point count), got 4")) {
            _ = try KMeans.plusPlusSeeds([0, 1, 2], dimension: 1, k: 4, rng: &rng)
        }
        #expect(throws: KestrelError.invalidArgument(name: "points", reason: "no points to seed from")) {
            _ = try KMeans.plusPlusSeeds([], dimension: 2, k: 1, rng: &rng)
        }
        #expect(throws: KestrelError.self) { _ = try KMeans.plusPlusSeeds([0, 1, 2], dimension: 2, k: 1, rng: &rng) }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) { _ = try KMeans.plusPlusSeeds([0, .nan], dimension: 1, k: 1, rng: &rng) }

        #expect(throws: KestrelError.self) { _ = try PatternBank(PatternBankConfiguration(dimension: 0, newPatternDistance: 1)) }
        #expect(throws: KestrelError.self) { _ = try PatternBank(PatternBankConfiguration(dimension: 2, newPatternDistance: 1, mergeDistance: 2)) }
        #expect(throws: KestrelError.self) { _ = try PatternBank(PatternBankConfiguration(dimension: 2, newPatternDistance: .nan)) }

        let bank = try PatternBank(PatternBankConfiguration(dimension: 2, newPatternDistance: 1))
        #expect(throws: KestrelError.invalidArgument(name: "patternBank", reason: "the bank is empty")) { _ = try bank.nearest([0, 0]) }
        #expect(throws: KestrelError.invalidArgument(name: "patternBank", reason: "the bank is empty")) { try bank.recluster() }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2], actual: [3])) { try bank.observe([0, 0, 0], reward: 0) }
        #expect(throws: KestrelError.nonFiniteValue(index: 0)) { try bank.observe([.infinity, 0], reward: 0) }
        #expect(throws: KestrelError.self) { try bank.observe([0, 0], reward: .nan) }
        #expect(bank.count == 0 && bank.observations == 0)
        try bank.observe([0, 0], reward: 1)
        try bank.observe([3, 3], reward: 1)
        #expect(throws: KestrelError.invalidArgument(name: "k", reason: "must be ≥ 1, got 0")) { _ = try bank.nearest([0, 0], k: 0) }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2], actual: [1])) { _ = try bank.nearest([0]) }
        // k above the reservoir's two embeddings.
        #expect(throws: KestrelError.invalidArgument(name: "k", reason: "must be in 1...2 (the point count), got 3")) {
            try bank.recluster(k: 3)
        }
        #expect(bank.count == 2 && bank.checkInvariants())
    }
}
