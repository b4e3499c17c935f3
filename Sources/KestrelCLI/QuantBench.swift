import CKestrelKernels
import Foundation
import Kestrel

#if canImport(Accelerate)
import Accelerate
#else
import CKestrelBLAS
#endif

/// One contender of `kestrel quant-bench`: seconds per GEMV (median and minimum over the samples),
/// the weight bytes it streams, and its speed-up over f32 `cblas_sgemv` in the same run.
struct QuantBenchRow: Sendable, Equatable {
    let name: String
    let weightBytes: Int
    let seconds: Double
    let minSeconds: Double
    /// sgemv median / this contender's median (> 1: faster than sgemv).
    let speedupVsSgemv: Double
    /// sgemv minimum / this contender's minimum: steadier than medians on a loaded machine.
    let minSpeedupVsSgemv: Double
    /// Weight bytes streamed per second (median), GB/s.
    var gigabytesPerSecond: Double { Double(weightBytes) / seconds / 1e9 }
}

/// The GEMV contenders of `kestrel quant-bench` on one `rows × columns` problem, measured in one
/// run on one thread: f32 `cblas_sgemv` (OpenBLAS held to one thread), then ``QuantizedMatrix``
/// GEMV with Q8_0, Q4_0, Q4_K, Q6_K and int8 weights (each call includes quantizing x, as a model
/// would), and the int8 kernel alone on pre-quantized codes. Weights are random (the integer kernels'
/// time does not depend on the values), with finite scales. Repetitions are interleaved
/// (rotating which contender goes first) so drifts in clock speed or load hit all alike.
struct QuantBench {
    let rows: Int
    let columns: Int
    let reps: Int

    static let contenderNames = ["f32 sgemv", "q8_0 x q8_0", "q4_0 x q8_0", "q4_K x q8_K", "q6_K x q8_K",
                                 "int8 (x quantized)", "int8 codes"]

    /// Measures every contender; `isa` (when given) is made the active tier first.
    func run(isa: ISALevel? = nil) throws -> [QuantBenchRow] {
        if let isa { try isa.activate() }
        var rng = SplitMix64(seed: 0x9B3E)
        let n = rows * columns
        let w = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = (0..<columns).map { _ in Float.random(in: -1...1, using: &rng) }
        var matrices: [QuantizedMatrix] = []
        // Q8_0 weights from the real quantizer; Q4_0 / K-quants random bytes with finite fp16 scales.
        var q8 = [kestrel_block_q8_0](repeating: kestrel_block_q8_0(), count: n / 32)
        w.withUnsafeBufferPointer { kestrel_quantize_act_q8_0($0.baseAddress, &q8, n) }
        matrices.append(try QuantizedMatrix(rows: rows, columns: columns, type: .q8_0, blocks: q8.withUnsafeBytes { [UInt8]($0) }))
        for (type, scaleOffsets) in [(GGMLType.q4_0, [0]), (.q4_K, [0, 2]), (.q6_K, [208])] {
            let per = type.bytesPerBlock
            var bytes = (0..<(n / type.blockSize * per)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for b in 0..<(n / type.blockSize) {
                for o in scaleOffsets {
                    bytes[b * per + o] = 0
                    bytes[b * per + o + 1] = 0x1c  // fp16 2^-8
                }
            }
            matrices.append(try QuantizedMatrix(rows: rows, columns: columns, type: type, blocks: bytes))
        }
        let codes = (0..<n).map { _ in Int8(truncatingIfNeeded: rng.next()) }
        let int8 = try QuantizedMatrix(rows: rows, columns: columns, codes: codes, rowScales: [Float](repeating: 0.01, count: rows))
        matrices.append(int8)
        let xCodes = QuantizedMatrix.quantizeSymmetricInt8(x)

        var y = [Float](repeating: 0, count: rows)
        let (r, c) = (rows, columns)
        var contenders: [() throws -> Void] = [{
            w.withUnsafeBufferPointer { wp in
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(r), Int32(c), 1, wp.baseAddress, Int32(c),
                                    xp.baseAddress, 1, 0, yp.baseAddress, 1)
                    }
                }
            }
        }]
        for m in matrices { contenders.append { try m.gemv(x: x, into: &y) } }
        contenders.append { try int8.gemv(codes: xCodes.codes, scale: xCodes.scale, into: &y) }
        let bytes = [n * 4] + matrices.map(\.byteCount) + [int8.byteCount]
        // One thread for every contender: OpenBLAS is held at 1 (the package's one BLAS-thread owner).
        let (median, minimum) = try BLASThreads.singleThreaded { try interleaved(contenders) }
        return zip(Self.contenderNames.indices, bytes).map { i, b in
            QuantBenchRow(name: Self.contenderNames[i], weightBytes: b, seconds: median[i], minSeconds: minimum[i],
                          speedupVsSgemv: median[0] / median[i], minSpeedupVsSgemv: minimum[0] / minimum[i])
        }
    }

    private static func seconds(_ t0: UInt64, _ t1: UInt64) -> Double { Double(t1 &- t0) * 1e-9 }

    /// Medians and minima of seconds per call; one warm-up call each, then `reps` rounds.
    private func interleaved(_ contenders: [() throws -> Void]) throws -> (median: [Double], min: [Double]) {
        for f in contenders { try f() }
        var samples = [[Double]](repeating: [], count: contenders.count)
        for rep in 0..<reps {
            for k in 0..<contenders.count {
                let i = (k + rep) % contenders.count
                let t0 = MonotonicClock.now()
                try contenders[i]()
                samples[i].append(Self.seconds(t0, MonotonicClock.now()))
            }
        }
        return (samples.map { BenchStatistics.median($0) ?? .nan }, samples.map { $0.min() ?? .nan })
    }
}
