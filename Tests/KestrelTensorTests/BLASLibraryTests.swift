import KestrelKernels
import KestrelTensor
import Testing

@Suite struct BLASLibraryTests {
    @Test func kernelSetWidthsFollowTheirInstructionSets() {
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "Prescott") == .sse)
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "SANDYBRIDGE") == .avx)
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "Haswell") == .avx2)
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "zen") == .avx2)
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "SkylakeX") == .avx512)
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "SapphireRapids") == .avx512)
        #expect(BLASLibrary.vectorWidth(ofKernelSet: "NEOVERSEN1") == nil)
    }

    @Test func warningOnlyWhenTheKernelSetIsNarrowerThanTheTier() throws {
        let sse = try #require(BLASLibrary.narrowKernelWarning(kernelSet: "Prescott", best: .avx512vnni))
        #expect(sse.contains("OPENBLAS_CORETYPE=SkylakeX"))
        let avx = try #require(BLASLibrary.narrowKernelWarning(kernelSet: "Sandybridge", best: .avx2))
        #expect(avx.contains("OPENBLAS_CORETYPE=Haswell"))
        #expect(BLASLibrary.narrowKernelWarning(kernelSet: "Haswell", best: .avx512).map { $0.contains("SkylakeX") } == true)
        #expect(BLASLibrary.narrowKernelWarning(kernelSet: "SkylakeX", best: .avx512vnni) == nil)
        #expect(BLASLibrary.narrowKernelWarning(kernelSet: "Haswell", best: .avx2) == nil)
        #expect(BLASLibrary.narrowKernelWarning(kernelSet: "Prescott", best: .scalar) == nil)
        #expect(BLASLibrary.narrowKernelWarning(kernelSet: "NeoverseN1", best: .neondot) == nil)
        #expect(BLASLibrary.narrowKernelWarning(kernelSet: nil, best: .avx512) == nil)
    }

    @Test func openBLASReportsAKernelSetOnLinux() {
        #if os(Linux)
        #expect(BLASLibrary.kernelSet.map { !$0.isEmpty } == true)
        #expect(BLASLibrary.configuration.map { $0.contains("OpenBLAS") } == true)
        #endif
    }
}
