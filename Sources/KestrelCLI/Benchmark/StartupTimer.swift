import Foundation
import Kestrel

/// Times how long a command takes from launch to exit, as a child process, on the monotonic
/// clock. The runner is injectable so tests check the logic without spawning anything.
struct StartupTimer {
    /// Launches `executable` with `arguments`, waits for it, and returns the wall time in
    /// nanoseconds. Throws when it cannot be launched or exits with a non-zero status.
    typealias Runner = (URL, [String]) throws -> UInt64

    var executable: URL
    var arguments = ["--help"]
    var runs = 5
    var runner: Runner = StartupTimer.spawn

    /// Wall times of every launch in milliseconds, in launch order (the first is the cold one).
    /// - Throws: `KestrelError.invalidArgument` for runs < 1, or whatever the runner throws.
    func measure() throws -> [Double] {
        guard runs >= 1 else { throw KestrelError.invalidArgument(name: "runs", reason: "must be >= 1 (got \(runs))") }
        return try (0..<runs).map { _ in Double(try runner(executable, arguments)) / 1e6 }
    }

    /// The real runner: `posix_spawn` with standard input, output and error on /dev/null and
    /// this process's environment, timed from just before the spawn to the return of `waitpid`.
    /// (Foundation's `Process.waitUntilExit` polls its run loop every 50 ms on Linux, which would
    /// round every launch up to a multiple of 50 ms.)
    static func spawn(_ executable: URL, _ arguments: [String]) throws -> UInt64 {
        let path = executable.path
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t?
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var pid = pid_t()
        let t0 = KestrelProfiling.MonotonicClock.now()
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else {
            throw KestrelError.backendFailure(routine: "posix_spawn \(path)", code: Int(rc))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw KestrelError.backendFailure(routine: "waitpid", code: Int(errno)) }
        }
        let dt = KestrelProfiling.MonotonicClock.elapsed(since: t0)
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the C macros are not imported).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw KestrelError.backendFailure(routine: "\(executable.lastPathComponent) \(arguments.joined(separator: " "))",
                                              code: Int(status))
        }
        return dt
    }

    /// The `kestrel` executable of this process, or why there is none (e.g. inside a test runner).
    static func currentExecutable() -> Result<URL, StartupUnavailable> {
        #if os(Linux)
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        #else
        let path = Bundle.main.executablePath ?? CommandLine.arguments[0]
        #endif
        let url = URL(fileURLWithPath: path)
        guard url.lastPathComponent == "kestrel" else {
            return .failure(StartupUnavailable(reason: "this process is \(url.lastPathComponent), not the kestrel executable"))
        }
        return .success(url)
    }
}

/// Why the start-up case cannot run (e.g. inside the test runner).
struct StartupUnavailable: Error, Equatable {
    var reason: String
}
