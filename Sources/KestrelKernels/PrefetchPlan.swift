import CKestrelKernels

/// What the kernels detected about this CPU at start-up: vendor, family / model and cache sizes.
///
/// Read once (CPUID on x86: leaf 0, leaf 1 and the deterministic cache leaf, 4 on Intel and
/// 0x8000001D on AMD; `/sys` on Linux and `sysctl` on Apple otherwise). A field the CPU or OS
/// does not report is 0 or "". Thread-safe; never changes during the process.
public struct CPUDescription: Sendable, Equatable {
    /// "intel", "amd" (also Hygon, a Zen derivative), "arm" or "other".
    public let vendor: String
    /// The CPUID vendor string ("GenuineIntel", "AuthenticAMD"), or "" where there is none.
    public let vendorID: String
    /// Display family (base plus extended family on x86).
    public let family: Int
    /// Display model (base plus extended model where the vendor defines it).
    public let model: Int
    /// Cache line size in bytes.
    public let lineBytes: Int
    /// Level-1 data cache per core, bytes.
    public let l1dBytes: Int
    /// Level-2 cache per instance (per core on the CPUs this project meets), bytes.
    public let l2Bytes: Int
    /// Level-3 cache per instance (die or socket), bytes.
    public let l3Bytes: Int

    /// This machine's description.
    public static var current: CPUDescription { CPUDescription(kestrel_cpu_describe().pointee) }

    /// Wraps a C description (`kestrel_cpu_describe()`, or one built to ask the rule about another CPU).
    public init(_ c: kestrel_cpu_description) {
        switch c.vendor {
        case KESTREL_VENDOR_INTEL: vendor = "intel"
        case KESTREL_VENDOR_AMD: vendor = "amd"
        case KESTREL_VENDOR_ARM: vendor = "arm"
        default: vendor = "other"
        }
        vendorID = withUnsafeBytes(of: c.vendor_id) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        family = Int(c.family)
        model = Int(c.model)
        lineBytes = Int(c.line_bytes)
        l1dBytes = Int(c.l1d_bytes)
        l2Bytes = Int(c.l2_bytes)
        l3Bytes = Int(c.l3_bytes)
    }
}

/// The software-prefetch choices of the memory-bound loops (one-to-many scans, HNSW graph walks),
/// made once per process from the CPU (`kestrel_prefetch_rule` in `CKernels/system.c`; the rule
/// and its measurements are in Documentation/Tuning.md, "Prefetch distance").
///
/// `KESTREL_PREFETCH=off|auto|<bytes>` and `KESTREL_GRAPH_PREFETCH=off|auto|<vectors>` in the
/// environment override the rule at start-up; ``activate()`` replaces the plan for the whole
/// process (benchmarks compare choices in one run). No choice changes a result: every plan
/// returns the same distances bit for bit. Reading is thread-safe.
public struct PrefetchPlan: Sendable, Equatable {
    /// Where a plan came from.
    public enum Source: String, Sendable {
        /// The per-CPU rule.
        case rule
        /// `KESTREL_PREFETCH` / `KESTREL_GRAPH_PREFETCH` at start-up.
        case environment
        /// ``PrefetchPlan/activate()``.
        case call
    }

    /// Bytes ahead that f32 scans prefetch (0 = none: the hardware prefetchers alone).
    public var scanBytesF32: Int
    /// Bytes ahead that f16 and bf16 scans prefetch (0 = none).
    public var scanBytesF16: Int
    /// Bytes ahead that int8 and binary scans prefetch (0 = none).
    public var scanBytesI8: Int
    /// Scans whose rows are at least this many bytes apart get no software prefetch, whatever the
    /// distances say (the hardware prefetchers follow a row that spans most of a 4 KiB page);
    /// 0 = no such limit.
    public var scanLongRowBytes: Int
    /// Vectors ahead of the distance computation that an HNSW walk prefetches (0 = none, which
    /// also turns off the prefetch of link lists).
    public var graphAhead: Int
    /// At most this many 64-byte lines of each such vector are prefetched (1...64).
    public var graphMaxLines: Int
    /// Where the plan came from.
    public var source: Source
    /// Which rule chose the plan and why.
    public var reason: String

    /// Largest scan distance accepted, in bytes (1 MiB).
    public static let maxScanBytes = Int(KESTREL_PREFETCH_MAX_BYTES)
    /// Largest `graphAhead` accepted.
    public static let maxGraphAhead = Int(KESTREL_GRAPH_PREFETCH_MAX_AHEAD)

    /// Creates a plan; `source` and `reason` describe it in reports.
    public init(scanBytesF32: Int, scanBytesF16: Int, scanBytesI8: Int, scanLongRowBytes: Int = 0, graphAhead: Int,
                graphMaxLines: Int, source: Source = .call, reason: String = "set by PrefetchPlan.activate()") {
        self.scanBytesF32 = scanBytesF32
        self.scanBytesF16 = scanBytesF16
        self.scanBytesI8 = scanBytesI8
        self.scanLongRowBytes = scanLongRowBytes
        self.graphAhead = graphAhead
        self.graphMaxLines = graphMaxLines
        self.source = source
        self.reason = reason
    }

    /// Wraps a C plan (`kestrel_prefetch_current()`, `kestrel_prefetch_rule(_:)`).
    public init(_ c: kestrel_prefetch_plan) {
        scanBytesF32 = Int(c.scan_bytes.0)
        scanBytesF16 = Int(c.scan_bytes.1)
        scanBytesI8 = Int(c.scan_bytes.2)
        scanLongRowBytes = Int(c.scan_long_row_bytes)
        graphAhead = Int(c.graph_ahead)
        graphMaxLines = Int(c.graph_max_lines)
        switch c.source {
        case KESTREL_PREFETCH_FROM_ENV: source = .environment
        case KESTREL_PREFETCH_FROM_CALL: source = .call
        default: source = .rule
        }
        reason = c.reason.map { String(cString: $0) } ?? ""
    }

    /// The plan in force.
    public static var current: PrefetchPlan { PrefetchPlan(kestrel_prefetch_current()) }

    /// The graph-walk part of the plan in force, without allocating (read once per search by
    /// the index).
    package static var graphPrefetch: (ahead: Int, maxLines: Int) {
        let c = kestrel_prefetch_current()
        return (Int(c.graph_ahead), Int(c.graph_max_lines))
    }

    /// What the per-CPU rule alone chooses on this machine (ignoring the environment).
    public static var rule: PrefetchPlan {
        withUnsafePointer(to: kestrel_cpu_describe().pointee) { PrefetchPlan(kestrel_prefetch_rule($0)) }
    }

    /// The environment variables start-up ignored because their values were invalid (the
    /// rule's choice stayed in force for that part).
    public static var rejectedEnvironment: [String] {
        let bits = kestrel_prefetch_env_rejected()
        return (bits & 1 != 0 ? ["KESTREL_PREFETCH"] : []) + (bits & 2 != 0 ? ["KESTREL_GRAPH_PREFETCH"] : [])
    }

    /// One line for reports: "scans 6144/6144/8192 B (f32/f16/i8), graph 3 ahead (rule)", with
    /// the long-row limit when there is one.
    public var summary: String {
        func d(_ b: Int) -> String { b == 0 ? "off" : "\(b)" }
        return "scans \(d(scanBytesF32))/\(d(scanBytesF16))/\(d(scanBytesI8)) B (f32/f16/i8)"
            + (scanLongRowBytes == 0 ? "" : ", none for rows >= \(scanLongRowBytes) B")
            + ", graph \(graphAhead == 0 ? "off" : "\(graphAhead) ahead") (\(source.rawValue))"
    }

    /// The same plan with every scan distance set to `bytes` for every row length (0 = no
    /// software prefetch), as `KESTREL_PREFETCH=<bytes>` does.
    public func withScanBytes(_ bytes: Int) -> PrefetchPlan {
        var p = self
        p.scanBytesF32 = bytes
        p.scanBytesF16 = bytes
        p.scanBytesI8 = bytes
        p.scanLongRowBytes = 0
        return p
    }

    /// The distance a scan over rows `rowBytes` apart of elements `elementBytes` wide gets
    /// (0 = no software prefetch): what the C drivers read.
    public func scanBytes(elementBytes: Int, rowBytes: Int) -> Int {
        if scanLongRowBytes > 0 && rowBytes >= scanLongRowBytes { return 0 }
        return elementBytes >= 4 ? scanBytesF32 : elementBytes == 2 ? scanBytesF16 : scanBytesI8
    }

    /// Makes this plan the one in force for the whole process (later scans and searches use it).
    /// - Throws: `KestrelError.invalidArgument` when a scan distance is outside
    ///   0...``maxScanBytes``, `graphAhead` outside 0...``maxGraphAhead`` or `graphMaxLines`
    ///   outside 1...64; the plan in force is then unchanged.
    public func activate() throws(KestrelError) {
        for (name, v) in [("scanBytesF32", scanBytesF32), ("scanBytesF16", scanBytesF16), ("scanBytesI8", scanBytesI8)]
        where !(0...Self.maxScanBytes).contains(v) {
            throw .invalidArgument(name: name, reason: "must be in 0...\(Self.maxScanBytes) bytes, got \(v)")
        }
        guard scanLongRowBytes >= 0, scanLongRowBytes <= Int(UInt32.max) else {
            throw .invalidArgument(name: "scanLongRowBytes", reason: "must be in 0...\(UInt32.max), got \(scanLongRowBytes)")
        }
        guard (0...Self.maxGraphAhead).contains(graphAhead) else {
            throw .invalidArgument(name: "graphAhead", reason: "must be in 0...\(Self.maxGraphAhead), got \(graphAhead)")
        }
        guard (1...64).contains(graphMaxLines) else {
            throw .invalidArgument(name: "graphMaxLines", reason: "must be in 1...64, got \(graphMaxLines)")
        }
        var c = kestrel_prefetch_plan()
        c.scan_bytes = (UInt32(scanBytesF32), UInt32(scanBytesF16), UInt32(scanBytesI8))
        c.scan_long_row_bytes = UInt32(scanLongRowBytes)
        c.graph_ahead = UInt32(graphAhead)
        c.graph_max_lines = UInt32(graphMaxLines)
        guard kestrel_set_prefetch_plan(&c) == KESTREL_OK else {
            throw .invalidArgument(name: "plan", reason: "rejected by kestrel_set_prefetch_plan")
        }
    }

    /// Puts the start-up plan (rule plus environment) back in force.
    public static func restoreStartup() { _ = kestrel_set_prefetch_plan(nil) }

    /// Applies environment-style override strings to `base` exactly as start-up does
    /// (`kestrel_prefetch_apply_env`): returns the result and which of the two values were
    /// rejected (invalid values leave that part of `base` unchanged). Pure; for tests and tools.
    public static func applyingEnvironment(scan: String?, graph: String?, to base: PrefetchPlan)
        -> (plan: PrefetchPlan, rejected: [String])
    {
        var c = kestrel_prefetch_plan()
        c.scan_bytes = (UInt32(clamping: base.scanBytesF32), UInt32(clamping: base.scanBytesF16),
                        UInt32(clamping: base.scanBytesI8))
        c.scan_long_row_bytes = UInt32(clamping: base.scanLongRowBytes)
        c.graph_ahead = UInt32(clamping: base.graphAhead)
        c.graph_max_lines = UInt32(clamping: base.graphMaxLines)
        c.source = KESTREL_PREFETCH_FROM_RULE
        var rejected: Int32 = 0
        let out: kestrel_prefetch_plan = withOptionalCString(scan) { s in
            withOptionalCString(graph) { g in kestrel_prefetch_apply_env(c, s, g, &rejected) }
        }
        var plan = PrefetchPlan(out)
        if out.reason == nil { plan.reason = base.reason }
        if plan.source == .rule { plan.source = base.source }
        let names = (rejected & 1 != 0 ? ["KESTREL_PREFETCH"] : []) + (rejected & 2 != 0 ? ["KESTREL_GRAPH_PREFETCH"] : [])
        return (plan, names)
    }
}

/// Calls `body` with a C string of `s`, or NULL for nil.
private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
