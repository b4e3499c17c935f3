import CKestrelKernels

/// Software prefetch hint for the graph walk: asks for the cache line of `p` ahead of use
/// (`kestrel_prefetch`, one instruction). Measured on 100k × 128 f32 (M 16, ef 32–64, one
/// thread): search is about 1.3× faster with the prefetches than without.
@inline(__always) func prefetch(_ p: UnsafeRawPointer) { kestrel_prefetch(p) }

/// Prefetches the first `lines` 64-byte cache lines starting at `p`.
@inline(__always) func prefetch(_ p: UnsafeRawPointer, lines: Int) {
    var i = 0
    while i < lines {
        prefetch(p + i &* 64)
        i &+= 1
    }
}
