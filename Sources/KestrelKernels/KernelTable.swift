import CKestrelKernels

/// A C kernel table pinned to one ISA tier, or following the process's active tier.
///
/// The one place Swift code turns an optional ``ISALevel`` into a C table: the Swift face
/// (``Distance``, ``VectorMath``, ``Conversion``) and KestrelTensor's backend both use it.
package struct KernelTable: @unchecked Sendable {  // the tables are immutable and valid forever
    private let pinned: UnsafePointer<kestrel_kernel_table>?

    /// Follows the active tier (resolved at each call, so `ISALevel.activate()` applies).
    package init() { pinned = nil }

    /// Pinned to `level`.
    /// - Throws: `KestrelError.unsupported` when this CPU cannot run the tier.
    package init(level: ISALevel) throws(KestrelError) {
        guard let t = level.kernels else { throw .unsupported("ISA level \(level.rawValue) on this CPU") }
        pinned = t
    }

    /// Pinned to `level`, or following the active tier when `level` is nil.
    /// - Throws: `KestrelError.unsupported` when this CPU cannot run the tier.
    package init(_ level: ISALevel?) throws(KestrelError) {
        if let level { try self.init(level: level) } else { self.init() }
    }

    /// The table to use now.
    package var table: kestrel_kernel_table { (pinned ?? kestrel_kernels()).pointee }

    /// The tier, for reports.
    package var level: ISALevel { ISALevel(table.isa) ?? .scalar }
}
