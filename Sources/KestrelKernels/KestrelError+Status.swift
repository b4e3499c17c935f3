import CKestrelKernels

extension KestrelError {
    /// Maps a C `kestrel_status` to the error a Swift caller sees; nil for `KESTREL_OK`.
    /// `routine` names the C function, for the payloads that have a place for it.
    package init?(status: kestrel_status, routine: String) {
        switch status {
        case KESTREL_OK: return nil
        case KESTREL_ERR_NULL_POINTER:
            self = .invalidArgument(name: "pointer", reason: "\(routine): a NULL buffer with a non-zero count")
        case KESTREL_ERR_INVALID_ARGUMENT:
            self = .invalidArgument(name: "stride", reason: "\(routine): a size or stride out of range")
        case KESTREL_ERR_UNSUPPORTED_ISA:
            self = .unsupported("\(routine): ISA level not available on this CPU")
        default:
            self = .backendFailure(routine: routine, code: Int(status.rawValue))
        }
    }

    /// Throws the error of a failed C status.
    package static func check(_ status: kestrel_status, _ routine: String) throws(KestrelError) {
        if let error = KestrelError(status: status, routine: routine) { throw error }
    }
}

/// Runs `body` over the elements of `c` as one contiguous buffer: in place for arrays,
/// slices and buffer pointers, through a temporary copy (O(n) time and memory) otherwise.
@inline(__always)
package func withContiguousBuffer<C: Collection, R>(_ c: C, _ body: (UnsafeBufferPointer<C.Element>) -> R) -> R {
    if let r = c.withContiguousStorageIfAvailable(body) { return r }
    return Array(c).withUnsafeBufferPointer(body)
}

/// Throws `dimensionMismatch` unless two operands have the same length.
@inline(__always)
package func requireSameLength(_ a: Int, _ b: Int) throws(KestrelError) {
    guard a == b else { throw .dimensionMismatch(expected: [a], actual: [b]) }
}
