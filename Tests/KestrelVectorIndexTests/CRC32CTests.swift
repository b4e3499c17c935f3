@testable import KestrelVectorIndex
import Testing
import _KestrelTestSupport

@Suite struct CRC32CTests {
    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// Slicing-by-8 agrees with the bit-at-a-time definition on every length and alignment.
    @Test func agreesWithBitwiseDefinition() {
        func bitwise(_ b: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for byte in b {
                c ^= UInt32(byte)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        var rng = SeededRNG(seed: 1)
        let data = rng.bytes(300)
        for start in 0..<9 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] {
                let s = data[start..<(start + len)]
                let fast = Array(s).withUnsafeBytes { CRC32C.checksum($0) }
                #expect(fast == bitwise(s), "start \(start) len \(len)")
            }
        }
        // Continuing a checksum equals checksumming the concatenation.
        let whole = data.withUnsafeBytes { CRC32C.checksum($0) }
        let first = data.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<123])) }
        let cont = data.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[123...]), continuing: first) }
        #expect(whole == cont)
    }
}
