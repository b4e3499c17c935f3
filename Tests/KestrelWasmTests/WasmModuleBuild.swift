import Foundation
import KestrelWasm

/// The two modules of `CKernels/wasm/build.sh`, built once per test process into a temporary
/// folder with the toolchain's clang (a few seconds). Built rather than committed: a committed
/// .wasm goes stale with every kernel change, and the build is what users run.
enum WasmModuleBuild {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The toolchain's clang when it has the wasm32 target (else the suites are skipped, saying so).
    static let clang: String? = {
        let candidates = ["/opt/swift/usr/bin/clang"] + (ProcessInfo.processInfo.environment["CLANG"].map { [$0] } ?? [])
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            if let out = run(c, ["-print-targets"]), out.output.contains("wasm32") { return c }
        }
        return nil
    }()

    static var available: Bool { clang != nil && directory != nil }

    /// The folder holding kestrel-kernels.wasm and kestrel-kernels-scalar.wasm, or nil when the
    /// build failed (its output is printed).
    static let directory: String? = {
        guard let clang else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-wasm-\(getpid())").path
        guard let r = run("/bin/bash", [root + "/CKernels/wasm/build.sh", dir], env: ["CLANG": clang]), r.status == 0 else {
            print("WasmModuleBuild: CKernels/wasm/build.sh failed")
            return nil
        }
        return dir
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        guard let directory else { throw CocoaError(.fileNoSuchFile) }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
    }

    static func run(_ exe: String, _ args: [String], env: [String: String] = [:]) -> (status: Int32, output: String)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationStatus != 0 { print(text) }
        return (p.terminationStatus, text)
    }
}
