/// The one error type thrown by every Kestrel module above the C kernels.
///
/// Cases carry the values that explain the failure so a caller can report them
/// without parsing a message. `KestrelError` is `Sendable` and `Equatable`.
public enum KestrelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A size or shape did not match: `expected` describes what was required, `actual` what was passed.
    case dimensionMismatch(expected: String, actual: String)
    /// An argument is out of its valid range; `name` is the parameter, `reason` says why.
    case invalidArgument(name: String, reason: String)
    /// A NaN or infinite value was found at flat element `index` where only finite values are allowed.
    case nonFiniteValue(index: Int)
    /// A file failed validation (magic, checksum, truncation, bounds).
    case corruptFile(reason: String)
    /// A file's format version is not one this build reads.
    case unsupportedVersion(found: Int, supported: ClosedRange<Int>)
    /// A fixed capacity (pool, cache, index) would be exceeded.
    case capacityExceeded(limit: Int, requested: Int)
    /// A requested ISA level or backend is not available on this machine.
    case unsupported(String)
    /// An underlying library (BLAS/LAPACK/C kernel) reported a failure code.
    case backendFailure(routine: String, code: Int)

    public var description: String {
        switch self {
        case .dimensionMismatch(let e, let a): return "dimension mismatch: expected \(e), got \(a)"
        case .invalidArgument(let n, let r): return "invalid argument '\(n)': \(r)"
        case .nonFiniteValue(let i): return "non-finite value at element \(i)"
        case .corruptFile(let r): return "corrupt file: \(r)"
        case .unsupportedVersion(let f, let s): return "unsupported version \(f) (supported \(s.lowerBound)...\(s.upperBound))"
        case .capacityExceeded(let l, let r): return "capacity exceeded: limit \(l), requested \(r)"
        case .unsupported(let what): return "unsupported: \(what)"
        case .backendFailure(let routine, let code): return "\(routine) failed with code \(code)"
        }
    }
}
