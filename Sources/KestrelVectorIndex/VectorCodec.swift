import CKestrelKernels
import KestrelQuantization
import KestrelTensor

/// The encoding of one index's vectors: codec kind, metric, and the trained parameters of the
/// lossy codecs. Encoded rows are `stride` bytes apart (the code rounded up to 16 bytes so SIMD
/// loads of a row never straddle more cache lines than necessary).
struct VectorCodec: Sendable, Equatable {
    let kind: VectorStorageKind
    let metric: DistanceMetric
    /// Components (bits for hamming).
    let dimension: Int
    /// Per-dimension offsets: int8 + L2 (range midpoints) and binary on real data (means); else empty.
    var offsets: [Float]
    /// int8 quantization step (1 for the other codecs).
    var scale: Float
    /// Whether the trained parameters are set (always true for f32/f16/bf16 and hamming).
    var isTrained: Bool

    init(kind: VectorStorageKind, metric: DistanceMetric, dimension: Int) {
        self.kind = kind
        self.metric = metric
        self.dimension = dimension
        offsets = []
        scale = 1
        isTrained = !(kind == .int8 || (kind == .binary && metric != .hamming))
    }

    /// Bytes of one encoded vector.
    var codeBytes: Int {
        switch kind {
        case .f32: return dimension * 4
        case .f16, .bf16: return dimension * 2
        case .int8: return dimension
        case .binary: return (dimension + 7) / 8
        }
    }

    /// Bytes between consecutive rows.
    var stride: Int { (codeBytes + 15) & ~15 }

    /// Checks that the metric and codec can work together.
    static func validate(kind: VectorStorageKind, metric: DistanceMetric, dimension: Int) throws(KestrelError) {
        guard dimension > 0 else { throw .invalidArgument(name: "dimension", reason: "must be positive, got \(dimension)") }
        guard dimension <= 1 << 20 else { throw .invalidArgument(name: "dimension", reason: "at most 1048576, got \(dimension)") }
        if metric == .hamming && kind != .binary {
            throw .invalidArgument(name: "storage", reason: "the hamming metric stores binary codes: use .binary")
        }
        if kind == .int8 && dimension > Int(KESTREL_I8_MANY_MAX_DIM) {
            throw .invalidArgument(name: "dimension", reason: "int8 storage supports at most \(KESTREL_I8_MANY_MAX_DIM) dimensions")
        }
    }

    // MARK: Input preparation

    /// Validates one input vector and writes the vector the index works with into `out`
    /// (a copy, normalised for cosine). `rowIndex` locates errors inside a batch.
    /// - Throws: `nonFiniteValue` (flat index `rowIndex * dimension + i`), `invalidArgument`
    ///   for a zero vector under cosine or a non-0/1 component under hamming.
    func prepare(_ src: UnsafePointer<Float>, rowIndex: Int, into out: UnsafeMutablePointer<Float>) throws(KestrelError) {
        let d = dimension
        var sumsq: Double = 0
        for i in 0..<d {
            let x = src[i]
            guard x.isFinite else { throw .nonFiniteValue(index: rowIndex * d + i) }
            if metric == .hamming && x != 0 && x != 1 {
                throw .invalidArgument(name: "vector", reason: "hamming components must be 0 or 1, row \(rowIndex) component \(i) is \(x)")
            }
            sumsq += Double(x) * Double(x)
            out[i] = x
        }
        if metric == .cosine {
            guard sumsq > 0 else {
                throw .invalidArgument(name: "vector", reason: "row \(rowIndex) has zero norm: cosine distance is undefined")
            }
            let inv = Float(1 / sumsq.squareRoot())
            guard inv.isFinite else { throw .invalidArgument(name: "vector", reason: "row \(rowIndex) is too small to normalise") }
            for i in 0..<d { out[i] *= inv }
        }
    }

    // MARK: Training

    /// Sets the lossy codecs' parameters from `count` prepared rows (`dimension` floats each).
    mutating func train(_ rows: UnsafePointer<Float>, count: Int) {
        guard !isTrained, count > 0 else { return }
        let d = dimension
        switch kind {
        case .int8 where metric == .l2Squared:
            var lo = [Float](repeating: .infinity, count: d)
            var hi = [Float](repeating: -.infinity, count: d)
            for r in 0..<count {
                let row = rows + r * d
                for i in 0..<d {
                    lo[i] = min(lo[i], row[i])
                    hi[i] = max(hi[i], row[i])
                }
            }
            var half: Float = 0
            offsets = (0..<d).map { i in
                half = max(half, (hi[i] - lo[i]) / 2)
                return lo[i] / 2 + hi[i] / 2
            }
            scale = half > 0 ? half / 127 : 1
        case .int8:
            var m: Float = 0
            for j in 0..<(count * d) { m = max(m, abs(rows[j])) }
            offsets = []
            scale = m > 0 ? m / 127 : 1
        case .binary:
            var mean = [Double](repeating: 0, count: d)
            for r in 0..<count {
                for i in 0..<d { mean[i] += Double(rows[r * d + i]) }
            }
            offsets = mean.map { Float($0 / Double(count)) }
        default:
            break
        }
        if !scale.isFinite || scale <= 0 { scale = 1 }
        isTrained = true
    }

    // MARK: Encoding

    /// Encodes one prepared vector into `codeBytes` bytes at `dst` (the row's padding is left alone).
    func encode(_ src: UnsafePointer<Float>, into dst: UnsafeMutableRawPointer) {
        let d = dimension
        switch kind {
        case .f32:
            dst.copyMemory(from: src, byteCount: d * 4)
        case .f16:
            kestrel_f32_to_f16(src, dst.assumingMemoryBound(to: UInt16.self), d)
        case .bf16:
            kestrel_f32_to_bf16(src, dst.assumingMemoryBound(to: UInt16.self), d)
        case .int8:
            // The package's one scalar quantizer: clamp(roundHalfEven((x − offset) · (1/step)), −127, 127).
            let out = dst.assumingMemoryBound(to: Int8.self)
            offsets.withUnsafeBufferPointer { off in
                AffineCodes.encode(src, count: d, offsets: off.isEmpty ? nil : off.baseAddress, inverseStep: 1 / scale,
                                   lower: -127, upper: 127, into: out)
            }
        case .binary:
            let out = dst.assumingMemoryBound(to: UInt8.self)
            let nb = codeBytes
            for j in 0..<nb { out[j] = 0 }
            offsets.withUnsafeBufferPointer { off in
                for i in 0..<d {
                    // An untrained codec (e.g. an empty index loaded from a file) has no offsets yet:
                    // threshold at 0 rather than index past the empty array (a fuzzer input reached it).
                    let bit = metric == .hamming ? src[i] != 0 : src[i] - (i < off.count ? off[i] : 0) > 0
                    if bit { out[i >> 3] |= UInt8(1) << UInt8(i & 7) }
                }
            }
        }
    }

    /// Decodes row `src` back to floats (exact for f32; the codec's reconstruction otherwise;
    /// binary gives offset ± 1 per bit, or the 0/1 bits for hamming). Used by compaction tests and
    /// reporting, never by searches.
    func decode(_ src: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = dimension
        switch kind {
        case .f32: out.update(from: src.assumingMemoryBound(to: Float.self), count: d)
        case .f16: kestrel_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), out, d)
        case .bf16: kestrel_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), out, d)
        case .int8:
            offsets.withUnsafeBufferPointer { off in
                AffineCodes.decode(src.assumingMemoryBound(to: Int8.self), count: d, step: scale,
                                   offsets: off.isEmpty ? nil : off.baseAddress, into: out)
            }
        case .binary:
            let c = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<d {
                let bit: Float = (c[i >> 3] >> UInt8(i & 7)) & 1 == 1 ? 1 : 0
                out[i] = metric == .hamming ? bit : offsets[i] + (bit * 2 - 1)
            }
        }
    }

    // MARK: Validation of stored rows

    /// Checks `count` encoded rows of a loaded file as the format requires: every f32, f16 or
    /// bf16 component finite, and every padding byte of a row (past ``codeBytes``) zero. O(count · stride).
    /// - Throws: `corruptFile` naming `section` and the first offending row.
    func validateRows(_ rows: UnsafeRawPointer, count: Int, section: String) throws(KestrelError) {
        let width = kind == .f32 ? 4 : (kind == .f16 || kind == .bf16 ? 2 : 0)
        for r in 0..<count {
            let row = rows + r * stride
            if width > 0, let i = Self.firstNonFinite(row, count: dimension, width: width, bf16: kind == .bf16) {
                throw .corruptFile(path: nil, section: section, reason: "row \(r) component \(i) is not finite")
            }
            for j in codeBytes..<stride where row.load(fromByteOffset: j, as: UInt8.self) != 0 {
                throw .corruptFile(path: nil, section: section, reason: "padding byte \(j) of row \(r) is not zero")
            }
        }
    }

    /// Checks `count` unpadded f32 rows of `dimension` components (the kept full-precision vectors).
    /// - Throws: `corruptFile` naming `section` and the first non-finite component.
    func validateFullPrecisionRows(_ rows: UnsafeRawPointer, count: Int, section: String) throws(KestrelError) {
        for r in 0..<count {
            if let i = Self.firstNonFinite(rows + r * dimension * 4, count: dimension, width: 4, bf16: false) {
                throw .corruptFile(path: nil, section: section, reason: "row \(r) component \(i) is not finite")
            }
        }
    }

    /// Index of the first NaN or infinity among `count` little-endian floats of `width` bytes
    /// (4: f32, 2: f16 or, with `bf16`, bfloat16): an all-ones exponent field.
    private static func firstNonFinite(_ p: UnsafeRawPointer, count: Int, width: Int, bf16: Bool) -> Int? {
        if width == 4 {
            for i in 0..<count where UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) & 0x7F80_0000 == 0x7F80_0000 {
                return i
            }
            return nil
        }
        let mask: UInt16 = bf16 ? 0x7F80 : 0x7C00
        for i in 0..<count where UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) & mask == mask {
            return i
        }
        return nil
    }

    /// The pairwise distance function of this codec and metric on the active kernel tier.
    func scorer() -> Scorer {
        let t = kestrel_kernels().pointee
        let isL2 = metric == .l2Squared
        let (a, b): (Float, Float)
        switch metric {
        case .l2Squared, .hamming: (a, b) = (1, 0)
        case .innerProduct: (a, b) = (-1, 0)
        case .cosine: (a, b) = (-1, 1)
        }
        let kindCode: Scorer.Kind
        var n = dimension
        var sa = a
        switch kind {
        case .f32: kindCode = .f32
        case .f16, .bf16: kindCode = .u16
        case .int8:
            kindCode = .i8
            sa = a * scale * scale
        case .binary:
            kindCode = .b1
            n = codeBytes
        }
        let u16 = kind == .bf16 ? (isL2 ? t.l2sq_bf16! : t.dot_bf16!) : (isL2 ? t.l2sq_f16! : t.dot_f16!)
        return Scorer(
            kind: kindCode, n: n, a: sa, b: b,
            f32: isL2 ? t.l2sq_f32! : t.dot_f32!, u16: u16,
            i8: isL2 ? t.l2sq_i8! : t.dot_i8!, b1: t.hamming_b1!)
    }

    /// The exact f32 scorer of the metric (re-ranking from kept full-precision vectors).
    func exactScorer() -> Scorer {
        var exact = VectorCodec(kind: .f32, metric: metric == .hamming ? .l2Squared : metric, dimension: dimension)
        exact.isTrained = true
        return exact.scorer()
    }
}

/// A distance function over two encoded rows, chosen once per search so the hot loop calls one
/// C kernel through a function pointer with no existential or allocation. The returned distance
/// is `a * kernel(q, r) + b` (the affine map turns dot products into distances and undoes the int8 step).
struct Scorer {
    enum Kind: UInt8 { case f32, u16, i8, b1 }
    let kind: Kind
    /// Elements per row (bytes for b1).
    let n: Int
    let a: Float
    let b: Float
    let f32: kestrel_dist_f32_fn
    let u16: kestrel_dist_u16_fn
    let i8: kestrel_dot_i8_fn
    let b1: kestrel_hamming_fn

    @inline(__always)
    func callAsFunction(_ q: UnsafeRawPointer, _ r: UnsafeRawPointer) -> Float {
        switch kind {
        case .f32:
            return a * f32(q.assumingMemoryBound(to: Float.self), r.assumingMemoryBound(to: Float.self), n) + b
        case .u16:
            return a * u16(q.assumingMemoryBound(to: UInt16.self), r.assumingMemoryBound(to: UInt16.self), n) + b
        case .i8:
            return a * Float(i8(q.assumingMemoryBound(to: Int8.self), r.assumingMemoryBound(to: Int8.self), n)) + b
        case .b1:
            return Float(b1(q.assumingMemoryBound(to: UInt8.self), r.assumingMemoryBound(to: UInt8.self), n))
        }
    }
}

// MARK: Persistence of the codec

extension DistanceMetric {
    var fileCode: UInt8 {
        switch self {
        case .l2Squared: return 0
        case .innerProduct: return 1
        case .cosine: return 2
        case .hamming: return 3
        }
    }

    init(fileCode: UInt8) throws(KestrelError) {
        switch fileCode {
        case 0: self = .l2Squared
        case 1: self = .innerProduct
        case 2: self = .cosine
        case 3: self = .hamming
        default: throw .corruptFile(path: nil, section: nil, reason: "unknown metric code \(fileCode)")
        }
    }
}

extension VectorStorageKind {
    var fileCode: UInt8 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .bf16: return 2
        case .int8: return 3
        case .binary: return 4
        }
    }

    init(fileCode: UInt8) throws(KestrelError) {
        switch fileCode {
        case 0: self = .f32
        case 1: self = .f16
        case 2: self = .bf16
        case 3: self = .int8
        case 4: self = .binary
        default: throw .corruptFile(path: nil, section: nil, reason: "unknown storage code \(fileCode)")
        }
    }
}

extension VectorCodec {
    /// Appends dimension, metric, kind, trained flag, scale and offsets.
    func write(to w: inout FieldWriter) {
        w.u32(UInt32(dimension))
        w.u8(metric.fileCode)
        w.u8(kind.fileCode)
        w.u8(isTrained ? 1 : 0)
        w.u8(0)
        w.f32(scale)
        w.u32(UInt32(offsets.count))
        for o in offsets { w.f32(o) }
    }

    /// Reads and validates what ``write(to:)`` wrote.
    static func read(from r: inout FieldReader) throws(KestrelError) -> VectorCodec {
        let dim = Int(try r.u32())
        let metric = try DistanceMetric(fileCode: try r.u8())
        let kind = try VectorStorageKind(fileCode: try r.u8())
        let trained = try r.u8()
        guard trained <= 1, try r.u8() == 0 else { throw .corruptFile(path: nil, section: nil, reason: "bad codec flags") }
        do {
            try validate(kind: kind, metric: metric, dimension: dim)
        } catch {
            throw .corruptFile(path: nil, section: nil, reason: "invalid codec: \(error)")
        }
        var c = VectorCodec(kind: kind, metric: metric, dimension: dim)
        let scale = try r.f32()
        let n = Int(try r.u32())
        guard scale.isFinite, scale > 0 else { throw .corruptFile(path: nil, section: nil, reason: "bad codec scale") }
        let needsOffsets = trained == 1 && ((kind == .int8 && metric == .l2Squared) || (kind == .binary && metric != .hamming))
        guard n == (needsOffsets ? dim : 0) else { throw .corruptFile(path: nil, section: nil, reason: "codec has \(n) offsets") }
        var offs = [Float]()
        offs.reserveCapacity(n)
        for _ in 0..<n {
            let o = try r.f32()
            guard o.isFinite else { throw .corruptFile(path: nil, section: nil, reason: "non-finite codec offset") }
            offs.append(o)
        }
        let untrainedOK = !c.isTrained
        guard trained == 1 || untrainedOK else { throw .corruptFile(path: nil, section: nil, reason: "codec must be trained") }
        if trained == 1 {
            c.offsets = offs
            c.scale = scale
            c.isTrained = true
        }
        return c
    }
}
