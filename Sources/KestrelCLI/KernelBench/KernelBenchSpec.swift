import CKestrelKernels
import Kestrel
import KestrelTensor

/// A distance a kernel computes.
enum BenchOp: String, CaseIterable, Sendable {
    case dot, l2sq, cosine, hamming, jaccard
}

/// A storage type of the vectors. For `b1`, `dim` counts bits (8 per byte, packed).
enum BenchDType: String, CaseIterable, Sendable {
    case f32, f16, bf16, i8, b1

    /// The distances the kernels define for this type.
    var ops: [BenchOp] {
        switch self {
        case .f32, .f16, .bf16, .i8: return [.dot, .l2sq, .cosine]
        case .b1: return [.hamming, .jaccard]
        }
    }

    /// Bytes one vector of `dim` elements occupies (`dim` bits for b1).
    func bytes(dim: Int) -> Int {
        switch self {
        case .f32: return dim * 4
        case .f16, .bf16: return dim * 2
        case .i8: return dim
        case .b1: return dim / 8
        }
    }

    /// The length argument the C kernels take: elements, or bytes for packed bits.
    func kernelLength(dim: Int) -> Int { self == .b1 ? dim / 8 : dim }
}

/// A validated `kestrel kernel-bench --op --dtype --dim --count --isa` request.
struct KernelBenchSpec: Sendable, Equatable {
    let op: BenchOp
    let dtype: BenchDType
    /// Elements per vector (bits for b1).
    let dim: Int
    /// Stored vectors scanned per query.
    let count: Int
    /// The tier whose table is measured (never "auto": resolved at validation).
    let isa: ISALevel

    /// Largest buffer a benchmark may ask for (the machines it targets have tens of GiB).
    static let maxBytes = 16 << 30

    /// Bytes of stored vectors one scan reads.
    var baseBytes: Int { dtype.bytes(dim: dim) * count }

    /// The C table entry measured, e.g. `l2sq_f32_many`.
    var kernelName: String { "\(op.rawValue)_\(dtype.rawValue)_many" }

    /// Validates command-line strings into a spec.
    ///
    /// - Parameters:
    ///   - isa: a tier name or `auto` (the active tier, which honours `KESTREL_ISA`).
    ///   - supported: the tiers this machine runs (a parameter so tests can pretend).
    ///   - active: what `auto` resolves to.
    /// - Throws: `KestrelError.invalidArgument` for an unknown op, dtype or ISA name, an op the
    ///   dtype does not define, a non-positive or misaligned size; `KestrelError.capacityExceeded`
    ///   for a buffer above ``maxBytes`` or physical memory (`requested: Int.max` when the size
    ///   overflows); `KestrelError.unsupported` for a known ISA level this machine cannot run.
    static func validate(
        op: String, dtype: String, dim: Int, count: Int, isa: String,
        supported: [ISALevel] = ISALevel.supported, active: ISALevel = ISALevel.active
    ) throws(KestrelError) -> KernelBenchSpec {
        guard let o = BenchOp(rawValue: op.lowercased()) else {
            throw .invalidArgument(name: "op", reason: "unknown op '\(op)' (expected \(names(BenchOp.allCases)))")
        }
        guard let t = BenchDType(rawValue: dtype.lowercased()) else {
            throw .invalidArgument(
                name: "dtype", reason: "unknown dtype '\(dtype)' (expected \(names(BenchDType.allCases)))")
        }
        guard t.ops.contains(o) else {
            throw .invalidArgument(
                name: "op", reason: "\(o.rawValue) is not defined for \(t.rawValue) (\(t.rawValue) supports \(names(t.ops)))")
        }
        try checkSizes(dtype: t, dim: dim, count: count)
        let level = try resolveISA(isa, supported: supported, active: active)
        return KernelBenchSpec(op: o, dtype: t, dim: dim, count: count, isa: level)
    }

    /// Checks `dim` and `count` for `dtype`.
    /// - Throws: `KestrelError.invalidArgument` when either is out of range,
    ///   `KestrelError.capacityExceeded` when the buffer would be too large (see ``validate``).
    static func checkSizes(dtype t: BenchDType, dim: Int, count: Int) throws(KestrelError) {
        guard dim >= 1 else { throw .invalidArgument(name: "dim", reason: "must be at least 1 (got \(dim))") }
        guard count >= 1 else { throw .invalidArgument(name: "count", reason: "must be at least 1 (got \(count))") }
        if t == .b1, dim % 8 != 0 {
            throw .invalidArgument(name: "dim", reason: "b1 dim counts bits and must be a multiple of 8 (got \(dim))")
        }
        if t == .i8, dim > Int(KESTREL_I8_MANY_MAX_DIM) {
            throw .invalidArgument(
                name: "dim", reason: "i8 one-to-many kernels take dim <= \(KESTREL_I8_MANY_MAX_DIM) (got \(dim))")
        }
        // Row bytes and their product with count both come from the caller: checked, since
        // dim × 4 alone overflows for dim ≥ 2⁶¹.
        let perUnit = t == .b1 ? 1 : t.bytes(dim: 1)
        _ = try SizeCheck.product(t == .b1 ? dim / 8 : dim, perUnit, count, limit: Swift.min(maxBytes, SizeCheck.physicalMemory))
    }

    /// The command-line text of a validation error: a size error names the flags it comes from.
    static func flagMessage(_ e: KestrelError) -> String {
        if case .capacityExceeded = e { return "--dim × --count: \(e.description)" }
        return e.description
    }

    /// Resolves a tier name (or `auto`) against what this machine runs.
    /// - Throws: `KestrelError.invalidArgument` for an unknown name, `.unsupported` for a tier
    ///   this CPU/OS cannot run.
    static func resolveISA(_ name: String, supported: [ISALevel], active: ISALevel) throws(KestrelError) -> ISALevel {
        let lower = name.lowercased()
        if lower == "auto" { return active }
        guard let level = ISALevel(rawValue: lower) else {
            throw .invalidArgument(
                name: "isa", reason: "unknown ISA level '\(name)' (expected auto, \(names(ISALevel.allCases)))")
        }
        guard supported.contains(level) else {
            throw .unsupported(
                "ISA level \(level.rawValue) on this CPU (this machine runs: \(names(supported)))")
        }
        return level
    }

    private static func names<T: RawRepresentable>(_ xs: [T]) -> String where T.RawValue == String {
        xs.map(\.rawValue).joined(separator: ", ")
    }
}

/// The outcome of one `kernel-bench` scan, printed as text or as one JSON line.
struct KernelBenchResult: Sendable, Equatable {
    let spec: KernelBenchSpec
    /// Median nanoseconds to compare the query with one stored vector.
    let nanosecondsPerVector: Double

    /// Bytes of stored vectors read per second, in GB/s (10^9 B/s).
    var gigabytesPerSecond: Double {
        BenchStatistics.gigabytesPerSecond(
            bytes: Double(spec.dtype.bytes(dim: spec.dim)), nanoseconds: nanosecondsPerVector)
    }

    /// The keys of ``jsonLine``, in order.
    static let jsonKeys = ["op", "dtype", "dim", "count", "isa", "ns_per_vector", "gb_per_s"]

    /// `{"op","dtype","dim","count","isa","ns_per_vector","gb_per_s"}`.
    var jsonLine: JSONLine {
        JSONLine([
            ("op", .string(spec.op.rawValue)), ("dtype", .string(spec.dtype.rawValue)),
            ("dim", .int(spec.dim)), ("count", .int(spec.count)), ("isa", .string(spec.isa.rawValue)),
            ("ns_per_vector", .double(JSONLine.rounded(nanosecondsPerVector))),
            ("gb_per_s", .double(JSONLine.rounded(gigabytesPerSecond))),
        ])
    }

    /// One human-readable line.
    var text: String {
        "\(spec.kernelName) dim \(spec.dim) x \(spec.count) on \(spec.isa.rawValue): "
            + "\(Format.fixed(nanosecondsPerVector, 3)) ns/vector, \(Format.fixed(gigabytesPerSecond, 2)) GB/s"
    }
}
