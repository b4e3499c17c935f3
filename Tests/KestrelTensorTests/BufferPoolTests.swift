import Dispatch
import KestrelTensor
import Synchronization
import Testing

@Suite struct BufferPoolTests {
    @Test func sizeClasses() throws {
        #expect(try BufferPool.sizeClass(for: 0) == 64)
        #expect(try BufferPool.sizeClass(for: 64) == 64)
        #expect(try BufferPool.sizeClass(for: 65) == 128)
        #expect(try BufferPool.sizeClass(for: 4096) == 4096)
        #expect(try BufferPool.sizeClass(for: 4097) == 8192)
        let e1 = #expect(throws: KestrelError.self) { try BufferPool.sizeClass(for: -1) }
        #expect({ if case .invalidArgument(name: "byteCount", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let e2 = #expect(throws: KestrelError.self) { try BufferPool.sizeClass(for: Int.max) }
        #expect({ if case .invalidArgument(name: "byteCount", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: KestrelError.self) { try BufferPool(capacity: -1) }
        #expect({ if case .invalidArgument(name: "capacity", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
    }

    @Test func hitsMissesAndBytesHeld() throws {
        let pool = try BufferPool(capacity: 1 << 20)
        var first: AlignedBuffer? = try pool.acquire(byteCount: 100)
        let address = first!.baseAddress
        #expect(Int(bitPattern: address) % 64 == 0 && first!.byteCount == 128)
        #expect(pool.statistics == .init(hits: 0, misses: 1, bytesHeld: 0, blocksHeld: 0, evictions: 0))
        first = nil  // the block goes back to the pool
        #expect(pool.statistics.bytesHeld == 128 && pool.statistics.blocksHeld == 1)
        let second = try pool.acquire(byteCount: 120, zeroed: true)
        #expect(second.baseAddress == address)
        #expect(UnsafeRawBufferPointer(start: second.baseAddress, count: 120).allSatisfy { $0 == 0 })
        #expect(pool.statistics == .init(hits: 1, misses: 1, bytesHeld: 0, blocksHeld: 0, evictions: 0))
        // A different size class misses.
        let third = try pool.acquire(byteCount: 1000)
        #expect(third.byteCount == 1024 && pool.statistics.misses == 2)
        withExtendedLifetime((second, third)) {}
    }

    @Test func capIsRespected() throws {
        let pool = try BufferPool(capacity: 256)
        var blocks: [AlignedBuffer] = []
        for _ in 0..<3 { blocks.append(try pool.acquire(byteCount: 128)) }
        blocks.removeAll()
        let s = pool.statistics
        #expect(s.bytesHeld == 256 && s.blocksHeld == 2 && s.evictions == 1)
        pool.removeAll()
        #expect(pool.statistics.bytesHeld == 0 && pool.statistics.blocksHeld == 0)
    }

    @Test func tensorsAndBackendsRecycleThroughThePool() throws {
        let pool = try BufferPool(capacity: 1 << 20)
        do {
            let t = try Tensor.zeros([16, 16], pool: pool)
            #expect(Int(bitPattern: t.storageAddress) % 64 == 0)
            let view = try t.transposed()
            #expect(pool.statistics.bytesHeld == 0)
            withExtendedLifetime(view) {}
        }
        #expect(pool.statistics.bytesHeld == 1024)  // returned when the last view died
        let backend = AcceleratedBackend(pool: pool)
        let a = try Tensor.random([16, 8], seed: 1), b = try Tensor.random([8, 16], seed: 2)
        for _ in 0..<3 { _ = try backend.matmul(a, b) }
        let s = pool.statistics
        #expect(s.misses == 1 && s.hits == 3, "\(s)")
    }

    @Test func concurrentUseKeepsCountsConsistent() throws {
        let pool = try BufferPool(capacity: 1 << 16)
        let iterations = 400
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 0..<(iterations / 4) {
                let size = 64 << ((i + worker) % 5)
                if let block = try? pool.acquire(byteCount: size) {
                    block.baseAddress.storeBytes(of: UInt64(i), as: UInt64.self)
                    #expect(Int(bitPattern: block.baseAddress) % 64 == 0)
                }
            }
        }
        let s = pool.statistics
        #expect(s.hits + s.misses == iterations)
        #expect(s.bytesHeld <= pool.capacity && s.bytesHeld > 0)
    }
}
