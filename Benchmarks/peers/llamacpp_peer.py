#!/usr/bin/env python3
"""Kestrel's quantized GEMV against ggml's own CPU kernels (llama.cpp's) and against numpy
dequantize + sgemv, on one thread, on a rows x cols weight matrix of each block type.

For each type (q8_0, q4_0, q4_k, q6_k) this script
  1. makes random blocks (random codes, finite fp16 scales: the integer kernels take the same
     time whatever the values) and a random f32 vector;
  2. times ggml's mul_mat of that matrix by the vector through `ggml_graph_compute_with_ctx` with
     one thread: ggml quantizes the vector to its `vec_dot_type` (Q8_0 / Q8_K) and runs its CPU
     `vec_dot` per row, exactly what llama.cpp does in a decode step. ggml comes from PyPI
     `ggml-python` (the ggml library llama.cpp vendors, built from source by pip; PyPI
     `llama-cpp-python` builds the same ggml plus llama.cpp and is not needed for this);
  3. times numpy: gguf's dequantize of the blocks to f32 (per call, as a dequantize-then-sgemv
     engine does) and `W @ x` (OpenBLAS sgemv), and the sgemv alone;
  4. runs `kestrel quant-bench --rows R --cols C --json` (same shape, its own random blocks) and
     prints speed ratios: ggml time / kestrel time (> 1 means Kestrel is faster).

Timing: warm-up, then --reps samples of one call each, median (time.perf_counter_ns).
Single-threaded everywhere (OPENBLAS_NUM_THREADS=1 is set before numpy loads).

Usage: PYTHONPATH=<dir with ggml-python> .venv/bin/python Benchmarks/peers/llamacpp_peer.py \
           --kestrel .build/release/kestrel [--rows 4096 --cols 4096 --reps 15]
If ggml-python cannot be imported, the ggml column is skipped and only numpy is compared.
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

try:
    import gguf  # noqa: E402
except ImportError:  # pragma: no cover - the peers venv has it
    gguf = None

try:
    import ggml  # noqa: E402
except ImportError:
    ggml = None

# Block geometry (ggml's, also in Tests/Fixtures/ggml-quants/README.md): elements, bytes, and the
# byte offsets of the fp16 scales that must be finite.
TYPES = {
    "q8_0": (32, 34, [0], "Q8_0", "q8_0 x q8_0"),
    "q4_0": (32, 18, [0], "Q4_0", "q4_0 x q8_0"),
    "q4_k": (256, 144, [0, 2], "Q4_K", "q4_K x q8_K"),
    "q6_k": (256, 210, [208], "Q6_K", "q6_K x q8_K"),
}


def random_blocks(rng, rows, cols, qk, size, scale_offsets):
    nb = rows * cols // qk
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    for o in scale_offsets:  # fp16 2^-8 (0x1c00), little-endian
        raw[:, o] = 0x00
        raw[:, o + 1] = 0x1C
    return raw.reshape(rows, cols // qk * size)


def median_ns(fn, reps):
    fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return samples[len(samples) // 2]


class GgmlMatVec:
    """y = W x with ggml (one thread): W rows x cols of `type_name` blocks, x f32."""

    def __init__(self, blocks, rows, cols, type_name):
        qtype = getattr(ggml, "GGML_TYPE_" + type_name)
        mem = blocks.nbytes + cols * 8 + rows * 8 + (64 << 20)
        params = ggml.ggml_init_params(mem_size=mem, mem_buffer=None, no_alloc=False)
        self.ctx = ggml.ggml_init(params)
        self.w = ggml.ggml_new_tensor_2d(self.ctx, qtype, cols, rows)
        if ggml.ggml_nbytes(self.w) != blocks.nbytes:
            raise RuntimeError(f"ggml says {ggml.ggml_nbytes(self.w)} bytes for {type_name}, we have {blocks.nbytes}")
        ctypes.memmove(ggml.ggml_get_data(self.w), blocks.ctypes.data, blocks.nbytes)
        self.x = ggml.ggml_new_tensor_1d(self.ctx, ggml.GGML_TYPE_F32, cols)
        self.y = ggml.ggml_mul_mat(self.ctx, self.w, self.x)
        self.gf = ggml.ggml_new_graph(self.ctx)
        ggml.ggml_build_forward_expand(self.gf, self.y)
        self.rows, self.cols = rows, cols

    def set_x(self, x):
        ctypes.memmove(ggml.ggml_get_data(self.x), x.ctypes.data, x.nbytes)

    def run(self):
        ggml.ggml_graph_compute_with_ctx(self.ctx, self.gf, 1)

    def result(self):
        ptr = ctypes.cast(ggml.ggml_get_data(self.y), ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(ptr, shape=(self.rows,)).copy()

    def close(self):
        ggml.ggml_free(self.ctx)


def kestrel_times(binary, rows, cols, reps):
    out = subprocess.run([binary, "quant-bench", "--rows", str(rows), "--cols", str(cols), "--reps", str(reps), "--json"],
                         check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    return doc, {r["name"]: r["median_s"] for r in doc["results"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kestrel", default=None, help="path of the kestrel binary (release build)")
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--types", default="q8_0,q4_0,q4_k,q6_k")
    args = ap.parse_args()
    if args.cols % 256 or args.rows < 1 or args.reps < 1:
        sys.exit("--cols must be a multiple of 256, --rows and --reps at least 1")
    rng = np.random.default_rng(0x11A3A)
    x = rng.uniform(-1, 1, size=args.cols).astype(np.float32)

    w32 = rng.uniform(-1, 1, size=(args.rows, args.cols)).astype(np.float32)
    sgemv_ns = median_ns(lambda: w32 @ x, args.reps)
    del w32

    kdoc, ktimes = (None, {})
    if args.kestrel:
        kdoc, ktimes = kestrel_times(args.kestrel, args.rows, args.cols, args.reps)

    print(f"llamacpp-peer: {args.rows}x{args.cols}, 1 thread, numpy {np.__version__}, "
          f"ggml {'ggml-python ' + getattr(ggml, '__version__', '?') if ggml else 'not available'}"
          + (f", kestrel tier {kdoc['isa']} on {kdoc['cpu']}" if kdoc else ""))
    print(f"numpy f32 sgemv: {sgemv_ns / 1e6:.3f} ms" + (f"; kestrel's sgemv: {ktimes['f32 sgemv'] * 1e3:.3f} ms" if ktimes else ""))
    header = f"{'type':6} {'ggml ms':>9} {'deq+sgemv ms':>13} {'kestrel ms':>11} {'ggml/kestrel':>13} {'deq+sgemv/kestrel':>18}"
    print(header)
    rows_out = []
    for name in args.types.split(","):
        qk, size, offsets, ggml_name, kestrel_name = TYPES[name]
        blocks = random_blocks(rng, args.rows, args.cols, qk, size, offsets)
        g_ns = None
        if ggml is not None:
            mv = GgmlMatVec(blocks, args.rows, args.cols, ggml_name)
            mv.set_x(x)
            g_ns = median_ns(mv.run, args.reps)
            y_ggml = mv.result()
            mv.close()
        d_ns = None
        if gguf is not None:
            qt = getattr(gguf.GGMLQuantizationType, ggml_name)
            d_ns = median_ns(lambda: gguf.quants.dequantize(blocks, qt) @ x, max(3, args.reps // 5))
            if g_ns is not None:  # ggml's product is that of the quantized x: close, not equal
                y_np = gguf.quants.dequantize(blocks, qt) @ x
                rel = float(np.linalg.norm(y_ggml - y_np) / max(np.linalg.norm(y_np), 1e-30))
                if not rel < 0.05:
                    sys.exit(f"{name}: ggml and numpy disagree (relative error {rel:.3g})")
        k_s = ktimes.get(kestrel_name)
        fmt = lambda v, scale: f"{v * scale:.3f}" if v is not None else "-"  # noqa: E731
        ratio = lambda a, b: f"{a / b:.2f}" if a is not None and b is not None else "-"  # noqa: E731
        g_s = g_ns / 1e9 if g_ns is not None else None
        d_s = d_ns / 1e9 if d_ns is not None else None
        print(f"{name:6} {fmt(g_s, 1e3):>9} {fmt(d_s, 1e3):>13} {fmt(k_s, 1e3):>11} {ratio(g_s, k_s):>13} {ratio(d_s, k_s):>18}")
        rows_out.append({"type": name, "ggml_s": g_s, "dequant_sgemv_s": d_s, "kestrel_s": k_s})
    return rows_out


if __name__ == "__main__":
    main()
