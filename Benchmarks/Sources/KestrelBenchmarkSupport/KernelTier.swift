import CKestrelKernels

/// One ISA tier of the C kernels with its function table.
///
/// Benchmarks call each tier's table directly (not the plain `kestrel_*` names), so one run
/// measures every tier side by side whatever `KESTREL_ISA` says.
public struct KernelTier {
    /// Lower-case tier name, as accepted by `KESTREL_ISA` ("scalar", "avx2", ..., "neondot").
    public let name: String
    /// The tier's function table; valid for the life of the process.
    public let table: UnsafePointer<kestrel_kernel_table>

    /// Every tier this CPU and OS run, lowest first (always starts with scalar).
    /// Tiers the CPU lacks are left out, so their benchmarks are never registered.
    public static var supported: [KernelTier] {
        (0..<KESTREL_ISA_COUNT.rawValue).compactMap { raw in
            let isa = kestrel_isa(rawValue: raw)
            guard let table = kestrel_kernels_for(isa) else { return nil }
            return KernelTier(name: String(cString: kestrel_isa_name(isa)), table: table)
        }
    }

    /// The scalar reference table (supported everywhere).
    public static var scalar: UnsafePointer<kestrel_kernel_table> {
        kestrel_kernels_for(KESTREL_ISA_SCALAR)!
    }
}
