import Foundation
import Testing
@testable import KestrelProfiling

@Suite("System probes, counters and environment")
struct ProbeTests {
    @Test("process sample is sane and usage deltas are non-negative")
    func processSample() throws {
        let a = try SystemProbe.processSample()
        #expect(a.residentBytes > 0)
        #expect(a.peakResidentBytes >= a.residentBytes)
        #expect(a.userCPUSeconds + a.systemCPUSeconds > 0)
        let (x, usage) = SystemProbe.measure { () -> UInt64 in
            // 40 MiB is above glibc's largest dynamic mmap threshold (32 MiB): fresh pages, so faults.
            var buffer = [UInt8](repeating: 1, count: 40 << 20)
            for i in stride(from: 0, to: buffer.count, by: 4096) { buffer[i] = UInt8(i & 0xff) }
            return spin(2_000_000) &+ UInt64(buffer[4096])
        }
        blackHole(x)
        let u = try #require(usage)
        #expect(u.wallSeconds > 0)
        #expect(u.cpuSeconds > 0)
        #expect(u.cpuPercent > 0 && u.cpuPercent <= 100 * Double(SystemProbe.processorCount) * 1.5)
        #expect(u.minorFaults > 0)
        #expect(u.peakResidentBytes >= u.residentBytes)
    }

    /// Resetting needs a writable `/proc/self/clear_refs` (absent or read-only in some containers
    /// and sandboxes, e.g. gVisor): elsewhere the call must say it could not.
    static let clearRefsWritable = FileManager.default.isWritableFile(atPath: "/proc/self/clear_refs")

    @Test("peak RSS reset reports whether it happened")
    func resetPeakReportsFailure() {
        #if os(Linux)
        #expect(SystemProbe.resetPeakResidentSize() == Self.clearRefsWritable)
        #else
        #expect(!SystemProbe.resetPeakResidentSize())
        #endif
    }

    @Test("peak RSS can be reset on Linux",
          .enabled(if: clearRefsWritable, "/proc/self/clear_refs is not writable here: the kernel offers no peak reset"))
    func resetPeak() throws {
        #expect(SystemProbe.resetPeakResidentSize())
        let s = try SystemProbe.processSample()
        #expect(s.peakResidentBytes >= s.residentBytes)
    }

    @Test("per-core utilisation is in 0...100 for every core")
    func cores() throws {
        let a = try SystemProbe.coreTimes()
        #expect(a.count >= 1)
        blackHole(spin(1_000_000))
        let b = try SystemProbe.coreTimes()
        let u = SystemProbe.coreUtilization(from: a, to: b)
        #expect(u.count == b.count)
        #expect(u.allSatisfy { $0 >= 0 && $0 <= 100 })
        let parsed = SystemProbe.parseProcStat("cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 30 10 0 0 0\nintr 1\n")
        #expect(parsed == [CoreTimes(core: 0, busyTicks: 10, totalTicks: 50), CoreTimes(core: 1, busyTicks: 10, totalTicks: 50)])
        let later = [CoreTimes(core: 0, busyTicks: 60, totalTicks: 150), CoreTimes(core: 1, busyTicks: 10, totalTicks: 150)]
        #expect(SystemProbe.coreUtilization(from: parsed, to: later) == [50, 0])
    }

    @Test("memory status is consistent")
    func memory() {
        let m = SystemProbe.memoryStatus()
        #expect(m.totalBytes > 0)
        #expect(m.availableBytes <= m.totalBytes)
        #expect(m.usedFraction >= 0 && m.usedFraction <= 1)
        #expect(SystemProbe.kilobytesField("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:") == 1234)
    }

    @Test("perf counters have a value or a reason, never a silent zero")
    func perfCounters() {
        let counters = PerfCounters()
        let (_, report) = counters.measure { blackHole(spin(500_000)) }
        #expect(report.readings.count == PerfCounter.allCases.count)
        for r in report.readings {
            #expect((r.value == nil) != (r.unavailableReason == nil), "\(r)")
            if r.counter == .cycles || r.counter == .instructions || r.counter == .taskClock, let v = r.value {
                #expect(v > 0, "\(r)")
            }
        }
        if report.value(.cycles) == nil || report.value(.instructions) == nil {
            #expect(report.instructionsPerCycle == nil)
        }
        #expect(report.lines.count >= report.readings.count)
        for (_, reason) in PerfCounters.probe() {
            if let reason { #expect(!reason.isEmpty) }
        }
        #expect(PerfEvent.explain(errno: ENOENT, hardware: true).contains("PMU"))
        #expect(PerfEvent.explain(errno: EACCES, hardware: true).contains("perf_event_paranoid"))
        #expect(PerfEvent.explain(errno: ENOSYS, hardware: false).contains("ENOSYS"))
    }

    @Test("environment describes this machine and carries injected fields")
    func environment() throws {
        let env = BenchmarkEnvironment.current(isaLevel: "avx2", gitCommit: "abc1234")
        #expect(!env.cpuModel.isEmpty)
        #expect(env.logicalCores >= 1 && env.activeCores >= 1 && env.activeCores <= env.logicalCores)
        #expect(env.isaLevel == "avx2" && env.gitCommit == "abc1234")
        #expect(env.toolchain.hasPrefix("Swift"))
        #expect(env.physicalMemoryBytes > 0)
        #expect(env.lines.contains { $0.contains("abc1234") })
        let data = try JSONEncoder().encode(env)
        #expect(try JSONDecoder().decode(BenchmarkEnvironment.self, from: data) == env)
        #expect(BenchmarkEnvironment.parseCPUModel(cpuinfo: "processor\t: 0\nmodel name\t: Intel(R)  Xeon(R)\n") == "Intel(R) Xeon(R)")
        #expect(BenchmarkEnvironment.parseCPUModel(cpuinfo: "CPU implementer\t: 0x41\nCPU part\t: 0xd0c\n") == "ARM implementer 0x41 part 0xd0c")
    }
}
