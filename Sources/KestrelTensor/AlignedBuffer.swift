#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap block aligned to ``AlignedBuffer/alignment`` bytes: the storage of every ``Tensor``.
///
/// The block is freed (or handed back to the ``BufferPool`` it came from) when the last
/// reference goes away. The class itself does not synchronise access to the bytes: a
/// `Tensor` only writes to a buffer it references uniquely (copy-on-write), which is what
/// makes sharing buffers between threads safe.
public final class AlignedBuffer: @unchecked Sendable {
    /// Alignment of every buffer, in bytes (one cache line; the widest SIMD load, AVX-512).
    public static let alignment = 64

    /// Start of the block; aligned to ``alignment``.
    public let baseAddress: UnsafeMutableRawPointer
    /// Usable size of the block in bytes (at least the requested size; a size class when pooled).
    public let byteCount: Int
    /// The pool this block returns to on deinit, if any.
    let pool: BufferPool?

    /// Allocates `byteCount` bytes (uninitialised unless `zeroed`).
    /// - Throws: `KestrelError.invalidArgument` for a negative size,
    ///   `KestrelError.capacityExceeded` when the size exceeds physical memory or the allocation fails.
    /// - Complexity: O(1), plus O(byteCount) when `zeroed`.
    public convenience init(byteCount: Int, zeroed: Bool = false) throws(KestrelError) {
        guard byteCount >= 0 else {
            throw .invalidArgument(name: "byteCount", reason: "negative size \(byteCount)")
        }
        let pointer = try AlignedBuffer.allocate(byteCount)
        if zeroed { memset(pointer, 0, byteCount) }
        self.init(owning: pointer, byteCount: byteCount, pool: nil)
    }

    /// Wraps a block allocated by ``allocate(_:)``; takes ownership.
    init(owning pointer: UnsafeMutableRawPointer, byteCount: Int, pool: BufferPool?) {
        self.baseAddress = pointer
        self.byteCount = byteCount
        self.pool = pool
    }

    deinit {
        if let pool {
            pool.recycle(baseAddress, byteCount: byteCount)
        } else {
            free(baseAddress)
        }
    }

    /// posix_memalign, so a failed (or absurd) request throws instead of trapping.
    static func allocate(_ byteCount: Int) throws(KestrelError) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer?
        // Never ask for 0 bytes: the result could be NULL, and a valid pointer keeps C happy.
        let size = Swift.max(byteCount, alignment)
        guard size <= SizeCheck.physicalMemory else {
            throw .capacityExceeded(limit: SizeCheck.physicalMemory, requested: byteCount)
        }
        guard posix_memalign(&raw, alignment, size) == 0, let raw else {
            throw .capacityExceeded(limit: SizeCheck.physicalMemory, requested: byteCount)
        }
        return raw
    }
}
