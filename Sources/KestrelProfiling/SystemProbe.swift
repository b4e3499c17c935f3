import Foundation

/// Resource usage of this process at one instant (Linux: `getrusage` + `/proc/self/status`;
/// macOS: `getrusage` + `task_info`). Times in seconds, sizes in bytes. `Codable` for reports.
public struct ProcessSample: Codable, Sendable, Equatable {
    /// ``MonotonicClock`` reading when the sample was taken, nanoseconds.
    public var timestampNanoseconds: UInt64
    /// CPU time spent in user mode by all threads of the process, seconds.
    public var userCPUSeconds: Double
    /// CPU time spent in the kernel on behalf of the process, seconds.
    public var systemCPUSeconds: Double
    /// Resident set size now, bytes.
    public var residentBytes: UInt64
    /// Peak resident set size (Linux `VmHWM`, resettable with ``SystemProbe/resetPeakResidentSize()``), bytes.
    public var peakResidentBytes: UInt64
    /// Page faults served without I/O.
    public var minorFaults: UInt64
    /// Page faults that needed I/O.
    public var majorFaults: UInt64
    /// Context switches where the process gave up the CPU (waiting, sleeping).
    public var voluntaryContextSwitches: UInt64
    /// Context switches forced by the scheduler (time slice over, preemption): a sign of oversubscription.
    public var involuntaryContextSwitches: UInt64
}

/// What a process did between two ``ProcessSample``s.
public struct ProcessUsage: Codable, Sendable, Equatable {
    /// Wall-clock time between the samples, seconds.
    public var wallSeconds: Double
    /// User + system CPU time used, seconds.
    public var cpuSeconds: Double
    /// CPU time / wall time × 100: 100 means one core busy; can exceed 100 with several threads.
    public var cpuPercent: Double
    /// ``cpuPercent`` divided by the active processors: 100 means every core busy.
    public var cpuPercentOfMachine: Double
    /// Resident set size at the end, bytes.
    public var residentBytes: UInt64
    /// Peak resident set size at the end, bytes.
    public var peakResidentBytes: UInt64
    /// Minor page faults during the interval.
    public var minorFaults: UInt64
    /// Major page faults during the interval.
    public var majorFaults: UInt64
    /// Voluntary context switches during the interval.
    public var voluntaryContextSwitches: UInt64
    /// Involuntary context switches during the interval.
    public var involuntaryContextSwitches: UInt64
}

/// Cumulative busy and total time of one logical CPU since boot (Linux `/proc/stat`, in clock
/// ticks; macOS `host_processor_info`, in ticks).
public struct CoreTimes: Codable, Sendable, Equatable {
    /// Logical CPU number.
    public var core: Int
    /// Ticks spent running anything (user, nice, system, irq, softirq, steal).
    public var busyTicks: UInt64
    /// All ticks, including idle and I/O wait.
    public var totalTicks: UInt64
}

/// Memory of the machine (or of the cgroup the process runs in, when that is smaller).
public struct MemoryStatus: Codable, Sendable, Equatable {
    /// Memory available to this process's environment, bytes (cgroup limit when set).
    public var totalBytes: UInt64
    /// Memory that can still be given to applications without swapping, bytes.
    public var availableBytes: UInt64
    /// 1 − available / total: the fraction in use (0...1).
    public var usedFraction: Double { totalBytes == 0 ? 0 : 1 - Double(availableBytes) / Double(totalBytes) }
}

/// Cheap probes of this process and this machine. Every probe costs well under a millisecond
/// (a `getrusage` call and one small procfs read) and may be called from any thread.
public enum SystemProbe {
    /// Processors this process may run on (affinity and cgroup quota respected where Foundation does).
    /// The same figure as KestrelTensor's `activeProcessorCount` (this module imports nothing of
    /// ours, so it reads it itself); the CLI uses this one.
    public static var activeProcessorCount: Int { Swift.max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Logical processors of the machine.
    public static var processorCount: Int { Swift.max(1, ProcessInfo.processInfo.processorCount) }

    /// Takes a sample of this process's resource usage.
    ///
    /// - Throws: ``ProfilingError/systemCall(name:errno:)`` if `getrusage` fails.
    /// - Complexity: one system call and, on Linux, one read of `/proc/self/status` (≈ 20–60 µs).
    public static func processSample() throws(ProfilingError) -> ProcessSample {
        var ru = rusage()
        #if os(Linux) || os(Android)
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)  // an enum in Glibc's import
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &ru) == 0 else { throw .systemCall(name: "getrusage", errno: errno) }
        let user = Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6
        let system = Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
        var resident: UInt64 = 0
        var peak: UInt64 = 0
        #if os(Linux) || os(Android)
        if let status = TextFile.read("/proc/self/status") {
            resident = kilobytesField(status, "VmRSS:").map { $0 * 1024 } ?? 0
            peak = kilobytesField(status, "VmHWM:").map { $0 * 1024 } ?? 0
        }
        if peak == 0 { peak = UInt64(Swift.max(ru.ru_maxrss, 0)) * 1024 }  // ru_maxrss is in KiB on Linux
        #elseif canImport(Darwin)
        var info = mach_task_basic_info()
        var count = mach_msg_type_number_t(MemoryLayout<mach_task_basic_info>.size / MemoryLayout<natural_t>.size)
        let kr = withUnsafeMutablePointer(to: &info) { ptr in
            ptr.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(MACH_TASK_BASIC_INFO), $0, &count)
            }
        }
        if kr == KERN_SUCCESS {
            resident = UInt64(info.resident_size)
            peak = UInt64(info.resident_size_max)
        }
        if peak == 0 { peak = UInt64(Swift.max(ru.ru_maxrss, 0)) }  // bytes on Darwin
        #endif
        return ProcessSample(
            timestampNanoseconds: MonotonicClock.now(), userCPUSeconds: user, systemCPUSeconds: system,
            residentBytes: resident, peakResidentBytes: Swift.max(peak, resident),
            minorFaults: UInt64(Swift.max(ru.ru_minflt, 0)), majorFaults: UInt64(Swift.max(ru.ru_majflt, 0)),
            voluntaryContextSwitches: UInt64(Swift.max(ru.ru_nvcsw, 0)),
            involuntaryContextSwitches: UInt64(Swift.max(ru.ru_nivcsw, 0)))
    }

    /// The usage between two samples of the same process (`end` taken after `start`).
    public static func usage(from start: ProcessSample, to end: ProcessSample) -> ProcessUsage {
        let wall = Double(end.timestampNanoseconds &- start.timestampNanoseconds) / 1e9
        let cpu = Swift.max(0, (end.userCPUSeconds + end.systemCPUSeconds) - (start.userCPUSeconds + start.systemCPUSeconds))
        let percent = wall > 0 ? cpu / wall * 100 : 0
        func d(_ a: UInt64, _ b: UInt64) -> UInt64 { b >= a ? b - a : 0 }
        return ProcessUsage(
            wallSeconds: wall, cpuSeconds: cpu, cpuPercent: percent,
            cpuPercentOfMachine: percent / Double(activeProcessorCount),
            residentBytes: end.residentBytes, peakResidentBytes: end.peakResidentBytes,
            minorFaults: d(start.minorFaults, end.minorFaults), majorFaults: d(start.majorFaults, end.majorFaults),
            voluntaryContextSwitches: d(start.voluntaryContextSwitches, end.voluntaryContextSwitches),
            involuntaryContextSwitches: d(start.involuntaryContextSwitches, end.involuntaryContextSwitches))
    }

    /// Runs `body` between two samples and returns its result with the process usage it caused
    /// (other threads of the process are included: the probe is process-wide).
    public static func measure<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> (result: T, usage: ProcessUsage?) {
        let start = try? processSample()
        let result = try body()
        guard let s = start, let e = try? processSample() else { return (result, nil) }
        return (result, usage(from: s, to: e))
    }

    /// Resets the peak resident set size to the current one (Linux ≥ 4.0: writes `5` to
    /// `/proc/self/clear_refs`), so the next peak measures what follows. Returns false where this
    /// is not possible (macOS, restricted procfs).
    @discardableResult
    public static func resetPeakResidentSize() -> Bool {
        #if os(Linux) || os(Android)
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        if fd < 0 { return false }
        defer { close(fd) }
        let byte: [UInt8] = [0x35]  // "5"
        return byte.withUnsafeBytes { write(fd, $0.baseAddress, 1) } == 1
        #else
        return false
        #endif
    }

    /// Cumulative busy/total ticks of every logical CPU.
    ///
    /// - Throws: ``ProfilingError/unavailable(_:)`` where the platform offers no per-core counters.
    public static func coreTimes() throws(ProfilingError) -> [CoreTimes] {
        #if os(Linux) || os(Android)
        guard let stat = TextFile.read("/proc/stat") else { throw .unavailable("/proc/stat is not readable") }
        return parseProcStat(stat)
        #elseif canImport(Darwin)
        var cpuCount: natural_t = 0
        var info: processor_info_array_t?
        var infoCount: mach_msg_type_number_t = 0
        let kr = host_processor_info(mach_host_self(), PROCESSOR_CPU_LOAD_INFO, &cpuCount, &info, &infoCount)
        guard kr == KERN_SUCCESS, let array = info else { throw .unavailable("host_processor_info failed (\(kr))") }
        defer {
            vm_deallocate(mach_task_self_, vm_address_t(UInt(bitPattern: array)),
                          vm_size_t(Int(infoCount) * MemoryLayout<integer_t>.stride))
        }
        var cores = [CoreTimes]()
        for i in 0..<Int(cpuCount) {
            let base = Int(CPU_STATE_MAX) * i
            func tick(_ state: Int32) -> UInt64 { UInt64(UInt32(bitPattern: array[base + Int(state)])) }
            let busy = tick(CPU_STATE_USER) + tick(CPU_STATE_SYSTEM) + tick(CPU_STATE_NICE)
            cores.append(CoreTimes(core: i, busyTicks: busy, totalTicks: busy + tick(CPU_STATE_IDLE)))
        }
        return cores
        #else
        throw .unavailable("per-core CPU times are not implemented on this platform")
        #endif
    }

    /// Parses the `cpuN` lines of Linux `/proc/stat` (the aggregate `cpu` line is skipped).
    static func parseProcStat(_ text: String) -> [CoreTimes] {
        var cores = [CoreTimes]()
        for line in text.split(separator: "\n") where line.hasPrefix("cpu") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, let core = Int(fields[0].dropFirst(3)) else { continue }
            let v = fields.dropFirst().prefix(8).map { UInt64($0) ?? 0 }
            // user nice system idle iowait irq softirq steal (guest time is already inside user).
            let total = v.reduce(0, +)
            let idle = v[3] + (v.count > 4 ? v[4] : 0)
            cores.append(CoreTimes(core: core, busyTicks: total - idle, totalTicks: total))
        }
        return cores
    }

    /// Utilisation of each logical CPU between two ``coreTimes()`` readings, in percent (0...100).
    /// Cores missing from either reading, or without ticks in between, are reported as 0.
    public static func coreUtilization(from start: [CoreTimes], to end: [CoreTimes]) -> [Double] {
        let before = Dictionary(start.map { ($0.core, $0) }, uniquingKeysWith: { a, _ in a })
        return end.map { e in
            guard let s = before[e.core], e.totalTicks > s.totalTicks, e.busyTicks >= s.busyTicks else { return 0 }
            return Swift.min(100, Double(e.busyTicks - s.busyTicks) / Double(e.totalTicks - s.totalTicks) * 100)
        }
    }

    /// Memory of the machine, bounded by the cgroup v2 (`memory.max`) or v1 limit when one is set.
    public static func memoryStatus() -> MemoryStatus {
        var total = ProcessInfo.processInfo.physicalMemory
        var available = total
        #if os(Linux) || os(Android)
        if let meminfo = TextFile.read("/proc/meminfo") {
            if let t = kilobytesField(meminfo, "MemTotal:") { total = t * 1024 }
            if let a = kilobytesField(meminfo, "MemAvailable:") { available = a * 1024 }
        }
        let limitText = TextFile.read("/sys/fs/cgroup/memory.max") ?? TextFile.read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        let usageText = TextFile.read("/sys/fs/cgroup/memory.current") ?? TextFile.read("/sys/fs/cgroup/memory/memory.usage_in_bytes")
        if let l = limitText.flatMap({ UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), l < total {
            let used = usageText.flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            total = l
            available = Swift.min(available, l > used ? l - used : 0)
        }
        #endif
        return MemoryStatus(totalBytes: total, availableBytes: Swift.min(available, total))
    }

    /// The value in KiB of a `Key:   123 kB` line of a procfs file.
    static func kilobytesField(_ text: String, _ key: String) -> UInt64? {
        guard let range = text.range(of: key) else { return nil }
        let rest = text[range.upperBound...].drop(while: { $0 == " " || $0 == "\t" })
        return UInt64(rest.prefix(while: { $0.isNumber }))
    }
}
