#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// A whole file mapped read-only (MAP_PRIVATE, PROT_READ), or a heap copy of bytes; unmapped
/// (freed) when the last reference goes. Shared by every loader of the package (vector indexes,
/// datasets, GGUF files). Immutable after creation: thread-safe to share.
package final class MappedFile: @unchecked Sendable {
    /// First byte (page-aligned for a mapping, 64-byte aligned for heap bytes).
    package let base: UnsafeMutableRawPointer
    /// Size in bytes.
    package let byteCount: Int

    /// Maps `path`.
    /// - Throws: `KestrelError.io` (operation "open", "stat" or "mmap", with errno) when the
    ///   file cannot be opened or mapped; "open" with `EISDIR` for a directory.
    package static func map(path: String) throws(KestrelError) -> MappedFile {
        // Every failure is decided before the object exists, so deinit only ever sees a mapping.
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        // open(2) accepts a directory; say so rather than let mmap fail with ENODEV.
        guard (st.st_mode & S_IFMT) != S_IFDIR else { throw .io(path: path, operation: "open", errno: EISDIR) }
        let size = Int(st.st_size)
        if size == 0 {
            // mmap refuses zero bytes; an empty file is still "readable" (and then rejected as truncated).
            return MappedFile(base: UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64), byteCount: 0, isHeap: true)
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .io(path: path, operation: "mmap", errno: errno) }
        return MappedFile(base: p, byteCount: size, isHeap: false)
    }

    /// A heap copy of `source` (64-byte aligned) behind the same interface, for bytes that come
    /// from memory rather than a file (parsers, fuzzers).
    /// - Complexity: O(n) time and memory.
    package static func copying(_ source: UnsafeRawBufferPointer) -> MappedFile {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 64), alignment: 64)
        if let s = source.baseAddress, source.count > 0 { p.copyMemory(from: s, byteCount: source.count) }
        return MappedFile(base: p, byteCount: source.count, isHeap: true)
    }

    private init(base: UnsafeMutableRawPointer, byteCount: Int, isHeap: Bool) {
        self.base = base
        self.byteCount = byteCount
        self.isHeap = isHeap
    }

    private let isHeap: Bool

    /// The mapped bytes.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

    deinit {
        if isHeap { base.deallocate() } else { munmap(base, byteCount) }
    }
}
