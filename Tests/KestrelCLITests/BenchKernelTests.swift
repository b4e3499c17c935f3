import Foundation
import Kestrel
import Testing

@testable import KestrelCLI

/// The benchmark binds every table entry of every tier to real buffers; these tests check the
/// bindings call the right kernel (results equal the one-pair kernel of the same tier) and that
/// inputs are reproducible.
@Suite struct BenchKernelTests {
    @Test func manyBindingsMatchThePairKernelsAtEveryTier() throws {
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            for dtype in BenchDType.allCases {
                let dim = dtype == .b1 ? 264 : 37  // odd sizes: tails
                let count = 5
                let v = try BenchVectors(dtype: dtype, dim: dim, count: count, seed: 7)
                for op in dtype.ops {
                    let out = try AlignedBuffer(byteCount: 4 * count, zeroed: true)
                    let many = try KernelCatalog.distance(t, op: op, dtype: dtype, shape: .many, vectors: v, out: out)
                    #expect(many.run() == 0, "\(op)_\(dtype)_many at \(level) returned an error status")
                    let descr = KernelCatalog.manyOutputDescr(op: op, dtype: dtype)
                    for r in 0..<count {
                        // One row at a time through the pair binding (row r moved to row 0 of a copy).
                        let row = try BenchVectors(dtype: dtype, dim: dim, count: 1, seed: 7)
                        let rowBytes = dtype.bytes(dim: dim)
                        row.base.baseAddress.copyMemory(from: v.base.baseAddress + r * rowBytes, byteCount: rowBytes)
                        let pair = try KernelCatalog.distance(
                            t, op: op, dtype: dtype, shape: .pair, vectors: row, out: out)
                        let expected = pair.run()
                        let got: Double
                        switch descr {
                        case "<i4": got = Double(out.typed(Int32.self)[r])
                        case "<u4": got = Double(out.typed(UInt32.self)[r])
                        default: got = Double(out.typed(Float.self)[r])
                        }
                        // The header promises many == pair of the same tier; allow f32 rounding of
                        // a different summation order only.
                        let tol = descr == "<f4" ? 1e-5 * max(1, abs(expected)) : 0
                        #expect(abs(got - expected) <= tol, "\(op)_\(dtype) row \(r) at \(level): \(got) vs \(expected)")
                    }
                }
            }
        }
    }

    @Test func scalarBindingsComputeTheDefinitions() throws {
        let t = try #require(ISALevel.scalar.kernels).pointee
        let v = try BenchVectors(dtype: .f32, dim: 16, count: 1, seed: 3)
        let out = try AlignedBuffer(byteCount: 4, zeroed: true)
        let q = v.query.typed(Float.self), b = v.base.typed(Float.self)
        var dot = 0.0, l2 = 0.0
        for i in 0..<16 {
            dot += Double(q[i]) * Double(b[i])
            l2 += (Double(q[i]) - Double(b[i])) * (Double(q[i]) - Double(b[i]))
        }
        let d = try KernelCatalog.distance(t, op: .dot, dtype: .f32, shape: .pair, vectors: v, out: out).run()
        let l = try KernelCatalog.distance(t, op: .l2sq, dtype: .f32, shape: .pair, vectors: v, out: out).run()
        #expect(abs(d - dot) < 1e-5)
        #expect(abs(l - l2) < 1e-5)

        let bits = try BenchVectors(dtype: .b1, dim: 64, count: 1, seed: 3)
        let h = try KernelCatalog.distance(t, op: .hamming, dtype: .b1, shape: .pair, vectors: bits, out: out).run()
        let x = bits.query.baseAddress.load(as: UInt64.self) ^ bits.base.baseAddress.load(as: UInt64.self)
        #expect(h == Double(x.nonzeroBitCount))
    }

    @Test func inheritedEntriesShareAnAddress() throws {
        // Every tier's table starts as a copy of its parent's: an entry it does not replace has
        // the parent's address, which is how --all avoids measuring the same function twice.
        let v = try BenchVectors(dtype: .f32, dim: 8, count: 1, seed: 1)
        let out = try AlignedBuffer(byteCount: 4, zeroed: true)
        let s = try #require(ISALevel.scalar.kernels).pointee
        let a = try KernelCatalog.distance(s, op: .dot, dtype: .f32, shape: .pair, vectors: v, out: out)
        let b = try KernelCatalog.distance(s, op: .dot, dtype: .f32, shape: .pair, vectors: v, out: out)
        let c = try KernelCatalog.distance(s, op: .l2sq, dtype: .f32, shape: .pair, vectors: v, out: out)
        #expect(a.address == b.address)
        #expect(a.address != c.address)
    }

    @Test func miscKernelsBindAtEveryTier() throws {
        let w = try MiscWorkspace(n: 100, seed: 5)
        for level in ISALevel.supported {
            let t = try #require(level.kernels).pointee
            for k in MiscKernel.allCases {
                let bound = try KernelCatalog.misc(t, k, w)
                #expect(bound.run().isFinite, "\(k) at \(level)")
            }
        }
        #expect(MiscKernel.f32_to_f16.bytesMoved(n: 10) == 60)
        #expect(MiscKernel.softmax_f32.bytesMoved(n: 10) == 80)
    }

    @Test func vectorsAreReproducibleAndAligned() throws {
        for dtype in BenchDType.allCases {
            let dim = dtype == .b1 ? 72 : 33
            let a = try BenchVectors(dtype: dtype, dim: dim, count: 3, seed: 99)
            let b = try BenchVectors(dtype: dtype, dim: dim, count: 3, seed: 99)
            let c = try BenchVectors(dtype: dtype, dim: dim, count: 3, seed: 100)
            let n = a.base.byteCount
            #expect(n == dtype.bytes(dim: dim) * 3)
            #expect(memcmp(a.base.baseAddress, b.base.baseAddress, n) == 0)
            #expect(memcmp(a.query.baseAddress, b.query.baseAddress, a.query.byteCount) == 0)
            #expect(memcmp(a.base.baseAddress, c.base.baseAddress, n) != 0)
            #expect(Int(bitPattern: a.base.baseAddress) % 64 == 0)
            #expect(Int(bitPattern: a.query.baseAddress) % 64 == 0)
        }
        let f = try BenchVectors(dtype: .f32, dim: 1001, count: 50, seed: 1)
        let p = f.base.typed(Float.self)
        var lo: Float = 1, hi: Float = -1
        for i in 0..<(1001 * 50) {
            lo = min(lo, p[i])
            hi = max(hi, p[i])
        }
        #expect(lo >= -1 && hi < 1 && lo < -0.99 && hi > 0.99)
    }

    @Test func npyHeaderFollowsTheFormat() {
        for shape in [[768], [100_000, 768], [3, 96]] {
            let h = NPYFile.header(descr: "<f4", shape: shape)
            #expect(h.count % 64 == 0)
            #expect(Array(h[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
            #expect(Int(h[8]) | Int(h[9]) << 8 == h.count - 10)
            #expect(h.last == 0x0A)
            let dict = String(decoding: h[10...], as: UTF8.self)
            #expect(dict.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': "))
        }
        #expect(String(decoding: NPYFile.header(descr: "|i1", shape: [5]), as: UTF8.self).contains("'shape': (5,)"))
        #expect(String(decoding: NPYFile.header(descr: "|i1", shape: [2, 3]), as: UTF8.self).contains("'shape': (2, 3)"))
    }

    @Test func npyWriteRoundTrips() throws {
        let dir = NSTemporaryDirectory() + "kestrel-npy-\(getpid())"
        try NPYFile.makeDirectory(dir + "/nested")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6]
        let buffer = try AlignedBuffer(byteCount: bytes.count, zeroed: true)
        for (i, b) in bytes.enumerated() { buffer.typed(UInt8.self)[i] = b }
        try NPYFile.write(path: dir + "/nested/a.npy", descr: "|u1", shape: [2, 3], data: buffer.baseAddress, byteCount: 6)
        let data = try #require(FileManager.default.contents(atPath: dir + "/nested/a.npy"))
        #expect(data.count == NPYFile.header(descr: "|u1", shape: [2, 3]).count + 6)
        #expect(Array(data.suffix(6)) == bytes)
        #expect(!FileManager.default.fileExists(atPath: dir + "/nested/a.npy.tmp"))
        let e1 = #expect(throws: KestrelError.self) {
            try NPYFile.write(path: "/nonexistent-dir/x.npy", descr: "|u1", shape: [0], data: UnsafeRawPointer(bitPattern: 64)!, byteCount: 0)
        }
        #expect(e1 == .io(path: "/nonexistent-dir/x.npy", operation: "create", errno: 2))
    }

    @Test func streamTriadValidatesAndMeasures() throws {
        let e2 = #expect(throws: KestrelError.self) { try StreamTriad(arrayBytes: 1 << 20, threads: 0).validate() }
        #expect({ if case .invalidArgument(name: "threads", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: KestrelError.self) { try StreamTriad(arrayBytes: 100, threads: 1).validate() }
        #expect({ if case .invalidArgument(name: "stream-mib", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        let e4 = #expect(throws: KestrelError.self) { try StreamTriad(arrayBytes: 1 << 20, threads: 1, passes: 0).validate() }
        #expect({ if case .invalidArgument(name: "passes", reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
        for threads in [1, 2, 3] {
            let r = try StreamTriad(arrayBytes: 1 << 20, threads: threads, passes: 2).run()
            #expect(r.bytesPerPass == 3 << 20)
            #expect(r.gigabytesPerSecond > 0 && r.gigabytesPerSecond.isFinite)
        }
    }
}
