import Kestrel
import KestrelTensor
import Testing

@testable import KestrelCLI

/// `kernel-bench` and `profile` size checks: the check itself must not overflow (dim × 4 alone
/// overflows for dim ≥ 2⁶¹), and buffers past the benchmark limit or physical memory are refused
/// before anything is allocated.
@Suite struct CommandSizeTests {
    let limit = min(KernelBenchSpec.maxBytes, SizeCheck.physicalMemory)

    @Test(arguments: ["f32", "f16", "bf16", "i8", "b1"])
    func hugeDimensionsThrowInsteadOfTrapping(dtype: String) {
        let op = dtype == "b1" ? "hamming" : "dot"
        for dim in [2_305_843_009_213_693_952, Int.max - 7, 1 << 62] where dtype != "i8" {
            let e = #expect(throws: KestrelError.self) {
                try KernelBenchSpec.validate(op: op, dtype: dtype, dim: dim, count: 4, isa: "scalar", supported: [.scalar], active: .scalar)
            }
            // b1 packs 8 bits a byte, so its row bytes fit and only the limit is exceeded.
            if case .capacityExceeded(let l, let requested) = e {
                #expect(l == limit && requested > limit)
            } else if case .invalidArgument(let name, _) = e {
                #expect(dtype == "b1" && name == "dim")  // 2⁶² − 1 is not a whole number of bytes
            } else {
                Issue.record("dim \(dim) \(dtype): \(String(describing: e))")
            }
        }
        let e = #expect(throws: KestrelError.self) {
            try KernelBenchSpec.validate(op: op, dtype: dtype, dim: 64, count: Int.max, isa: "scalar", supported: [.scalar], active: .scalar)
        }
        #expect(e == .capacityExceeded(limit: limit, requested: .max))
    }

    @Test func theIssuesCommandLinesAreRefusedAtParse() throws {
        let k = try #require(#expect(throws: (any Error).self) { try KernelBenchCommand.parse(["--dim", "2305843009213693952", "--count", "4"]) })
        #expect(KernelBenchCommand.message(for: k).contains("--dim × --count"))
        let p = try #require(#expect(throws: (any Error).self) { try ProfileCommand.parse(["--dim", "2305843009213693952", "--count", "4"]) })
        #expect(ProfileCommand.message(for: p).contains("--dim × --count"))
        #expect(throws: (any Error).self) { try ProfileCommand.parse(["--dim", "4", "--count", "\(Int.max)"]) }
    }
}
