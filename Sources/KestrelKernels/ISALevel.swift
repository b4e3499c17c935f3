import CKestrelKernels

/// A SIMD instruction-set tier of the C kernels, as chosen at run time.
///
/// The kernels pick the best tier this CPU and OS support; `KESTREL_ISA` in the
/// environment, or ``ISALevel/activate()``, caps it. Reading levels is thread-safe.
public enum ISALevel: String, CaseIterable, Sendable, Comparable {
    /// Portable C, the reference every other tier is tested against.
    case scalar
    /// x86-64 AVX2 + FMA + F16C.
    case avx2
    /// x86-64 AVX-512 F/BW/VL/DQ.
    case avx512
    /// x86-64 AVX-512 plus VNNI (int8 dot products).
    case avx512vnni
    /// arm64 Advanced SIMD.
    case neon
    /// arm64 NEON plus the dot-product extension.
    case neondot

    /// The C enum value of this tier.
    package var cValue: kestrel_isa {
        switch self {
        case .scalar: return KESTREL_ISA_SCALAR
        case .avx2: return KESTREL_ISA_AVX2
        case .avx512: return KESTREL_ISA_AVX512
        case .avx512vnni: return KESTREL_ISA_AVX512VNNI
        case .neon: return KESTREL_ISA_NEON
        case .neondot: return KESTREL_ISA_NEONDOT
        }
    }

    /// Creates the level of a C enum value (nil for an unknown value).
    package init?(_ c: kestrel_isa) {
        guard let level = ISALevel.allCases.first(where: { $0.cValue == c }) else { return nil }
        self = level
    }

    /// The tier the plain kernel names currently use.
    public static var active: ISALevel { ISALevel(kestrel_active_isa()) ?? .scalar }

    /// Every tier this CPU and OS can run, lowest first.
    public static var supported: [ISALevel] { allCases.filter(\.isSupported) }

    /// The best tier this machine runs (ignores `KESTREL_ISA`).
    public static var best: ISALevel { supported.last ?? .scalar }

    /// Whether this CPU and OS can run the tier.
    public var isSupported: Bool { kestrel_isa_supported(cValue) != 0 }

    /// The tier's function table, or nil when it is not supported here.
    package var kernels: UnsafePointer<kestrel_kernel_table>? { kestrel_kernels_for(cValue) }

    /// Makes this tier the active one for the whole process.
    /// - Throws: `KestrelError.unsupported` when this CPU cannot run it.
    public func activate() throws(KestrelError) {
        guard kestrel_set_active_isa(cValue) == KESTREL_OK else {
            throw .unsupported("ISA level \(rawValue) on this CPU")
        }
    }

    /// The CPU's brand string ("unknown" when the CPU does not report one).
    public static var cpuName: String { String(cString: kestrel_cpu_name()) }

    public static func < (lhs: ISALevel, rhs: ISALevel) -> Bool { lhs.cValue.rawValue < rhs.cValue.rawValue }
}
