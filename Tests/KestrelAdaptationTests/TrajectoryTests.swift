import Foundation
import KestrelAdaptation
import KestrelTensor
import Testing

@Suite struct TrajectoryTests {
    private func emb(_ x: Float, dim: Int = 2) -> [Float] { [Float](repeating: x, count: dim) }

    @Test func discountedReturnAndAdvantageMatchHandComputedValues() throws {
        var buf = try TrajectoryBuffer(capacity: 8, embeddingDimension: 2, settingsCount: 1,
                                       creditAssignment: .discountedReturn(gamma: 0.5), baselineRate: 0.5)
        let id = try buf.begin()
        #expect(id == 1)
        try buf.record(embedding: emb(1), settings: [3], reward: 1, latencyNanoseconds: 10)
        try buf.record(embedding: emb(2), settings: [4], reward: 2, latencyNanoseconds: 20)
        try buf.record(embedding: emb(3), settings: [5], reward: 4, latencyNanoseconds: 30)
        // Open: no credit yet.
        #expect(try buf.step(0).credit == nil)
        let s = try buf.finish()
        // G2 = 4, G1 = 2 + 0.5·4 = 4, G0 = 1 + 0.5·4 = 3; baseline 0 before.
        #expect(s.trajectoryReturn == 3)
        #expect(s.baseline == 0 && s.advantage == 3)
        #expect(try buf.step(0).credit == 3)
        #expect(try buf.step(1).credit == 4)
        #expect(try buf.step(2).credit == 4)
        #expect(try buf.step(2).advantage == 4)
        #expect(try buf.step(1).settings == [4])
        #expect(try buf.step(2).embedding == emb(3))
        #expect(try buf.step(2).latencyNanoseconds == 30)
        // b ← 0 + 0.5·(3 − 0) = 1.5
        #expect(buf.baseline == 1.5)

        // A single-step trajectory with an outcome: G0 = r + outcome = 0.5 + 1 = 1.5 → advantage 0 against b = 1.5.
        _ = try buf.begin()
        try buf.record(embedding: emb(4), settings: [6], reward: 0.5, latencyNanoseconds: 5)
        let t = try buf.finish(outcome: 1)
        #expect(t.trajectoryReturn == 1.5 && t.advantage == 0)
        // Another single step, worse than usual: advantage negative (carries signal without siblings).
        _ = try buf.begin()
        try buf.record(embedding: emb(5), settings: [6], reward: -0.5, latencyNanoseconds: 5)
        let u = try buf.finish()
        #expect(u.advantage == -2)
        #expect(try buf.step(4).advantage == -2)
        #expect(buf.baseline == 0.5)  // 1.5 + 0.5·(−0.5 − 1.5)
        #expect(buf.finishedTrajectories == 3)
    }

    @Test func outcomeIsBroadcastToEveryStep() throws {
        var buf = try TrajectoryBuffer(capacity: 4, embeddingDimension: 1, settingsCount: 0,
                                       creditAssignment: .outcome, baselineRate: 1, initialBaseline: 2)
        _ = try buf.begin()
        try buf.record(embedding: [0], settings: [], reward: 1, latencyNanoseconds: 1)
        try buf.record(embedding: [0], settings: [], reward: 5, latencyNanoseconds: 1)
        let s = try buf.finish()  // no outcome: the sum of rewards, 6
        #expect(s.trajectoryReturn == 6 && s.advantage == 4)
        #expect(try buf.step(0).credit == 6 && buf.step(1).credit == 6)
        #expect(try buf.step(0).advantage == 4)
        _ = try buf.begin()
        try buf.record(embedding: [0], settings: [], reward: 100, latencyNanoseconds: 1)
        let t = try buf.finish(outcome: -1)
        #expect(t.trajectoryReturn == -1 && t.baseline == 6 && t.advantage == -7)
        #expect(buf.baseline == -1)  // rate 1: the previous return
    }

    @Test func ringOverwritesOldestAndCountsDrops() throws {
        var buf = try TrajectoryBuffer(capacity: 3, embeddingDimension: 1, settingsCount: 1,
                                       creditAssignment: .discountedReturn(gamma: 1))
        _ = try buf.begin()
        for i in 0..<2 { try buf.record(embedding: [Float(i)], settings: [i], reward: 1, latencyNanoseconds: 1) }
        try buf.finish()
        _ = try buf.begin()
        for i in 2..<7 { try buf.record(embedding: [Float(i)], settings: [i], reward: 1, latencyNanoseconds: 1) }
        // Steps 0, 1 (credited) and 2, 3 (open trajectory) were overwritten.
        #expect(buf.droppedSteps == 4)
        #expect(buf.droppedBeforeCredit == 2)
        #expect(buf.count == 3)
        #expect(buf.totalSteps == 7)
        let s = try buf.finish()
        #expect(s.steps == 5 && s.retainedSteps == 3)
        // γ = 1: G0 = 5 (all rewards, including the overwritten ones); stored steps 4, 5, 6 get 3, 2, 1.
        #expect(s.trajectoryReturn == 5)
        #expect(try (0..<3).map { try buf.step($0).credit } == [3, 2, 1])
        #expect(try buf.step(0).settings == [4])
    }

    @Test func badInputIsRejectedAndLeavesTheBufferUnchanged() throws {
        #expect(throws: KestrelError.invalidArgument(name: "capacity", reason: "must be ≥ 1, got 0")) {
            _ = try TrajectoryBuffer(capacity: 0, embeddingDimension: 1, settingsCount: 0)
        }
        #expect(throws: KestrelError.self) {
            _ = try TrajectoryBuffer(capacity: 1, embeddingDimension: 1, settingsCount: 0, creditAssignment: .discountedReturn(gamma: 1.5))
        }
        #expect(throws: KestrelError.self) {
            _ = try TrajectoryBuffer(capacity: Int.max, embeddingDimension: 4, settingsCount: 0)
        }
        var buf = try TrajectoryBuffer(capacity: 2, embeddingDimension: 2, settingsCount: 1)
        #expect(throws: KestrelError.invalidArgument(name: "trajectory", reason: "no trajectory is open (call begin())")) {
            try buf.record(embedding: [0, 0], settings: [0], reward: 0, latencyNanoseconds: 0)
        }
        _ = try buf.begin()
        #expect(throws: KestrelError.invalidArgument(name: "trajectory", reason: "trajectory 1 has no steps")) { try buf.finish() }
        #expect(throws: KestrelError.invalidArgument(name: "trajectory", reason: "trajectory 1 is still open")) { _ = try buf.begin() }
        #expect(throws: KestrelError.dimensionMismatch(expected: [2], actual: [3])) {
            try buf.record(embedding: [0, 0, 0], settings: [0], reward: 0, latencyNanoseconds: 0)
        }
        #expect(throws: KestrelError.dimensionMismatch(expected: [1], actual: [0])) {
            try buf.record(embedding: [0, 0], settings: [], reward: 0, latencyNanoseconds: 0)
        }
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) {
            try buf.record(embedding: [0, .nan], settings: [0], reward: 0, latencyNanoseconds: 0)
        }
        #expect(throws: KestrelError.self) { try buf.record(embedding: [0, 0], settings: [0], reward: .infinity, latencyNanoseconds: 0) }
        #expect(throws: KestrelError.self) { try buf.record(embedding: [0, 0], settings: [0], reward: 0, latencyNanoseconds: -1) }
        #expect(buf.totalSteps == 0)
        try buf.record(embedding: [1, 1], settings: [0], reward: 2, latencyNanoseconds: 0)
        #expect(throws: KestrelError.self) { try buf.finish(outcome: .nan) }
        #expect(buf.openTrajectory == 1)  // still open after the rejected finish
        #expect(try buf.finish().trajectoryReturn == 2)
        #expect(throws: KestrelError.invalidArgument(name: "i", reason: "step 1 is outside 0..<1")) { _ = try buf.step(1) }
        #expect(throws: KestrelError.self) { _ = try buf.step(-1) }
    }
}
