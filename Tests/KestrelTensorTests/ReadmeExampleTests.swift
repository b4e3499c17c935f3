import KestrelTensor
import Testing

/// The code samples of README.md, kept here so they are known to compile and run.
@Suite struct ReadmeExampleTests {
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
