/// The one error type thrown by every Kestrel module.
///
/// Cases carry structured values (shapes as integer arrays, paths, errno codes, limits) so a
/// caller, or a test, can act on the failure without parsing a message; `description` renders
/// them for people. `KestrelError` is `Sendable` and `Equatable`.
public enum KestrelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A size or shape did not match. `expected` and `actual` are extents per axis; in
    /// `expected`, -1 stands for "any extent" (a flat buffer that must hold a whole number of
    /// `d`-float rows is `expected: [-1, d]`, `actual: [count]`).
    case dimensionMismatch(expected: [Int], actual: [Int])
    /// An argument is out of its valid range; `name` is the parameter, `reason` says why.
    case invalidArgument(name: String, reason: String)
    /// A NaN or infinite value was found at flat element `index` where only finite values are allowed.
    case nonFiniteValue(index: Int)
    /// A file failed validation (magic, checksum, truncation, bounds, forbidden values): its
    /// `path` (nil when the bytes came from memory), the `section` that failed (nil for the
    /// header or the file as a whole), and what was wrong.
    case corruptFile(path: String?, section: String?, reason: String)
    /// A valid file of another kind was given: `expected` names the kind the caller asked for,
    /// `found` what the file holds (for example "flat index" against "HNSW index"). `path` is
    /// empty when the bytes came from memory.
    case wrongFileKind(path: String, expected: String, found: String)
    /// A file's format version is not one this build reads.
    case unsupportedVersion(found: Int, supported: ClosedRange<Int>)
    /// A fixed capacity (pool, cache, index) would be exceeded, or a size computed from the
    /// caller's numbers does not fit: `limit` is the largest allowed, `requested` what was asked
    /// (`Int.max` when the computation itself overflowed).
    case capacityExceeded(limit: Int, requested: Int)
    /// An operating-system call failed: the `path` it was about, the `operation`
    /// ("open", "write", "fsync", "rename", "mmap", "stat", "read", …) and the C `errno`.
    case io(path: String, operation: String, errno: Int32)
    /// The object cannot be changed: `reason` says why (for example a memory-mapped index).
    case readOnly(reason: String)
    /// A requested ISA level or backend is not available on this machine.
    case unsupported(String)
    /// An underlying library (BLAS/LAPACK/C kernel) reported a failure code.
    case backendFailure(routine: String, code: Int)

    public var description: String {
        switch self {
        case .dimensionMismatch(let e, let a):
            return "dimension mismatch: expected \(Self.render(e)), got \(Self.render(a))"
        case .invalidArgument(let n, let r): return "invalid argument '\(n)': \(r)"
        case .nonFiniteValue(let i): return "non-finite value at element \(i)"
        case .corruptFile(let path, let section, let reason):
            let file = path.map { "corrupt file \($0)" } ?? "corrupt file"
            if let section { return "\(file): section \(section): \(reason)" }
            return "\(file): \(reason)"
        case .wrongFileKind(let path, let expected, let found):
            return "\(path.isEmpty ? "the bytes" : path) hold\(path.isEmpty ? "" : "s") a \(found), not a \(expected)"
        case .unsupportedVersion(let f, let s): return "unsupported version \(f) (supported \(s.lowerBound)...\(s.upperBound))"
        case .capacityExceeded(let l, let r):
            return r == Int.max ? "capacity exceeded: the requested size overflows (limit \(l))"
                : "capacity exceeded: limit \(l), requested \(r)"
        case .io(let path, let op, let code): return "\(op) \(path) failed: \(Self.errnoText(code)) (errno \(code))"
        case .readOnly(let reason): return "read-only: \(reason)"
        case .unsupported(let what): return "unsupported: \(what)"
        case .backendFailure(let routine, let code): return "\(routine) failed with code \(code)"
        }
    }

    private static func render(_ dims: [Int]) -> String {
        "[" + dims.map { $0 < 0 ? "*" : String($0) }.joined(separator: ", ") + "]"
    }

    private static func errnoText(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "unknown error" }
        return String(cString: s)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
