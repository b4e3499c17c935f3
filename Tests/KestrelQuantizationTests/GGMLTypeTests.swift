import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

/// The block geometry in `GGMLType` against the fixture manifest written by the reference
/// generator (an independent source: gguf-py's own constants).
@Suite struct GGMLTypeTests {
    @Test func blockGeometryMatchesTheFixtureManifest() throws {
        let data = try Data(contentsOf: Fixtures.url("ggml-quants/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let types = try #require(manifest["types"] as? [String: [String: Any]])
        let named: [String: GGMLType] = [
            "Q8_0": .q8_0, "Q8_1": .q8_1, "Q4_0": .q4_0, "Q4_1": .q4_1,
            "Q5_0": .q5_0, "Q5_1": .q5_1, "Q4_K": .q4_K, "Q6_K": .q6_K,
        ]
        for (name, type) in named {
            let entry = try #require(types[name], "manifest lacks \(name)")
            #expect(entry["block_elems"] as? Int == type.blockSize, "\(name) block size")
            #expect(entry["block_bytes"] as? Int == type.bytesPerBlock, "\(name) block bytes")
        }
    }

    @Test func ggufIdsAndNames() {
        // GGUF type ids are part of the file format (ggml.h enum ggml_type).
        #expect(GGMLType(rawValue: 8) == .q8_0)
        #expect(GGMLType(rawValue: 12) == .q4_K)
        #expect(GGMLType(rawValue: 30) == .bf16)
        #expect(GGMLType(rawValue: 4) == nil)  // Q4_2: removed from ggml, never read
        #expect(Set(GGMLType.allCases.map(\.description)).count == GGMLType.allCases.count)
    }
}
