import Foundation
// Adapter users catch KestrelError and seed with SplitMix64 without importing the layers below.
@_exported import KestrelKernels
@_exported import KestrelTensor

/// A trainable map of embeddings that learns from labelled feedback: the common face of
/// ``MicroLoRA`` and ``LoRA``.
///
/// One writer and many readers: ``apply(_:base:into:)`` may run on any number of threads while one
/// thread trains (``step(_:base:)``, ``accumulate(_:base:)``, ``commit()``, ``consolidate()``,
/// ``load(from:)``); writers are serialized by the adapter itself. A reader always sees a whole
/// parameter set — the one before a step or the one after it, never a mixture.
public protocol Adapter: AnyObject, Sendable {
    /// Input dimension d_in.
    var inputDimension: Int { get }
    /// Output dimension d_out (d_in in the residual form).
    var outputDimension: Int { get }
    /// The rank r of B·A.
    var rank: Int { get }
    /// Residual (y = x + s·B(Ax)) or linear-layer (y = base + s·B(Ax)) form.
    var form: AdapterForm { get }
    /// Optimizer steps taken so far (commits included; restored by ``load(from:)``).
    var stepCount: Int { get }
    /// α of the scale s = α / r.
    var alpha: Float { get }
    /// Number of parameters, r · (d_in + d_out).
    var parameterCount: Int { get }
    /// Most negatives one contrastive sample may carry (the scratch is sized for them at creation).
    var maxNegatives: Int { get }
    /// The kernel tier this adapter runs ("scalar", "avx2", "avx512", "neon", ...), fixed at creation.
    var isa: String { get }

    /// y = x + s·B(Ax) (residual form) or y = base + s·B(Ax) (linear form; `base` nil means 0),
    /// with the latest published parameters. Lock-free for readers; allocates nothing.
    /// - Throws: `dimensionMismatch` when `x`, `base` or `y` has the wrong length;
    ///   `invalidArgument` for a `base` in the residual form.
    /// - Complexity: O(r · (d_in + d_out)).
    func apply(_ x: UnsafeBufferPointer<Float>, base: UnsafeBufferPointer<Float>?,
               into y: UnsafeMutableBufferPointer<Float>) throws(KestrelError)

    /// One training step on one labelled sample: forward, loss, backward, optional EWC++ term,
    /// clipping and the optimizer update, then publication to readers. A mini-batch pending from
    /// ``accumulate(_:base:)`` is committed together with this sample.
    /// - Parameter base: the frozen layer's output (linear form only; nil means 0).
    /// - Returns: this sample's loss, the gradient norm and whether it was clipped.
    /// - Throws: `dimensionMismatch`, `capacityExceeded` (more negatives than the adapter's
    ///   `maxNegatives`), `invalidArgument` (label not ±1, temperature ≤ 0), `nonFiniteValue`
    ///   (NaN/Inf in the input, base or feedback vectors; the index is within that vector):
    ///   the step is rejected and the adapter is unchanged.
    /// - Complexity: O(r · (d_in + d_out) + negatives · d_out); allocates nothing.
    func step(_ feedback: AdapterFeedback, base: [Float]?) throws(KestrelError) -> AdapterStepResult

    /// Adds one sample's gradient to the pending mini-batch without changing the parameters.
    /// - Returns: the sample's loss.
    /// - Throws: as ``step(_:base:)``; a rejected sample is not added.
    func accumulate(_ feedback: AdapterFeedback, base: [Float]?) throws(KestrelError) -> Double

    /// Applies the pending mini-batch (its mean gradient) and publishes; nil when nothing is pending.
    /// - Throws: `invalidArgument` when the gradient norm overflows (the batch is discarded and the
    ///   parameters are unchanged).
    func commit() throws(KestrelError) -> AdapterStepResult?

    /// EWC++ task boundary: the current parameters become the anchor θ* and the running Fisher
    /// becomes the penalty's F*. Without an ``EWCConfiguration`` it does nothing.
    func consolidate()

    /// A copy of the published parameters: A (r × d_in, row-major) then Bᵀ (r × d_out).
    var parameters: [Float] { get }

    /// Writes the whole state (parameters, optimizer moments, Fisher, anchor, settings) to a
    /// versioned, CRC32C-checksummed file, atomically (temporary file, fsync, rename).
    /// - Throws: `io` for file-system failures.
    func save(to url: URL) throws(KestrelError)

    /// Replaces the whole state with a file written by ``save(to:)`` and publishes it.
    /// - Throws: `io`, `corruptFile` (bad magic, checksum, length, non-finite values),
    ///   `unsupportedVersion`, `dimensionMismatch` (another shape or form): the state is unchanged.
    func load(from url: URL) throws(KestrelError)
}

extension Adapter {
    /// ``Adapter/step(_:base:)`` without a base (residual form, or linear form with base 0).
    public func step(_ feedback: AdapterFeedback) throws(KestrelError) -> AdapterStepResult {
        try step(feedback, base: nil)
    }

    /// ``Adapter/accumulate(_:base:)`` without a base.
    public func accumulate(_ feedback: AdapterFeedback) throws(KestrelError) -> Double {
        try accumulate(feedback, base: nil)
    }

    /// The adapted vector of `x` as a new array (see ``Adapter/apply(_:base:into:)``).
    /// - Throws: `dimensionMismatch` for a wrong length.
    public func apply(_ x: [Float], base: [Float]? = nil) throws(KestrelError) -> [Float] {
        var y = [Float](repeating: 0, count: outputDimension)
        try x.withUnsafeBufferPointer { (xp) throws(KestrelError) in
            try y.withUnsafeMutableBufferPointer { (yp) throws(KestrelError) in
                if let base {
                    try base.withUnsafeBufferPointer { (bp) throws(KestrelError) in try apply(xp, base: bp, into: yp) }
                } else {
                    try apply(xp, base: nil, into: yp)
                }
            }
        }
        return y
    }
}

/// Where an adapter's delta goes.
public enum AdapterForm: Int, Sendable, Equatable {
    /// y = x + s·B(Ax): a query/embedding adapter, d_out = d_in.
    case residual = 0
    /// y = base + s·B(Ax): a low-rank update of a frozen d_in → d_out linear layer whose output is `base`.
    case linear = 1
}

/// What one training step or commit did.
public struct AdapterStepResult: Sendable, Equatable {
    /// The loss of the sample (a step) or the mean loss of the committed mini-batch.
    public var loss: Double
    /// L2 norm of the total gradient (loss + EWC++ term) before clipping.
    public var gradNorm: Double
    /// Whether the gradient was scaled down to the clipping norm.
    public var clipped: Bool

    /// A result with these values.
    public init(loss: Double, gradNorm: Double, clipped: Bool) {
        self.loss = loss
        self.gradNorm = gradNorm
        self.clipped = clipped
    }
}
