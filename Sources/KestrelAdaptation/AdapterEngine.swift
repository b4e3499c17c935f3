import Atomics
import CKestrelKernels
import Foundation
import KestrelKernels
import KestrelTensor

/// The state and training loop shared by ``MicroLoRA`` and ``LoRA``.
///
/// Memory: one 64-byte-aligned allocation holds, each section padded to 16 floats, two parameter
/// slots (θ lives in the published one), the gradient accumulator, the optimizer moments m and v,
/// the running Fisher F, the consolidated F*, the anchor θ* and the kernel scratch. A step touches
/// only these: it allocates nothing.
///
/// Publication: readers take the slot named by `published`, announcing themselves in that slot's
/// reader count and re-checking the index (so a writer that already moved on is never trusted).
/// The writer trains from the published slot (reading it, as readers do) and has the update kernel
/// write θ' into the other slot only after that slot's count drops to zero, then flips the index —
/// no copy. Every operation on the index and the counts is sequentially consistent, which orders
/// the slot's writes before the flip and each reader's last access before the next overwrite.
final class AdapterEngine: @unchecked Sendable {
    let dIn: Int, dOut: Int, rank: Int
    let alpha: Float
    let form: AdapterForm
    let maxNegatives: Int
    let n: Int
    private let stride: Int
    private let storage: UnsafeMutablePointer<Float>
    private let kernels: UnsafePointer<kestrel_kernel_table>
    private let published = ManagedAtomic<Int>(0)
    private let readerCounts = (ManagedAtomic<Int>(0), ManagedAtomic<Int>(0))
    private let writerLock = PlainLock()
    /// Writer-only state; reachable through ``withWriter(_:)`` only.
    private let writer: WriterState

    final class WriterState {
        var training: AdapterTraining
        var ewc: EWCConfiguration?
        var steps = 0
        var pending = 0
        var pendingLoss = 0.0
        var consolidated = false
        init(training: AdapterTraining, ewc: EWCConfiguration?) {
            self.training = training
            self.ewc = ewc
        }
    }

    enum Section: Int, CaseIterable { case slot0, slot1, grad, m, v, fisher, fisherStar, anchor }

    var shape: kestrel_lora_shape { kestrel_lora_shape(d_in: dIn, d_out: dOut, rank: rank, scale: alpha / Float(rank)) }

    /// - Throws: `invalidArgument` for a zero dimension or rank, a rank above `maxRank`, a
    ///   non-finite alpha, bad training or EWC settings; `capacityExceeded` when the sizes overflow.
    init(dIn: Int, dOut: Int, rank: Int, maxRank: Int, alpha: Float, form: AdapterForm, seed: UInt64,
         training: AdapterTraining, ewc: EWCConfiguration?, maxNegatives: Int,
         isa: ISALevel? = nil) throws(KestrelError) {
        guard dIn >= 1 else { throw .invalidArgument(name: "inputDimension", reason: "must be >= 1, got \(dIn)") }
        guard dOut >= 1 else { throw .invalidArgument(name: "outputDimension", reason: "must be >= 1, got \(dOut)") }
        guard rank >= 1, rank <= maxRank else {
            throw .invalidArgument(name: "rank", reason: "must be in 1...\(maxRank), got \(rank)")
        }
        guard alpha.isFinite else { throw .invalidArgument(name: "alpha", reason: "must be finite, got \(alpha)") }
        guard maxNegatives >= 0 else { throw .invalidArgument(name: "maxNegatives", reason: "must be >= 0, got \(maxNegatives)") }
        try training.validate()
        try ewc?.validate()
        let level = isa ?? ISALevel.active
        guard let table = level.kernels else { throw .unsupported("ISA level \(level.rawValue) on this CPU") }
        let (width, overflow) = dIn.addingReportingOverflow(dOut)
        guard !overflow else { throw .capacityExceeded(limit: Int.max, requested: Int.max) }
        let np = try SizeCheck.product(rank, width, limit: Int.max / 64)
        var sh = kestrel_lora_shape(d_in: dIn, d_out: dOut, rank: rank, scale: alpha / Float(rank))
        let scratch = kestrel_lora_scratch_floats(&sh, maxNegatives)
        guard kestrel_lora_param_count(&sh) == np, scratch > 0 else { throw .capacityExceeded(limit: Int.max / 64, requested: np) }
        let padded = (np + 15) / 16 * 16
        let total = try SizeCheck.product(padded, Section.allCases.count, limit: Int.max / 8) + (scratch + 15) / 16 * 16
        _ = try SizeCheck.bytes(total, MemoryLayout<Float>.size)
        self.dIn = dIn
        self.dOut = dOut
        self.rank = rank
        self.alpha = alpha
        self.form = form
        self.maxNegatives = maxNegatives
        self.n = np
        self.stride = padded
        self.kernels = table
        let raw = UnsafeMutableRawPointer.allocate(byteCount: total * MemoryLayout<Float>.size, alignment: 64)
        storage = raw.initializeMemory(as: Float.self, repeating: 0, count: total)
        writer = WriterState(training: training, ewc: ewc)
        // Identity at creation: B = 0, A ~ N(0, 1/d_in) (Box–Muller over the package's SplitMix64).
        var rng = SplitMix64(seed: seed)
        let a = section(.slot0) // published = 0
        let sd = 1.0 / Double(dIn).squareRoot()
        var i = 0
        while i < rank * dIn {
            let u1 = (Double(rng.next() >> 11) + 1) * 0x1p-53, u2 = Double(rng.next() >> 11) * 0x1p-53
            let rad = (-2 * Foundation.log(u1)).squareRoot() * sd
            a[i] = Float(rad * Foundation.cos(2 * Double.pi * u2))
            if i + 1 < rank * dIn { a[i + 1] = Float(rad * Foundation.sin(2 * Double.pi * u2)) }
            i += 2
        }
    }

    deinit { storage.deallocate() }

    func section(_ s: Section) -> UnsafeMutablePointer<Float> { storage + s.rawValue * stride }
    @inline(__always) private func slot(_ i: Int) -> UnsafeMutablePointer<Float> { section(i == 0 ? .slot0 : .slot1) }
    /// θ: the published slot. Writer only (readers go through ``withPublished(_:)``).
    private var theta: UnsafeMutablePointer<Float> { slot(published.load(ordering: .sequentiallyConsistent)) }
    private var scratch: UnsafeMutablePointer<Float> { storage + Section.allCases.count * stride }
    var isaName: String { String(cString: kestrel_isa_name(kernels.pointee.isa)) }

    // MARK: readers

    /// Runs `body` on the published slot, which no writer touches until `body` returns.
    @inline(__always)
    func withPublished<R>(_ body: (UnsafePointer<Float>) throws(KestrelError) -> R) throws(KestrelError) -> R {
        var i: Int
        while true {
            i = published.load(ordering: .sequentiallyConsistent)
            count(i).wrappingIncrement(ordering: .sequentiallyConsistent)
            if published.load(ordering: .sequentiallyConsistent) == i { break }
            count(i).wrappingDecrement(ordering: .sequentiallyConsistent)
        }
        defer { count(i).wrappingDecrement(ordering: .sequentiallyConsistent) }
        return try body(UnsafePointer(slot(i)))
    }

    @inline(__always) private func count(_ i: Int) -> ManagedAtomic<Int> { i == 0 ? readerCounts.0 : readerCounts.1 }

    func apply(_ x: UnsafeBufferPointer<Float>, base: UnsafeBufferPointer<Float>?, into y: UnsafeMutableBufferPointer<Float>) throws(KestrelError) {
        guard x.count == dIn else { throw .dimensionMismatch(expected: [dIn], actual: [x.count]) }
        guard y.count == dOut else { throw .dimensionMismatch(expected: [dOut], actual: [y.count]) }
        if let base {
            guard form == .linear else { throw .invalidArgument(name: "base", reason: "the residual form adds the input itself") }
            guard base.count == dOut else { throw .dimensionMismatch(expected: [dOut], actual: [base.count]) }
        }
        guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
        let b: UnsafePointer<Float>? = form == .residual ? xp : base?.baseAddress
        var sh = shape
        let st = try withPublished { (p) throws(KestrelError) in kernels.pointee.lora_apply(&sh, p, xp, b, yp) }
        guard st == KESTREL_OK else { throw .backendFailure(routine: "kestrel_lora_apply", code: Int(st.rawValue)) }
    }

    var parameters: [Float] {
        (try? withPublished { (p) throws(KestrelError) in Array(UnsafeBufferPointer(start: p, count: n)) }) ?? []
    }

    // MARK: writer

    func withWriter<R>(_ body: (WriterState) throws(KestrelError) -> R) throws(KestrelError) -> R {
        writerLock.lock()
        defer { writerLock.unlock() }
        return try body(writer)
    }

    /// The slot readers do not use, once the last reader that entered it has left: the writer may
    /// fill it, then ``publish(_:)`` it. Writer only.
    private func unpublishedSlot() -> Int {
        let target = 1 - published.load(ordering: .sequentiallyConsistent)
        while count(target).load(ordering: .sequentiallyConsistent) != 0 { sched_yield() }
        return target
    }

    /// Makes the slot the writer just filled the published one. Writer only.
    private func publish(_ target: Int) { published.store(target, ordering: .sequentiallyConsistent) }

    /// Validates the sample and runs the accumulate kernel with weight 1. Writer only.
    private func accumulateLocked(_ f: AdapterFeedback, base: [Float]?) throws(KestrelError) -> Double {
        let x = f.input
        guard x.count == dIn else { throw .dimensionMismatch(expected: [dIn], actual: [x.count]) }
        if let base {
            guard form == .linear else { throw .invalidArgument(name: "base", reason: "the residual form adds the input itself") }
            guard base.count == dOut else { throw .dimensionMismatch(expected: [dOut], actual: [base.count]) }
        }
        var a = kestrel_lora_accumulate_args()
        a.shape = shape
        a.weight = 1
        a.label = 1
        a.temperature = 1
        let target: [Float], negatives: [Float]
        switch f {
        case .squared(_, let t):
            a.loss = Int32(KESTREL_LORA_LOSS_SQUARED.rawValue)
            target = t
            negatives = []
        case .binary(_, let r, let label):
            guard label == 1 || label == -1 else { throw .invalidArgument(name: "label", reason: "must be +1 or -1, got \(label)") }
            a.loss = Int32(KESTREL_LORA_LOSS_BINARY.rawValue)
            a.label = label
            target = r
            negatives = []
        case .contrastive(_, let p, let negs, let temp):
            guard temp > 0, temp.isFinite else { throw .invalidArgument(name: "temperature", reason: "must be finite and > 0, got \(temp)") }
            guard negs.count % dOut == 0 else { throw .dimensionMismatch(expected: [negs.count / dOut, dOut], actual: [negs.count]) }
            guard negs.count / dOut <= maxNegatives else { throw .capacityExceeded(limit: maxNegatives, requested: negs.count / dOut) }
            a.loss = Int32(KESTREL_LORA_LOSS_INFONCE.rawValue)
            a.temperature = temp
            a.n_neg = negs.count / dOut
            a.neg_stride = dOut
            target = p
            negatives = negs
        case .gradient(_, let g):
            a.loss = Int32(KESTREL_LORA_LOSS_GRADIENT.rawValue)
            target = g
            negatives = []
        }
        guard target.count == dOut else { throw .dimensionMismatch(expected: [dOut], actual: [target.count]) }
        let st: kestrel_status = x.withUnsafeBufferPointer { xp in
            target.withUnsafeBufferPointer { tp in
                negatives.withUnsafeBufferPointer { np in
                    withOptionalBuffer(base) { bp in
                        a.params = UnsafePointer(theta)
                        a.grad = section(.grad)
                        a.x = xp.baseAddress
                        a.base = form == .residual ? xp.baseAddress : bp
                        a.target = tp.baseAddress
                        a.negatives = np.baseAddress
                        a.scratch = scratch
                        return kernels.pointee.lora_accumulate(&a)
                    }
                }
            }
        }
        if st == KESTREL_OK { return a.loss_out }
        // Rejected: name the first non-finite value (the kernel wrote nothing).
        for v in [x, base ?? [], target, negatives] {
            if let i = v.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: i) }
        }
        if st == KESTREL_ERR_INVALID_ARGUMENT {
            throw .invalidArgument(name: "feedback", reason: "the loss or its gradient is not finite (overflow)")
        }
        throw .backendFailure(routine: "kestrel_lora_accumulate", code: Int(st.rawValue))
    }

    /// Runs the update kernel over the pending gradient, θ from the published slot to the other
    /// one, then publishes it. Writer only.
    private func updateLocked(_ w: WriterState, batch: Int) throws(KestrelError) -> (Double, Bool) {
        var u = kestrel_lora_update_args()
        u.n = n
        u.params = theta
        u.grad = section(.grad)
        u.m = section(.m)
        u.v = section(.v)
        u.lr = w.training.learningRate
        u.grad_scale = 1 / Float(batch)
        u.clip_norm = w.training.clipNorm ?? 0
        u.fisher_decay = -1
        let t = Double(w.steps + 1)
        switch w.training.optimizer {
        case .sgd: u.optimizer = Int32(KESTREL_LORA_SGD.rawValue)
        case .momentum(let mu):
            u.optimizer = Int32(KESTREL_LORA_MOMENTUM.rawValue)
            u.beta1 = mu
        case .adam(let b1, let b2, let eps):
            u.optimizer = Int32(KESTREL_LORA_ADAM.rawValue)
            u.beta1 = b1
            u.beta2 = b2
            u.eps = eps
            u.c1 = Float(1 / (1 - Foundation.pow(Double(b1), t)))
            u.c2 = Float(1 / (1 - Foundation.pow(Double(b2), t)))
        }
        if let e = w.ewc {
            u.fisher = section(.fisher)
            u.fisher_decay = e.fisherDecay
            if w.consolidated {
                u.fisher_star = UnsafePointer(section(.fisherStar))
                u.anchor = UnsafePointer(section(.anchor))
                u.ewc_lambda = e.lambda
            }
        }
        let target = unpublishedSlot()
        u.params_out = slot(target)
        let st = kernels.pointee.lora_update(&u) // a rejected update writes nothing
        guard st == KESTREL_OK else {
            // Only an overflowing norm gets here (the settings were validated): drop the batch.
            section(.grad).update(repeating: 0, count: n)
            w.pending = 0
            w.pendingLoss = 0
            throw .invalidArgument(name: "gradient", reason: "the gradient norm is not finite; the mini-batch was discarded")
        }
        w.steps += 1
        publish(target)
        return (u.grad_norm_out, u.clipped_out != 0)
    }

    func step(_ f: AdapterFeedback, base: [Float]?) throws(KestrelError) -> AdapterStepResult {
        try withWriter { (w) throws(KestrelError) in
            let loss = try accumulateLocked(f, base: base)
            let batch = w.pending + 1
            w.pending = 0
            w.pendingLoss = 0
            let (norm, clipped) = try updateLocked(w, batch: batch)
            return AdapterStepResult(loss: loss, gradNorm: norm, clipped: clipped)
        }
    }

    func accumulate(_ f: AdapterFeedback, base: [Float]?) throws(KestrelError) -> Double {
        try withWriter { (w) throws(KestrelError) in
            let loss = try accumulateLocked(f, base: base)
            w.pending += 1
            w.pendingLoss += loss
            return loss
        }
    }

    func commit() throws(KestrelError) -> AdapterStepResult? {
        try withWriter { (w) throws(KestrelError) in
            guard w.pending > 0 else { return nil }
            let batch = w.pending, loss = w.pendingLoss / Double(batch)
            w.pending = 0
            w.pendingLoss = 0
            let (norm, clipped) = try updateLocked(w, batch: batch)
            return AdapterStepResult(loss: loss, gradNorm: norm, clipped: clipped)
        }
    }

    func consolidate() {
        try? withWriter { (w) throws(KestrelError) in
            guard w.ewc != nil else { return }
            section(.anchor).update(from: theta, count: n)
            section(.fisherStar).update(from: section(.fisher), count: n)
            w.consolidated = true
        }
    }

    var stepCount: Int { (try? withWriter { (w) throws(KestrelError) in w.steps }) ?? 0 }

    /// Replaces θ, moments, Fisher, anchor and settings, then publishes (used by `load`). Writer only.
    func install(_ state: AdapterFileState) {
        try? withWriter { (w) throws(KestrelError) in
            let target = unpublishedSlot()
            state.arrays.withUnsafeBufferPointer { p in
                slot(target).update(from: p.baseAddress!, count: n)
                for (k, s) in [Section.m, .v, .fisher, .fisherStar, .anchor].enumerated() {
                    section(s).update(from: p.baseAddress! + (k + 1) * n, count: n)
                }
            }
            section(.grad).update(repeating: 0, count: n)
            w.training = state.training
            w.ewc = state.ewc
            w.consolidated = state.consolidated
            w.steps = state.steps
            w.pending = 0
            w.pendingLoss = 0
            publish(target)
        }
    }

    /// The whole state, as `save` writes it. Writer lock held while copying.
    func snapshot() -> AdapterFileState {
        (try? withWriter { (w) throws(KestrelError) in
            var arrays = [Float](repeating: 0, count: 6 * n)
            arrays.withUnsafeMutableBufferPointer { p in
                p.baseAddress!.update(from: theta, count: n)
                for (k, s) in [Section.m, .v, .fisher, .fisherStar, .anchor].enumerated() {
                    (p.baseAddress! + (k + 1) * n).update(from: section(s), count: n)
                }
            }
            return AdapterFileState(dIn: dIn, dOut: dOut, rank: rank, alpha: alpha, form: form, training: w.training,
                                    ewc: w.ewc, consolidated: w.consolidated, steps: w.steps, arrays: arrays)
        })!
    }
}

/// `body` with the base address of `a`, or nil (no closure context is allocated).
@inline(__always)
func withOptionalBuffer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}
