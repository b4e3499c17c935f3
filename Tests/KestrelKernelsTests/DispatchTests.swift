import CKestrelKernels
import KestrelTensor
import Testing

@Suite struct DispatchTests {
    @Test func scalarIsAlwaysSupported() {
        #expect(ISALevel.scalar.isSupported)
        #expect(ISALevel.scalar.kernels != nil)
    }

    @Test func everySupportedTableIsComplete() throws {
        for level in ISALevel.supported {
            let table = try #require(level.kernels)
            #expect(table.pointee.isa == level.cValue)
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
