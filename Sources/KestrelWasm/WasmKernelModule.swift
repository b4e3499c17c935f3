import KestrelKernels
import KestrelTensor
import WasmKit

/// The WebAssembly build of Kestrel's C kernels (`kestrel-kernels.wasm` or
/// `kestrel-kernels-scalar.wasm`, from `CKernels/wasm/build.sh`) running in the WasmKit
/// interpreter: the same kernels as `KestrelKernels`, sandboxed, for plugin hosts that must not
/// run native code they did not build.
///
/// Loading checks that the module is ours before anything runs in it: no imports, an exported
/// memory named `memory`, every kernel export of ``requiredExports`` with its exact signature,
/// and ``abiVersion``; anything else throws ``KestrelError/wrongFileKind(path:expected:found:)``
/// (``KestrelError/corruptFile(path:section:reason:)`` for bytes WasmKit cannot parse,
/// ``KestrelError/unsupportedVersion(found:supported:)`` for another ABI version).
///
/// Every kernel method checks its lengths on the Swift side before calling in
/// (``KestrelError/dimensionMismatch(expected:actual:)``, ``KestrelError/invalidArgument(name:reason:)``),
/// copies its operands into the module's memory, calls the export and copies the results out.
/// A trap inside the module (it cannot happen with checked lengths) surfaces as
/// ``KestrelError/backendFailure(routine:code:)``; WebAssembly's bounds checks keep the host's
/// memory out of reach either way. Operands live in the module's memory only for the duration
/// of one call (the module's bump allocator is reset before each call).
///
/// Results: the scalar module returns the native scalar tier's bits (exp and softmax: the scalar
/// polynomial `kestrel_exp_poly1`, within 2 ulp of exp, instead of libm's `expf`); the simd128
/// module returns them for every integer kernel, the conversions and the Q8_0 / Q4_0 block dots,
/// and stays within the tolerances of `kestrel_kernels.h` for float sums
/// (Documentation/WebAssembly.md).
///
/// Thread-safety: every method takes an internal lock, so one instance may be shared between
/// threads (calls run one at a time); for parallel work load one instance per thread.
public final class WasmKernelModule: @unchecked Sendable {
    /// The tier a module was built for (`kestrel_wasm_tier()`).
    public enum Tier: Int32, Sendable, CustomStringConvertible {
        /// `kestrel-kernels-scalar.wasm`: no SIMD instructions.
        case scalar = 0
        /// `kestrel-kernels.wasm`: WebAssembly fixed-width SIMD (`*_wasm_simd128.c`).
        case simd128 = 1

        /// "scalar" or "simd128".
        public var description: String { self == .scalar ? "scalar" : "simd128" }
    }

    /// The module ABI this type speaks (`KESTREL_WASM_ABI_VERSION` in `CKernels/wasm/kestrel_wasm.c`).
    public static let abiVersion: Int32 = 1

    /// Every function export a module must have, with its WebAssembly signature.
    public static let requiredExports: [String: FunctionType] = WasmSignatures.all

    /// The tier this module was built for.
    public let tier: Tier

    let store: Store
    let instance: Instance
    let memory: Memory
    let functions: [String: Function]
    let lock = PlainLock()

    /// Parses, validates and instantiates a module.
    ///
    /// - Parameters:
    ///   - bytes: the module's bytes.
    ///   - path: where they came from, for error messages only.
    /// - Throws: `corruptFile` when WasmKit cannot parse or instantiate the bytes; `wrongFileKind`
    ///   when the module imports anything, lacks the memory or a kernel export, or an export has
    ///   another signature; `unsupportedVersion` for another ABI version.
    /// - Complexity: O(module size) to parse; functions are compiled lazily on first call.
    public init(bytes: [UInt8], path: String = "<bytes>") throws(KestrelError) {
        let expected = "Kestrel kernel module (ABI \(Self.abiVersion))"
        let module: Module
        do {
            module = try parseWasm(bytes: bytes)
        } catch {
            throw .corruptFile(path: path, section: "wasm", reason: "\(error)")
        }
        if let first = module.imports.first {
            throw .wrongFileKind(path: path, expected: expected, found: "a module importing \(first.module).\(first.name)")
        }
        var functionExports = Set<String>(), hasMemory = false
        for export in module.exports {
            switch export.descriptor {
            case .function: functionExports.insert(export.name)
            case .memory: hasMemory = hasMemory || export.name == "memory"
            default: break
            }
        }
        guard hasMemory else {
            throw .wrongFileKind(path: path, expected: expected, found: "a module without an exported memory 'memory'")
        }
        for name in Self.requiredExports.keys.sorted() {
            guard functionExports.contains(name) else {
                throw .wrongFileKind(path: path, expected: expected, found: "a module without the function export '\(name)'")
            }
        }
        // Eager: every function is translated at load, so a translation failure shows up here
        // (and lazy translation in WasmKit 0.4.2 crashed on a later first call in one order).
        let engine = Engine(configuration: EngineConfiguration(compilationMode: .eager))
        store = Store(engine: engine)
        do {
            instance = try module.instantiate(store: store)
        } catch {
            throw .corruptFile(path: path, section: "instantiation", reason: "\(error)")
        }
        guard let mem = instance.exports[memory: "memory"] else {
            throw .wrongFileKind(path: path, expected: expected, found: "a module without an exported memory 'memory'")
        }
        memory = mem
        var found: [String: Function] = [:]
        for (name, type) in Self.requiredExports {
            guard let f = instance.exports[function: name] else {
                throw .wrongFileKind(path: path, expected: expected, found: "a module without the function export '\(name)'")
            }
            guard f.type == type else {
                throw .wrongFileKind(path: path, expected: expected,
                                     found: "export '\(name)' of type \(f.type.parameters) -> \(f.type.results)")
            }
            found[name] = f
        }
        functions = found
        let version = try Self.callI32(found, "kestrel_wasm_abi_version", [])
        guard version == Self.abiVersion else {
            throw .unsupportedVersion(found: Int(version), supported: Int(Self.abiVersion)...Int(Self.abiVersion))
        }
        let rawTier = try Self.callI32(found, "kestrel_wasm_tier", [])
        guard let t = Tier(rawValue: rawTier) else {
            throw .wrongFileKind(path: path, expected: expected, found: "a module of unknown tier \(rawTier)")
        }
        tier = t
    }

    /// Reads and loads the module at `path`.
    ///
    /// - Throws: `io` when the file cannot be read; otherwise as ``init(bytes:path:)``.
    /// - Complexity: O(file size).
    public convenience init(contentsOf path: String) throws(KestrelError) {
        let file = try MappedFile.map(path: path)
        try self.init(bytes: [UInt8](file.bytes), path: path)
    }

    /// The module's current linear-memory size in bytes (it grows as operands need room).
    public var memoryBytes: Int { lock.withLock { memory.byteCount } }

    // MARK: - calls

    static func callI32(_ functions: [String: Function], _ name: String, _ args: [Value]) throws(KestrelError) -> Int32 {
        let r = try invoke(functions, name, args)
        guard case .i32(let v)? = r.first else { throw .backendFailure(routine: name, code: -2) }
        return Int32(bitPattern: v)
    }

    static func invoke(_ functions: [String: Function], _ name: String, _ args: [Value]) throws(KestrelError) -> [Value] {
        guard let f = functions[name] else { throw .unsupported("wasm export \(name)") }
        do {
            return try f.invoke(args)
        } catch {
            throw .backendFailure(routine: "\(name) (wasm trap: \(error))", code: -1)
        }
    }

    /// Calls export `name` with `args` (lock held by the caller).
    func call(_ name: String, _ args: [Value]) throws(KestrelError) -> [Value] {
        try Self.invoke(functions, name, args)
    }

    /// Frees every operand of the previous call (lock held by the caller).
    func resetArena() throws(KestrelError) {
        _ = try call("kestrel_wasm_reset", [])
    }

    /// Reserves `count` elements of `T` in the module's memory (lock held); offset 0 for count 0.
    func reserve<T: BitwiseCopyable>(_ count: Int, of _: T.Type) throws(KestrelError) -> UInt32 {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, bytes <= Int(UInt32.max) else {
            throw .capacityExceeded(limit: Int(UInt32.max), requested: overflow ? Int.max : bytes)
        }
        let r = try call("kestrel_wasm_alloc", [.i32(UInt32(bytes))])
        guard case .i32(let p)? = r.first, p != 0 else {
            throw .capacityExceeded(limit: Int(UInt32.max), requested: bytes + memory.byteCount)
        }
        return p
    }

    /// Copies `values` into fresh module memory and returns their offset (lock held).
    func place<T: BitwiseCopyable>(_ values: [T]) throws(KestrelError) -> UInt32 {
        let p = try reserve(values.count, of: T.self)
        let bytes = values.count * MemoryLayout<T>.stride
        if bytes > 0 {
            memory.withUnsafeMutableBufferPointer(offset: UInt(p), count: bytes) { dst in
                values.withUnsafeBytes { dst.copyMemory(from: $0) }
            }
        }
        return p
    }

    /// Copies `count` elements of `T` out of module memory at `p` (lock held).
    func fetch<T: BitwiseCopyable>(_ p: UInt32, _ count: Int, as _: T.Type) -> [T] {
        guard count > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: count) { buf, initialized in
            memory.withUnsafeBufferPointer(offset: UInt(p), count: count * MemoryLayout<T>.stride) { src in
                UnsafeMutableRawBufferPointer(buf).copyMemory(from: src)
            }
            initialized = count
        }
    }
}
