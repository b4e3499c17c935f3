import CKestrelKernels

/// A C kernel table pinned to one ISA tier, or following the process's active tier.
struct KernelTable: @unchecked Sendable {  // the tables are immutable and valid forever
    private let pinned: UnsafePointer<kestrel_kernel_table>?

    /// Follows the active tier (resolved at each call, so `ISALevel.activate()` applies).
    init() { pinned = nil }

    /// Pinned to `level`.
    /// - Throws: `KestrelError.unsupported` when this CPU cannot run the tier.
    init(level: ISALevel) throws(KestrelError) {
        guard let t = level.kernels else { throw .unsupported("ISA level \(level.rawValue) on this CPU") }
        pinned = t
    }

    /// The table to use now.
    var table: kestrel_kernel_table { (pinned ?? kestrel_kernels()).pointee }

    /// The tier, for reports.
    var level: ISALevel { ISALevel(table.isa) ?? .scalar }
}
