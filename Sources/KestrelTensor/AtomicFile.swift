import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Crash-safe file replacement, used by every writer of the package (index `save`, `Dataset.write`,
/// `GGUFWriter`): the bytes go to
/// `<name>.tmp-<pid>-<random>` in the same directory, which is fsynced and renamed over the
/// target, then the directory is fsynced. A crash leaves either the old file or the new one —
/// and, when the writer was killed before the rename, its temporary file.
///
/// Such leftovers are removed by the next save to the same path (only those whose writer process
/// no longer exists), or on demand with ``removeStaleTemporaryFiles(for:)``.
///
/// Thread-safety: stateless; concurrent saves to different paths are independent. Concurrent
/// saves to one path each write their own temporary file; the last rename wins.
public enum AtomicFile {
    /// A sink handed to the writer closure.
    package struct Sink {
        let fd: Int32
        /// The target path, named by `io` errors.
        package let path: String

        /// Writes all of `b` (retrying short writes and EINTR).
        /// - Throws: `io` (operation "write") with the errno.
        package func write(_ b: UnsafeRawBufferPointer) throws(KestrelError) {
            var done = 0
            while done < b.count {
                let n = systemWrite(fd, b.baseAddress! + done, b.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .io(path: path, operation: "write", errno: errno)
                }
                done += n
            }
        }
    }

    /// Writes `bytes` as the whole file at `url`.
    /// - Throws: as ``write(to:_:)``.
    package static func write(_ bytes: UnsafeRawBufferPointer, to url: URL) throws(KestrelError) {
        try write(to: url) { (s) throws(KestrelError) in try s.write(bytes) }
    }

    /// Writes the file through `body`; every failure names the target path (not the temporary one).
    /// - Throws: `io` with operation "open" (`EISDIR` when `url` is a directory), "create",
    ///   "write", "fsync" or "rename" and the errno; whatever `body` throws.
    package static func write(to url: URL, _ body: (Sink) throws(KestrelError) -> Void) throws(KestrelError) {
        let path = url.path
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw .io(path: path, operation: "open", errno: EISDIR)
        }
        // Best effort: a directory we cannot list still gets its save.
        _ = try? removeStaleTemporaryFiles(for: url)
        let tmp = "\(path)\(temporaryMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "create", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            try body(Sink(fd: fd, path: path))
        } catch {
            close(fd)
            throw error
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            throw .io(path: path, operation: "fsync", errno: code)
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw .io(path: path, operation: "rename", errno: errno) }
        ok = true
        let dir = open(url.deletingLastPathComponent().path, O_RDONLY)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    static let temporaryMarker = ".tmp-"

    /// Removes the temporary files that saves to `url` left behind when their process died
    /// (for example killed by SIGKILL mid-save): files named `<name>.tmp-<pid>-<digits>` in the
    /// same directory whose `<pid>` no longer exists. A file whose writer is alive — another
    /// process, or this one — is never touched, so this is safe beside concurrent saves.
    ///
    /// Every save calls this for its own path first, so an application needs it only to reclaim
    /// space without saving again. Cost: one directory listing.
    /// - Parameter url: the saved file (it need not exist).
    /// - Returns: the files removed.
    /// - Throws: `io` (operation "opendir") when the directory cannot be listed, or (operation
    ///   "unlink") when a stale file cannot be removed.
    @discardableResult
    public static func removeStaleTemporaryFiles(for url: URL) throws(KestrelError) -> [URL] {
        let directory = url.deletingLastPathComponent()
        let prefix = url.lastPathComponent + temporaryMarker
        guard let dir = opendir(directory.path) else { throw .io(path: directory.path, operation: "opendir", errno: errno) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        closedir(dir)
        var removed: [URL] = []
        for name in names {
            guard let pid = writerPID(name.dropFirst(prefix.count)), isDead(pid) else { continue }
            let file = directory.appendingPathComponent(name)
            guard unlink(file.path) == 0 || errno == ENOENT else { throw .io(path: file.path, operation: "unlink", errno: errno) }
            removed.append(file)
        }
        return removed
    }

    /// The PID in a temporary file's suffix `<pid>-<digits>`, or nil when the name is not ours.
    static func writerPID(_ suffix: Substring) -> pid_t? {
        let parts = suffix.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), UInt32(parts[1]) != nil,
              let pid = pid_t(parts[0]), pid > 0 else { return nil }
        return pid
    }

    /// True only when no process has this PID (`kill(pid, 0)` fails with ESRCH); a process we
    /// may not signal (EPERM) is alive.
    static func isDead(_ pid: pid_t) -> Bool {
        kill(pid, 0) != 0 && errno == ESRCH
    }
}

@inline(__always) private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #elseif canImport(Darwin)
    return Darwin.write(fd, p, n)
    #else
    return Musl.write(fd, p, n)
    #endif
}
