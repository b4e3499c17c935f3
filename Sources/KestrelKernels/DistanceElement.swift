import CKestrelKernels

/// An element type the floating-point distance kernels read: `Float`, `Float16` (where the
/// platform has it) and ``BFloat16``.
///
/// The kernels widen every element to `Float` exactly and accumulate in `Float`. Do not
/// conform other types: the requirement names the C kernel family and is an implementation
/// detail.
public protocol FloatDistanceElement: BitwiseCopyable, Sendable {
    /// Which C kernel family reads this element type (implementation detail).
    static var _kernelFamily: _FloatKernelFamily { get }
}

/// Which C kernel family reads a ``FloatDistanceElement`` (implementation detail).
public struct _FloatKernelFamily: Sendable {
    package enum Family: Sendable { case f32, f16, bf16 }
    package let family: Family
    package init(_ family: Family) { self.family = family }
}

extension Float: FloatDistanceElement {
    /// The f32 kernels.
    public static var _kernelFamily: _FloatKernelFamily { _FloatKernelFamily(.f32) }
}

extension BFloat16: FloatDistanceElement {
    /// The bf16 kernels.
    public static var _kernelFamily: _FloatKernelFamily { _FloatKernelFamily(.bf16) }
}

#if !(os(macOS) && arch(x86_64))
extension Float16: FloatDistanceElement {
    /// The IEEE binary16 kernels.
    public static var _kernelFamily: _FloatKernelFamily { _FloatKernelFamily(.f16) }
}
#else
/// Where Swift has no `Float16` (macOS on Intel), IEEE binary16 vectors are passed as their
/// `UInt16` bit patterns.
extension UInt16: FloatDistanceElement {
    /// The IEEE binary16 kernels, over raw bit patterns.
    public static var _kernelFamily: _FloatKernelFamily { _FloatKernelFamily(.f16) }
}
#endif

/// The three floating-point metrics, to pick a table entry.
package enum FloatMetric: Sendable { case dot, l2sq, cosine }

extension kestrel_kernel_table {
    /// The one-pair kernel of `metric` over `family`, on raw pointers.
    package func pair(_ metric: FloatMetric, _ family: _FloatKernelFamily.Family,
                      _ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, _ n: Int) -> Float {
        switch family {
        case .f32:
            let f: kestrel_dist_f32_fn? = metric == .dot ? dot_f32 : metric == .l2sq ? l2sq_f32 : cosine_f32
            return f!(a?.assumingMemoryBound(to: Float.self), b?.assumingMemoryBound(to: Float.self), n)
        case .f16, .bf16:
            let f: kestrel_dist_u16_fn? = family == .f16
                ? (metric == .dot ? dot_f16 : metric == .l2sq ? l2sq_f16 : cosine_f16)
                : (metric == .dot ? dot_bf16 : metric == .l2sq ? l2sq_bf16 : cosine_bf16)
            return f!(a?.assumingMemoryBound(to: UInt16.self), b?.assumingMemoryBound(to: UInt16.self), n)
        }
    }

    /// The one-to-many kernel of `metric` over `family`, on raw pointers.
    package func many(_ metric: FloatMetric, _ family: _FloatKernelFamily.Family,
                      _ q: UnsafeRawPointer?, _ base: UnsafeRawPointer?, dim: Int, count: Int, stride: Int,
                      _ out: UnsafeMutablePointer<Float>?) -> kestrel_status {
        switch family {
        case .f32:
            let f: kestrel_many_f32_fn? = metric == .dot ? dot_f32_many : metric == .l2sq ? l2sq_f32_many : cosine_f32_many
            return f!(q?.assumingMemoryBound(to: Float.self), base?.assumingMemoryBound(to: Float.self),
                     dim, count, stride, out)
        case .f16, .bf16:
            let f: kestrel_many_u16_fn? = family == .f16
                ? (metric == .dot ? dot_f16_many : metric == .l2sq ? l2sq_f16_many : cosine_f16_many)
                : (metric == .dot ? dot_bf16_many : metric == .l2sq ? l2sq_bf16_many : cosine_bf16_many)
            return f!(q?.assumingMemoryBound(to: UInt16.self), base?.assumingMemoryBound(to: UInt16.self),
                     dim, count, stride, out)
        }
    }
}
