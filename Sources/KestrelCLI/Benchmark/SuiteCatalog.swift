import Kestrel

/// What a suite's registration receives: the sizes to use and where to put charts.
struct SuiteContext {
    var settings: SuiteSettings
    var charts: BenchmarkCharts
}

/// One name `kestrel benchmark --suite` accepts: either a suite whose module is built (it
/// registers its real cases) or one whose module does not exist yet (no cases, never faked).
struct SuiteEntry {
    /// Registers the suite's cases into a ``BenchmarkSuite``.
    typealias Registration = (inout BenchmarkSuite, SuiteContext) throws -> Void

    /// Where the cases come from.
    enum Availability {
        /// The module is built: its cases are registered by this function.
        case built(Registration)
        /// The module has not landed yet; the string names it.
        case absent(module: String)
    }

    let name: String
    let availability: Availability

    /// A suite with real cases.
    static func built(_ name: String, _ register: @escaping Registration) -> SuiteEntry {
        SuiteEntry(name: name, availability: .built(register))
    }

    /// A suite whose module is not built yet.
    static func absent(_ name: String, module: String) -> SuiteEntry {
        SuiteEntry(name: name, availability: .absent(module: module))
    }

    var isBuilt: Bool {
        if case .built = availability { return true }
        return false
    }

    /// `hnsw: module not built yet (KestrelVectorIndex): no cases`, nil for a built suite.
    var absentLine: String? {
        guard case .absent(let module) = availability else { return nil }
        return "\(name): module not built yet (\(module)): no cases"
    }
}

/// The suites of `kestrel benchmark`, in run order.
///
/// To add a module's cases when its issue lands, replace its `.absent` entry in ``standard``
/// with one `.built` registration, e.g.
/// `.built("hnsw") { suite, context in try HNSWSuite(context: context).register(into: &suite) }`.
struct SuiteCatalog {
    var entries: [SuiteEntry]

    /// The names `--suite` accepts besides `all`, in the order the issue lists them.
    static let names = ["simd", "flash-attention", "hnsw", "quantization", "adaptation", "memory", "mcp", "wasm-simd"]

    /// The catalog of this build.
    static func standard() -> SuiteCatalog {
        SuiteCatalog(entries: [
            .built("simd") { suite, context in
                try SIMDSuite(probe: KernelSIMDProbe(settings: context.settings), settings: context.settings,
                              charts: context.charts).register(into: &suite)
            },
            .built("flash-attention") { suite, context in
                try FlashAttentionSuite(settings: context.settings).register(into: &suite)
            },
            .built("hnsw") { suite, context in
                try HNSWSuite(settings: context.settings, charts: context.charts).register(into: &suite)
            },
            .built("quantization") { suite, context in
                try QuantizationSuite(settings: context.settings).register(into: &suite)
            },
            .built("adaptation") { suite, context in
                try AdaptationSuite(settings: context.settings).register(into: &suite)
            },
            .built("memory") { suite, context in
                try MemorySuite(probe: SystemMemoryProbe(settings: context.settings), settings: context.settings)
                    .register(into: &suite)
            },
            .built("mcp") { suite, context in
                try MCPSuite(probe: MCPProcessProbe(settings: context.settings), settings: context.settings).register(into: &suite)
            },
            .built("wasm-simd") { suite, context in
                try WasmSIMDSuite(probe: WasmtimeProbe(), settings: context.settings).register(into: &suite)
            },
        ])
    }

    /// Every name `--suite` accepts: `all` and each entry's.
    var acceptedNames: [String] { ["all"] + entries.map(\.name) }

    /// The suites a `--suite` value selects, split into built and absent ones.
    /// - Throws: `KestrelError.invalidArgument` for a name the catalog does not know.
    func select(_ name: String) throws(KestrelError) -> (built: [SuiteEntry], absent: [SuiteEntry]) {
        let chosen: [SuiteEntry]
        if name == "all" {
            chosen = entries
        } else if let e = entries.first(where: { $0.name == name }) {
            chosen = [e]
        } else {
            throw .invalidArgument(
                name: "suite", reason: "unknown suite '\(name)' (expected \(acceptedNames.joined(separator: ", ")))")
        }
        return (chosen.filter(\.isBuilt), chosen.filter { !$0.isBuilt })
    }

    /// A ``BenchmarkSuite`` holding the cases of the built suites `name` selects.
    /// - Throws: `KestrelError.invalidArgument` for an unknown name; whatever a registration throws.
    func makeSuite(_ name: String, context: SuiteContext) throws -> BenchmarkSuite {
        var suite = BenchmarkSuite()
        for entry in try select(name).built {
            if case .built(let register) = entry.availability { try register(&suite, context) }
        }
        return suite
    }
}
