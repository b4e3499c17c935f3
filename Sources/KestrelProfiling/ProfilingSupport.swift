import Foundation
import Logging

/// Diagnostics of KestrelProfiling go through swift-log under this label, so an application
/// that bootstraps `LoggingSystem` sees why a probe was unavailable or a cache was ignored.
let profilingLogger = Logger(label: "kestrel.profiling")

/// A value guarded by a lock, for the rare, non-hot paths (caches, registries).
///
/// `NSLock` rather than `Synchronization.Mutex`: the package still deploys to macOS 13, where
/// `Mutex` is not available, and these paths are not hot.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Keeps a value alive and opaque to the optimiser so measured work is not removed as dead code.
///
/// Call it on the result of the work being measured. It costs one non-inlined call.
/// `@_optimize(none)` matters: a merely non-inlined empty function is still seen through by
/// side-effect analysis, and the work feeding it is deleted in release builds.
@inline(never) @_optimize(none)
public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Build facts fixed at compile time.
public enum ProfilingBuildInfo {
    /// The version of KestrelProfiling (and of the Kestrel package it ships in).
    public static let libraryVersion = "0.1.0"

    /// `"debug"` or `"release"`: timings from a debug build are not representative, and reports say so.
    public static var buildConfiguration: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }

    /// The Swift compiler that built this module, decided at compile time with `#if compiler(...)`
    /// (no `swift --version` at run time: the toolchain may not be installed where the binary runs).
    public static var toolchain: String {
        #if compiler(>=6.4)
        return "Swift compiler >= 6.4"
        #elseif compiler(>=6.3)
        return "Swift compiler 6.3"
        #elseif compiler(>=6.2)
        return "Swift compiler 6.2"
        #elseif compiler(>=6.1)
        return "Swift compiler 6.1"
        #else
        return "Swift compiler < 6.1"
        #endif
    }
}

/// Reads small text files such as those under `/proc` with plain `read(2)`: procfs files report a
/// size of 0, and a probe must stay well under a millisecond (no Foundation file machinery).
enum TextFile {
    static func read(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY)
        if fd < 0 { return nil }
        defer { close(fd) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(4096)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Double {
    /// Formats a non-negative count of nanoseconds with a unit chosen for readability (ns, µs, ms, s).
    package var formattedNanoseconds: String {
        let v = self
        if v.isNaN { return "n/a" }
        if abs(v) < 1_000 { return String(format: "%.1f ns", v) }
        if abs(v) < 1_000_000 { return String(format: "%.2f µs", v / 1_000) }
        if abs(v) < 1_000_000_000 { return String(format: "%.2f ms", v / 1_000_000) }
        return String(format: "%.3f s", v / 1_000_000_000)
    }

    /// Formats a byte count with binary units.
    var formattedBytes: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = self
        var i = 0
        while abs(v) >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? String(format: "%.0f ", v) + units[i] : String(format: "%.2f ", v) + units[i]
    }
}

extension Date {
    /// Now, truncated to whole seconds: ISO-8601 JSON keeps seconds, so the value round-trips exactly.
    static func wholeSeconds() -> Date { Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) }
}

extension JSONEncoder {
    /// Pretty, sorted keys, ISO-8601 dates: stable, diff-friendly files.
    package static var iso8601: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        // A NaN or infinite figure must not make a whole report unwritable.
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}

extension JSONDecoder {
    /// Decoder matching ``JSONEncoder/iso8601``.
    package static var iso8601: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
