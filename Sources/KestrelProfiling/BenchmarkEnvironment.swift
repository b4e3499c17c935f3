import Foundation

/// Where and with what a measurement was taken; embedded in every report so numbers are never
/// separated from their context. `Codable`.
///
/// The ISA level and git commit cannot be known by this module (it imports nothing of Kestrel
/// and has no repository at run time): the caller injects them, normally the `kestrel` CLI
/// (from `ISALevel.active` and a build-time commit string).
public struct BenchmarkEnvironment: Codable, Sendable, Equatable {
    /// CPU model (`/proc/cpuinfo` "model name", `machdep.cpu.brand_string` on macOS).
    public var cpuModel: String
    /// Architecture the binary was compiled for (`x86_64`, `arm64`, …).
    public var architecture: String
    /// Logical processors of the machine.
    public var logicalCores: Int
    /// Processors this process may use.
    public var activeCores: Int
    /// Kernel tier in use (e.g. `avx512`), injected by the caller; nil when not reported.
    public var isaLevel: String?
    /// Operating system name and kernel release.
    public var operatingSystem: String
    /// Compiler that built this module, decided at compile time (see ``ProfilingBuildInfo/toolchain``).
    public var toolchain: String
    /// `debug` or `release`.
    public var buildConfiguration: String
    /// Library version (``ProfilingBuildInfo/libraryVersion`` unless injected).
    public var libraryVersion: String
    /// Git commit of the code measured, injected by the caller; nil when unknown.
    public var gitCommit: String?
    /// Physical memory, bytes.
    public var physicalMemoryBytes: UInt64
    /// The clock used and its measured cost.
    public var clock: ClockCalibration

    /// Creates an environment record from explicit values (tests, or a record loaded elsewhere).
    public init(cpuModel: String, architecture: String, logicalCores: Int, activeCores: Int, isaLevel: String?,
                operatingSystem: String, toolchain: String, buildConfiguration: String, libraryVersion: String,
                gitCommit: String?, physicalMemoryBytes: UInt64, clock: ClockCalibration) {
        self.cpuModel = cpuModel
        self.architecture = architecture
        self.logicalCores = logicalCores
        self.activeCores = activeCores
        self.isaLevel = isaLevel
        self.operatingSystem = operatingSystem
        self.toolchain = toolchain
        self.buildConfiguration = buildConfiguration
        self.libraryVersion = libraryVersion
        self.gitCommit = gitCommit
        self.physicalMemoryBytes = physicalMemoryBytes
        self.clock = clock
    }

    /// The environment of this process now.
    ///
    /// - Parameters:
    ///   - isaLevel: the kernel tier in use (the CLI passes `ISALevel.active.rawValue`).
    ///   - gitCommit: the commit measured, if known.
    ///   - libraryVersion: defaults to ``ProfilingBuildInfo/libraryVersion``.
    /// - Complexity: reads `/proc/cpuinfo` once per process (cached) and the clock calibration
    ///   (measured once per process, about 0.5 ms).
    public static func current(isaLevel: String? = nil, gitCommit: String? = nil,
                               libraryVersion: String = ProfilingBuildInfo.libraryVersion) -> BenchmarkEnvironment {
        BenchmarkEnvironment(
            cpuModel: cpuModelName, architecture: architecture, logicalCores: SystemProbe.processorCount,
            activeCores: SystemProbe.activeProcessorCount, isaLevel: isaLevel, operatingSystem: operatingSystem,
            toolchain: ProfilingBuildInfo.toolchain, buildConfiguration: ProfilingBuildInfo.buildConfiguration,
            libraryVersion: libraryVersion, gitCommit: gitCommit, physicalMemoryBytes: ProcessInfo.processInfo.physicalMemory,
            clock: MonotonicClock.calibration)
    }

    /// Architecture the binary targets.
    public static var architecture: String {
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "arm64"
        #elseif arch(wasm32)
        return "wasm32"
        #else
        return "unknown"
        #endif
    }

    /// The CPU model of this machine, read once per process.
    public static let cpuModelName: String = {
        #if os(Linux) || os(Android)
        if let info = TextFile.read("/proc/cpuinfo"), let name = parseCPUModel(cpuinfo: info) { return name }
        #elseif canImport(Darwin)
        var size = 0
        if sysctlbyname("machdep.cpu.brand_string", nil, &size, nil, 0) == 0, size > 1 {
            var buffer = [CChar](repeating: 0, count: size)
            if sysctlbyname("machdep.cpu.brand_string", &buffer, &size, nil, 0) == 0 {
                return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        #endif
        return "unknown \(architecture) CPU"
    }()

    /// The model from `/proc/cpuinfo` text: `model name` (x86), else `Hardware`/`Model`, else the
    /// ARM implementer and part numbers.
    static func parseCPUModel(cpuinfo: String) -> String? {
        var fields = [String: String]()
        for line in cpuinfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil && !value.isEmpty { fields[key] = value }
        }
        for key in ["model name", "Hardware", "Model", "cpu model"] {
            if let v = fields[key] { return v.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        }
        if let imp = fields["CPU implementer"], let part = fields["CPU part"] {
            return "ARM implementer \(imp) part \(part)"
        }
        return nil
    }

    /// Operating system name and kernel release (`uname`).
    public static var operatingSystem: String {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return "\(field(u.sysname)) \(field(u.release))"
    }

    /// Several lines for a report header.
    public var lines: [String] {
        var l = [
            "CPU: \(cpuModel) (\(architecture), \(activeCores)/\(logicalCores) cores active, \(Double(physicalMemoryBytes).formattedBytes))",
            "ISA level: \(isaLevel ?? "not reported")",
            "OS: \(operatingSystem)",
            "Toolchain: \(toolchain), \(buildConfiguration) build",
            "Library: \(libraryVersion)" + (gitCommit.map { " @ \($0)" } ?? ""),
            "Clock: \(clock.source), \(String(format: "%.1f", clock.overheadNanoseconds)) ns per reading, "
                + "resolution \(clock.resolutionNanoseconds) ns",
        ]
        if buildConfiguration == "debug" { l.append("WARNING: debug build: timings are not representative") }
        return l
    }
}
