import Foundation

/// The error type thrown by every public API of KestrelProfiling.
///
/// KestrelProfiling imports nothing else of Kestrel (it measures any closure), so it has its
/// own small error type instead of `KestrelError`. Cases carry the values that explain the
/// failure so a caller can report them without parsing a message. `Sendable` and `Equatable`.
public enum ProfilingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An argument is out of its valid range; `name` is the parameter, `reason` says why.
    case invalidArgument(name: String, reason: String)
    /// A statistic or fit needs at least `needed` data points and got `got`.
    case insufficientData(needed: Int, got: Int)
    /// A probe or counter is not available on this machine, operating system or build; `reason` says why.
    case unavailable(String)
    /// A system call failed; `errno` is the value it left.
    case systemCall(name: String, errno: Int32)
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// A file failed validation (JSON shape, missing fields, wrong key).
    case corruptFile(reason: String)
    /// A report's schema version is not one this build reads.
    case unsupportedVersion(found: Int, supported: ClosedRange<Int>)
    /// A numerical fit did not converge or the data cannot determine its parameters.
    case fitFailed(reason: String)
    /// Two objects that must share a layout (histograms, reports) do not.
    case incompatible(reason: String)

    public var description: String {
        switch self {
        case .invalidArgument(let n, let r): return "invalid argument '\(n)': \(r)"
        case .insufficientData(let n, let g): return "insufficient data: need at least \(n), got \(g)"
        case .unavailable(let r): return "unavailable: \(r)"
        case .systemCall(let n, let e): return "\(n) failed (errno \(e))"
        case .io(let p, let r): return "I/O error on \(p): \(r)"
        case .corruptFile(let r): return "corrupt file: \(r)"
        case .unsupportedVersion(let f, let s):
            return "unsupported version \(f) (supported \(s.lowerBound)...\(s.upperBound))"
        case .fitFailed(let r): return "fit failed: \(r)"
        case .incompatible(let r): return "incompatible: \(r)"
        }
    }
}

extension ProfilingError {
    /// `io` for a failed Foundation file operation on `path`, with the operating system's text
    /// and errno ("Is a directory (errno 21)") instead of an `NSError` dump; a directory given
    /// as a file is named as such even when Foundation reports no POSIX code.
    package static func io(path: String, underlying error: any Error) -> ProfilingError {
        let ns = error as NSError
        var code: Int?
        if ns.domain == NSPOSIXErrorDomain {
            code = ns.code
        } else if let inner = (ns.userInfo[NSUnderlyingErrorKey] as? any Error).map({ $0 as NSError }),
                  inner.domain == NSPOSIXErrorDomain {
            code = inner.code
        } else if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError {
            code = Int(ENOENT)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            code = Int(EISDIR)
        }
        guard let code, let text = strerror(Int32(code)) else { return .io(path: path, reason: ns.localizedDescription) }
        return .io(path: path, reason: "\(String(cString: text)) (errno \(code))")
    }
}
