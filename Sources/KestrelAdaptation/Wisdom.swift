import Foundation
import KestrelTensor

/// One tuned result kept in a ``Wisdom`` file.
public struct WisdomEntry: Sendable, Equatable, Codable {
    /// What it was tuned for.
    public var context: TuningContext
    /// The settings to use.
    public var configuration: TuningConfiguration
    /// The strategy that found them (``TuningStrategy/name``).
    public var strategy: String
    /// Measured speedup over the default (default median / chosen median), when measured.
    public var speedup: Double?

    /// An entry.
    public init(context: TuningContext, configuration: TuningConfiguration, strategy: String, speedup: Double? = nil) {
        self.context = context
        self.configuration = configuration
        self.strategy = strategy
        self.speedup = speedup
    }
}

/// Tuned settings that outlive the process ("wisdom", after FFTW): entries keyed by
/// ``TuningContext/key``, saved with the ``MachineFingerprint`` they were measured on, so a new
/// process reuses them without measuring, and a file from another CPU, core count or library
/// version is refused as stale.
///
/// File layout (little-endian; Documentation/Adaptation.md): magic `KSTWISDM` (8 bytes), format
/// version (UInt32, currently 1), payload length (UInt64), CRC-32C of the payload (UInt32), then
/// the payload: UTF-8 JSON `{"machine": …, "entries": [...]}` with sorted keys. Written atomically
/// (``AtomicFile``).
///
/// Thread-safety: a value type.
public struct Wisdom: Sendable, Equatable {
    /// The format version this build writes and reads.
    public static let formatVersion = 1
    static let magic = Array("KSTWISDM".utf8)
    static let headerBytes = 8 + 4 + 8 + 4

    /// The machine and build the entries were measured on.
    public var machine: MachineFingerprint
    /// Entries by context key.
    public private(set) var entries: [String: WisdomEntry] = [:]

    /// Empty wisdom for `machine` (default: this one).
    public init(machine: MachineFingerprint = .current) { self.machine = machine }

    /// Adds or replaces the entry for `entry.context`.
    /// - Throws: `invalidArgument` when the context's machine is not ``machine`` (wisdom from
    ///   two machines cannot share a file).
    public mutating func record(_ entry: WisdomEntry) throws(KestrelError) {
        guard entry.context.machine == machine else {
            throw .invalidArgument(name: "context", reason: "tuned on \(entry.context.machine), this wisdom is for \(machine)")
        }
        entries[entry.context.key] = entry
    }

    /// Records a ``TuningResult``'s choice for `context`.
    public mutating func record(_ result: TuningResult, for context: TuningContext) throws(KestrelError) {
        try record(WisdomEntry(context: context, configuration: result.chosen, strategy: result.strategy,
                               speedup: result.replacedDefault ? result.speedup?.estimate : nil))
    }

    /// The tuned settings for `context`, nil when none are known.
    public func configuration(for context: TuningContext) -> TuningConfiguration? { entries[context.key]?.configuration }

    private struct Payload: Codable {
        var machine: MachineFingerprint
        var entries: [WisdomEntry]
    }

    /// The file's bytes.
    public func encoded() throws(KestrelError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: Data
        do {
            json = try encoder.encode(Payload(machine: machine, entries: entries.keys.sorted().map { entries[$0]! }))
        } catch {
            throw .invalidArgument(name: "wisdom", reason: "cannot encode: \(error)")
        }
        let payload = [UInt8](json)
        var out = Self.magic
        out.reserveCapacity(Self.headerBytes + payload.count)
        withUnsafeBytes(of: UInt32(Self.formatVersion).littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { out += $0 }
        withUnsafeBytes(of: CRC32C.checksum(payload).littleEndian) { out += $0 }
        return out + payload
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    /// - Throws: `io` when the file cannot be written.
    public func save(to url: URL) throws(KestrelError) {
        let bytes = try encoded()
        try withBytes(bytes) { (b) throws(KestrelError) in try AtomicFile.write(b, to: url) }
    }

    /// Reads wisdom from `bytes` (`path` names the source in errors).
    /// - Throws: `corruptFile` (truncated header or payload, checksum mismatch, malformed JSON),
    ///   `wrongFileKind` (not a wisdom file; or **stale**: measured on another machine or build —
    ///   then `expected`/`found` carry the two fingerprints), `unsupportedVersion`.
    public static func decode(_ bytes: [UInt8], path: String = "", expecting machine: MachineFingerprint = .current) throws(KestrelError) -> Wisdom {
        guard bytes.count >= headerBytes else {
            if bytes.count >= 8 && Array(bytes[0..<8]) != magic {
                throw .wrongFileKind(path: path, expected: "Kestrel wisdom file", found: "unknown data")
            }
            throw .corruptFile(path: path, section: "header", reason: "truncated: \(bytes.count) of \(headerBytes) bytes")
        }
        guard Array(bytes[0..<8]) == magic else { throw .wrongFileKind(path: path, expected: "Kestrel wisdom file", found: "unknown data") }
        func le<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            var v: T = 0
            for i in 0..<MemoryLayout<T>.size { v |= T(bytes[at + i]) << (8 * i) }
            return v
        }
        let version = Int(le(8, UInt32.self))
        guard version == formatVersion else { throw .unsupportedVersion(found: version, supported: formatVersion...formatVersion) }
        let length = le(12, UInt64.self)
        guard length == UInt64(bytes.count - headerBytes) else {
            throw .corruptFile(path: path, section: "payload", reason: "length \(length) but \(bytes.count - headerBytes) bytes follow the header")
        }
        let payload = Array(bytes[headerBytes...])
        let stored = le(20, UInt32.self)
        let actual = CRC32C.checksum(payload)
        guard stored == actual else {
            throw .corruptFile(path: path, section: "payload", reason: "checksum mismatch: stored \(stored), computed \(actual)")
        }
        let p: Payload
        do {
            p = try JSONDecoder().decode(Payload.self, from: Data(payload))
        } catch {
            throw .corruptFile(path: path, section: "payload", reason: "malformed JSON")
        }
        guard p.machine == machine else {
            throw .wrongFileKind(path: path, expected: "wisdom for \(machine)", found: "wisdom for \(p.machine)")
        }
        var w = Wisdom(machine: p.machine)
        for e in p.entries {
            guard e.context.machine == p.machine else {
                throw .corruptFile(path: path, section: "payload", reason: "entry \(e.context.key) is for another machine")
            }
            w.entries[e.context.key] = e
        }
        return w
    }

    /// Reads the file at `url`.
    /// - Throws: `io` when it cannot be read; otherwise as ``decode(_:path:expecting:)``.
    public static func load(from url: URL, expecting machine: MachineFingerprint = .current) throws(KestrelError) -> Wisdom {
        let file = try MappedFile.map(path: url.path)
        let data = withExtendedLifetime(file) { [UInt8](file.bytes) }
        return try decode(data, path: url.path, expecting: machine)
    }
}

/// The settings a process should use for a context, from wisdom when it is usable.
public struct WisdomLookup: Sendable, Equatable {
    /// The settings: the wisdom's, or the space's default.
    public var configuration: TuningConfiguration
    /// Whether they came from the wisdom file.
    public var fromWisdom: Bool
    /// Why the wisdom was ignored (missing, damaged or stale file), nil when it was used or
    /// simply had no entry for the context.
    public var error: KestrelError?

    /// A lookup result.
    public init(configuration: TuningConfiguration, fromWisdom: Bool, error: KestrelError?) {
        self.configuration = configuration
        self.fromWisdom = fromWisdom
        self.error = error
    }
}

extension Autotuner {
    /// The settings for `context` without measuring: the wisdom file's entry when the file is
    /// readable, intact, of this machine and build, and holds a configuration of this space;
    /// otherwise the default, with the typed error that made the wisdom unusable.
    /// - Complexity: one file read and decode.
    public func settings(for context: TuningContext, wisdomAt url: URL) -> WisdomLookup {
        let base = space.defaultConfiguration
        do throws(KestrelError) {
            let w = try Wisdom.load(from: url, expecting: context.machine)
            guard let c = w.configuration(for: context) else { return WisdomLookup(configuration: base, fromWisdom: false, error: nil) }
            guard space.contains(c) else {
                return WisdomLookup(configuration: base, fromWisdom: false,
                                    error: .invalidArgument(name: "wisdom", reason: "entry \(c) is not a configuration of this space"))
            }
            return WisdomLookup(configuration: c, fromWisdom: true, error: nil)
        } catch {
            return WisdomLookup(configuration: base, fromWisdom: false, error: error)
        }
    }
}
