import KestrelTensor
import Testing
import _KestrelTestSupport

/// `SizeCheck`, the one checked-product helper, against a full-width (128-bit) reference; and
/// the allocating entry points of KestrelTensor refusing sizes past physical memory up front.
@Suite struct SizeCheckTests {
    @Test func productMatchesFullWidthReference() throws {
        var rng = SeededRNG(seed: 0x517E)
        for _ in 0..<2000 {
            // Log-uniform factors so products land on both sides of Int.max.
            let a = Int(truncatingIfNeeded: rng.next() >> (1 + rng.next() % 63))
            let b = Int(truncatingIfNeeded: rng.next() >> (1 + rng.next() % 63))
            let wide = a.multipliedFullWidth(by: b)
            if wide.high == 0 && wide.low <= UInt(Int.max) {
                #expect(try SizeCheck.product(a, b) == Int(wide.low))
                let limit = Int(wide.low) - 1
                if limit >= 0 {
                    let e = #expect(throws: KestrelError.self) { try SizeCheck.product(a, b, limit: limit) }
                    #expect(e == .capacityExceeded(limit: limit, requested: Int(wide.low)))
                }
            } else {
                let e = #expect(throws: KestrelError.self) { try SizeCheck.product(a, b) }
                #expect(e == .capacityExceeded(limit: .max, requested: .max))
            }
        }
    }

    @Test func edgeCases() throws {
        #expect(try SizeCheck.product([]) == 1)
        #expect(try SizeCheck.product(Int.max, 1) == Int.max)
        // A zero factor wins even after a partial product overflowed.
        #expect(try SizeCheck.product(Int.max, 2, 0) == 0)
        let n = #expect(throws: KestrelError.self) { try SizeCheck.product(3, -1) }
        if case .invalidArgument(let name, _) = n { #expect(name == "size") } else { Issue.record("got \(String(describing: n))") }
        let b = #expect(throws: KestrelError.self) { try SizeCheck.bytes(SizeCheck.physicalMemory, 2) }
        #expect(b == .capacityExceeded(limit: SizeCheck.physicalMemory, requested: SizeCheck.physicalMemory * 2))
        #expect(SizeCheck.physicalMemory > 0)
    }

    @Test func tensorsAndBuffersRefuseSizesPastMemory() throws {
        let mem = SizeCheck.physicalMemory
        // Element count fits in Int, its byte count does not.
        let o = #expect(throws: KestrelError.self) { try Tensor.zeros([1 << 31, 1 << 31]) }
        #expect(o == .capacityExceeded(limit: mem, requested: .max))
        let t = #expect(throws: KestrelError.self) { try Tensor.zeros([1 << 20, 1 << 20, 1 << 4]) }
        #expect(t == .capacityExceeded(limit: mem, requested: 1 << 46))
        let a = #expect(throws: KestrelError.self) { try AlignedBuffer(byteCount: Int.max) }
        #expect(a == .capacityExceeded(limit: mem, requested: .max))
        let pool = try BufferPool(capacity: 1 << 20)
        let p = #expect(throws: KestrelError.self) { try pool.acquire(byteCount: 1 << 50) }
        #expect(p == .capacityExceeded(limit: mem, requested: 1 << 50))
        #expect(try Tensor.zeros([0, Int.max]).elementCount == 0)
    }
}
