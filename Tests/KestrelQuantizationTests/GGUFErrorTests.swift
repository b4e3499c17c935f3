import Foundation
import KestrelQuantization
import Testing
import _KestrelTestSupport

/// Malformed GGUF files: every check of the reader, on hand-made files built byte by byte
/// (GGUFBytes, independent of GGUFWriter), and every truncation of every reference file.
/// Run under AddressSanitizer in CI (.ci/asan-tests).
@Suite struct GGUFErrorTests {
    /// A valid file: 2 tensors (f32 [2][4] at 0, q8_0 [32] at 32), 2 key/values.
    /// Layout: header 0-23, key "general.alignment" 24-..., tensor infos, data at 192.
    struct Spec {
        var magic: UInt32 = 0x4655_4747
        var version: UInt32 = 3
        var tensorCount: UInt64 = 2
        var kvCount: UInt64 = 2
        var alignmentType: UInt32 = 4
        var alignment: UInt32 = 32
        var secondKey = "a"
        var t0 = (name: "t0", dims: [UInt64(4), 2], type: UInt32(0), offset: UInt64(0))
        var t1 = (name: "t1", dims: [UInt64(32)], type: UInt32(8), offset: UInt64(32))
        var dataBytes = 96

        func bytes() -> [UInt8] {
            var b = GGUFBytes()
            b.u32(magic)
            b.u32(version)
            b.u64(tensorCount)
            b.u64(kvCount)
            b.str("general.alignment")
            b.u32(alignmentType)
            if alignmentType == 10 { b.u64(UInt64(alignment)) } else { b.u32(alignment) }
            b.str(secondKey)
            b.u32(9)  // array of strings
            b.u32(8)
            b.u64(2)
            b.str("x")
            b.str("yz")
            b.tensorInfo(t0.name, dims: t0.dims, type: t0.type, offset: t0.offset)
            b.tensorInfo(t1.name, dims: t1.dims, type: t1.type, offset: t1.offset)
            b.pad(to: Int(alignment == 0 ? 32 : alignment))
            b.bytes.append(contentsOf: (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0) })
            return b.bytes
        }
    }

    static func corrupt(_ section: String?, _ reason: String) -> KestrelError {
        .corruptFile(path: nil, section: section, reason: reason)
    }

    @Test func theBaseFileIsValid() throws {
        let bytes = Spec().bytes()
        let f = try bytes.withUnsafeBytes { (p) throws(KestrelError) in try GGUFFile(bytes: p) }
        #expect(f.tensors.map(\.name) == ["t0", "t1"] && f.alignment == 32)
        #expect(f.metadata["a"] == .array(elementType: .string, [.string("x"), .string("yz")]))
        #expect(Array(try f.rawBytes(of: "t1")) == (32..<66).map { UInt8($0) })
    }

    @Test func headerErrors() {
        var s = Spec()
        s.magic = 0x4655_4748
        #expect(ggufError(s.bytes()) == Self.corrupt(nil, "bad magic 0x46554748 at offset 0 (expected \"GGUF\")"))
        for v: UInt32 in [0, 1, 4, 0x0300_0000] {
            s = Spec()
            s.version = v
            #expect(ggufError(s.bytes()) == .unsupportedVersion(found: Int(v), supported: 2...3))
        }
        s = Spec()
        s.tensorCount = UInt64.max
        #expect(ggufError(s.bytes()) == Self.corrupt(nil, "tensor count \(UInt64.max) at offset 8 exceeds the largest size"))
        s.tensorCount = 1 << 40
        #expect(ggufError(s.bytes()) == Self.corrupt(nil, "tensor count \(1 << 40) at offset 8 exceeds what the file can hold"))
        s = Spec()
        s.kvCount = 1 << 62
        #expect(ggufError(s.bytes()) == Self.corrupt(nil, "metadata count \(1 << 62) at offset 16 exceeds what the file can hold"))
        #expect(ggufError([]) == Self.corrupt(nil, "magic at offset 0 needs 4 bytes, the file has 0 left"))
        #expect(ggufError(Array("GGUF".utf8) + [3, 0]) == Self.corrupt(nil, "version at offset 4 needs 4 bytes, the file has 2 left"))
    }

    @Test func metadataErrors() {
        // Key length past the end: the first key's length field is at 24.
        var b = Spec().bytes()
        b.replaceSubrange(24..<32, with: [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        #expect(ggufError(b) == Self.corrupt("metadata", "key of metadata entry 0 at offset 24 has length 4294967295, past the end of the file (\(b.count - 32) bytes left)"))
        // Unknown value type (13) for general.alignment at 24 + 8 + 17 = 49.
        var s = Spec()
        s.alignmentType = 13
        #expect(ggufError(s.bytes()) == Self.corrupt("metadata", "value type of general.alignment at offset 49 is 13, not a GGUF value type"))
        // general.alignment of the wrong type, zero, or not a power of two.
        s.alignmentType = 10
        #expect(ggufError(s.bytes()) == Self.corrupt("metadata", "general.alignment is uint64(32); it must be a uint32 power of two"))
        for a: UInt32 in [0, 48] {
            s = Spec()
            s.alignment = a
            #expect(ggufError(s.bytes()) == Self.corrupt("metadata", "general.alignment is uint32(\(a)); it must be a uint32 power of two"))
        }
        // Duplicate key.
        s = Spec()
        s.secondKey = "general.alignment"
        #expect(ggufError(s.bytes()) == Self.corrupt("metadata", "duplicate metadata key \"general.alignment\" at offset 57"))
        // Invalid UTF-8 in the second key (at 57: length, then the byte).
        b = Spec().bytes()
        b[65] = 0xFF
        #expect(ggufError(b) == Self.corrupt("metadata", "key of metadata entry 1 at offset 57 is not valid UTF-8"))
        // Array count beyond the file (count at 57 + 9 + 4 + 4 = 74).
        b = Spec().bytes()
        b.replaceSubrange(74..<82, with: [0, 0, 0, 0, 1, 0, 0, 0])
        #expect(ggufError(b) == Self.corrupt("metadata", "array of a at offset 74 claims \(1 << 32) string elements, more than the \(b.count - 82) bytes left can hold"))
        // Bool other than 0/1.
        var g = GGUFBytes()
        g.u32(0x4655_4747); g.u32(3); g.u64(0); g.u64(1)
        g.str("b"); g.u32(7); g.u8(2)
        #expect(ggufError(g.bytes) == Self.corrupt("metadata", "bool value of b at offset 37 is 2, not 0 or 1"))
    }

    @Test func nestingBeyondTheLimitThrows() {
        func file(depth: Int) -> [UInt8] {
            var g = GGUFBytes()
            g.u32(0x4655_4747); g.u32(3); g.u64(0); g.u64(1)
            g.str("n"); g.u32(9)
            for _ in 1..<depth { g.u32(9); g.u64(1) }
            g.u32(0); g.u64(1); g.u8(7)
            g.pad(to: 32)
            return g.bytes
        }
        #expect(ggufError(file(depth: 16)) == nil)
        let e = ggufError(file(depth: 17))
        guard case .corruptFile(nil, "metadata", let reason) = e else { Issue.record("\(String(describing: e))"); return }
        #expect(reason.hasSuffix("nests deeper than 16 levels"))
    }

    @Test func tensorInfoErrors() {
        var s = Spec()
        s.t1.dims = [1, 1, 1, 1, 32]
        #expect(ggufError(s.bytes()).map(reason)?.hasPrefix("tensor t1 at offset") == true)
        #expect(ggufError(s.bytes()).map(reason)?.hasSuffix("has 5 dimensions (at most 4)") == true)
        s = Spec()
        s.t0.dims = [1 << 62, 4]
        #expect(ggufError(s.bytes()).map(reason)?.hasPrefix("dimensions [\(1 << 62), 4] of t0 at offset") == true)
        // A zero extent does not excuse huge others (found by the gguf fuzz target: Shape refused it later).
        s.t0.dims = [0, 1 << 40, 0, 1 << 32]
        #expect(ggufError(s.bytes()).map(reason)?.hasSuffix("overflow the element count") == true)
        s.t0.dims = [UInt64.max, 1]
        #expect(ggufError(s.bytes()).map(reason)?.hasSuffix("is \(UInt64.max), too large") == true)
        // f32 with 2^61 elements: count fits, bytes do not.
        s.t0.dims = [1 << 61, 1]
        #expect(ggufError(s.bytes()).map(reason)?.hasSuffix("overflow the byte count") == true)
        s = Spec()
        s.t1.type = 1000
        #expect(ggufError(s.bytes()).map(reason)?.hasSuffix("is 1000, not a ggml type") == true)
        s.t1.type = 10  // Q2_K: a ggml type Kestrel does not read
        #expect(ggufError(s.bytes()) == .unsupported("ggml type 10 of tensor t1 in GGUF bytes"))
        s = Spec()
        s.t1.dims = [31]
        #expect(ggufError(s.bytes()) == Self.corrupt("tensor infos", "row length 31 of t1 is not a multiple of the q8_0 block size 32"))
        s = Spec()
        s.t1.offset = 40
        #expect(ggufError(s.bytes()).map(reason)?.hasPrefix("data offset 40 of t1 at offset") == true)
        s = Spec()
        s.t1.name = "t0"
        #expect(ggufError(s.bytes()).map(reason)?.hasPrefix("duplicate tensor name \"t0\" at offset") == true)
    }

    @Test func tensorDataErrors() {
        var s = Spec()
        s.t1.offset = 64
        #expect(ggufError(s.bytes()) == Self.corrupt("tensor data", "tensor t1 (34 bytes padded to 32 at data offset 64, file offset 256) runs past the end of the file (288 bytes)"))
        s.t1.offset = 1 << 40
        #expect(ggufError(s.bytes()) == Self.corrupt("tensor data", "tensor t1 (34 bytes padded to 32 at data offset \(1 << 40), file offset 288) runs past the end of the file (288 bytes)"))
        s = Spec()
        s.t1.offset = 0
        #expect(ggufError(s.bytes()) == Self.corrupt("tensor data", "tensor t0 (data offset 0, 32 bytes) overlaps tensor t1 (data offset 0)"))
        s = Spec()
        s.dataBytes = 0
        s.tensorCount = 0
        // With no tensors, metadata ends at 101 and the data section (at 128) must still be there.
        var b = s.bytes()
        b.removeLast(b.count - 110)
        #expect(ggufError(b) == Self.corrupt("tensor data", "the data section starts at offset 128, past the end of the file (110 bytes)"))
    }

    @Test(arguments: ["base"] + GGUFFixtureTests.files)
    func everyTruncationThrowsAndEveryByteFlipIsSafe(_ name: String) throws {
        let bytes = name == "base" ? Spec().bytes() : try Fixtures.bytes("gguf/\(name)")
        #expect(ggufError(bytes) == nil)
        for n in 0..<bytes.count {
            let e = ggufError(Array(bytes[0..<n]))
            guard case .corruptFile = e else {
                Issue.record("prefix of \(n) bytes of \(name): \(String(describing: e))")
                continue
            }
        }
        // Flipping any bit either still parses or throws; it never traps or reads out of bounds.
        var flipped = bytes
        for i in 0..<bytes.count {
            for bit in [0, 7] {
                flipped[i] ^= 1 << bit
                _ = ggufError(flipped)
                flipped[i] = bytes[i]
            }
        }
    }

    private func reason(_ e: KestrelError) -> String {
        if case .corruptFile(_, _, let r) = e { return r }
        return "\(e)"
    }
}
