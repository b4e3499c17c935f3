import Foundation
import KestrelQuantization
import Testing
import _KestrelTestSupport

/// GGUFFile against the files llama.cpp's own writer (gguf-py 0.19.0) made, and the values
/// expected.json records for them (Scripts/make_gguf_fixtures.py; read back with gguf-py's reader).
@Suite struct GGUFFixtureTests {
    static let files = ["all-types.gguf", "align64.gguf", "align64-v2.gguf", "no-tensors.gguf"]

    @Test(arguments: files)
    func headerAndMetadataMatchTheReference(_ name: String) throws {
        let want = try GGUFExpected.file(name)
        let file = try GGUFFile.open(path: Fixtures.url("gguf/\(name)").path)
        #expect(file.version == want["version"] as! Int)
        #expect(file.alignment == want["alignment"] as! Int)
        #expect(file.dataOffset == want["data_offset"] as! Int)
        let meta = want["metadata"] as! [[String: Any]]
        #expect(file.metadataKeys == meta.map { $0["key"] as! String })
        #expect(file.metadata.count == meta.count)
        for m in meta {
            let key = m["key"] as! String
            let expected = GGUFExpected.value(m)
            let got = try #require(file.metadata[key], "missing \(key)")
            #expect(sameBits(got, expected), "\(key): \(got) != \(expected)")
        }
    }

    @Test(arguments: files)
    func tensorInfosAndBytesMatchTheReference(_ name: String) throws {
        let want = try GGUFExpected.file(name)
        let file = try GGUFFile.open(path: Fixtures.url("gguf/\(name)").path)
        let tensors = want["tensors"] as! [[String: Any]]
        #expect(file.tensors.map(\.name) == tensors.map { $0["name"] as! String })
        let fileBytes = try Fixtures.bytes("gguf/\(name)")
        for t in tensors {
            let tname = t["name"] as! String
            let info = try #require(file.tensorInfo(named: tname))
            #expect(info.type.rawValue == UInt32(t["type"] as! Int))
            #expect(info.dimensions == t["dims"] as! [Int])
            #expect(info.shape == (t["dims"] as! [Int]).reversed())
            #expect(info.offset == t["offset"] as! Int)
            #expect(info.byteCount == t["n_bytes"] as! Int)
            // Mapped, not copied: the view is in the page-aligned mapping at an aligned offset.
            let view = try file.rawBytes(of: tname)
            #expect(Int(bitPattern: view.baseAddress) % file.alignment == 0)
            let raw = [UInt8](view)
            let start = file.dataOffset + info.offset
            #expect(raw == Array(fileBytes[start..<(start + info.byteCount)]))
            if let source = t["source"] as? String {
                // Block tensors hold the ggml-quants fixture bytes.
                let src = try Fixtures.bytes(source)
                let at = t["source_offset"] as! Int
                #expect(raw == Array(src[at..<(at + info.byteCount)]), "\(tname)")
                let q = try file.quantizedTensor(named: tname)
                #expect(q.format == .ggml(info.type) && q.shape == info.shape && q.data == raw)
                #expect(throws: KestrelError.invalidArgument(name: "name", reason: "tensor \(tname) holds \(info.type) blocks, not f32/f16/bf16 elements")) {
                    try file.tensor(named: tname)
                }
            }
        }
    }

    @Test(arguments: files)
    func floatTensorsCarryTheExactBits(_ name: String) throws {
        let want = try GGUFExpected.file(name)
        let file = try GGUFFile.open(path: Fixtures.url("gguf/\(name)").path)
        for t in want["tensors"] as! [[String: Any]] {
            guard let bits = t["bits"] as? [Int] else { continue }
            let tname = t["name"] as! String
            let info = try #require(file.tensorInfo(named: tname))
            let tensor = try file.tensor(named: tname)
            #expect(tensor.shape.dims == info.shape)
            let widened: [Float]
            switch info.type {
            case .f32:
                #expect(tensor.dtype == .f32)
                let got = try tensor.withUnsafeBufferPointer { Array($0) }
                #expect(got.map(\.bitPattern) == bits.map { UInt32($0) })
                widened = bits.map { Float(bitPattern: UInt32($0)) }
            case .f16:
                #expect(tensor.dtype == .f16)
                let got = try tensor.withUnsafeBufferPointer(as: UInt16.self) { Array($0) }
                #expect(got == bits.map { UInt16($0) })
                widened = bits.map { Float(Float16(bitPattern: UInt16($0))) }
            default:
                #expect(tensor.dtype == .bf16)
                let got = try tensor.withUnsafeBufferPointer(as: UInt16.self) { Array($0) }
                #expect(got == bits.map { UInt16($0) })
                widened = bits.map { Float(bitPattern: UInt32($0) << 16) }
            }
            // floatTensor widens exactly (NaN stays NaN, compared by class since payloads may quiet).
            let f = try file.floatTensor(named: tname)
            #expect(f.dtype == .f32 && f.shape.dims == info.shape)
            let got = try f.withUnsafeBufferPointer { Array($0) }
            #expect(got.count == widened.count)
            for (g, w) in zip(got, widened) {
                #expect(g.isNaN ? w.isNaN : g.bitPattern == w.bitPattern)
            }
        }
    }

    /// Block tensors come out dequantized bit-exactly: the expected floats are ggml's own
    /// dequantization of the same blocks (ggml-quants fixtures, at the offsets the generator recorded).
    @Test(arguments: [("blk.q8_0", "Q8_0.dequant.bin", 0, [2, 256]), ("blk.q4_0", "Q4_0.dequant.bin", 4096, [3, 256]),
                      ("blk.q4_k", "Q4_K.dqblocks.dequant.bin", 0, [8, 256]), ("blk.q6_k", "Q6_K.dqblocks.dequant.bin", 2048, [4, 256])])
    func floatTensorOfBlocksIsGGMLsDequantization(_ name: String, _ source: String, _ offset: Int, _ shape: [Int]) throws {
        let file = try GGUFFile.open(path: Fixtures.url("gguf/all-types.gguf").path)
        let t = try file.floatTensor(named: name)
        #expect(t.shape.dims == shape)
        let want = try Fixtures.floats("ggml-quants/\(source)")
        let got = try t.toArray(of: Float.self)
        let slice = Array(want[(offset / 4)..<(offset / 4 + got.count)])
        #expect(got.map(\.bitPattern) == slice.map(\.bitPattern))
    }

    @Test func unknownTensorNameThrows() throws {
        let file = try GGUFFile.open(path: Fixtures.url("gguf/align64.gguf").path)
        let e = KestrelError.invalidArgument(name: "name", reason: "no tensor named \"nope\"")
        #expect(throws: e) { try file.rawBytes(of: "nope") }
        #expect(throws: e) { try file.tensor(named: "nope") }
        #expect(throws: e) { try file.floatTensor(named: "nope") }
        #expect(throws: e) { try file.quantizedTensor(named: "nope") }
        #expect(file.tensorInfo(named: "nope") == nil)
    }

    @Test func openingFromBytesMatchesOpeningTheFile() throws {
        let bytes = try Fixtures.bytes("gguf/all-types.gguf")
        let a = try GGUFFile.open(path: Fixtures.url("gguf/all-types.gguf").path)
        let b = try bytes.withUnsafeBytes { (p) throws(KestrelError) in try GGUFFile(bytes: p) }
        #expect(a.tensors == b.tensors && a.metadataKeys == b.metadataKeys && a.path != nil && b.path == nil)
        for t in a.tensors { #expect(Array(try a.rawBytes(of: t.name)) == Array(try b.rawBytes(of: t.name))) }
    }

    @Test func missingFileAndDirectoryThrowIO() {
        #expect(throws: KestrelError.io(path: "/nonexistent/x.gguf", operation: "open", errno: ENOENT)) {
            try GGUFFile.open(path: "/nonexistent/x.gguf")
        }
        let dir = TempDir(prefix: "gguf")
        #expect(throws: KestrelError.io(path: dir.url.path, operation: "open", errno: EISDIR)) {
            try GGUFFile.open(path: dir.url.path)
        }
    }
}
