// swift-tools-version: 6.1
import PackageDescription

// Coverage-guided libFuzzer harness for every file loader of KestrelVectorIndex and the GGUF reader: run.sh builds
// and runs it; Documentation/FileFormats.md ("Fuzzing") describes the targets.
// A nested package, like Benchmarks/, so users of the library never build it. The sanitizer
// flags are passed on the command line (Fuzz/run.sh), never here: no unsafeFlags.
let package = Package(
    name: "KestrelFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:` fixes the name used below (a path dependency is otherwise named after its folder).
        .package(name: "Kestrel", path: ".."),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerMutate for the custom mutator (the symbol comes from
        // libFuzzer itself, linked by -sanitize=fuzzer).
        .target(name: "CKestrelFuzzSupport", path: "Sources/CKestrelFuzzSupport"),
        // One binary for every loader; `--target=NAME` picks the loader (see LoaderFuzzer.swift).
        .executableTarget(
            name: "KestrelLoaderFuzzer",
            dependencies: [
                "CKestrelFuzzSupport",
                .product(name: "KestrelKernels", package: "Kestrel"),
                .product(name: "KestrelVectorIndex", package: "Kestrel"),
                .product(name: "KestrelQuantization", package: "Kestrel"),
            ],
            path: "Sources/KestrelLoaderFuzzer"
        ),
    ],
    swiftLanguageModes: [.v6]
)
