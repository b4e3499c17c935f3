import Foundation
import KestrelKernels

/// The parts of ``Adapter`` that ``MicroLoRA`` and ``LoRA`` share, forwarded to their engine.
protocol EngineBackedAdapter: Adapter {
    var engine: AdapterEngine { get }
}

extension EngineBackedAdapter {
    /// Input dimension d_in.
    public var inputDimension: Int { engine.dIn }
    /// Output dimension d_out.
    public var outputDimension: Int { engine.dOut }
    /// The rank r.
    public var rank: Int { engine.rank }
    /// α of the scale s = α / r.
    public var alpha: Float { engine.alpha }
    /// Residual or linear-layer form.
    public var form: AdapterForm { engine.form }
    /// Most negatives one contrastive sample may carry (the scratch is sized for them at creation).
    public var maxNegatives: Int { engine.maxNegatives }
    /// Optimizer steps taken so far. Takes the writer lock briefly.
    public var stepCount: Int { engine.stepCount }
    /// Number of parameters, r · (d_in + d_out).
    public var parameterCount: Int { engine.n }
    /// The kernel tier this adapter runs ("avx512", "neon", ...), fixed at creation.
    public var isa: String { engine.isaName }

    public func apply(_ x: UnsafeBufferPointer<Float>, base: UnsafeBufferPointer<Float>?,
                      into y: UnsafeMutableBufferPointer<Float>) throws(KestrelError) {
        try engine.apply(x, base: base, into: y)
    }
    public func step(_ feedback: AdapterFeedback, base: [Float]?) throws(KestrelError) -> AdapterStepResult {
        try engine.step(feedback, base: base)
    }
    public func accumulate(_ feedback: AdapterFeedback, base: [Float]?) throws(KestrelError) -> Double {
        try engine.accumulate(feedback, base: base)
    }
    public func commit() throws(KestrelError) -> AdapterStepResult? { try engine.commit() }
    public func consolidate() { engine.consolidate() }
    public var parameters: [Float] { engine.parameters }
    public func save(to url: URL) throws(KestrelError) { try AdapterFile.write(engine.snapshot(), to: url) }
    public func load(from url: URL) throws(KestrelError) {
        let state = try AdapterFile.read(from: url)
        guard state.dIn == engine.dIn, state.dOut == engine.dOut, state.rank == engine.rank, state.form == engine.form else {
            throw .dimensionMismatch(expected: [engine.dIn, engine.dOut, engine.rank, engine.form.rawValue],
                                     actual: [state.dIn, state.dOut, state.rank, state.form.rawValue])
        }
        guard state.alpha == engine.alpha else {
            throw .invalidArgument(name: "alpha", reason: "the file's alpha \(state.alpha) differs from this adapter's \(engine.alpha)")
        }
        engine.install(state)
    }
}

/// A Micro-LoRA adapter: rank 1 or 2 (up to 8), trained one sample at a time in microseconds.
///
/// Residual form (``init(dimension:rank:alpha:seed:training:ewc:maxNegatives:)``): y = x + (α/r)·B(Ax)
/// for d-dimensional query or embedding vectors. Linear form
/// (``init(inputDimension:outputDimension:rank:alpha:seed:training:ewc:maxNegatives:)``): the
/// low-rank update y = base + (α/r)·B(Ax) of a frozen d_in → d_out layer. B·A is never formed.
///
/// A new adapter is the identity: B = 0 and A ~ N(0, 1/d_in) drawn from `seed`, so equal seeds and
/// equal feedback give bit-identical parameters (on one kernel tier).
///
/// Thread-safety: one writer and many readers (see ``Adapter``). Memory: one aligned block of
/// about 9 · r · (d_in + d_out) floats; training allocates nothing.
public final class MicroLoRA: EngineBackedAdapter {
    /// The largest rank a Micro-LoRA accepts (use ``LoRA`` above it).
    public static let maxRank = 8
    let engine: AdapterEngine

    /// A residual adapter of d-dimensional vectors.
    /// - Parameters:
    ///   - dimension: d = d_in = d_out, ≥ 1.
    ///   - rank: 1...8 (1 or 2 is the intended use).
    ///   - alpha: α; the delta is scaled by α / r (default: r, so the scale is 1).
    ///   - seed: the seed of A's initialisation.
    ///   - training: learning rate, optimizer, clipping.
    ///   - ewc: EWC++ settings, or nil for none.
    ///   - maxNegatives: most negatives a contrastive sample may carry.
    /// - Throws: `invalidArgument` for d = 0, a rank outside 1...8, non-finite α or bad settings;
    ///   `capacityExceeded` when the sizes overflow.
    public convenience init(dimension: Int, rank: Int = 1, alpha: Float? = nil, seed: UInt64 = 0,
                            training: AdapterTraining = AdapterTraining(), ewc: EWCConfiguration? = nil,
                            maxNegatives: Int = 64) throws(KestrelError) {
        try self.init(engine: AdapterEngine(dIn: dimension, dOut: dimension, rank: rank, maxRank: Self.maxRank,
                                            alpha: alpha ?? Float(rank), form: .residual, seed: seed,
                                            training: training, ewc: ewc, maxNegatives: maxNegatives))
    }

    /// A linear-layer adapter: y = base + (α/r)·B(Ax), x of d_in floats, y of d_out.
    /// - Throws: as ``init(dimension:rank:alpha:seed:training:ewc:maxNegatives:)``.
    public convenience init(inputDimension: Int, outputDimension: Int, rank: Int = 1, alpha: Float? = nil,
                            seed: UInt64 = 0, training: AdapterTraining = AdapterTraining(),
                            ewc: EWCConfiguration? = nil, maxNegatives: Int = 64) throws(KestrelError) {
        try self.init(engine: AdapterEngine(dIn: inputDimension, dOut: outputDimension, rank: rank,
                                            maxRank: Self.maxRank, alpha: alpha ?? Float(rank), form: .linear,
                                            seed: seed, training: training, ewc: ewc, maxNegatives: maxNegatives))
    }

    init(engine: AdapterEngine) { self.engine = engine }
}
