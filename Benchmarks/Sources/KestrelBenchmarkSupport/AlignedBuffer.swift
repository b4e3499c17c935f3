/// A fixed-size, 64-byte-aligned buffer owned by a class, so benchmark setups can hand it to
/// the measured closure without copies and free it when the benchmark is done.
///
/// Not synchronised: fill it before measuring and only read it (or overwrite it from a single
/// thread) afterwards. `@unchecked Sendable` because the harness moves it between its setup
/// task and the measuring thread, never using it from two threads at once.
public final class AlignedBuffer<Element>: @unchecked Sendable {
    /// First element.
    public let pointer: UnsafeMutablePointer<Element>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` elements (uninitialised memory for trivial types) aligned to 64 bytes.
    /// - Complexity: O(1) plus the allocator's cost.
    public init(count: Int) {
        precondition(count >= 0, "AlignedBuffer: negative count")
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        self.count = count
    }

    /// Allocates `count` elements and sets element `i` to `value(i)`.
    /// - Complexity: O(count).
    public convenience init(count: Int, _ value: (Int) -> Element) {
        self.init(count: count)
        for i in 0..<count { (pointer + i).initialize(to: value(i)) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    /// Read-only view of the elements.
    public var readOnly: UnsafePointer<Element> { UnsafePointer(pointer) }
}
