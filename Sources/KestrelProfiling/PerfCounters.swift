import Foundation

/// A performance counter read through Linux `perf_event_open(2)`.
public enum PerfCounter: String, Codable, Sendable, CaseIterable {
    /// CPU cycles (hardware).
    case cycles
    /// Retired instructions (hardware).
    case instructions
    /// Last-level cache references (hardware).
    case cacheReferences
    /// Last-level cache misses (hardware).
    case cacheMisses
    /// Retired branch instructions (hardware).
    case branches
    /// Mispredicted branches (hardware).
    case branchMisses
    /// Time the thread was on a CPU, nanoseconds (software: works without a PMU).
    case taskClock
    /// Page faults (software).
    case pageFaults
    /// Context switches (software).
    case contextSwitches

    /// True for events counted by the CPU's PMU (often missing in virtual machines).
    public var isHardware: Bool {
        switch self {
        case .cycles, .instructions, .cacheReferences, .cacheMisses, .branches, .branchMisses: return true
        case .taskClock, .pageFaults, .contextSwitches: return false
        }
    }

    /// `perf_event_attr.type` and `.config` (from `linux/perf_event.h`: PERF_TYPE_HARDWARE = 0,
    /// PERF_TYPE_SOFTWARE = 1 and their `PERF_COUNT_*` numbers).
    var typeAndConfig: (UInt32, UInt64) {
        switch self {
        case .cycles: return (0, 0)
        case .instructions: return (0, 1)
        case .cacheReferences: return (0, 2)
        case .cacheMisses: return (0, 3)
        case .branches: return (0, 4)
        case .branchMisses: return (0, 5)
        case .taskClock: return (1, 1)
        case .pageFaults: return (1, 2)
        case .contextSwitches: return (1, 3)
        }
    }
}

/// One counter's delta over a measured region, or why it is unavailable (never a fake 0).
public struct CounterReading: Codable, Sendable, Equatable {
    /// Which counter.
    public var counter: PerfCounter
    /// The count, nil when unavailable.
    public var value: UInt64?
    /// True when the kernel multiplexed the counter and the value was scaled by enabled/running time.
    public var scaled: Bool
    /// Why the counter is unavailable (nil when it has a value).
    public var unavailableReason: String?
}

/// Counter readings of a region, with the derived ratios when their inputs exist.
public struct CounterReport: Codable, Sendable, Equatable {
    /// Every requested counter, available or not.
    public var readings: [CounterReading]

    /// The value of `counter`, nil when it was not requested or is unavailable.
    public func value(_ counter: PerfCounter) -> UInt64? { readings.first { $0.counter == counter }?.value }

    /// Instructions per cycle, nil unless both counters are available.
    public var instructionsPerCycle: Double? {
        guard let i = value(.instructions), let c = value(.cycles), c > 0 else { return nil }
        return Double(i) / Double(c)
    }

    /// Cache misses / cache references, nil unless both counters are available.
    public var cacheMissRate: Double? {
        guard let m = value(.cacheMisses), let r = value(.cacheReferences), r > 0 else { return nil }
        return Double(m) / Double(r)
    }

    /// Branch misses / branches, nil unless both are available.
    public var branchMissRate: Double? {
        guard let m = value(.branchMisses), let b = value(.branches), b > 0 else { return nil }
        return Double(m) / Double(b)
    }

    /// One line per counter, `unavailable (reason)` where there is no value.
    public var lines: [String] {
        var l = readings.map { r in
            "\(r.counter.rawValue): " + (r.value.map { "\($0)" + (r.scaled ? " (scaled)" : "") } ?? "unavailable (\(r.unavailableReason ?? "?"))")
        }
        if let ipc = instructionsPerCycle { l.append(String(format: "IPC: %.2f", ipc)) }
        if let m = cacheMissRate { l.append(String(format: "cache miss rate: %.1f%%", m * 100)) }
        return l
    }
}

/// Hardware and software performance counters of the calling thread, through
/// `perf_event_open(2)` on Linux (user-space events only, so `kernel.perf_event_paranoid` ≤ 2
/// suffices). Each counter is opened on its own; those the kernel refuses (no PMU in a VM,
/// paranoid level, seccomp) are labelled unavailable with the reason — never reported as 0.
/// On other systems every counter is unavailable.
///
/// Counts cover the thread that created the instance (not threads it spawns). Counters run
/// from creation; ``measure(_:)`` reports deltas, scaled by enabled/running time when the kernel
/// multiplexed them. Not thread-safe: use one instance per thread. File descriptors are closed
/// on deinit.
public final class PerfCounters {
    private var descriptors: [PerfCounter: Int32] = [:]
    private var reasons: [PerfCounter: String] = [:]
    /// The counters requested, in order.
    public let counters: [PerfCounter]

    /// The counters IPC and cache-miss rate need, plus the software ones.
    public static let defaultCounters: [PerfCounter] = PerfCounter.allCases

    /// Opens `counters`; unavailable ones are remembered with their reason.
    public init(_ counters: [PerfCounter] = PerfCounters.defaultCounters) {
        self.counters = counters
        for c in counters {
            switch PerfEvent.open(c) {
            case .success(let fd): descriptors[c] = fd
            case .failure(let reason): reasons[c] = reason
            }
        }
        if !reasons.isEmpty {
            profilingLogger.debug("perf counters unavailable", metadata: [
                "counters": "\(reasons.map { "\($0.key.rawValue): \($0.value)" }.sorted().joined(separator: "; "))",
            ])
        }
    }

    deinit {
        for fd in descriptors.values { close(fd) }
    }

    /// Whether each requested counter can be read, with the reason when it cannot.
    public var availability: [PerfCounter: String?] {
        Dictionary(uniqueKeysWithValues: counters.map { ($0, reasons[$0]) })
    }

    /// Opens every counter once and reports which this process may use (nil reason = available).
    public static func probe() -> [PerfCounter: String?] { PerfCounters().availability }

    /// Runs `body` and returns its result with the counter deltas it caused on this thread.
    public func measure<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> (result: T, report: CounterReport) {
        let before = readAll()
        let result = try body()
        let after = readAll()
        var readings = [CounterReading]()
        for c in counters {
            if let reason = reasons[c] {
                readings.append(CounterReading(counter: c, value: nil, scaled: false, unavailableReason: reason))
                continue
            }
            guard let b = before[c], let a = after[c] else {
                readings.append(CounterReading(counter: c, value: nil, scaled: false, unavailableReason: "read failed"))
                continue
            }
            let running = a.running &- b.running, enabled = a.enabled &- b.enabled, raw = a.value &- b.value
            if running == 0 {
                // Never scheduled on the PMU during the region (all counters busy): no data, not zero.
                readings.append(CounterReading(counter: c, value: nil, scaled: false,
                                               unavailableReason: "not scheduled (PMU counters busy)"))
            } else if running < enabled {
                let v = Double(raw) * Double(enabled) / Double(running)
                readings.append(CounterReading(counter: c, value: UInt64(v.rounded()), scaled: true, unavailableReason: nil))
            } else {
                readings.append(CounterReading(counter: c, value: raw, scaled: false, unavailableReason: nil))
            }
        }
        return (result, CounterReport(readings: readings))
    }

    private func readAll() -> [PerfCounter: PerfEvent.Raw] {
        var out = [PerfCounter: PerfEvent.Raw]()
        for (c, fd) in descriptors {
            if let r = PerfEvent.read(fd) { out[c] = r }
        }
        return out
    }
}

/// The raw `perf_event_open` plumbing (Linux only).
enum PerfEvent {
    struct Raw {
        var value: UInt64
        var enabled: UInt64
        var running: UInt64
    }

    enum OpenResult {
        case success(Int32)
        case failure(String)
    }

    #if os(Linux) || os(Android)
    // Swift cannot call the variadic C `syscall`. glibc's and musl's `syscall` only move integer
    // registers into place, and on x86-64 and AArch64 Linux variadic integer arguments travel in
    // the same registers as fixed ones, so calling it through a fixed 6-argument prototype is
    // sound on these two targets (the only ones with a syscall number below).
    private typealias SyscallFunction = @convention(c) (Int, UnsafeRawPointer, Int32, Int32, Int32, UInt) -> Int
    private static let syscallFunction: SyscallFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "syscall") else { return nil }
        return unsafeBitCast(symbol, to: SyscallFunction.self)
    }()

    private static var syscallNumber: Int? {
        #if arch(x86_64)
        return 298
        #elseif arch(arm64)
        return 241
        #else
        return nil
        #endif
    }
    #endif

    static func open(_ counter: PerfCounter) -> OpenResult {
        #if os(Linux) || os(Android)
        guard let number = syscallNumber, let call = syscallFunction else {
            return .failure("perf_event_open is not wired for this architecture")
        }
        // struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes: every kernel with perf events accepts it).
        var attr = [UInt8](repeating: 0, count: 64)
        let (type, config) = counter.typeAndConfig
        attr.withUnsafeMutableBytes { p in
            p.storeBytes(of: type, toByteOffset: 0, as: UInt32.self)  // type
            p.storeBytes(of: UInt32(64), toByteOffset: 4, as: UInt32.self)  // size
            p.storeBytes(of: config, toByteOffset: 8, as: UInt64.self)  // config
            // read_format: PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING
            p.storeBytes(of: UInt64(3), toByteOffset: 32, as: UInt64.self)
            // flags: exclude_kernel (bit 5) | exclude_hv (bit 6); enabled from the start (disabled = 0).
            p.storeBytes(of: UInt64(1 << 5 | 1 << 6), toByteOffset: 40, as: UInt64.self)
        }
        let fd = attr.withUnsafeBytes { call(number, $0.baseAddress!, 0, -1, -1, 8 /* PERF_FLAG_FD_CLOEXEC */) }
        if fd >= 0 { return .success(Int32(fd)) }
        return .failure(explain(errno: errno, hardware: counter.isHardware))
        #else
        return .failure("perf_event_open is Linux-only (use Instruments on macOS)")
        #endif
    }

    static func read(_ fd: Int32) -> Raw? {
        var buffer = [UInt64](repeating: 0, count: 3)
        let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, 24) }
        guard n == 24 else { return nil }
        return Raw(value: buffer[0], enabled: buffer[1], running: buffer[2])
    }

    /// A reason a person can act on, from the errno of a failed `perf_event_open`.
    static func explain(errno e: Int32, hardware: Bool) -> String {
        switch e {
        case ENOENT, ENODEV:
            return hardware ? "no hardware PMU event (virtual machine or unsupported CPU; errno \(e))"
                : "event not supported by this kernel (errno \(e))"
        case EACCES, EPERM:
            let paranoid = TextFile.read("/proc/sys/kernel/perf_event_paranoid")?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            return "not permitted (kernel.perf_event_paranoid = \(paranoid); needs ≤ 2 or CAP_PERFMON; errno \(e))"
        case ENOSYS:
            return "kernel without perf events or blocked by seccomp (ENOSYS)"
        case EOPNOTSUPP:
            return "event not supported by the PMU (EOPNOTSUPP)"
        case EMFILE:
            return "too many open files (EMFILE)"
        default:
            return "perf_event_open failed: \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}
