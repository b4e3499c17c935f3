// libFuzzer entry points. One binary fuzzes every loader of KestrelVectorIndex; the loader is
// chosen once per process with `--target=NAME` (libFuzzer ignores flags that start with `--`,
// so they pass through to LLVMFuzzerInitialize). A crash file therefore reproduces with
// `KestrelLoaderFuzzer --target=NAME crash-file`.
//
// Build with libFuzzer and ASan (flags on the command line; run.sh explains them):
//   swift build --package-path Fuzz -c debug --sanitize=fuzzer \
//     -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address
// The module has no top-level code: libFuzzer supplies `main`.

import CKestrelFuzzSupport
import Foundation

/// The loader a process fuzzes (set once by LLVMFuzzerInitialize, before any input).
nonisolated(unsafe) var selectedTarget: FuzzTarget?

/// Parses `--target=NAME` and `--make-corpus=DIR`; the latter writes the seed corpus of every
/// target into `DIR/<target>/` and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>
) -> CInt {
    // The check value of Documentation/FileFormats.md: the sealer and SpecCheck rely on it.
    let check = Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) }
    precondition(check == 0xE306_9283, "CRC-32C self-check failed: \(check)")
    var corpusDir: String?
    for i in 0..<Int(argc.pointee) {
        guard let p = argv.pointee[i] else { continue }
        let arg = String(cString: p)
        if arg.hasPrefix("--target=") {
            let name = String(arg.dropFirst("--target=".count))
            guard let t = FuzzTarget(rawValue: name) else { usage("unknown target '\(name)'") }
            selectedTarget = t
        } else if arg.hasPrefix("--make-corpus=") {
            corpusDir = String(arg.dropFirst("--make-corpus=".count))
        }
    }
    if let corpusDir {
        do {
            let n = try SeedCorpus.write(to: URL(fileURLWithPath: corpusDir))
            print("wrote \(n) seed files under \(corpusDir)")
            exit(0)
        } catch {
            printError("seed corpus: \(error)")
            exit(2)
        }
    }
    guard selectedTarget != nil else { usage("missing --target=NAME") }
    return 0
}

/// One input: run the selected loader on it. Loaders must throw on bad bytes; anything else
/// (a trap, an ASan report, a hang, a failed consistency check) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    selectedTarget!.run(bytes)
    return 0
}

/// libFuzzer's mutation followed, for the index targets, by re-sealing the CRC-32Cs (7 times out
/// of 8), so mutated files get past the checksums to the structural validation.
@_cdecl("LLVMFuzzerCustomMutator")
public func customMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: CUnsignedInt) -> Int {
    let n = LLVMFuzzerMutate(data, size, maxSize)
    if let reseal = selectedTarget?.reseal, seed % 8 != 0 {
        let buffer = UnsafeMutableRawBufferPointer(start: data, count: n)
        if reseal == .kqt {
            KQTSealer.reseal(buffer, fixLength: seed & 0x10 == 0)
        } else {
            IndexFileSealer.reseal(buffer, payloads: reseal == .all, fixLength: seed & 0x10 == 0)
        }
    }
    return n
}

func usage(_ problem: String) -> Never {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    printError("""
        KestrelLoaderFuzzer: \(problem)
        usage: KestrelLoaderFuzzer --target=\(names) [libFuzzer flags] [corpus dirs]
               KestrelLoaderFuzzer --make-corpus=DIR   (writes DIR/<target>/ seed files)
        """)
    exit(2)
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
