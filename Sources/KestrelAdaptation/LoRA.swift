import Foundation
import KestrelKernels

/// A LoRA adapter of any rank r ≤ min(d_in, d_out) (Hu et al. 2021): the same kernels, state and
/// guarantees as ``MicroLoRA`` without its rank limit of 8.
///
/// Thread-safety: one writer and many readers (see ``Adapter``). Memory: about
/// 9 · r · (d_in + d_out) floats in one aligned block; training allocates nothing.
public final class LoRA: EngineBackedAdapter {
    let engine: AdapterEngine

    /// A residual adapter y = x + (α/r)·B(Ax) of d-dimensional vectors.
    /// - Parameters: as ``MicroLoRA/init(dimension:rank:alpha:seed:training:ewc:maxNegatives:)``,
    ///   with rank in 1...d.
    /// - Throws: `invalidArgument` for d = 0, rank 0 or above d, non-finite α or bad settings;
    ///   `capacityExceeded` when the sizes overflow.
    public init(dimension: Int, rank: Int, alpha: Float? = nil, seed: UInt64 = 0,
                training: AdapterTraining = AdapterTraining(), ewc: EWCConfiguration? = nil,
                maxNegatives: Int = 64) throws(KestrelError) {
        engine = try AdapterEngine(dIn: dimension, dOut: dimension, rank: rank, maxRank: max(dimension, 1),
                                   alpha: alpha ?? Float(rank), form: .residual, seed: seed, training: training,
                                   ewc: ewc, maxNegatives: maxNegatives)
    }

    /// A linear-layer adapter y = base + (α/r)·B(Ax) with rank in 1...min(d_in, d_out).
    /// - Throws: as ``init(dimension:rank:alpha:seed:training:ewc:maxNegatives:)``.
    public init(inputDimension: Int, outputDimension: Int, rank: Int, alpha: Float? = nil, seed: UInt64 = 0,
                training: AdapterTraining = AdapterTraining(), ewc: EWCConfiguration? = nil,
                maxNegatives: Int = 64) throws(KestrelError) {
        engine = try AdapterEngine(dIn: inputDimension, dOut: outputDimension, rank: rank,
                                   maxRank: max(1, min(inputDimension, outputDimension)), alpha: alpha ?? Float(rank),
                                   form: .linear, seed: seed, training: training, ewc: ewc,
                                   maxNegatives: maxNegatives)
    }
}
