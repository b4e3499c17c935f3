// swift-tools-version: 6.1
import PackageDescription

// Platforms where BLAS/LAPACK come from OpenBLAS + LAPACKE (elsewhere, Apple's Accelerate).
let openBLASPlatforms: [Platform] = [.linux, .android, .openbsd]

let package = Package(
    name: "Kestrel",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        // The Swift face and, for C callers, the C API beneath it.
        .library(name: "KestrelKernels", targets: ["KestrelKernels", "CKestrelKernels"]),
        .library(name: "KestrelTensor", targets: ["KestrelTensor"]),
        .library(name: "KestrelQuantization", targets: ["KestrelQuantization"]),
        .library(name: "KestrelAttention", targets: ["KestrelAttention"]),
        .library(name: "KestrelVectorIndex", targets: ["KestrelVectorIndex"]),
        .library(name: "KestrelProfiling", targets: ["KestrelProfiling"]),
        .library(name: "KestrelAdaptation", targets: ["KestrelAdaptation"]),
        .library(name: "Kestrel", targets: ["Kestrel"]),
        .executable(name: "kestrel", targets: ["KestrelCLI"]),
        // The wasm32 build of CKernels run in WasmKit: its own product, so that only its users
        // resolve and build WasmKit (SwiftPM resolves a dependency's packages per used product).
        .library(name: "KestrelWasm", targets: ["KestrelWasm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/swiftwasm/WasmKit.git", exact: "0.4.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // `kestrel mcp`: the protocol types and server (Documentation/MCP.md).
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
    ],
    targets: [
        // C11 SIMD kernels with run-time dispatch; the only place with intrinsics.
        .target(
            name: "CKestrelKernels",
            path: "CKernels",
            exclude: ["test", "wasm"],
            publicHeadersPath: "include",
            linkerSettings: [.linkedLibrary("m", .when(platforms: openBLASPlatforms))]
        ),
        // The Swift face over the C kernels, and the error type every module throws.
        .target(name: "KestrelKernels", dependencies: ["CKestrelKernels"]),
        .systemLibrary(
            name: "CKestrelBLAS",
            path: "Sources/CKestrelBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"]), .brew(["openblas"])]
        ),
        .target(
            name: "KestrelTensor",
            dependencies: [
                "KestrelKernels", "CKestrelKernels",
                .target(name: "CKestrelBLAS", condition: .when(platforms: openBLASPlatforms)),
            ],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS]))]
        ),
        .target(name: "KestrelQuantization", dependencies: ["KestrelKernels", "CKestrelKernels", "KestrelTensor"]),
        .target(
            name: "KestrelAttention",
            dependencies: [
                "KestrelKernels", "CKestrelKernels", "KestrelTensor", "KestrelQuantization",
                // KV-cache statistics are published as swift-metrics gauges (KVCacheStatistics.publish).
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "KestrelVectorIndex",
            dependencies: [
                // BLAS only through KestrelTensor (BLAS, BLASThreads): one owner of its thread count.
                "KestrelKernels", "CKestrelKernels", "KestrelTensor", "KestrelQuantization",
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // Depends on nothing of ours: it measures any closure (ARCHITECTURE.md).
        .target(
            name: "KestrelProfiling",
            dependencies: [
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .target(
            name: "KestrelAdaptation",
            dependencies: [
                "KestrelKernels", "CKestrelKernels", "KestrelTensor", "KestrelProfiling", "KestrelVectorIndex",
                // Adapters publish parameter sets to lock-free readers (MicroLoRA/LoRA apply).
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .target(
            name: "Kestrel",
            dependencies: [
                "KestrelKernels", "KestrelTensor", "KestrelQuantization", "KestrelAttention",
                "KestrelVectorIndex", "KestrelProfiling", "KestrelAdaptation",
            ]
        ),
        // Benchmark and demo code (built-in HNSW benchmark, synthetic data, report rendering, SVG
        // charts, token-usage analysis) shared by the CLI and the tests. Not a product: library
        // users never link it.
        .target(
            name: "KestrelBenchmarkKit",
            dependencies: ["KestrelTensor", "KestrelVectorIndex", "KestrelProfiling"]
        ),
        // The performance history (issue 20): a SQLite database of benchmark runs and metrics,
        // shared by `kestrel benchmark --save`, `kestrel report`, `kestrel status` and `kestrel mcp`.
        // Not a product: library users never link GRDB.
        .target(
            name: "KestrelHistory",
            dependencies: [
                "KestrelKernels", "KestrelProfiling",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .executableTarget(
            name: "KestrelCLI",
            dependencies: [
                "Kestrel", "KestrelBenchmarkKit", "KestrelHistory", "CKestrelKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .target(name: "CKestrelBLAS", condition: .when(platforms: openBLASPlatforms)),
            ]
        ),
        // Loads CKernels/wasm/build.sh's modules into WasmKit (Documentation/WebAssembly.md).
        .target(
            name: "KestrelWasm",
            dependencies: ["KestrelKernels", "KestrelTensor", .product(name: "WasmKit", package: "WasmKit")]
        ),
        .testTarget(
            name: "KestrelWasmTests",
            dependencies: ["KestrelWasm", "KestrelKernels", "CKestrelKernels", "_KestrelTestSupport"]
        ),
        .target(name: "_KestrelTestSupport", dependencies: ["KestrelKernels", "CKestrelKernels", "KestrelTensor"]),
        .testTarget(
            name: "KestrelKernelsTests",
            dependencies: [
                "KestrelKernels", "CKestrelKernels", "_KestrelTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // @testable import of the executable target (SwiftPM supports it on Linux and macOS).
        .testTarget(
            name: "KestrelCLITests",
            dependencies: ["KestrelCLI", "KestrelBenchmarkKit", "CKestrelKernels", "KestrelTensor", "KestrelVectorIndex", "_KestrelTestSupport"]
        ),
        .testTarget(
            name: "KestrelTensorTests",
            dependencies: [
                "KestrelTensor", "CKestrelKernels", "_KestrelTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "KestrelQuantizationTests",
            dependencies: [
                "KestrelQuantization", "KestrelKernels", "CKestrelKernels", "KestrelTensor", "_KestrelTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "KestrelAttentionTests",
            dependencies: [
                "KestrelAttention", "KestrelTensor", "CKestrelKernels", "_KestrelTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "KestrelVectorIndexTests",
            dependencies: ["KestrelVectorIndex", "KestrelBenchmarkKit", "_KestrelTestSupport"]
        ),
        .testTarget(
            name: "KestrelProfilingTests",
            dependencies: [
                // The report rendering tests use the suite fixtures here; rendering lives in the kit.
                "KestrelProfiling", "KestrelBenchmarkKit",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "KestrelAdaptationTests",
            dependencies: [
                "KestrelAdaptation", "KestrelKernels", "CKestrelKernels", "KestrelVectorIndex", "KestrelProfiling",
                "KestrelTensor", "_KestrelTestSupport",
            ]
        ),
        .testTarget(
            name: "KestrelHistoryTests",
            dependencies: [
                "KestrelHistory", "KestrelProfiling", "KestrelKernels", "KestrelTensor", "_KestrelTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "KestrelBenchmarkKitTests",
            dependencies: [
                "KestrelBenchmarkKit", "KestrelProfiling", "KestrelVectorIndex", "KestrelTensor", "_KestrelTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6],
    cLanguageStandard: .c11
)
