import WasmKit

/// The WebAssembly signature of every function export of the kernel module (ABI 1): pointers
/// and `size_t` are i32, `float` f32, `int64_t`/`uint64_t` i64, `kestrel_status` i32. Mirrors
/// `CKernels/wasm/kestrel_wasm.c`; a module whose exports differ is not ours.
enum WasmSignatures {
    static let all: [String: FunctionType] = {
        let p = ValueType.i32, f = ValueType.f32
        var s: [String: FunctionType] = [:]
        func add(_ name: String, _ params: [ValueType], _ results: [ValueType]) { s["kestrel_" + name] = FunctionType(parameters: params, results: results) }
        for op in ["dot", "l2sq", "cosine"] {
            for t in ["f32", "f16", "bf16"] {
                add("\(op)_\(t)", [p, p, p], [f])
                add("\(op)_\(t)_many", [p, p, p, p, p, p], [p])
            }
        }
        add("dot_i8", [p, p, p], [.i64])
        add("l2sq_i8", [p, p, p], [.i64])
        add("cosine_i8", [p, p, p], [f])
        add("hamming_b1", [p, p, p], [.i64])
        add("jaccard_b1", [p, p, p], [f])
        for name in ["dot_i8", "l2sq_i8", "cosine_i8", "hamming_b1", "jaccard_b1"] { add(name + "_many", [p, p, p, p, p, p], [p]) }
        for name in ["f32_to_f16", "f16_to_f32", "f32_to_bf16", "bf16_to_f32", "exp_f32", "softmax_f32",
                     "quantize_row_q8_0", "quantize_row_q8_K"] {
            add(name, [p, p, p], [])
        }
        add("axpy_f32", [f, p, p, p], [])
        add("scale_f32", [f, p, p, p], [])
        add("add_f32", [p, p, p, p], [])
        add("mul_f32", [p, p, p, p], [])
        for name in ["sum_f32", "max_f32", "sumsq_f32"] { add(name, [p, p], [f]) }
        for name in ["vec_dot_q8_0_q8_0", "vec_dot_q4_0_q8_0", "vec_dot_q4_K_q8_K", "vec_dot_q6_K_q8_K"] { add(name, [p, p, p], [f]) }
        add("gemv_i8", [p, p, p, p, p, p, f, p], [p])
        add("gemm_i8", [p, p, p, p, p, p, p, p, p, p, p], [p])
        for name in ["gemv_q8_0", "gemv_q4_0", "gemv_q4_K", "gemv_q6_K"] { add(name, [p, p, p, p, p], [p]) }
        add("wasm_abi_version", [], [p])
        add("wasm_tier", [], [p])
        add("wasm_bench", [p, p, p, p, p, p], [.f64])
        add("wasm_alloc", [p], [p])
        add("wasm_reset", [], [])
        return s
    }()
}
