import Foundation
import Kestrel
import KestrelBenchmarkKit
import MCP

/// The tools that need nothing but this build (the history and index tools are in
/// MCPHistoryTools.swift).
enum MCPTools {
    /// Every tool of this build, in `tools/list` order. `catalog` makes the benchmark suites
    /// (tests inject fake measurements).
    static func all(state: MCPState, catalog: @escaping @Sendable () -> SuiteCatalog = { SuiteCatalog.standard() })
        -> [MCPToolDefinition] {
        [benchmarkRun(state: state, catalog: catalog), bottleneckAnalyze(), kernelInfo(), tokenUsage(), quantizeReport()]
            + MCPHistoryTools.all(state: state)
    }

    // MARK: - kernel_info

    /// The facts of `kestrel info` that do not change while the process lives, computed once
    /// (a `kernel_info` call then costs an encoding, not a CPUID walk).
    static let machineFacts: Value = {
        let cpu = CPUDescription.current
        let plan = PrefetchPlan.current
        var facts: [String: Value] = [
            "cpu": .object([
                "model": .string(ISALevel.cpuName), "vendor": .string(cpu.vendor), "vendorID": .string(cpu.vendorID),
                "family": .int(cpu.family), "modelNumber": .int(cpu.model),
                "activeProcessors": .int(SystemProbe.activeProcessorCount),
            ]),
            "caches": .object([
                "l1dBytes": .int(cpu.l1dBytes), "l2Bytes": .int(cpu.l2Bytes), "l3Bytes": .int(cpu.l3Bytes),
                "lineBytes": .int(cpu.lineBytes),
            ]),
            "isa": .object([
                "supported": .array(ISALevel.supported.map { .string($0.rawValue) }),
                "active": .string(ISALevel.active.rawValue), "best": .string(ISALevel.best.rawValue),
            ]),
            "prefetch": .object([
                "scanBytesF32": .int(plan.scanBytesF32), "scanBytesF16": .int(plan.scanBytesF16),
                "scanBytesI8": .int(plan.scanBytesI8), "graphAhead": .int(plan.graphAhead),
                "source": .string(plan.source.rawValue), "reason": .string(plan.reason),
            ]),
            "info": .array(InfoCommand.lines(cpu: cpu, plan: plan, rejected: PrefetchPlan.rejectedEnvironment).map { .string($0) }),
        ]
        facts["blasKernelSet"] = BLASLibrary.kernelSet.map { .string($0) } ?? .null
        return .object(facts)
    }()

    /// The one-thread roofs as `kestrel profile` caches them (nil when never measured on this machine).
    static func cachedRoofline(file: URL = RooflineProbe.defaultCacheFile) -> MachinePeaks? {
        struct Cache: Decodable { var entries: [String: MachinePeaks] }
        guard let data = try? Data(contentsOf: file) else { return nil }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        guard let cache = try? d.decode(Cache.self, from: data) else { return nil }
        let kernel = FMAPeak.axpyKernel().name
        return cache.entries.values.filter {
            $0.cpuModel == BenchmarkEnvironment.cpuModelName && $0.threads == 1 && $0.flopsKernel == kernel
        }.max { $0.measuredAt < $1.measuredAt }
    }

    static func rooflineValue(_ p: MachinePeaks?, source: String) -> Value {
        guard let p else {
            return .object(["available": false, "source": .string(source),
                            "reason": "not measured on this machine yet: call kernel_info with roofline=measure (or run `kestrel profile`)"])
        }
        return .object([
            "available": true, "source": .string(source),
            "peakGflops": .double(p.peakFlopsPerSecond / 1e9), "bandwidthGBps": .double(p.memoryBandwidthBytesPerSecond / 1e9),
            "ridgeFlopsPerByte": .double(p.ridgePoint), "threads": .int(p.threads), "flopsKernel": .string(p.flopsKernel),
            "bandwidthKernel": .string(p.bandwidthKernel), "build": .string(p.buildConfiguration),
            "measuredAt": .string(ISO8601DateFormatter().string(from: p.measuredAt)),
        ])
    }

    static let rooflineSchema = Schema.object([
        "available": Schema.boolean("Whether roofs are known."), "source": Schema.string("cached, measured or skipped."),
        "reason": Schema.string("Why there are no roofs."),
        "peakGflops": Schema.number("One-thread FMA peak, GFLOP/s."), "bandwidthGBps": Schema.number("STREAM triad bandwidth, GB/s."),
        "ridgeFlopsPerByte": Schema.number("Ridge point, FLOP/byte."), "threads": Schema.integer("Threads of the measurement."),
        "flopsKernel": Schema.string("FLOP kernel."), "bandwidthKernel": Schema.string("Bandwidth kernel."),
        "build": Schema.string("Build configuration of the measurement."), "measuredAt": Schema.string("ISO-8601 time."),
    ], required: ["available", "source"])

    static func kernelInfo() -> MCPToolDefinition {
        let input = Schema.object([
            "roofline": Schema.string("cached (default: the roofs `kestrel profile` measured, if any), measure (measure "
                                      + "now, about a second, then cached in release builds) or skip.",
                                      enum: ["cached", "measure", "skip"]),
        ])
        let output = Schema.object([
            "cpu": Schema.object([
                "model": Schema.string("CPU model name."), "vendor": Schema.string("Vendor."), "vendorID": Schema.string("CPUID vendor string."),
                "family": Schema.integer("Family."), "modelNumber": Schema.integer("Model number."),
                "activeProcessors": Schema.integer("Processors this process may run on."),
            ], required: ["model", "vendor", "activeProcessors"]),
            "caches": Schema.object([
                "l1dBytes": Schema.integer("L1 data cache, bytes (0: unknown)."), "l2Bytes": Schema.integer("L2, bytes."),
                "l3Bytes": Schema.integer("L3, bytes."), "lineBytes": Schema.integer("Cache line, bytes."),
            ], required: ["l1dBytes", "l2Bytes", "l3Bytes", "lineBytes"]),
            "isa": Schema.object([
                "supported": Schema.array(Schema.string("A tier."), description: "Kernel tiers this CPU runs, narrowest first."),
                "active": Schema.string("Tier in use (KESTREL_ISA may lower it)."), "best": Schema.string("Widest supported tier."),
            ], required: ["supported", "active", "best"]),
            "prefetch": Schema.freeObject,
            "info": Schema.array(Schema.string("A line."), description: "The lines `kestrel info` prints."),
            "blasKernelSet": Schema.any(["string", "null"]),
            "roofline": rooflineSchema,
        ], required: ["cpu", "caches", "isa", "roofline"])
        let tool = Tool(name: "kernel_info", title: "CPU, kernel tiers, caches and roofline",
                        description: "The CPU (model, vendor, caches), the SIMD kernel tiers it runs and the one in use, "
                            + "the prefetch plan, and the roofline (compute and bandwidth roofs). Cheap: answers in well under a millisecond "
                            + "unless roofline=measure.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false), outputSchema: output)
        let memo = KernelInfoMemo(outputSchema: output)
        return MCPToolDefinition(tool: tool, runsInline: true) { call in
            switch call.string("roofline") ?? "cached" {
            case "skip": return memo.skipped()
            case "measure":
                let peaks = try BLASThreads.singleThreaded {
                    try RooflineProbe.cachedPeaks(cacheFile: memo.rooflineFile, threads: 1, flopsKernel: FMAPeak.axpyKernel(),
                                                  remeasure: true)
                }
                return kernelInfoOutput(roofline: rooflineValue(peaks, source: "measured"))
            default: return memo.cached()
            }
        }
    }

    /// The machine facts with `roofline` added.
    static func kernelInfoOutput(roofline: Value) -> ToolOutput {
        guard case .object(var facts) = machineFacts else { return ToolOutput(machineFacts) }
        facts["roofline"] = roofline
        return ToolOutput(.object(facts))
    }

    // MARK: - benchmark_run

    static func benchmarkRun(state: MCPState, catalog: @escaping @Sendable () -> SuiteCatalog) -> MCPToolDefinition {
        let suites = SuiteCatalog.standard().acceptedNames
        let input = Schema.object([
            "suite": Schema.string("Suite to run (default all).", enum: suites),
            "case": Schema.string("Run only this case (a name from a report's results); overrides suite.", minLength: 1, maxLength: 200),
            "quick": Schema.boolean("Smoke run: smaller data, fewer samples (default false, as `kestrel benchmark`)."),
            "save_baseline": Schema.string("Also save the report as this named baseline (a resource kestrel://baselines/NAME).",
                                           minLength: 1, maxLength: 64),
        ])
        let tool = Tool(name: "benchmark_run", title: "Run benchmark suites",
                        description: "Runs Kestrel's benchmark suites (or one case) on synthetic data and returns the same JSON "
                            + "report as `kestrel benchmark --json`: every case's value, unit, target and PASS/WARN/FAIL/SKIP/INFO "
                            + "status. Sends a progress notification per case and stops between cases when cancelled. "
                            + "The report becomes the resource kestrel://reports/last and a run of the performance history. A full `all` run takes about a minute.",
                        inputSchema: input, annotations: .init(readOnlyHint: false, destructiveHint: false, openWorldHint: false),
                        outputSchema: reportSchema)
        return MCPToolDefinition(tool: tool) { call in
            // A bad baseline name fails before a minute of measuring, and before anything is written.
            let baseline = try call.string("save_baseline").map { try state.baselineURL($0) }
            let report = try runBenchmark(call, catalog: catalog())
            try state.saveLastReport(report)
            if let baseline { try report.save(to: baseline) }
            // Recorded like a `kestrel benchmark --save` run: performance_report sees it.
            _ = try state.history?.history().record(report)
            let value = try PlainJSON.decode(report.jsonData())
            return ToolOutput(structured: value, text: String(decoding: try report.jsonData(), as: UTF8.self))
        }
    }

    /// Runs the selected cases one by one (so progress and cancellation fall between cases) and
    /// assembles the report `BenchmarkSuite.run` would have produced.
    static func runBenchmark(_ call: ToolCall, catalog: SuiteCatalog) throws -> BenchmarkReport {
        let quick = call.bool("quick") ?? false
        let settings = quick ? SuiteSettings.quick : SuiteSettings.full
        let suiteName = call.string("suite") ?? "all"
        let caseName = call.string("case")
        let suite = try catalog.makeSuite(caseName == nil ? suiteName : "all",
                                          context: SuiteContext(settings: settings, charts: BenchmarkCharts()))
        var selected = try suite.cases(inSuite: caseName == nil && suiteName != "all" ? suiteName : nil)
        if let caseName {
            selected = selected.filter { $0.name == caseName }
            guard !selected.isEmpty else {
                throw MCPError.invalidParams("unknown case '\(caseName)' (cases: \(suite.cases.map(\.name).joined(separator: ", ")))")
            }
        }
        let environment = BenchmarkEnvironment.kestrel()
        let started = MonotonicClock.now()
        let usageStart = try? SystemProbe.processSample()
        var results: [BenchmarkCaseResult] = []
        for (i, c) in selected.enumerated() {
            try call.cancel.check()
            call.progress(Double(i), Double(selected.count), "running \(c.name)")
            var one = BenchmarkSuite()
            try one.register(c)
            results += try one.run(suite: nil, environment: environment, context: BenchmarkContext(seed: settings.seed)).results
        }
        try call.cancel.check()
        call.progress(Double(selected.count), Double(selected.count), "done")
        var report = BenchmarkReport(environment: environment, suite: caseName ?? suiteName, results: results,
                                     durationSeconds: Double(MonotonicClock.elapsed(since: started)) / 1e9)
        if let s = usageStart, let e = try? SystemProbe.processSample() {
            report.findings = BottleneckDetector().analyze([
                ComponentObservation(component: "benchmark run", usage: SystemProbe.usage(from: s, to: e)),
            ])
        }
        return report
    }

    /// The report's JSON Schema (BenchmarkReport, schema version 1): the fields a client relies
    /// on are listed, nested figures are left open.
    static let reportSchema: Value = {
        let number = Schema.any(["number", "string", "null"])  // non-finite figures are written as "nan"/"inf"
        let result = Schema.object([
            "name": Schema.string("Case name."), "suite": Schema.string("Suite."), "summary": Schema.string("What it measures."),
            "target": Schema.any(["object", "null"]), "value": number, "unit": Schema.string("Unit of value."),
            "interval": Schema.any(["object", "null"]), "higherIsBetter": Schema.any(["boolean", "null"]),
            "status": Schema.string("Verdict.", enum: BenchmarkStatus.allCases.map(\.rawValue)),
            "latency": Schema.any(["object", "null"]), "comparison": Schema.any(["object", "null"]),
            "metrics": Schema.freeObject, "notes": Schema.array(Schema.string("A note."), description: "Caveats."),
            "error": Schema.any(["string", "null"]), "durationSeconds": number,
        ], required: ["name", "suite", "status", "unit"], additional: true)
        return Schema.object([
            "schemaVersion": Schema.integer("Report schema version.", minimum: 1),
            "createdAt": Schema.string("ISO-8601 time the run finished."),
            "environment": Schema.freeObject, "suite": Schema.string("Suite or case run."),
            "results": Schema.array(result, description: "Every case, in run order."),
            "durationSeconds": number,
            "findings": Schema.array(Schema.freeObject, description: "Bottleneck findings of the run."),
        ], required: ["schemaVersion", "createdAt", "environment", "suite", "results"], additional: true)
    }()

    // MARK: - bottleneck_analyze

    /// Which detector rules belong to each metric family.
    static let rulesByMetric: [String: Set<BottleneckFinding.Rule>] = [
        "latency": [.latencyP95, .latencyP99, .tailLatency, .noisyMeasurement],
        "throughput": [.bandwidthBound, .computeUnderused, .lowIPC, .cacheMisses],
        "memory": [.memoryPressure, .majorPageFaults, .cacheMisses],
        "cpu": [.cpuSaturation, .oversubscription, .lowIPC],
    ]

    static func bottleneckAnalyze() -> MCPToolDefinition {
        let metrics = ["latency", "throughput", "memory", "cpu"]
        let input = Schema.object([
            "component": Schema.string("Workload: scan (one query against many rows with a distance kernel) or matmul (square product).",
                                       enum: ["scan", "matmul"]),
            "metrics": Schema.array(Schema.string("A metric family.", enum: metrics),
                                    description: "Which findings and figures to report (default all four).", minItems: 1, maxItems: 4),
            "op": Schema.string("scan: distance.", enum: ["dot", "l2sq", "cosine", "hamming", "jaccard"]),
            "dtype": Schema.string("scan: stored type.", enum: ["f32", "f16", "bf16", "i8", "b1"]),
            "dim": Schema.integer("scan: elements per vector.", minimum: 1, maximum: 65_536),
            "count": Schema.integer("scan: rows per query.", minimum: 1, maximum: 10_000_000),
            "size": Schema.integer("matmul: N.", minimum: 1, maximum: 4096),
            "calls": Schema.integer("Calls measured (stops after 5 s).", minimum: 1, maximum: 100_000),
        ], required: ["component"])
        let output = Schema.object([
            "component": Schema.string("The workload profiled."), "calls": Schema.integer("Calls measured."),
            "metrics": Schema.array(Schema.string("A family.", enum: metrics), description: "Families reported."),
            "latency": Schema.freeObject, "throughput": Schema.freeObject, "memory": Schema.freeObject, "cpu": Schema.freeObject,
            "findings": Schema.array(Schema.object([
                "component": Schema.string("Component."), "rule": Schema.string("Rule."),
                "severity": Schema.string("Severity.", enum: ["info", "warning", "critical"]),
                "measured": number, "threshold": number, "unit": Schema.string("Unit."),
                "summary": Schema.string("What was found."), "recommendation": Schema.string("What to do."),
            ], required: ["rule", "severity", "summary", "recommendation"], additional: true),
                                     description: "KestrelProfiling's BottleneckDetector findings of these families, most severe first."),
        ], required: ["component", "calls", "metrics", "findings"])
        let tool = Tool(name: "bottleneck_analyze", title: "Find bottlenecks of a workload",
                        description: "Profiles a built-in workload (a distance scan or a matmul) under every probe — per-call latency "
                            + "(HdrHistogram), process CPU and memory, hardware counters, the roofline when its roofs are cached — and "
                            + "returns KestrelProfiling's bottleneck findings with recommendations for the chosen metric families.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false), outputSchema: output)
        return MCPToolDefinition(tool: tool) { call in
            let families = call.strings("metrics") ?? metrics
            let workload: Workload
            let component = call.string("component") ?? "scan"
            call.progress(0, 3, "building the \(component) workload")
            if component == "matmul" {
                workload = try Workload.matmul(call.int("size") ?? 256)
            } else {
                let spec: KernelBenchSpec
                do throws(KestrelError) {
                    spec = try KernelBenchSpec.validate(op: call.string("op") ?? "l2sq", dtype: call.string("dtype") ?? "f32",
                                                        dim: call.int("dim") ?? 768, count: call.int("count") ?? 20_000, isa: "auto")
                } catch {
                    throw MCPError.invalidParams(KernelBenchSpec.flagMessage(error))
                }
                workload = try Workload.scan(spec)
            }
            try call.cancel.check()
            call.progress(1, 3, "measuring \(workload.name)")
            var profiler = ComponentProfiler(roofline: cachedRoofline().map(RooflineModel.init))
            profiler.calls = call.int("calls") ?? 50
            profiler.maxNanoseconds = 5_000_000_000
            let cancel = call.cancel
            // The profiler cannot be interrupted: once cancelled, the remaining calls do nothing.
            let body = { if !cancel.isCancelled { workload.call() } }
            let o = try component == "matmul"
                ? BLASThreads.singleThreaded { try profiler.profile(workload.name, flopsPerCall: workload.flopsPerCall,
                                                                    bytesPerCall: workload.bytesPerCall, body) }
                : profiler.profile(workload.name, flopsPerCall: workload.flopsPerCall, bytesPerCall: workload.bytesPerCall, body)
            try call.cancel.check()
            try workload.checkFailures()
            call.progress(2, 3, "analysing")
            let wanted = families.reduce(into: Set<BottleneckFinding.Rule>()) { $0.formUnion(rulesByMetric[$1] ?? []) }
            let findings = BottleneckDetector().analyze([o]).filter { wanted.contains($0.rule) }
            var out: [String: Value] = [
                "component": .string(workload.name), "calls": .int(Int(o.latency?.count ?? 0)),
                "metrics": .array(families.map { .string($0) }), "findings": try ToolOutput.encode(findings),
            ]
            if families.contains("latency"), let l = o.latency { out["latency"] = try ToolOutput.encode(l) }
            if families.contains("throughput") {
                var t: [String: Value] = [:]
                if let l = o.latency, l.mean > 0 { t["callsPerSecond"] = .double(1e9 / l.mean) }
                if let r = o.roofline { t["roofline"] = try ToolOutput.encode(r) }
                if let c = o.counters { t["counters"] = try ToolOutput.encode(c) }
                out["throughput"] = .object(t)
            }
            if families.contains("memory") {
                var m: [String: Value] = [:]
                if let s = o.memory { m["system"] = try ToolOutput.encode(s) }
                if let u = o.usage {
                    m["residentBytes"] = .int(Int(u.residentBytes))
                    m["peakResidentBytes"] = .int(Int(u.peakResidentBytes))
                    m["minorFaults"] = .int(Int(u.minorFaults))
                    m["majorFaults"] = .int(Int(u.majorFaults))
                }
                out["memory"] = .object(m)
            }
            if families.contains("cpu"), let u = o.usage { out["cpu"] = try ToolOutput.encode(u) }
            call.progress(3, 3, "done")
            return ToolOutput(.object(out))
        }
    }

    private static let number = Schema.any(["number", "string", "null"])

    // MARK: - token_usage

    static func tokenUsage() -> MCPToolDefinition {
        let input = Schema.object([
            "path": Schema.string("A log file: a JSON array of records or one JSON record per line.", minLength: 1),
            "log": Schema.string("The log itself, in the same formats (instead of path).", minLength: 1),
            "pricing": Schema.object([
                "inputPerMillion": Schema.number("Price per million input tokens.", minimum: 0),
                "cachedInputPerMillion": Schema.number("Price per million cached input tokens.", minimum: 0),
                "outputPerMillion": Schema.number("Price per million output tokens.", minimum: 0),
            ], required: ["inputPerMillion", "cachedInputPerMillion", "outputPerMillion"]),
            "large_input_tokens": Schema.integer("An input at or above this many tokens is large (default 1000).", minimum: 1),
        ])
        let tool = Tool(name: "token_usage", title: "Analyse token usage",
                        description: "Analyses a log of LLM calls (per call: operation, input, output and cached input tokens; "
                            + "camelCase as TokenUsageRecord or the snake_case of provider logs: input_tokens, output_tokens, "
                            + "cache_read_input_tokens) with KestrelBenchmarkKit's TokenUsageAnalyzer: totals, per-operation "
                            + "breakdown, cache-hit rate, inefficiencies and the saving of prefix caching.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false),
                        outputSchema: Schema.object([
                            "totals": Schema.freeObject, "breakdown": Schema.array(Schema.freeObject, description: "Per operation."),
                            "inefficiencies": Schema.array(Schema.freeObject, description: "Wasteful patterns."),
                            "prefixCachingSaving": Schema.freeObject, "cost": number, "records": Schema.integer("Calls read."),
                        ], required: ["totals", "breakdown", "inefficiencies", "prefixCachingSaving", "records"]))
        return MCPToolDefinition(tool: tool) { call in
            let text: String
            switch (call.string("path"), call.string("log")) {
            case (let path?, nil):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw KestrelError.io(path: path, operation: "read", errno: ENOENT)
                }
                text = String(decoding: data, as: UTF8.self)
            case (nil, let log?): text = log
            default: throw MCPError.invalidParams("token_usage needs exactly one of path and log")
            }
            let records = try TokenLog.parse(text)
            var analyzer = TokenUsageAnalyzer()
            if let p = call.arguments["pricing"]?.objectValue {
                func price(_ k: String) -> Double { p[k].flatMap { $0.doubleValue ?? $0.intValue.map(Double.init) } ?? 0 }
                analyzer.pricing = TokenPricing(inputPerMillion: price("inputPerMillion"),
                                                cachedInputPerMillion: price("cachedInputPerMillion"),
                                                outputPerMillion: price("outputPerMillion"))
            }
            if let large = call.int("large_input_tokens") { analyzer.largeInputTokens = large }
            guard case .object(var out) = try ToolOutput.encode(try analyzer.analyze(records)) else {
                throw MCPError.internalError("token report did not encode as an object")
            }
            out["records"] = .int(records.count)
            return ToolOutput(.object(out))
        }
    }

    // MARK: - quantize_report

    static func quantizeReport() -> MCPToolDefinition {
        let input = Schema.object([
            "format": Schema.string("Quantization format.", enum: QuantizerCatalog.names),
            "path": Schema.string("A .npy tensor (float32/float16, 1-D or 2-D) or a .gguf file.", minLength: 1),
            "tensor": Schema.string("GGUF: only this tensor (default every tensor).", minLength: 1),
            "group": Schema.integer("int8/int4: scale groups of 32, 64 or 128 (default one scale per row).", minimum: 1, maximum: 4096),
            "generate": Schema.object([
                "rows": Schema.integer("Rows.", minimum: 1, maximum: 65_536),
                "cols": Schema.integer("Columns (a multiple of the format's block).", minimum: 1, maximum: 65_536),
                "seed": Schema.integer("Seed of the uniform values in [-1, 1).", minimum: 0),
            ], required: ["rows", "cols"], description: "Instead of path: a seeded random tensor."),
        ], required: ["format"])
        let layer = Schema.object([
            "name": Schema.string("Tensor."), "shape": Schema.array(Schema.integer("Extent."), description: "Shape."),
            "format": Schema.string("Format."), "bytesBefore": Schema.integer("Bytes as stored."),
            "bytesAfter": Schema.integer("Bytes quantized."), "reductionPercent": number, "rmse": number, "maxAbsError": number,
            "snrDB": number, "cosineSimilarity": number, "effectiveBits": number,
        ], required: ["name", "shape", "bytesBefore", "bytesAfter", "rmse", "snrDB"])
        let tool = Tool(name: "quantize_report", title: "Quantization error report",
                        description: "Quantizes a .npy/.gguf tensor (or generated data) to a format and reports what it costs and "
                            + "saves per tensor (KestrelQuantization's error analysis: RMSE, max |error|, SNR, cosine, bits per value, "
                            + "bytes), most sensitive tensor first. Progress per tensor; cancellable between tensors.",
                        inputSchema: input, annotations: .init(readOnlyHint: true, openWorldHint: false),
                        outputSchema: Schema.object([
                            "source": Schema.string("Path or 'generated'."), "format": Schema.string("Format."),
                            "layers": Schema.array(layer, description: "Per tensor, lowest SNR first."),
                            "bytesBefore": Schema.integer("Total before."), "bytesAfter": Schema.integer("Total after."),
                            "skipped": Schema.array(Schema.string("Tensor: reason."), description: "Tensors the format cannot hold."),
                        ], required: ["source", "format", "layers", "bytesBefore", "bytesAfter", "skipped"]))
        return MCPToolDefinition(tool: tool) { call in
            let format = call.string("format") ?? "q8_0"
            let quantizer = try QuantizerCatalog.quantizer(named: format, group: call.int("group"))
            let tensors: [NamedTensor]
            let source: String
            switch (call.string("path"), call.arguments["generate"]?.objectValue) {
            case (let path?, nil):
                tensors = try FloatSource.read(path, tensor: call.string("tensor"), all: true)
                source = path
            case (nil, let g?):
                let rows = g["rows"]?.intValue ?? 1, cols = g["cols"]?.intValue ?? 1
                let seed = UInt64(max(0, g["seed"]?.intValue ?? 42))
                tensors = [NamedTensor("generated \(rows)x\(cols)", try Tensor.random([rows, cols], seed: seed))]
                source = "generated"
            default: throw MCPError.invalidParams("quantize_report needs exactly one of path and generate")
            }
            var layers: [QuantizationReport] = []
            var skipped: [String] = []
            for (i, t) in tensors.enumerated() {
                try call.cancel.check()
                call.progress(Double(i), Double(tensors.count), t.name)
                do {
                    layers.append(try QuantizationReport(name: t.name, tensor: t.tensor, quantizer: quantizer))
                } catch {
                    skipped.append("\(t.name) \(ShapeText.format(t.tensor.shape.dims)): \(error)")
                }
            }
            call.progress(Double(tensors.count), Double(tensors.count), "done")
            layers.sort { $0.snrDB < $1.snrDB }
            func finite(_ x: Double) -> Value { x.isFinite ? .double(x) : .string(x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf")) }
            let rows: [Value] = layers.map { r in
                .object([
                    "name": .string(r.name), "shape": .array(r.shape.map { .int($0) }), "format": .string(r.format),
                    "bytesBefore": .int(r.bytesBefore), "bytesAfter": .int(r.bytesAfter),
                    "reductionPercent": finite(r.reductionPercent), "rmse": finite(r.rmse), "maxAbsError": finite(r.maxAbsError),
                    "snrDB": finite(r.snrDB), "cosineSimilarity": finite(r.cosineSimilarity), "effectiveBits": finite(r.effectiveBits),
                ])
            }
            let out: Value = .object([
                "source": .string(source), "format": .string(format), "layers": .array(rows),
                "bytesBefore": .int(layers.reduce(0) { $0 + $1.bytesBefore }), "bytesAfter": .int(layers.reduce(0) { $0 + $1.bytesAfter }),
                "skipped": .array(skipped.map { .string($0) }),
            ])
            return ToolOutput(structured: out, text: QuantizationTable.render(layers) + skipped.map { "skipped: \($0)\n" }.joined())
        }
    }
}

/// Reads token logs: a JSON array of records or JSON Lines, in TokenUsageRecord's camelCase or
/// the snake_case of provider usage logs.
enum TokenLog {
    /// - Throws: `KestrelError.corruptFile` naming the first bad record.
    static func parse(_ text: String) throws -> [TokenUsageRecord] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var objects: [Value] = []
        if trimmed.hasPrefix("[") {
            guard case .array(let array)? = try? PlainJSON.decode(Data(trimmed.utf8)) else {
                throw KestrelError.corruptFile(path: nil, section: "token log", reason: "not a JSON array of records")
            }
            objects = array
        } else {
            for (i, line) in trimmed.split(whereSeparator: \.isNewline).enumerated() where !line.allSatisfy(\.isWhitespace) {
                guard let v = try? PlainJSON.decode(Data(line.utf8)) else {
                    throw KestrelError.corruptFile(path: nil, section: "token log", reason: "line \(i + 1) is not JSON")
                }
                objects.append(v)
            }
        }
        return try objects.enumerated().map { i, v in
            guard case .object(let o) = v else {
                throw KestrelError.corruptFile(path: nil, section: "token log", reason: "record \(i + 1) is not an object")
            }
            func int(_ keys: String...) -> Int? {
                for k in keys { if let x = o[k]?.intValue { return x } }
                return nil
            }
            let operation = ["operation", "tool", "name", "model"].lazy.compactMap { o[$0]?.stringValue }.first ?? "unknown"
            guard let input = int("inputTokens", "input_tokens", "prompt_tokens"),
                  let output = int("outputTokens", "output_tokens", "completion_tokens") else {
                throw KestrelError.corruptFile(path: nil, section: "token log", reason: "record \(i + 1) has no input/output token counts")
            }
            let cached = int("cachedInputTokens", "cached_input_tokens", "cache_read_input_tokens") ?? 0
            return TokenUsageRecord(operation: operation, inputTokens: input, outputTokens: output, cachedInputTokens: cached,
                                    sharedPrefixTokens: int("sharedPrefixTokens", "shared_prefix_tokens"))
        }
    }
}
