import CKestrelKernels
import KestrelTensor
import Testing

/// The code samples of README.md, kept here so they are known to compile and run.
@Suite struct ReadmeExampleTests {
    @Test func kernelsSample() {
        // README: KestrelKernels
        let a: [Float] = [1, 2, 3], b: [Float] = [4, 5, 6]
        let d = kestrel_l2sq_f32(a, b, a.count)             // 27, on the best SIMD tier
        let base: [Float] = [4, 5, 6, 1, 2, 3]               // two rows of 3
        var out = [Float](repeating: 0, count: 2)
        let status = kestrel_l2sq_f32_many(a, base, 3, 2, 3, &out)  // [27, 0]
        #expect(d == 27)
        #expect(status == KESTREL_OK && out == [27, 0])
        #expect(ISALevel.supported.contains(.scalar))
    }

    @Test func tensorSample() throws {
        // README: KestrelTensor
        let backend = AcceleratedBackend()
        let x = try Tensor.random([4, 8], seed: 42)
        let w = try Tensor.random([8, 3], seed: 7)
        let y = try backend.matmul(x, w)                     // [4, 3], sgemm
        let p = try backend.softmax(y, axis: 1)              // rows sum to 1
        let svd = try LinearAlgebra.svd(x)                   // thin SVD via LAPACKE
        #expect(y.shape.dims == [4, 3])
        #expect(abs(try backend.sum(p) - 4) < 1e-5)
        #expect(svd.singularValues.shape.dims == [4])
        do {
            _ = try backend.matmul(x, x)                     // [4, 8] · [4, 8]
            Issue.record("expected a dimension mismatch")
        } catch {
            #expect(error.description.contains("[4, 8]"))
        }
    }
}
