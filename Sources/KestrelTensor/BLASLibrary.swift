#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// What the BLAS library beneath KestrelTensor says about itself, and whether its kernels use
/// this CPU's vector width.
///
/// OpenBLAS built with DYNAMIC_ARCH picks one kernel set when it loads, from the CPU model it
/// knows. A CPU newer than the installed OpenBLAS (Debian 12's 0.3.21 on Emerald Rapids, for
/// one) falls back to an SSE3 set ("Prescott"), which makes every BLAS call, and every
/// baseline measured with it, several times slower. `OPENBLAS_CORETYPE` in the environment
/// of the process, set before it starts, chooses the set instead. Thread-safe: constant reads.
public enum BLASLibrary {
    /// The widest x86 vector extension a kernel set's GEMM uses.
    public enum VectorWidth: Int, Sendable, Comparable {
        /// SSE2/SSE3 (128-bit).
        case sse = 128
        /// AVX (256-bit, no FMA).
        case avx = 256
        /// AVX2 + FMA (256-bit).
        case avx2 = 257
        /// AVX-512 (512-bit).
        case avx512 = 512

        public static func < (a: VectorWidth, b: VectorWidth) -> Bool { a.rawValue < b.rawValue }
    }

    /// The kernel set OpenBLAS chose for this CPU (`openblas_get_corename`, e.g. "SkylakeX");
    /// nil with Apple's Accelerate, which chooses per call.
    public static var kernelSet: String? {
        #if canImport(Accelerate)
        return nil
        #else
        guard let name = openblas_get_corename() else { return nil }
        return String(cString: name)
        #endif
    }

    /// The library's build description (`openblas_get_config`); nil with Accelerate.
    public static var configuration: String? {
        #if canImport(Accelerate)
        return nil
        #else
        guard let config = openblas_get_config() else { return nil }
        return String(cString: config)
        #endif
    }

    /// The vector width of an OpenBLAS x86 kernel set by its name (case-insensitive); nil for a
    /// name this table does not know (other architectures included).
    public static func vectorWidth(ofKernelSet name: String) -> VectorWidth? {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return .avx512
        case "haswell", "zen", "excavator": return .avx2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": return .avx
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "barcelona", "bobcat",
             "opteron", "opteron_sse3", "athlon", "katmai", "coppermine", "northwood", "banias", "nano":
            return .sse
        default: return nil
        }
    }

    /// The vector width Kestrel's own kernels use at an ISA tier (nil for arm64 tiers).
    public static func vectorWidth(of level: ISALevel) -> VectorWidth? {
        switch level {
        case .avx2: return .avx2
        case .avx512, .avx512vnni: return .avx512
        case .scalar: return .sse  // x86-64 always has SSE2: the least a kernel set can use
        case .neon, .neondot: return nil
        }
    }

    /// A one-line warning when the BLAS kernel set is narrower than the best tier this CPU
    /// supports (nil when it is not, or when either width is unknown), naming the
    /// `OPENBLAS_CORETYPE` value that would use the CPU's width.
    public static func narrowKernelWarning(kernelSet: String?, best: ISALevel) -> String? {
        guard let kernelSet, let blas = vectorWidth(ofKernelSet: kernelSet), let cpu = vectorWidth(of: best),
              blas < cpu else { return nil }
        let suggestion = cpu == .avx512 ? "SkylakeX" : "Haswell"
        return "BLAS kernel set \(kernelSet) uses \(String(describing: blas).uppercased()) vectors but this CPU runs \(best.rawValue): "
            + "start the process with OPENBLAS_CORETYPE=\(suggestion) to use them"
    }
}
