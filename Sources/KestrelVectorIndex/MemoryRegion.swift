#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif
import KestrelTensor

/// A block of raw memory owned by an index: either 64-byte aligned heap memory (zeroed) or a
/// slice of a read-only memory-mapped file. The index reaches it only through raw pointers, so
/// hot loops never touch reference counts or copy-on-write checks.
final class MemoryRegion: @unchecked Sendable {
    /// First byte; 64-byte aligned.
    let base: UnsafeMutableRawPointer
    /// Usable size in bytes.
    let byteCount: Int
    /// The mapping this region lives in (nil for heap memory, which this region frees).
    private let mapping: MappedFile?

    /// Zeroed, 64-byte aligned heap memory of `byteCount` bytes (at least one cache line).
    /// - Throws: `KestrelError.capacityExceeded` past physical memory or when the allocation fails.
    init(zeroedBytes byteCount: Int) throws(KestrelError) {
        // Large arrays (vectors, links) are read at random by the graph walk: on Linux they are
        // 2 MiB aligned and advised for transparent huge pages, which removes most TLB misses.
        let huge = byteCount >= MemoryRegion.hugePageThreshold
        let align = huge ? 2 << 20 : 64
        let size = max(64, (byteCount + align - 1) & ~(align - 1))
        var p: UnsafeMutableRawPointer?
        // Beyond physical memory the memset below would only end in the OOM killer (overcommit).
        let limit = SizeCheck.physicalMemory
        if byteCount < 0 || byteCount > limit || posix_memalign(&p, align, size) != 0 || p == nil {
            throw .capacityExceeded(limit: limit, requested: byteCount)
        }
        #if os(Linux)
        if huge { _ = madvise(p!, size, MADV_HUGEPAGE) }
        #endif
        memset(p!, 0, size)
        base = p!
        self.byteCount = byteCount
        mapping = nil
    }

    /// A view of `byteCount` bytes at `offset` of a mapped file (kept alive by this region).
    init(mapping: MappedFile, offset: Int, byteCount: Int) {
        base = mapping.base + offset
        self.byteCount = byteCount
        self.mapping = mapping
    }

    /// A heap copy of `byteCount` bytes from `source`, with room for `capacityBytes` (zeroed tail).
    convenience init(copying source: UnsafeRawPointer, byteCount: Int, capacityBytes: Int) throws(KestrelError) {
        try self.init(zeroedBytes: max(byteCount, capacityBytes))
        if byteCount > 0 { base.copyMemory(from: source, byteCount: byteCount) }
    }

    /// Regions at least this large ask for transparent huge pages (Linux).
    static let hugePageThreshold = 8 << 20

    /// True when the bytes belong to a read-only file mapping.
    var isMapped: Bool { mapping != nil }

    /// Bytes of this region's pages that are resident in memory (`mincore`); `byteCount` for
    /// heap memory, 0 when the query fails.
    func residentBytes() -> Int {
        guard mapping != nil, byteCount > 0 else { return mapping == nil ? byteCount : 0 }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) & ~(page - 1)
        let end = Int(bitPattern: base) + byteCount
        let pages = (end - start + page - 1) / page
        var flags = [UInt8](repeating: 0, count: pages)
        #if canImport(Darwin)
        let rc = flags.withUnsafeMutableBufferPointer { mincore(UnsafeMutableRawPointer(bitPattern: start), end - start, UnsafeMutablePointer<CChar>(OpaquePointer($0.baseAddress!))) }
        #else
        let rc = flags.withUnsafeMutableBufferPointer { mincore(UnsafeMutableRawPointer(bitPattern: start), end - start, $0.baseAddress!) }
        #endif
        guard rc == 0 else { return 0 }
        return min(byteCount, flags.reduce(0) { $0 + Int($1 & 1) } * page)
    }

    deinit {
        if mapping == nil { free(base) }
    }
}
