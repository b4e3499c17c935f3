import Foundation
import KestrelTensor
import Testing
import _KestrelTestSupport

/// The shared `.npy` reader/writer: byte layout NumPy expects, tensors of any rank round-trip
/// bit for bit, and every malformed file is refused with `corruptFile` naming the path.
@Suite struct NPYTests {
    func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func headerIsWhatNumPyWrites() {
        let h = NPY.header(descr: "<f4", shape: [2, 3, 4, 5])
        #expect(h.count % 64 == 0 && h.last == 0x0A)
        #expect(Array(h[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        #expect(Int(h[8]) + Int(h[9]) << 8 == h.count - 10)
        let text = String(decoding: h[10...], as: UTF8.self)
        #expect(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }"))
        #expect(String(decoding: NPY.header(descr: "<f4", shape: [7])[10...], as: UTF8.self).contains("(7,)"))
    }

    @Test(arguments: [[5], [3, 4], [1, 2, 3], [2, 1, 3, 5], [1, 1, 1, 1, 1, 1, 1, 2]])
    func tensorsRoundTripBitForBit(_ dims: [Int]) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var t = try Tensor.random(dims, seed: UInt64(dims.count))
        // Special values survive unchanged.
        try t.withUnsafeMutableBufferPointer { p in
            p[0] = -0.0
            if p.count > 2 { p[1] = .infinity; p[2] = .nan }
        }
        let url = dir.appendingPathComponent("t.npy")
        try t.writeNPY(to: url)
        let back = try Tensor.readNPY(url)
        #expect(back.shape.dims == dims && back.dtype == .f32)
        let a = try t.withUnsafeBufferPointer { $0.map(\.bitPattern) }, b = try back.withUnsafeBufferPointer { $0.map(\.bitPattern) }
        #expect(a == b)
        // The payload starts right after the header, little-endian.
        let bytes = [UInt8](try Data(contentsOf: url))
        let offset = NPY.header(descr: "<f4", shape: dims).count
        #expect(bytes.count == offset + 4 * a.count)
        #expect(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24 == a[0])
    }

    @Test func aTransposedViewIsWrittenInCOrder() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Tensor([Float](arrayLiteral: 1, 2, 3, 4, 5, 6), shape: [2, 3])
        let view = try t.transposed()
        try view.writeNPY(to: dir.appendingPathComponent("v.npy"))
        let back = try Tensor.readNPY(dir.appendingPathComponent("v.npy"))
        #expect(back.shape.dims == [3, 2])
        #expect(try back.withUnsafeBufferPointer { Array($0) } == [1, 4, 2, 5, 3, 6])
    }

    @Test func emptyDimensionsGiveAnEmptyTensor() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("e.npy")
        try Data(NPY.header(descr: "<f4", shape: [2, 0, 3])).write(to: url)
        let t = try Tensor.readNPY(url)
        #expect(t.shape.dims == [2, 0, 3] && t.elementCount == 0)
    }

    @Test func malformedFilesAreRefusedNamingThePath() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = NPY.header(descr: "<f4", shape: [2, 2, 2]) + [UInt8](repeating: 0, count: 32)
        func refused(_ bytes: [UInt8], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let url = dir.appendingPathComponent("bad.npy")
            try Data(bytes).write(to: url)
            let e = #expect(throws: KestrelError.self, sourceLocation: sourceLocation) { try Tensor.readNPY(url) }
            guard case .corruptFile(let path, _, let reason)? = e else {
                Issue.record("\(String(describing: e))", sourceLocation: sourceLocation)
                return
            }
            #expect(path == url.path, sourceLocation: sourceLocation)
            #expect(reason.contains(phrase), "\(reason)", sourceLocation: sourceLocation)
        }
        // Every truncation, and one byte too many.
        for len in [0, 5, 9, 10, 40, good.count - 32, good.count - 1] { try refused(Array(good[0..<len]), "npy:") }
        try refused(good + [0], "payload")
        func withHeader(_ dict: String, payload: Int = 32) -> [UInt8] {
            let text = Array((dict + "\n").utf8)
            return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
                + [UInt8](repeating: 0, count: payload)
        }
        try refused(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2, 2), }"), "dtype")
        try refused(withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", payload: 64), "dtype")
        try refused(withHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2, 2), }"), "<f4")
        try refused(withHeader("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2, 2), }", payload: 16), "<f4")
        try refused(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2, 2), }"), "Fortran")
        try refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", payload: 4), "shape")
        try refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 8), }"), "shape")
        try refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2, -2), }"), "shape")
        try refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), "shape")
        try refused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"), "payload")
        try refused(withHeader("{'descr': '<f4', 'shape': (2, 2, 2), }"), "lacks")
        var version = good
        version[6] = 9
        try refused(version, "version")
    }

    @Test func unreadablePathsAreIOErrors() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: KestrelError.self) { try Tensor.readNPY(dir.appendingPathComponent("missing.npy")) }
        let e = #expect(throws: KestrelError.self) { try Tensor.readNPY(dir) }
        #expect({ if case .io(_, "open", _)? = e { true } else { false } }(), "\(String(describing: e))")
        let f16 = try Tensor.zeros([2], dtype: .f16)
        #expect(throws: KestrelError.self) { try f16.writeNPY(to: dir.appendingPathComponent("h.npy")) }
        #expect(throws: KestrelError.self) { try Tensor.zeros([2]).writeNPY(to: dir) }
    }
}
