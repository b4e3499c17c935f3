import Foundation
import KestrelProfiling
import KestrelTensor
import KestrelVectorIndex

/// One declared, bounded setting the ``Autotuner`` may choose: a name and the finite list of
/// integer values it may take. Knobs that are not integers are encoded as an index into a
/// fixed list, as the presets below document.
public struct Tunable: Sendable, Equatable, Codable {
    /// The name a ``TuningConfiguration`` uses.
    public let name: String
    /// The allowed values (distinct, non-empty, at most ``maxValues``), in the order given.
    public let values: [Int]
    /// The value used when nothing better is known; one of ``values``.
    public let defaultValue: Int
    /// The value a rule of thumb picks without measuring (the ``TuningStrategy/estimate`` strategy);
    /// one of ``values``.
    public let estimate: Int

    /// Most values a tunable may declare.
    public static let maxValues = 4096

    /// Declares a tunable.
    /// - Throws: `invalidArgument` for an empty name, no values, duplicates, more than
    ///   ``maxValues``, or a default/estimate that is not among the values.
    public init(name: String, values: [Int], defaultValue: Int, estimate: Int? = nil) throws(KestrelError) {
        guard !name.isEmpty else { throw .invalidArgument(name: "name", reason: "must not be empty") }
        guard !values.isEmpty, values.count <= Self.maxValues else {
            throw .invalidArgument(name: name, reason: "must declare 1...\(Self.maxValues) values, got \(values.count)")
        }
        guard Set(values).count == values.count else { throw .invalidArgument(name: name, reason: "values must be distinct") }
        guard values.contains(defaultValue) else {
            throw .invalidArgument(name: name, reason: "default \(defaultValue) is not among the values")
        }
        let e = estimate ?? defaultValue
        guard values.contains(e) else { throw .invalidArgument(name: name, reason: "estimate \(e) is not among the values") }
        self.name = name
        self.values = values
        self.defaultValue = defaultValue
        self.estimate = e
    }

    /// ``HNSWIndex/efSearch`` (search beam width); default 64 as ``HNSWParameters``.
    public static func hnswEfSearch(_ values: [Int] = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256],
                                    default d: Int = 64) throws(KestrelError) -> Tunable {
        try Tunable(name: "hnsw.efSearch", values: values, defaultValue: d)
    }

    /// A batch size (queries per `search(batch:)`, rows per call); the estimate is the largest value.
    public static func batchSize(_ values: [Int] = [1, 8, 32, 128, 512], default d: Int = 1) throws(KestrelError) -> Tunable {
        try Tunable(name: "batchSize", values: values, defaultValue: d, estimate: values.max())
    }

    /// A `threads:` argument: 1…`maximum`; default 1 (the package's convention), estimate `maximum`.
    public static func threads(maximum: Int = activeProcessorCount) throws(KestrelError) -> Tunable {
        guard maximum >= 1 else { throw .invalidArgument(name: "threads", reason: "maximum must be ≥ 1") }
        return try Tunable(name: "threads", values: Array(1...min(maximum, maxValues)), defaultValue: 1, estimate: min(maximum, maxValues))
    }

    /// FlashAttention's query-tile rows (`AttentionBlockSizes.query`).
    public static func attentionQueryBlock(_ values: [Int] = [16, 32, 64, 128], default d: Int = 64) throws(KestrelError) -> Tunable {
        try Tunable(name: "attention.queryBlock", values: values, defaultValue: d)
    }

    /// FlashAttention's key-tile rows (`AttentionBlockSizes.key`).
    public static func attentionKeyBlock(_ values: [Int] = [32, 64, 128, 256], default d: Int = 128) throws(KestrelError) -> Tunable {
        try Tunable(name: "attention.keyBlock", values: values, defaultValue: d)
    }

    /// Bytes a flat scan prefetches ahead (``PrefetchPlan/withScanBytes(_:)``); 0 turns it off.
    /// Default: this machine's current plan's f32 distance, when it is among the values.
    public static func prefetchScanBytes(_ values: [Int] = [0, 256, 512, 1024, 2048, 4096]) throws(KestrelError) -> Tunable {
        let current = PrefetchPlan.current.scanBytesF32
        return try Tunable(name: "prefetch.scanBytes", values: values, defaultValue: values.contains(current) ? current : values[0])
    }

    /// The kernel ISA level (``ISALevel/activate()``), encoded as its index in `ISALevel.allCases`;
    /// only the levels this CPU supports. Default and estimate: ``ISALevel/best``.
    public static func isaLevel() throws(KestrelError) -> Tunable {
        let all = ISALevel.allCases
        let values = ISALevel.supported.compactMap { all.firstIndex(of: $0) }
        let best = all.firstIndex(of: ISALevel.best) ?? 0
        return try Tunable(name: "isa", values: values, defaultValue: best)
    }

    /// A vector index's storage codec (the quantization level), encoded as its index in
    /// `VectorStorageKind.allCases`; default f32.
    public static func vectorStorage(_ kinds: [VectorStorageKind] = [.f32, .f16, .bf16, .int8]) throws(KestrelError) -> Tunable {
        let all = VectorStorageKind.allCases
        return try Tunable(name: "storage", values: kinds.compactMap { all.firstIndex(of: $0) },
                           defaultValue: all.firstIndex(of: .f32)!)
    }
}

/// One choice of value for every tunable of a ``TuningSpace``.
public struct TuningConfiguration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Value by tunable name.
    public var values: [String: Int]

    /// A configuration from explicit values.
    public init(_ values: [String: Int]) { self.values = values }

    /// The value of tunable `name`, nil when the configuration has none.
    public subscript(_ name: String) -> Int? { values[name] }

    /// The ISA level of an ``Tunable/isaLevel()`` value, nil when absent or out of range.
    public var isaLevel: ISALevel? {
        guard let v = values["isa"], ISALevel.allCases.indices.contains(v) else { return nil }
        return ISALevel.allCases[v]
    }

    /// The codec of a ``Tunable/vectorStorage(_:)`` value, nil when absent or out of range.
    public var vectorStorage: VectorStorageKind? {
        guard let v = values["storage"], VectorStorageKind.allCases.indices.contains(v) else { return nil }
        return VectorStorageKind.allCases[v]
    }

    /// `batchSize=32 threads=2`, names sorted.
    public var description: String { values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: " ") }
}

/// The tunables of one problem.
public struct TuningSpace: Sendable, Equatable {
    /// The tunables, by distinct names.
    public let tunables: [Tunable]

    /// A space over `tunables`.
    /// - Throws: `invalidArgument` for no tunables or a repeated name.
    public init(_ tunables: [Tunable]) throws(KestrelError) {
        guard !tunables.isEmpty else { throw .invalidArgument(name: "tunables", reason: "at least one is needed") }
        guard Set(tunables.map(\.name)).count == tunables.count else {
            throw .invalidArgument(name: "tunables", reason: "names must be distinct")
        }
        self.tunables = tunables
    }

    /// Every tunable at its default.
    public var defaultConfiguration: TuningConfiguration {
        TuningConfiguration(Dictionary(uniqueKeysWithValues: tunables.map { ($0.name, $0.defaultValue) }))
    }

    /// Every tunable at its rule-of-thumb estimate.
    public var estimatedConfiguration: TuningConfiguration {
        TuningConfiguration(Dictionary(uniqueKeysWithValues: tunables.map { ($0.name, $0.estimate) }))
    }

    /// Number of configurations (the product of the value counts).
    /// - Throws: `capacityExceeded` when it overflows `Int`.
    public func size() throws(KestrelError) -> Int { try SizeCheck.product(tunables.map(\.values.count)) }

    /// Every configuration, the first tunable varying slowest.
    /// - Throws: `capacityExceeded(limit:requested:)` when there are more than `limit`.
    /// - Complexity: O(size × tunables).
    public func allConfigurations(limit: Int = 65_536) throws(KestrelError) -> [TuningConfiguration] {
        let n = try SizeCheck.product(tunables.map(\.values.count), limit: limit)
        var out: [TuningConfiguration] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            var rest = i
            var v: [String: Int] = [:]
            for t in tunables.reversed() {
                v[t.name] = t.values[rest % t.values.count]
                rest /= t.values.count
            }
            out.append(TuningConfiguration(v))
        }
        return out
    }

    /// The pruned set: the default, the estimate, and each tunable varied alone around the
    /// default (sum of the value counts instead of their product), without repeats.
    public var neighbourhood: [TuningConfiguration] {
        var out = [defaultConfiguration]
        var seen: Set<TuningConfiguration> = [defaultConfiguration]
        func add(_ c: TuningConfiguration) { if seen.insert(c).inserted { out.append(c) } }
        add(estimatedConfiguration)
        for t in tunables {
            for v in t.values {
                var c = defaultConfiguration
                c.values[t.name] = v
                add(c)
            }
        }
        return out
    }

    /// Whether `c` gives every tunable one of its declared values and names nothing else.
    public func contains(_ c: TuningConfiguration) -> Bool {
        c.values.count == tunables.count && tunables.allSatisfy { t in c[t.name].map { t.values.contains($0) } ?? false }
    }
}

/// What a tuned result is valid for: the operation, its shapes and dtypes, and the machine and
/// build (CPU ISA set, core count, library version). Wisdom is looked up by ``key``.
public struct TuningContext: Sendable, Hashable, Codable {
    /// Operation name, e.g. `"hnsw.search"`.
    public var operation: String
    /// Shapes of its operands.
    public var shapes: [[Int]]
    /// Element types of its operands, e.g. `["f32"]`.
    public var dtypes: [String]
    /// ISA levels this CPU supports (``ISALevel`` raw values).
    public var isa: [String]
    /// Cores available to the process.
    public var coreCount: Int
    /// Kestrel's version.
    public var libraryVersion: String

    /// A context with explicit machine fields (tests, or wisdom prepared for another machine).
    public init(operation: String, shapes: [[Int]], dtypes: [String], isa: [String], coreCount: Int, libraryVersion: String) {
        self.operation = operation
        self.shapes = shapes
        self.dtypes = dtypes
        self.isa = isa
        self.coreCount = coreCount
        self.libraryVersion = libraryVersion
    }

    /// The context of `operation` on this machine and build.
    public static func current(operation: String, shapes: [[Int]], dtypes: [String]) -> TuningContext {
        TuningContext(operation: operation, shapes: shapes, dtypes: dtypes, isa: MachineFingerprint.current.isa,
                      coreCount: MachineFingerprint.current.coreCount, libraryVersion: MachineFingerprint.current.libraryVersion)
    }

    /// The machine part of the context.
    public var machine: MachineFingerprint { MachineFingerprint(isa: isa, coreCount: coreCount, libraryVersion: libraryVersion) }

    /// A canonical string, e.g. `hnsw.search|[[10000,64]]|f32|avx2,avx512|2|0.1.0`.
    public var key: String {
        let s = shapes.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",")
        return [operation, "[\(s)]", dtypes.joined(separator: ","), isa.joined(separator: ","), String(coreCount), libraryVersion]
            .joined(separator: "|")
    }
}

/// What makes tuned settings valid on one machine and build: wisdom tuned under another
/// fingerprint is stale.
public struct MachineFingerprint: Sendable, Hashable, Codable, CustomStringConvertible {
    /// ISA levels the CPU supports (``ISALevel`` raw values, in ``ISALevel`` order).
    public var isa: [String]
    /// Cores available to the process.
    public var coreCount: Int
    /// Kestrel's version.
    public var libraryVersion: String

    /// A fingerprint from explicit fields.
    public init(isa: [String], coreCount: Int, libraryVersion: String) {
        self.isa = isa
        self.coreCount = coreCount
        self.libraryVersion = libraryVersion
    }

    /// This machine and build.
    public static var current: MachineFingerprint {
        MachineFingerprint(isa: ISALevel.supported.map(\.rawValue), coreCount: activeProcessorCount,
                           libraryVersion: ProfilingBuildInfo.libraryVersion)
    }

    /// `isa avx2,avx512, 2 cores, Kestrel 0.1.0`.
    public var description: String { "isa \(isa.joined(separator: ",")), \(coreCount) cores, Kestrel \(libraryVersion)" }
}
