import Foundation

/// Overflow-checked size arithmetic for sizes computed from a caller's numbers (element counts,
/// byte counts, k × rows, dim × count), shared by every module of the package so a huge argument
/// is refused with a typed error instead of trapping on overflow or aborting on a failed allocation.
///
/// Stateless; thread-safe.
package enum SizeCheck {
    /// Installed physical memory in bytes: no single allocation request may exceed it (a request
    /// that large cannot be served without thrashing, and Linux overcommit may let it "succeed"
    /// only to kill the process later).
    package static let physicalMemory: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)

    /// The product of non-negative `factors`.
    /// - Throws: `KestrelError.capacityExceeded(limit: limit, requested: Int.max)` when the product
    ///   overflows `Int`, `capacityExceeded(limit: limit, requested: product)` when it exceeds
    ///   `limit`; `invalidArgument` for a negative factor.
    /// - Complexity: O(factors).
    package static func product(_ factors: [Int], limit: Int = .max) throws(KestrelError) -> Int {
        var p = 1
        var overflowed = false
        for f in factors {
            guard f >= 0 else { throw .invalidArgument(name: "size", reason: "negative factor \(f) in \(factors)") }
            let (q, o) = p.multipliedReportingOverflow(by: f)
            p = q
            overflowed = overflowed || o
        }
        // A zero factor makes the true product 0 even if a partial product overflowed.
        if factors.contains(0) { return 0 }
        guard !overflowed else { throw .capacityExceeded(limit: limit, requested: .max) }
        guard p <= limit else { throw .capacityExceeded(limit: limit, requested: p) }
        return p
    }

    /// Two factors, as ``product(_:limit:)-([Int],_)`` but without building an array (hot paths
    /// that must not allocate, such as a warm FlashAttention call). Same errors and messages.
    package static func product(_ a: Int, _ b: Int, limit: Int = .max) throws(KestrelError) -> Int {
        guard a >= 0, b >= 0 else { throw .invalidArgument(name: "size", reason: "negative factor \(a < 0 ? a : b) in [\(a), \(b)]") }
        if a == 0 || b == 0 { return 0 }
        let (p, o) = a.multipliedReportingOverflow(by: b)
        guard !o else { throw .capacityExceeded(limit: limit, requested: .max) }
        guard p <= limit else { throw .capacityExceeded(limit: limit, requested: p) }
        return p
    }

    /// Variadic form of ``product(_:limit:)-([Int],_)``.
    /// - Throws: as ``product(_:limit:)-([Int],_)``.
    package static func product(_ factors: Int..., limit: Int = .max) throws(KestrelError) -> Int {
        try product(factors, limit: limit)
    }

    /// A byte count (the product of `factors`) that one allocation may request: at most
    /// ``physicalMemory``.
    /// - Throws: `KestrelError.capacityExceeded(limit: physicalMemory, requested:)` (`Int.max` when
    ///   the product overflows); `invalidArgument` for a negative factor.
    package static func bytes(_ factors: Int...) throws(KestrelError) -> Int {
        try product(factors, limit: physicalMemory)
    }
}
