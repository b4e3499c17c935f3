import KestrelKernels
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `description` is the one place payloads become text; the other tests compare payloads.
@Suite struct KestrelErrorTests {
    @Test func dimensionMismatchRendersAnyExtentAsStar() {
        #expect(KestrelError.dimensionMismatch(expected: [-1, 8], actual: [12]).description
                == "dimension mismatch: expected [*, 8], got [12]")
        #expect(KestrelError.dimensionMismatch(expected: [], actual: [0]).description == "dimension mismatch: expected [], got [0]")
    }

    @Test func ioIncludesTheSystemText() {
        let text = String(cString: strerror(EISDIR))
        #expect(text != "unknown error" && !text.isEmpty)
        #expect(KestrelError.io(path: "/x", operation: "open", errno: EISDIR).description == "open /x failed: \(text) (errno \(EISDIR))")
    }

    @Test func fileErrorsNameWhatTheyKnow() {
        #expect(KestrelError.corruptFile(path: "/x", section: "VECT", reason: "r").description == "corrupt file /x: section VECT: r")
        #expect(KestrelError.corruptFile(path: nil, section: nil, reason: "r").description == "corrupt file: r")
        #expect(KestrelError.wrongFileKind(path: "/x", expected: "flat index", found: "HNSW index").description
                == "/x holds a HNSW index, not a flat index")
        #expect(KestrelError.wrongFileKind(path: "", expected: "flat index", found: "HNSW index").description
                == "the bytes hold a HNSW index, not a flat index")
    }

    @Test func overflowedCapacityIsSaidSo() {
        #expect(KestrelError.capacityExceeded(limit: 10, requested: Int.max).description
                == "capacity exceeded: the requested size overflows (limit 10)")
        #expect(KestrelError.capacityExceeded(limit: 10, requested: 11).description == "capacity exceeded: limit 10, requested 11")
    }
}
