import CKestrelKernels
import KestrelTensor
import Testing

@Suite struct DispatchTests {
    @Test func scalarIsAlwaysSupported() {
        #expect(ISALevel.scalar.isSupported)
        #expect(ISALevel.scalar.kernels != nil)
    }

    /// Every function-pointer entry of every supported table is non-null. The entries are read
    /// as raw pointer-sized words from the first (`dot_f32`) to the end of the struct, so an
    /// entry added to the C struct is covered without editing this test.
    @Test func everySupportedTableIsComplete() throws {
        let first = try #require(MemoryLayout<kestrel_kernel_table>.offset(of: \.dot_f32))
        let last = try #require(MemoryLayout<kestrel_kernel_table>.offset(of: \.decode_partial))
        let word = MemoryLayout<UnsafeRawPointer?>.size
        // The struct is `isa` then function pointers only, with nothing after the last one.
        #expect(last + word == MemoryLayout<kestrel_kernel_table>.size)
        let entries = (last - first) / word + 1
        // 14 distances, 14 scans, 4 conversions, 9 math, 16 ggml block (de)quantizers,
        // 8 quantized (4 block dots, int8 GEMV, GEMM, Q8_0 and Q4_0 block GEMV), 1 attention tile, 1 attention backward tile,
        // 1 KV-cache decode
        #expect(entries == 68)
        for level in ISALevel.supported {
            let table = try #require(level.kernels)
            #expect(table.pointee.isa == level.cValue)
            let raw = UnsafeRawPointer(table)
            let missing = (0..<entries).filter { raw.loadUnaligned(fromByteOffset: first + $0 * word, as: UInt.self) == 0 }
            #expect(missing.isEmpty, "\(level): null entries at positions \(missing)")
        }
    }

    @Test func parseRoundTrips() {
        for level in ISALevel.allCases {
            var out = KESTREL_ISA_SCALAR
            #expect(kestrel_isa_parse(level.rawValue, &out) == KESTREL_OK)
            #expect(out == level.cValue)
        }
        var out = KESTREL_ISA_SCALAR
        #expect(kestrel_isa_parse("sse9", &out) == KESTREL_ERR_INVALID_ARGUMENT)
    }

    @Test func unsupportedLevelIsRefused() {
        #if arch(x86_64)
        #expect(kestrel_set_active_isa(KESTREL_ISA_NEON) == KESTREL_ERR_UNSUPPORTED_ISA)
        let e1 = #expect(throws: KestrelError.self) { try ISALevel.neon.activate() }
        #expect({ if case .unsupported(_)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        #endif
    }
}
