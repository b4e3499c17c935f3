// swift-tools-version: 6.1
import PackageDescription

// Kestrel's micro-benchmarks (ordo-one/benchmark). A nested package, so users of the
// library never resolve the benchmark harness. Run from this folder; see README.md.
let package = Package(
    name: "KestrelBenchmarks",
    platforms: [.macOS(.v15), .iOS(.v18)],
    dependencies: [
        // `name:` fixes the name used below: a path dependency is otherwise named after its
        // folder, which differs between checkouts.
        .package(name: "Kestrel", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Shared by the suites: tiers, deterministic aligned inputs, the default configuration.
        .target(
            name: "KestrelBenchmarkSupport",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelKernels", package: "Kestrel"),
                .product(name: "KestrelTensor", package: "Kestrel"),
            ],
            path: "Sources/KestrelBenchmarkSupport"
        ),
        // Every C kernel family at every tier this CPU runs.
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelKernels", package: "Kestrel"),
            ],
            path: "Benchmarks/KernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Matrix products: BLAS sgemm, one file per implementation.
        .executableTarget(
            name: "MatmulBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelTensor", package: "Kestrel"),
            ],
            path: "Benchmarks/MatmulBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // KestrelVectorIndex: FlatIndex and HNSWIndex searches and HNSW insertion.
        .executableTarget(
            name: "IndexBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelVectorIndex", package: "Kestrel"),
            ],
            path: "Benchmarks/IndexBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // KestrelQuantization: block formats, integer schemes, quantized dot products and GEMV.
        // One file per part; QuantizationBenchmarks.swift registers them all.
        .executableTarget(
            name: "QuantizationBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelKernels", package: "Kestrel"),
                .product(name: "KestrelQuantization", package: "Kestrel"),
            ],
            path: "Benchmarks/QuantizationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // KestrelAttention: the FlashAttention forward pass at 1k and 4k (issue 17).
        .executableTarget(
            name: "AttentionBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelAttention", package: "Kestrel"),
            ],
            path: "Benchmarks/AttentionBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The recording side of KestrelProfiling: LatencyRecorder, ConcurrentLatencyRecorder, MonotonicClock.
        .executableTarget(
            name: "ProfilingBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelProfiling", package: "Kestrel"),
            ],
            path: "Benchmarks/ProfilingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // KestrelAdaptation: Micro-LoRA training step and apply at d = 768 (issue 19).
        .executableTarget(
            name: "AdaptationBenchmarks",
            dependencies: [
                "KestrelBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KestrelAdaptation", package: "Kestrel"),
            ],
            path: "Benchmarks/AdaptationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
