import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

/// The `.kqt` container: exact round trips, and every truncation, flip and re-sealed bad field refused.
@Suite struct QuantizedTensorFileTests {
    static let samples: [QuantizedTensor] = [
        QuantizedTensor(shape: [2, 64], format: .ggml(.q8_0), data: (0..<136).map { UInt8($0 % 251) }),
        QuantizedTensor(shape: [3, 5, 7], format: .integer(IntegerScheme(bits: 4, symmetric: false, granularity: .perChannel(axis: 1))),
                        data: [1, 2, 3, 250]),
        QuantizedTensor(shape: [256], format: .integer(IntegerScheme(bits: 8, symmetric: true, granularity: .perGroup(size: 64))),
                        data: []),
        QuantizedTensor(shape: [], format: .integer(IntegerScheme(bits: 8, symmetric: true, granularity: .perTensor)), data: [9]),
        QuantizedTensor(shape: [0, 32], format: .ggml(.q4_K), data: []),
    ]

    /// Re-computes the header checksum after an edit, so the field checks (not the CRC) must refuse it.
    static func reseal(_ bytes: inout [UInt8]) {
        let rank = Int(bytes[16]) | Int(bytes[17]) << 8
        let end = 32 + 8 * rank
        let crc = CRC32C.checksum(Array(bytes[0..<end]))
        for i in 0..<4 { bytes[end + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    @Test func roundTripsEveryFormatExactly() throws {
        for q in Self.samples {
            let bytes = try QuantizedTensorFile.encode(q)
            #expect(bytes.count == 32 + 8 * q.shape.count + 4 + q.data.count)
            #expect(Array(bytes[0..<4]) == Array("KQTF".utf8))
            #expect(try QuantizedTensorFile.decode(bytes) == q)
        }
    }

    @Test func layoutIsTheDocumentedOne() throws {
        let q = Self.samples[1]
        let b = try QuantizedTensorFile.encode(q)
        #expect(b[4] == 1 && b[5] == 0)  // version 1, little-endian
        #expect(b[6] == 2 && b[7] == 0 && b[8] == 4 && b[9] == 0 && b[10] == 2 && b[11] == 0)
        #expect(b[12] == 1 && b[16] == 3 && b[20] == 4)  // axis 1, rank 3, 4 payload bytes
        #expect(Array(b[32..<40]) == [3, 0, 0, 0, 0, 0, 0, 0] && b[48] == 7)
        let g = try QuantizedTensorFile.encode(Self.samples[0])
        #expect(g[6] == 1 && g[7] == 8)  // ggml, GGUF id of Q8_0
        let crc = CRC32C.checksum(Self.samples[0].data)
        #expect(UInt32(g[28]) | UInt32(g[29]) << 8 | UInt32(g[30]) << 16 | UInt32(g[31]) << 24 == crc)
    }

    @Test func everyTruncationAndEveryByteFlipIsRefused() throws {
        for q in Self.samples {
            let bytes = try QuantizedTensorFile.encode(q)
            for n in 0..<bytes.count {
                #expect(throws: KestrelError.self) { try QuantizedTensorFile.decode(Array(bytes[0..<n])) }
            }
            #expect(throws: KestrelError.self) { try QuantizedTensorFile.decode(bytes + [0]) }
            for i in 0..<bytes.count {
                var altered = bytes
                altered[i] ^= 0x10
                #expect(throws: KestrelError.self) { try QuantizedTensorFile.decode(altered) }
            }
        }
    }

    @Test func resealedBadFieldsNameWhatIsWrong() throws {
        let base = try QuantizedTensorFile.encode(Self.samples[0])
        func reason(_ edit: (inout [UInt8]) -> Void) -> String? {
            var b = base
            edit(&b)
            Self.reseal(&b)
            do {
                _ = try QuantizedTensorFile.decode(b, path: "w.kqt")
                return nil
            } catch {
                if case .corruptFile(let path, _, let r) = error, path == "w.kqt" { return r }
                return "\(error)"
            }
        }
        #expect(reason { $0[7] = 5 }?.contains("unknown ggml type id 5") == true)
        #expect(reason { $0[6] = 9 }?.contains("unknown format kind 9") == true)
        #expect(reason { $0[8] = 8 }?.contains("integer-scheme fields set") == true)
        #expect(reason { $0[11] = 1 }?.contains("reserved byte") == true)
        #expect(reason { $0[20] = 200 }?.contains("payload bytes") == true)
        // Dimensions whose product overflows.
        #expect(reason { b in for i in 32..<40 { b[i] = 0xFF }; b[39] = 0x3F; for i in 40..<48 { b[i] = 0xFF }; b[47] = 0x3F }?
            .contains("overflows") == true)
        // A rank above the maximum.
        #expect(reason { $0[16] = 9 }.map { $0.contains("rank 9") || $0.contains("truncated") } == true)
        var v = base
        v[4] = 2
        Self.reseal(&v)
        #expect(throws: KestrelError.unsupportedVersion(found: 2, supported: 1...1)) { try QuantizedTensorFile.decode(v) }
    }

    @Test func encodeRefusesWhatTheContainerCannotHold() {
        let deep = QuantizedTensor(shape: Array(repeating: 1, count: 9), format: .ggml(.q8_0), data: [])
        #expect(throws: KestrelError.invalidArgument(name: "shape", reason: "rank 9 is above the container's 8")) {
            try QuantizedTensorFile.encode(deep)
        }
        let negative = QuantizedTensor(shape: [2, -1], format: .ggml(.q8_0), data: [])
        #expect(throws: KestrelError.self) { try QuantizedTensorFile.encode(negative) }
        let bits = QuantizedTensor(shape: [1], format: .integer(IntegerScheme(bits: 300, symmetric: true, granularity: .perTensor)), data: [])
        #expect(throws: KestrelError.invalidArgument(name: "bits", reason: "300 does not fit the container")) {
            try QuantizedTensorFile.encode(bits)
        }
    }
}
