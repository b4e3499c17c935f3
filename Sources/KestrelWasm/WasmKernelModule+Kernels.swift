import KestrelKernels
import WasmKit

/// The quantized block formats of the module's block dots and GEMVs (layouts: `kestrel_quant.h`).
public enum WasmBlockDot: Sendable, CaseIterable {
    /// Q8_0 weights (34-byte blocks of 32) with Q8_0 activations.
    case q8_0
    /// Q4_0 weights (18-byte blocks of 32) with Q8_0 activations.
    case q4_0
    /// Q4_K weights (144-byte super-blocks of 256) with Q8_K activations (292 bytes).
    case q4_K
    /// Q6_K weights (210-byte super-blocks of 256) with Q8_K activations.
    case q6_K

    var dotExport: String {
        switch self {
        case .q8_0: "kestrel_vec_dot_q8_0_q8_0"
        case .q4_0: "kestrel_vec_dot_q4_0_q8_0"
        case .q4_K: "kestrel_vec_dot_q4_K_q8_K"
        case .q6_K: "kestrel_vec_dot_q6_K_q8_K"
        }
    }

    var gemvExport: String {
        switch self {
        case .q8_0: "kestrel_gemv_q8_0"
        case .q4_0: "kestrel_gemv_q4_0"
        case .q4_K: "kestrel_gemv_q4_K"
        case .q6_K: "kestrel_gemv_q6_K"
        }
    }

    /// Bytes of one weight block.
    public var weightBlockBytes: Int {
        switch self {
        case .q8_0: 34
        case .q4_0: 18
        case .q4_K: 144
        case .q6_K: 210
        }
    }

    /// Bytes of one activation block (Q8_0: 34, Q8_K: 292).
    public var activationBlockBytes: Int { self == .q8_0 || self == .q4_0 ? 34 : 292 }
}

extension WasmKernelModule {
    // MARK: - plumbing

    /// Runs `body` under the lock with an empty operand arena.
    func session<R>(_ body: () throws(KestrelError) -> R) throws(KestrelError) -> R {
        try lock.withLock { () throws(KestrelError) -> R in
            try resetArena()
            return try body()
        }
    }

    static func size(_ n: Int) throws(KestrelError) -> Value {
        guard n >= 0, n <= Int(UInt32.max) else { throw .capacityExceeded(limit: Int(UInt32.max), requested: n) }
        return .i32(UInt32(n))
    }

    static func f32(_ v: Value?) throws(KestrelError) -> Float {
        guard case .f32(let bits)? = v else { throw .backendFailure(routine: "wasm result", code: -2) }
        return Float(bitPattern: bits)
    }

    static func i64(_ v: Value?) throws(KestrelError) -> Int64 {
        guard case .i64(let bits)? = v else { throw .backendFailure(routine: "wasm result", code: -2) }
        return Int64(bitPattern: bits)
    }

    static func status(_ v: [Value], _ routine: String) throws(KestrelError) {
        guard case .i32(let s)? = v.first else { throw .backendFailure(routine: routine, code: -2) }
        switch s {
        case 0: return
        case 1: throw .invalidArgument(name: "pointer", reason: "\(routine): a NULL buffer with a non-zero count")
        case 2: throw .invalidArgument(name: "stride", reason: "\(routine): a size or stride out of range")
        default: throw .backendFailure(routine: routine, code: Int(s))
        }
    }

    /// `export(a, b, n)` over two equal-length arrays.
    func pair<T: BitwiseCopyable>(_ export: String, _ a: [T], _ b: [T]) throws(KestrelError) -> Value? {
        try requireSameLength(a.count, b.count)
        return try session { () throws(KestrelError) -> Value? in
            let pa = try place(a), pb = try place(b)
            return try call(export, [.i32(pa), .i32(pb), Self.size(a.count)]).first
        }
    }

    /// `export(q, base, dim, count, stride, out)`: one result per row of `rows`.
    func scan<T: BitwiseCopyable, O: BitwiseCopyable>(_ export: String, _ query: [T], _ rows: [T], _ stride: Int?,
                                                     _: O.Type) throws(KestrelError) -> [O] {
        let count = try Distance.rowCount(dim: query.count, baseCount: rows.count, stride: stride)
        let s = stride ?? query.count
        return try session { () throws(KestrelError) -> [O] in
            let pq = try place(query), pb = try place(rows), po = try reserve(count, of: O.self)
            try Self.status(call(export, [.i32(pq), .i32(pb), Self.size(query.count), Self.size(count), Self.size(s), .i32(po)]),
                            export)
            return fetch(po, count, as: O.self)
        }
    }

    /// `export(src, dst, n)` mapping n elements of S to n elements of D.
    func map<S: BitwiseCopyable, D: BitwiseCopyable>(_ export: String, _ x: [S], _: D.Type) throws(KestrelError) -> [D] {
        try session { () throws(KestrelError) -> [D] in
            let px = try place(x), py = try reserve(x.count, of: D.self)
            _ = try call(export, [.i32(px), .i32(py), Self.size(x.count)])
            return fetch(py, x.count, as: D.self)
        }
    }

    static func floatExport<E: FloatDistanceElement>(_ metric: String, _: E.Type) -> String {
        switch E._kernelFamily.family {
        case .f32: "kestrel_\(metric)_f32"
        case .f16: "kestrel_\(metric)_f16"
        case .bf16: "kestrel_\(metric)_bf16"
        }
    }

    // MARK: - distances, one pair

    /// Inner product of two equal-length vectors (`kestrel_dot_f32` / `_f16` / `_bf16`), f32
    /// accumulation. - Throws: `dimensionMismatch` for different lengths. - Complexity: O(n) plus
    /// copying both operands into the module.
    public func dot<E: FloatDistanceElement>(_ a: [E], _ b: [E]) throws(KestrelError) -> Float {
        try Self.f32(pair(Self.floatExport("dot", E.self), a, b))
    }

    /// Squared Euclidean distance (`kestrel_l2sq_*`). - Throws: as ``dot(_:_:)-(_,[E])``.
    /// - Complexity: O(n).
    public func l2sq<E: FloatDistanceElement>(_ a: [E], _ b: [E]) throws(KestrelError) -> Float {
        try Self.f32(pair(Self.floatExport("l2sq", E.self), a, b))
    }

    /// Cosine distance in [0, 2] (`kestrel_cosine_*`, rules of `kestrel_kernels.h`).
    /// - Throws: `dimensionMismatch` for different lengths. - Complexity: O(n).
    public func cosine<E: FloatDistanceElement>(_ a: [E], _ b: [E]) throws(KestrelError) -> Float {
        try Self.f32(pair(Self.floatExport("cosine", E.self), a, b))
    }

    /// Exact int8 inner product (`kestrel_dot_i8`). - Throws: `dimensionMismatch`. - Complexity: O(n).
    public func dot(_ a: [Int8], _ b: [Int8]) throws(KestrelError) -> Int64 {
        try Self.i64(pair("kestrel_dot_i8", a, b))
    }

    /// Exact int8 squared Euclidean distance (`kestrel_l2sq_i8`). - Throws: `dimensionMismatch`.
    /// - Complexity: O(n).
    public func l2sq(_ a: [Int8], _ b: [Int8]) throws(KestrelError) -> Int64 {
        try Self.i64(pair("kestrel_l2sq_i8", a, b))
    }

    /// int8 cosine distance (`kestrel_cosine_i8`). - Throws: `dimensionMismatch`. - Complexity: O(n).
    public func cosine(_ a: [Int8], _ b: [Int8]) throws(KestrelError) -> Float {
        try Self.f32(pair("kestrel_cosine_i8", a, b))
    }

    /// Differing bits of two packed bit vectors (`kestrel_hamming_b1`). - Throws: `dimensionMismatch`.
    /// - Complexity: O(bytes).
    public func hamming(_ a: [UInt8], _ b: [UInt8]) throws(KestrelError) -> Int {
        try Int(Self.i64(pair("kestrel_hamming_b1", a, b)))
    }

    /// Jaccard distance of packed bit vectors (`kestrel_jaccard_b1`). - Throws: `dimensionMismatch`.
    /// - Complexity: O(bytes).
    public func jaccard(_ a: [UInt8], _ b: [UInt8]) throws(KestrelError) -> Float {
        try Self.f32(pair("kestrel_jaccard_b1", a, b))
    }

    // MARK: - distances, one query against rows

    /// Inner products of `query` with every row of `rows` (rows `stride` elements apart, default
    /// the query's length; `rows.count` a whole number of strides), as the one-pair kernel.
    /// - Throws: `invalidArgument` for stride < dimension, `dimensionMismatch` for a partial row.
    /// - Complexity: O(rows.count).
    public func dot<E: FloatDistanceElement>(query: [E], rows: [E], stride: Int? = nil) throws(KestrelError) -> [Float] {
        try scan(Self.floatExport("dot", E.self) + "_many", query, rows, stride, Float.self)
    }

    /// Squared Euclidean distances of `query` to every row. - Throws: as ``dot(query:rows:stride:)-(_,_,_)``.
    /// - Complexity: O(rows.count).
    public func l2sq<E: FloatDistanceElement>(query: [E], rows: [E], stride: Int? = nil) throws(KestrelError) -> [Float] {
        try scan(Self.floatExport("l2sq", E.self) + "_many", query, rows, stride, Float.self)
    }

    /// Cosine distances of `query` to every row. - Throws: as ``dot(query:rows:stride:)-(_,_,_)``.
    /// - Complexity: O(rows.count).
    public func cosine<E: FloatDistanceElement>(query: [E], rows: [E], stride: Int? = nil) throws(KestrelError) -> [Float] {
        try scan(Self.floatExport("cosine", E.self) + "_many", query, rows, stride, Float.self)
    }

    /// Exact int8 inner products of `query` with every row (`Int32`: the dimension is capped at
    /// 32768). - Throws: as the float scans, and `invalidArgument` above the cap.
    /// - Complexity: O(rows.count).
    public func dot(query: [Int8], rows: [Int8], stride: Int? = nil) throws(KestrelError) -> [Int32] {
        try requireI8Dimension(query.count)
        return try scan("kestrel_dot_i8_many", query, rows, stride, Int32.self)
    }

    /// Exact int8 squared Euclidean distances to every row. - Throws: as ``dot(query:rows:stride:)-(_,[Int8],_)``.
    /// - Complexity: O(rows.count).
    public func l2sq(query: [Int8], rows: [Int8], stride: Int? = nil) throws(KestrelError) -> [Int32] {
        try requireI8Dimension(query.count)
        return try scan("kestrel_l2sq_i8_many", query, rows, stride, Int32.self)
    }

    /// int8 cosine distances to every row. - Throws: as the float scans. - Complexity: O(rows.count).
    public func cosine(query: [Int8], rows: [Int8], stride: Int? = nil) throws(KestrelError) -> [Float] {
        try scan("kestrel_cosine_i8_many", query, rows, stride, Float.self)
    }

    /// Hamming distances of a packed query to packed rows (stride in bytes).
    /// - Throws: as the float scans. - Complexity: O(rows.count).
    public func hamming(query: [UInt8], rows: [UInt8], stride: Int? = nil) throws(KestrelError) -> [UInt32] {
        try scan("kestrel_hamming_b1_many", query, rows, stride, UInt32.self)
    }

    /// Jaccard distances of a packed query to packed rows. - Throws: as the float scans.
    /// - Complexity: O(rows.count).
    public func jaccard(query: [UInt8], rows: [UInt8], stride: Int? = nil) throws(KestrelError) -> [Float] {
        try scan("kestrel_jaccard_b1_many", query, rows, stride, Float.self)
    }

    func requireI8Dimension(_ dim: Int) throws(KestrelError) {
        guard dim <= 32768 else {
            throw .invalidArgument(name: "dimension", reason: "\(dim) exceeds 32768, the largest whose int32 results are exact")
        }
    }

    // MARK: - conversion

    /// f32 -> IEEE binary16 bit patterns, round to nearest even (`kestrel_f32_to_f16`).
    /// - Throws: `capacityExceeded` when the module's memory cannot hold the operands. - Complexity: O(n).
    public func float16Bits(_ x: [Float]) throws(KestrelError) -> [UInt16] { try map("kestrel_f32_to_f16", x, UInt16.self) }

    /// IEEE binary16 bit patterns -> f32, exact (`kestrel_f16_to_f32`). - Throws: as ``float16Bits(_:)``.
    /// - Complexity: O(n).
    public func float(float16Bits x: [UInt16]) throws(KestrelError) -> [Float] { try map("kestrel_f16_to_f32", x, Float.self) }

    /// f32 -> bfloat16, round to nearest even (`kestrel_f32_to_bf16`). - Throws: as ``float16Bits(_:)``.
    /// - Complexity: O(n).
    public func bfloat16(_ x: [Float]) throws(KestrelError) -> [BFloat16] { try map("kestrel_f32_to_bf16", x, BFloat16.self) }

    /// bfloat16 -> f32, exact (`kestrel_bf16_to_f32`). - Throws: as ``float16Bits(_:)``. - Complexity: O(n).
    public func float(_ x: [BFloat16]) throws(KestrelError) -> [Float] { try map("kestrel_bf16_to_f32", x, Float.self) }

    // MARK: - math

    /// exp of every element (`kestrel_exp_f32`; the module's polynomial, within 2 ulp).
    /// - Throws: as ``float16Bits(_:)``. - Complexity: O(n).
    public func exp(_ x: [Float]) throws(KestrelError) -> [Float] { try map("kestrel_exp_f32", x, Float.self) }

    /// Numerically stable softmax (`kestrel_softmax_f32`, special values as `kestrel_kernels.h`).
    /// - Throws: as ``float16Bits(_:)``. - Complexity: O(n).
    public func softmax(_ x: [Float]) throws(KestrelError) -> [Float] { try map("kestrel_softmax_f32", x, Float.self) }

    /// y + alpha * x, element-wise (`kestrel_axpy_f32`). - Throws: `dimensionMismatch`. - Complexity: O(n).
    public func axpy(_ alpha: Float, _ x: [Float], _ y: [Float]) throws(KestrelError) -> [Float] {
        try requireSameLength(x.count, y.count)
        return try session { () throws(KestrelError) -> [Float] in
            let px = try place(x), py = try place(y)
            _ = try call("kestrel_axpy_f32", [.f32(alpha.bitPattern), .i32(px), .i32(py), Self.size(x.count)])
            return fetch(py, y.count, as: Float.self)
        }
    }

    /// alpha * x, element-wise (`kestrel_scale_f32`). - Throws: as ``float16Bits(_:)``. - Complexity: O(n).
    public func scale(_ alpha: Float, _ x: [Float]) throws(KestrelError) -> [Float] {
        try session { () throws(KestrelError) -> [Float] in
            let px = try place(x), py = try reserve(x.count, of: Float.self)
            _ = try call("kestrel_scale_f32", [.f32(alpha.bitPattern), .i32(px), .i32(py), Self.size(x.count)])
            return fetch(py, x.count, as: Float.self)
        }
    }

    /// a + b, element-wise (`kestrel_add_f32`). - Throws: `dimensionMismatch`. - Complexity: O(n).
    public func add(_ a: [Float], _ b: [Float]) throws(KestrelError) -> [Float] { try binary("kestrel_add_f32", a, b) }

    /// a * b, element-wise (`kestrel_mul_f32`). - Throws: `dimensionMismatch`. - Complexity: O(n).
    public func mul(_ a: [Float], _ b: [Float]) throws(KestrelError) -> [Float] { try binary("kestrel_mul_f32", a, b) }

    func binary(_ export: String, _ a: [Float], _ b: [Float]) throws(KestrelError) -> [Float] {
        try requireSameLength(a.count, b.count)
        return try session { () throws(KestrelError) -> [Float] in
            let pa = try place(a), pb = try place(b), po = try reserve(a.count, of: Float.self)
            _ = try call(export, [.i32(pa), .i32(pb), .i32(po), Self.size(a.count)])
            return fetch(po, a.count, as: Float.self)
        }
    }

    /// Sum of the elements, f32 accumulation (`kestrel_sum_f32`). - Complexity: O(n).
    public func sum(_ x: [Float]) throws(KestrelError) -> Float { try reduce("kestrel_sum_f32", x) }
    /// Largest element; NaN if any is NaN; -Inf for none (`kestrel_max_f32`). - Complexity: O(n).
    public func max(_ x: [Float]) throws(KestrelError) -> Float { try reduce("kestrel_max_f32", x) }
    /// Sum of squares, f32 accumulation (`kestrel_sumsq_f32`). - Complexity: O(n).
    public func sumOfSquares(_ x: [Float]) throws(KestrelError) -> Float { try reduce("kestrel_sumsq_f32", x) }

    func reduce(_ export: String, _ x: [Float]) throws(KestrelError) -> Float {
        try session { () throws(KestrelError) -> Float in
            let px = try place(x)
            return try Self.f32(call(export, [.i32(px), Self.size(x.count)]).first)
        }
    }

    // MARK: - quantized dots

    /// Block dot of `weights` with `activations` (raw blocks of `format`, as many activation
    /// blocks as weight blocks). - Throws: `dimensionMismatch` for partial blocks or different
    /// block counts. - Complexity: O(elements).
    public func blockDot(_ format: WasmBlockDot, weights: [UInt8], activations: [UInt8]) throws(KestrelError) -> Float {
        let nb = try Self.blocks(weights.count, format.weightBlockBytes)
        try requireSameLength(nb, Self.blocks(activations.count, format.activationBlockBytes))
        return try session { () throws(KestrelError) -> Float in
            let pw = try place(weights), px = try place(activations)
            return try Self.f32(call(format.dotExport, [.i32(pw), .i32(px), Self.size(nb)]).first)
        }
    }

    /// GEMV over `rows` rows of weight blocks (row after row) with one row of activation blocks.
    /// - Throws: `dimensionMismatch` when the weights are not `rows` whole rows of the activations'
    ///   block count. - Complexity: O(rows * elements).
    public func blockGEMV(_ format: WasmBlockDot, weights: [UInt8], rows: Int, activations: [UInt8]) throws(KestrelError) -> [Float] {
        let nb = try Self.blocks(activations.count, format.activationBlockBytes)
        let (need, overflow) = rows.multipliedReportingOverflow(by: nb * format.weightBlockBytes)
        guard rows >= 0, !overflow else { throw .invalidArgument(name: "rows", reason: "\(rows) rows overflow") }
        try requireSameLength(need, weights.count)
        return try session { () throws(KestrelError) -> [Float] in
            let pw = try place(weights), px = try place(activations), py = try reserve(rows, of: Float.self)
            try Self.status(call(format.gemvExport, [.i32(pw), Self.size(rows), Self.size(nb), .i32(px), .i32(py)]),
                            format.gemvExport)
            return fetch(py, rows, as: Float.self)
        }
    }

    /// Q8_0 activation blocks of `x` (`kestrel_quantize_row_q8_0`, ggml's bits).
    /// - Throws: `invalidArgument` unless x.count is a multiple of 32 and every value is finite.
    /// - Complexity: O(n).
    public func quantizeQ8_0(_ x: [Float]) throws(KestrelError) -> [UInt8] {
        try quantize("kestrel_quantize_row_q8_0", x, 32, 34)
    }

    /// Q8_K activation super-blocks of `x` (`kestrel_quantize_row_q8_K`).
    /// - Throws: `invalidArgument` unless x.count is a multiple of 256 and every value is finite.
    /// - Complexity: O(n).
    public func quantizeQ8_K(_ x: [Float]) throws(KestrelError) -> [UInt8] {
        try quantize("kestrel_quantize_row_q8_K", x, 256, 292)
    }

    func quantize(_ export: String, _ x: [Float], _ block: Int, _ bytes: Int) throws(KestrelError) -> [UInt8] {
        guard x.count % block == 0 else {
            throw .invalidArgument(name: "count", reason: "\(x.count) is not a multiple of \(block)")
        }
        if let i = x.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteValue(index: i) }
        let outBytes = x.count / block * bytes
        return try session { () throws(KestrelError) -> [UInt8] in
            let px = try place(x), py = try reserve(outBytes, of: UInt8.self)
            _ = try call(export, [.i32(px), .i32(py), Self.size(x.count)])
            return fetch(py, outBytes, as: UInt8.self)
        }
    }

    static func blocks(_ bytes: Int, _ blockBytes: Int) throws(KestrelError) -> Int {
        guard bytes % blockBytes == 0 else { throw .dimensionMismatch(expected: [-1, blockBytes], actual: [bytes]) }
        return bytes / blockBytes
    }

    /// int8 GEMV: y[r] = (rowScales[r] * xScale) * sum_c w[r * stride + c] * x[c]
    /// (`kestrel_gemv_i8`, exact integer sums). `weights` holds `rows` rows `stride` apart
    /// (default x.count). - Throws: `dimensionMismatch` for short weights or scales,
    /// `invalidArgument` for stride < cols or cols > 65536. - Complexity: O(rows * cols).
    public func gemv(weights: [Int8], rows: Int, stride: Int? = nil, rowScales: [Float], x: [Int8],
                     xScale: Float) throws(KestrelError) -> [Float] {
        let cols = x.count, s = stride ?? cols
        guard s >= cols, cols <= 65536 else { throw .invalidArgument(name: "stride", reason: "stride \(s), cols \(cols)") }
        try requireSameLength(rows, rowScales.count)
        if rows > 0 {
            _ = try Distance.scanStride(dim: cols, baseCount: weights.count, stride: s, count: rows)
        }
        return try session { () throws(KestrelError) -> [Float] in
            let pw = try place(weights), prs = try place(rowScales), px = try place(x)
            let py = try reserve(rows, of: Float.self)
            try Self.status(call("kestrel_gemv_i8", [.i32(pw), Self.size(rows), Self.size(cols), Self.size(s), .i32(prs),
                                                     .i32(px), .f32(xScale.bitPattern), .i32(py)]), "kestrel_gemv_i8")
            return fetch(py, rows, as: Float.self)
        }
    }

    /// int8 GEMM with row and column scales (`kestrel_gemm_i8`): c[i][j] = (rowScales[i] *
    /// colScales[j]) * sum_p a[i][p] * b[j][p], A as m rows of k, B as n rows of k (packed).
    /// Returns m * n results, row-major. - Throws: `dimensionMismatch` for inconsistent sizes,
    /// `invalidArgument` for k > 65536. - Complexity: O(m * n * k).
    public func gemm(a: [Int8], b: [Int8], k: Int, rowScales: [Float], colScales: [Float]) throws(KestrelError) -> [Float] {
        let m = rowScales.count, n = colScales.count
        guard k >= 0, k <= 65536 else { throw .invalidArgument(name: "k", reason: "\(k) outside 0...65536") }
        try requireSameLength(m * k, a.count)
        try requireSameLength(n * k, b.count)
        return try session { () throws(KestrelError) -> [Float] in
            let pa = try place(a), pb = try place(b), prs = try place(rowScales), pcs = try place(colScales)
            let pc = try reserve(m * n, of: Float.self)
            try Self.status(call("kestrel_gemm_i8", [.i32(pa), Self.size(m), Self.size(k), Self.size(k), .i32(pb), Self.size(n),
                                                     Self.size(k), .i32(prs), .i32(pcs), .i32(pc), Self.size(n)]),
                            "kestrel_gemm_i8")
            return fetch(pc, m * n, as: Float.self)
        }
    }

    // MARK: - benchmark

    /// Kernels of ``benchmark(_:a:b:count:iterations:)`` (ids of `CKernels/wasm/kestrel_bench_loop.h`).
    public enum BenchKernel: UInt32, Sendable, CaseIterable {
        case dotF32 = 0, l2sqF32, cosineF32, dotF16, dotBF16, dotI8, l2sqI8, expF32, softmaxF32, f32ToF16, dotQ8_0
    }

    /// Runs `iterations` calls of one kernel inside the module on `a`, `b` (raw operand bytes;
    /// `count` elements, or blocks for Q8_0) and returns the module's checksum (the sum of the
    /// results). Time the call on the host: the loop runs inside the module, so the host-call
    /// overhead is paid once. - Throws: `capacityExceeded` when the operands do not fit.
    /// - Complexity: O(iterations * count).
    public func benchmark(_ kernel: BenchKernel, a: [UInt8], b: [UInt8], count: Int, iterations: Int) throws(KestrelError) -> Double {
        try session { () throws(KestrelError) -> Double in
            let pa = try place(a), pb = try place(b), po = try reserve(Swift.max(count, 1) * 4, of: UInt8.self)
            let r = try call("kestrel_wasm_bench", [.i32(kernel.rawValue), .i32(pa), .i32(pb), .i32(po), Self.size(count),
                                                    Self.size(iterations)])
            guard case .f64(let bits)? = r.first else { throw .backendFailure(routine: "kestrel_wasm_bench", code: -2) }
            return Double(bitPattern: bits)
        }
    }
}
