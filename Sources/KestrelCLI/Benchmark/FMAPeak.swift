import CKestrelKernels
import Kestrel

/// The compute roof's FLOP loop built on the C kernels: `kestrel_axpy_f32` (dispatched to the
/// active tier, so AVX-512 or AVX2 FMA where the CPU has them) called over and over on a buffer
/// that stays in L1. KestrelProfiling's own loop is portable Swift at the baseline ISA, far
/// below this machine's FMA throughput, so the CLI injects this one.
enum FMAPeak {
    /// Elements per call: x and y take 2 × 4 KiB, well inside any L1 data cache.
    static let length = 1024

    /// A ``PeakFlopsKernel`` performing 2·``length`` FLOPs per axpy call. The sign of alpha
    /// alternates so y stays bounded (no overflow, no denormals) however long it runs.
    static func axpyKernel() -> PeakFlopsKernel {
        let n = length
        return PeakFlopsKernel(name: "kestrel_axpy_f32 \(ISALevel.active.rawValue), n=\(n), 64-byte aligned, L1-resident") { iterations in
            // 64-byte aligned (a misaligned AVX-512 load splits across two cache lines), and y
            // 64 bytes past the end of x so x[i] and y[i] never share their low 12 address bits
            // (4K aliasing makes loads wait on unrelated stores).
            guard let block = try? AlignedBuffer(byteCount: 4 * (2 * n + 16), zeroed: true) else { return 0 }
            let x = block.baseAddress.assumingMemoryBound(to: Float.self)
            let y = x + n + 16
            defer { withExtendedLifetime(block) {} }
            for i in 0..<n {
                x[i] = Float(i % 17) * 0.0625 - 0.5
                y[i] = 1
            }
            let alpha: Float = 1e-3
            for k in 0..<iterations {
                kestrel_axpy_f32(k & 1 == 0 ? alpha : -alpha, x, y, n)
            }
            blackHole(y[n / 2])
            return Double(iterations) * 2 * Double(n)
        }
    }
}
