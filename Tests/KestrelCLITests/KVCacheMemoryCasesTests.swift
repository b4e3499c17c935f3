import Kestrel
import Testing

@testable import KestrelCLI

/// The memory suite's KV-cache cases: the counts they report, computed independently here.
@Suite struct KVCacheMemoryCasesTests {
    @Test func bytesPerTokenByStorage() {
        let b = KVCacheMemoryCases.bytesPerToken()
        #expect(b[.f32] == 2 * 8 * 128 * 4 && b[.f16] == 2 * 8 * 128 * 2 && b[.int8] == 2 * 8 * (128 + 4))
        let o = KVCacheMemoryCases.bytesOutcome()
        #expect(abs(o.value - 132.0 / 512.0) < 1e-12)
    }

    @Test func prefixSharingWorkload() throws {
        let s = try KVCacheMemoryCases.sharingWorkload()
        // 64 shared system-prompt blocks + 4 own blocks per request, against 68 per request unshared;
        // every request after the first is served the 1024 prompt tokens.
        #expect(s.blocksShared == 64 + 32 * 4 && s.blocksUnshared == 32 * 68)
        #expect(s.tokensServed == 31 * 1024 && s.tokensTotal == 32 * 1088)
        #expect(s.memoryReductionPercent >= 75 && s.prefillReductionPercent >= 75)
        // Without a shared prompt nothing is shared.
        let none = try KVCacheMemoryCases.sharingWorkload(requests: 4, promptTokens: 0, ownTokens: 40)
        #expect(none.blocksShared == none.blocksUnshared && none.tokensServed == 0)
    }
}
