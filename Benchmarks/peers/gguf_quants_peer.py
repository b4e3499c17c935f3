#!/usr/bin/env python3
"""Throughput of gguf-py's NumPy block quantizers (the reference the legacy fixtures came from)
on 1 << 20 floats, single thread, as the baseline for Kestrel's block kernels.

Prints GB/s of f32 (4 MiB divided by the median time of --repetitions calls) for quantize
(Q8_0, Q4_0: gguf-py cannot quantize K-quants) and dequantize (Q8_0, Q4_0, Q4_K, Q6_K).
Compare with `Benchmarks/c/quant_blocks_bench.c` (C tables) and the `GGMLBlocks.*` benchmarks
of QuantizationBenchmarks (Swift API); Documentation/Quantization.md quotes both.
Run with the peers' venv: Benchmarks/peers/.venv/bin/python Benchmarks/peers/gguf_quants_peer.py
"""
import argparse
import statistics
import time

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants


def timed(fn, reps):
    fn()  # warm-up
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    n = 1 << 20
    rng = np.random.default_rng(16)
    # Normal-like weights with a per-256 scale over four decades (as the Swift benchmark).
    scales = np.repeat(2.0 ** rng.integers(0, 14, n // 256) / 1024, 256)
    x = (rng.uniform(-1, 1, n) + rng.uniform(-1, 1, n) + rng.uniform(-1, 1, n)) * scales
    rows = x.astype(np.float32).reshape(-1, 4096)
    gb = n * 4 / 1e9
    print(f"numpy {np.__version__}, 1 thread, {n} floats")
    for name, t in [("q8_0", T.Q8_0), ("q4_0", T.Q4_0)]:
        q = quants.quantize(rows, t)
        tq = timed(lambda: quants.quantize(rows, t), args.repetitions)
        td = timed(lambda: quants.dequantize(q, t), args.repetitions)
        print(f"{name}: quantize {gb / tq:.3f} GB/s, dequantize {gb / td:.3f} GB/s")
    for name, t, bpb in [("q4_k", T.Q4_K, 144), ("q6_k", T.Q6_K, 210)]:
        # Valid random super-blocks: random bytes with finite, modest fp16 scales.
        blocks = rng.integers(0, 256, (n // 256, bpb), dtype=np.uint8)
        d = rng.uniform(1e-3, 1e-2, (n // 256, 2)).astype(np.float16).view(np.uint8)
        if name == "q4_k":
            blocks[:, 0:4] = d
        else:
            blocks[:, 208:210] = d[:, 0:2]
        q = blocks.reshape(-1, 4096 // 256 * bpb)
        td = timed(lambda: quants.dequantize(q, t), args.repetitions)
        print(f"{name}: dequantize {gb / td:.3f} GB/s")


if __name__ == "__main__":
    main()
