import Foundation
import KestrelTensor

/// How the reward of a trajectory is credited to its steps (Documentation/Adaptation.md, "Trajectories").
///
/// Whichever rule gives a step its return `G_t`, the step's *advantage* is `G_t − b`, where `b` is a
/// running baseline across trajectories (an exponential moving average of earlier trajectories'
/// returns, read before the current trajectory updates it). A one-step trajectory therefore still
/// says whether it did better or worse than usual, which a baseline taken within the trajectory
/// (the mean of its own steps) could not.
public enum CreditAssignment: Sendable, Equatable {
    /// Outcome broadcast: every step's return is the trajectory's outcome — the value passed to
    /// ``TrajectoryBuffer/finish(outcome:)``, or the sum of the step rewards when none is passed.
    case outcome
    /// Discounted return `G_t = r_t + γ·G_{t+1}` (γ in [0, 1]); an outcome passed to `finish` is
    /// added to the last step's reward. The trajectory's return is `G_0`.
    case discountedReturn(gamma: Double)
}

/// One stored step, as read back from a ``TrajectoryBuffer``.
public struct TrajectoryStep: Sendable, Equatable {
    /// The trajectory the step belongs to.
    public var trajectory: UInt64
    /// The context embedding (``TrajectoryBuffer/embeddingDimension`` floats).
    public var embedding: [Float]
    /// The settings (action) taken, ``TrajectoryBuffer/settingsCount`` integers.
    public var settings: [Int]
    /// The step's immediate reward.
    public var reward: Double
    /// The step's latency, nanoseconds.
    public var latencyNanoseconds: Double
    /// The credited return `G_t`, nil while the trajectory is still open.
    public var credit: Double?
    /// `G_t − baseline`, nil while the trajectory is still open.
    public var advantage: Double?
}

/// What ``TrajectoryBuffer/finish(outcome:)`` reports about the trajectory it closed.
public struct TrajectorySummary: Sendable, Equatable {
    /// The trajectory's identifier.
    public var trajectory: UInt64
    /// Steps recorded in it.
    public var steps: Int
    /// Of those, steps still in the buffer (the rest were overwritten before the trajectory ended).
    public var retainedSteps: Int
    /// The trajectory's return: the outcome (``CreditAssignment/outcome``) or `G_0`.
    public var trajectoryReturn: Double
    /// The baseline its advantages were taken against.
    public var baseline: Double
    /// `trajectoryReturn − baseline`.
    public var advantage: Double
}

/// Steps of (context embedding, settings, reward, latency) in a preallocated ring buffer, grouped
/// into trajectories whose reward is credited to their steps when they finish (see
/// ``CreditAssignment``).
///
/// All storage is allocated by the initializer; recording a step through the pointer overload
/// never allocates. When the ring is full the oldest step is overwritten and counted in
/// ``droppedSteps`` (and in ``droppedBeforeCredit`` when its trajectory was still open, so it was
/// never credited). One trajectory is open at a time (single writer).
///
/// Thread-safety: a value type with no internal locking; share it behind the caller's lock.
public struct TrajectoryBuffer: Sendable {
    /// Maximum steps kept.
    public let capacity: Int
    /// Floats per context embedding.
    public let embeddingDimension: Int
    /// Integers per settings vector (may be 0).
    public let settingsCount: Int
    /// The credit-assignment rule.
    public let creditAssignment: CreditAssignment
    /// Weight of a new trajectory's return in the running baseline, in (0, 1].
    public let baselineRate: Double

    private var embeddings: [Float]
    private var settingsStore: [Int]
    private var rewards: [Double]
    private var latencies: [Double]
    private var credits: [Double]
    private var advantages: [Double]
    private var owners: [UInt64]
    private var credited: [Bool]

    /// Steps ever recorded (the sequence number of the next step).
    public private(set) var totalSteps = 0
    /// Steps overwritten by newer ones.
    public private(set) var droppedSteps = 0
    /// Steps overwritten while their trajectory was open (never credited).
    public private(set) var droppedBeforeCredit = 0
    /// The running baseline `b` the next finished trajectory's advantages are taken against.
    public private(set) var baseline: Double
    /// Trajectories finished so far.
    public private(set) var finishedTrajectories = 0

    private var nextTrajectory: UInt64 = 1
    private var open: (id: UInt64, start: Int, discountedSum: Double, weight: Double, rewardSum: Double)?

    /// Creates an empty buffer; every array it will use is allocated here.
    ///
    /// - Parameters:
    ///   - capacity: steps kept (≥ 1).
    ///   - embeddingDimension: floats per embedding (≥ 1).
    ///   - settingsCount: integers per settings vector (≥ 0).
    ///   - creditAssignment: see ``CreditAssignment``.
    ///   - baselineRate: EMA weight of each new return in the baseline, in (0, 1]; 1 makes the
    ///     baseline the previous trajectory's return.
    ///   - initialBaseline: the baseline before any trajectory finished (default 0).
    /// - Throws: `invalidArgument` for a bad size, γ outside [0, 1] or rate outside (0, 1];
    ///   `capacityExceeded` when `capacity × embeddingDimension` overflows or exceeds memory.
    /// - Complexity: O(capacity × (embeddingDimension + settingsCount)) time and memory.
    public init(capacity: Int, embeddingDimension: Int, settingsCount: Int,
                creditAssignment: CreditAssignment = .discountedReturn(gamma: 0.9),
                baselineRate: Double = 0.1, initialBaseline: Double = 0) throws(KestrelError) {
        guard capacity >= 1 else { throw .invalidArgument(name: "capacity", reason: "must be ≥ 1, got \(capacity)") }
        guard embeddingDimension >= 1 else {
            throw .invalidArgument(name: "embeddingDimension", reason: "must be ≥ 1, got \(embeddingDimension)")
        }
        guard settingsCount >= 0 else { throw .invalidArgument(name: "settingsCount", reason: "must be ≥ 0, got \(settingsCount)") }
        if case .discountedReturn(let g) = creditAssignment, !(g >= 0 && g <= 1) {
            throw .invalidArgument(name: "gamma", reason: "must be in [0, 1], got \(g)")
        }
        guard baselineRate > 0, baselineRate <= 1 else {
            throw .invalidArgument(name: "baselineRate", reason: "must be in (0, 1], got \(baselineRate)")
        }
        guard initialBaseline.isFinite else { throw .invalidArgument(name: "initialBaseline", reason: "must be finite") }
        let floats = try SizeCheck.product(capacity, embeddingDimension)
        _ = try SizeCheck.bytes(floats, 4)
        let ints = try SizeCheck.product(capacity, max(settingsCount, 1))
        _ = try SizeCheck.bytes(ints, 8)
        self.capacity = capacity
        self.embeddingDimension = embeddingDimension
        self.settingsCount = settingsCount
        self.creditAssignment = creditAssignment
        self.baselineRate = baselineRate
        baseline = initialBaseline
        embeddings = [Float](repeating: 0, count: floats)
        settingsStore = [Int](repeating: 0, count: capacity * settingsCount)
        rewards = [Double](repeating: 0, count: capacity)
        latencies = rewards
        credits = rewards
        advantages = rewards
        owners = [UInt64](repeating: 0, count: capacity)
        credited = [Bool](repeating: false, count: capacity)
    }

    /// Steps currently stored.
    public var count: Int { min(totalSteps, capacity) }

    /// The open trajectory's identifier, nil when none is open.
    public var openTrajectory: UInt64? { open?.id }

    /// Opens a trajectory and returns its identifier (1, 2, 3, …).
    /// - Throws: `invalidArgument` when one is already open.
    public mutating func begin() throws(KestrelError) -> UInt64 {
        if let o = open { throw .invalidArgument(name: "trajectory", reason: "trajectory \(o.id) is still open") }
        let id = nextTrajectory
        nextTrajectory &+= 1
        open = (id, totalSteps, 0, 1, 0)
        return id
    }

    /// Records a step of the open trajectory. Validates everything before writing, so a throw
    /// leaves the buffer unchanged.
    ///
    /// - Throws: `invalidArgument` with no open trajectory, a non-finite reward or a negative or
    ///   non-finite latency; `dimensionMismatch` for wrong lengths; `nonFiniteValue(index:)` for
    ///   a non-finite embedding component.
    /// - Complexity: O(embeddingDimension + settingsCount); no allocation.
    public mutating func record(embedding: UnsafeBufferPointer<Float>, settings: UnsafeBufferPointer<Int>,
                                reward: Double, latencyNanoseconds: Double) throws(KestrelError) {
        guard var o = open else { throw .invalidArgument(name: "trajectory", reason: "no trajectory is open (call begin())") }
        guard embedding.count == embeddingDimension else {
            throw .dimensionMismatch(expected: [embeddingDimension], actual: [embedding.count])
        }
        guard settings.count == settingsCount else { throw .dimensionMismatch(expected: [settingsCount], actual: [settings.count]) }
        for i in 0..<embedding.count where !embedding[i].isFinite { throw .nonFiniteValue(index: i) }
        guard reward.isFinite else { throw .invalidArgument(name: "reward", reason: "must be finite, got \(reward)") }
        guard latencyNanoseconds.isFinite, latencyNanoseconds >= 0 else {
            throw .invalidArgument(name: "latencyNanoseconds", reason: "must be finite and ≥ 0, got \(latencyNanoseconds)")
        }
        let slot = totalSteps % capacity
        if totalSteps >= capacity {
            droppedSteps += 1
            if !credited[slot] { droppedBeforeCredit += 1 }
        }
        let e0 = slot * embeddingDimension
        for i in 0..<embeddingDimension { embeddings[e0 + i] = embedding[i] }
        let s0 = slot * settingsCount
        for i in 0..<settingsCount { settingsStore[s0 + i] = settings[i] }
        rewards[slot] = reward
        latencies[slot] = latencyNanoseconds
        owners[slot] = o.id
        credited[slot] = false
        credits[slot] = 0
        advantages[slot] = 0
        totalSteps += 1
        o.rewardSum += reward
        o.discountedSum += o.weight * reward
        if case .discountedReturn(let g) = creditAssignment { o.weight *= g }
        open = o
    }

    /// Array form of ``record(embedding:settings:reward:latencyNanoseconds:)-(UnsafeBufferPointer<Float>,_,_,_)``.
    public mutating func record(embedding: [Float], settings: [Int], reward: Double, latencyNanoseconds: Double) throws(KestrelError) {
        try withBuffer(embedding) { (e) throws(KestrelError) in
            try withBuffer(settings) { (s) throws(KestrelError) in
                try record(embedding: e, settings: s, reward: reward, latencyNanoseconds: latencyNanoseconds)
            }
        }
    }

    /// Closes the open trajectory: credits its stored steps (``CreditAssignment``), takes their
    /// advantages against the current ``baseline``, then moves the baseline towards the
    /// trajectory's return: `b ← b + rate·(R − b)`.
    ///
    /// - Parameter outcome: the trajectory's final outcome, when the caller has one.
    /// - Throws: `invalidArgument` with no open trajectory, no recorded step, or a non-finite
    ///   outcome (the trajectory stays open).
    /// - Complexity: O(retained steps of the trajectory); no allocation.
    @discardableResult
    public mutating func finish(outcome: Double? = nil) throws(KestrelError) -> TrajectorySummary {
        guard let o = open else { throw .invalidArgument(name: "trajectory", reason: "no trajectory is open") }
        let steps = totalSteps - o.start
        guard steps > 0 else { throw .invalidArgument(name: "trajectory", reason: "trajectory \(o.id) has no steps") }
        if let x = outcome, !x.isFinite { throw .invalidArgument(name: "outcome", reason: "must be finite, got \(x)") }
        let firstKept = max(o.start, totalSteps - capacity)
        let b = baseline
        let trajectoryReturn: Double
        switch creditAssignment {
        case .outcome:
            trajectoryReturn = outcome ?? o.rewardSum
            for seq in firstKept..<totalSteps {
                let slot = seq % capacity
                credits[slot] = trajectoryReturn
                advantages[slot] = trajectoryReturn - b
                credited[slot] = true
            }
        case .discountedReturn(let g):
            // The outcome joins the last step's reward, so it reaches step t discounted by γ^(T-1-t).
            var running = outcome ?? 0
            trajectoryReturn = o.discountedSum + (outcome ?? 0) * (steps == 1 ? 1 : pow(g, Double(steps - 1)))
            var seq = totalSteps - 1
            while seq >= firstKept {
                let slot = seq % capacity
                running = rewards[slot] + (seq == totalSteps - 1 ? running : g * running)
                credits[slot] = running
                advantages[slot] = running - b
                credited[slot] = true
                seq -= 1
            }
        }
        baseline = b + baselineRate * (trajectoryReturn - b)
        finishedTrajectories += 1
        open = nil
        return TrajectorySummary(trajectory: o.id, steps: steps, retainedSteps: totalSteps - firstKept,
                                 trajectoryReturn: trajectoryReturn, baseline: b, advantage: trajectoryReturn - b)
    }

    /// The `i`-th stored step, 0 being the oldest.
    /// - Throws: `invalidArgument` when `i` is outside `0..<count`.
    /// - Complexity: O(embeddingDimension + settingsCount); allocates the returned arrays.
    public func step(_ i: Int) throws(KestrelError) -> TrajectoryStep {
        guard i >= 0, i < count else { throw .invalidArgument(name: "i", reason: "step \(i) is outside 0..<\(count)") }
        let slot = (totalSteps - count + i) % capacity
        let e0 = slot * embeddingDimension
        let s0 = slot * settingsCount
        return TrajectoryStep(
            trajectory: owners[slot], embedding: Array(embeddings[e0..<(e0 + embeddingDimension)]),
            settings: Array(settingsStore[s0..<(s0 + settingsCount)]), reward: rewards[slot],
            latencyNanoseconds: latencies[slot], credit: credited[slot] ? credits[slot] : nil,
            advantage: credited[slot] ? advantages[slot] : nil)
    }
}
