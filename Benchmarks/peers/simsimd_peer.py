#!/usr/bin/env python3
"""Kestrel's one-to-many scans against SimSIMD's cdist on the very same vectors.

For every dtype and op, this script
  1. runs `kestrel kernel-bench --op OP --dtype DT --dim D --count N --json --dump-dir DIR`,
     which generates the vectors from its seeded RNG, times its `OP_DT_many` kernel and writes
     DIR/query.npy, DIR/base.npy and DIR/out.npy (its distances);
  2. loads those files and times `simsimd.cdist(query[None, :], base, metric, dtype=..., out=...,
     out_dtype="float32", threads=1)` with the same policy as kestrel (warm-up, then samples until
     >= --min-time seconds and >= --repetitions samples, median sample; monotonic clock);
  3. checks that both computed the same distances, and prints the throughput ratio
     kestrel / simsimd (vectors per second; > 1 means kestrel is faster).

Target of the foundation issue: ratio >= 1.0 for f32, f16 and i8 at dim 768. Single-threaded on
both sides. Run Benchmarks/peers/setup.sh first; Benchmarks/peers/run_all.sh does everything.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import simsimd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# SimSIMD's names (checked with help(simsimd.cdist) for simsimd 6.5.16).
METRIC = {"l2sq": "sqeuclidean", "cosine": "cosine", "dot": "dot"}
DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "i8": "int8"}
TARGET_DTYPES = {"f32", "f16", "i8"}


def time_call(fn, min_time, repetitions, warmup=0.02):
    """Median nanoseconds per call, with kestrel's policy (see TimingPolicy in the CLI)."""
    calls, t0 = 0, time.perf_counter_ns()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter_ns() - t0
        if elapsed >= warmup * 1e9:
            break
    per_sample = max(1, math.ceil(min_time * 1e9 / repetitions / (elapsed / calls)))
    samples, total = [], 0
    while len(samples) < repetitions or total < min_time * 1e9:
        t0 = time.perf_counter_ns()
        for _ in range(per_sample):
            fn()
        dt = time.perf_counter_ns() - t0
        total += dt
        samples.append(dt / per_sample)
    samples.sort()
    mid = len(samples) // 2
    return samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2


def run_kestrel(args, op, dtype, dump_dir):
    cmd = [args.kestrel, "kernel-bench", "--op", op, "--dtype", dtype, "--dim", str(args.dim),
           "--count", str(args.count), "--isa", args.isa, "--seed", str(args.seed),
           "--min-time", str(args.min_time), "--repetitions", str(args.repetitions),
           "--json", "--dump-dir", dump_dir]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]), cmd


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kestrel", default=os.path.join(ROOT, ".build", "release", "kestrel"),
                   help="kestrel binary (default: the release build of this checkout)")
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--dtypes", default="f32,f16,i8,bf16", help="comma-separated: f32,f16,bf16,i8")
    p.add_argument("--ops", default="l2sq,cosine,dot", help="comma-separated: l2sq,cosine,dot")
    p.add_argument("--isa", default="auto", help="kestrel tier (default: the best this CPU runs)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--min-time", type=float, default=0.2)
    p.add_argument("--repetitions", type=int, default=5)
    p.add_argument("--data-dir", default=os.path.join(HERE, "data"), help="where kestrel dumps the vectors")
    p.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    args = p.parse_args()

    if not os.access(args.kestrel, os.X_OK):
        sys.exit(f"simsimd_peer.py: no kestrel binary at {args.kestrel}; run `swift build -c release` first")
    caps = [k for k, v in simsimd.get_capabilities().items() if v]
    if not args.json:
        print(f"SimSIMD {simsimd.__version__ if hasattr(simsimd, '__version__') else '?'} "
              f"(capabilities: {' '.join(caps)}), NumPy {np.__version__}")
        print(f"one query vs {args.count} rows, dim {args.dim}, single thread; "
              f"time = median of >= {args.repetitions} samples, >= {args.min_time} s")
        print()
        print(f"{'dtype':6}{'op':8}{'isa':12}{'kestrel ns/vec':>15}{'simsimd ns/vec':>15}"
              f"{'kestrel/simsimd':>17}{'max rel diff':>14}  target")

    failures = 0
    for dtype in args.dtypes.split(","):
        for op in args.ops.split(","):
            dump = os.path.join(args.data_dir, dtype)
            k, _ = run_kestrel(args, op, dtype, dump)
            q = np.load(os.path.join(dump, "query.npy"))
            base = np.load(os.path.join(dump, "base.npy"))
            ours = np.load(os.path.join(dump, "out.npy")).astype(np.float64)
            q2 = np.ascontiguousarray(q.reshape(1, -1))
            out = np.empty((1, base.shape[0]), dtype=np.float32)

            def call():
                simsimd.cdist(q2, base, metric=METRIC[op], dtype=DTYPE[dtype], out=out,
                              out_dtype="float32", threads=1)

            ns = time_call(call, args.min_time, args.repetitions) / base.shape[0]
            call()
            theirs = out[0].astype(np.float64)
            # Relative to the larger of |value| and the typical magnitude, so near-zero distances
            # (cosine of unrelated vectors, dot products that cancel) do not blow up the ratio.
            scale = np.maximum(np.abs(theirs), np.mean(np.abs(theirs)) + 1e-30)
            diff = float(np.max(np.abs(ours - theirs) / scale))
            ratio = ns / k["ns_per_vector"]
            status = ""
            if dtype in TARGET_DTYPES:
                status = "PASS" if ratio >= 1.0 else "FAIL"
                failures += status == "FAIL"
            row = {"dtype": dtype, "op": op, "dim": args.dim, "count": args.count, "isa": k["isa"],
                   "kestrel_ns_per_vector": k["ns_per_vector"], "simsimd_ns_per_vector": round(ns, 4),
                   "kestrel_over_simsimd": round(ratio, 4), "max_rel_diff": diff,
                   "target": status or None}
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{dtype:6}{op:8}{k['isa']:12}{k['ns_per_vector']:15.3f}{ns:15.3f}"
                      f"{ratio:16.2f}x{diff:14.2e}  {status}")
            sys.stdout.flush()
    if not args.json:
        print()
        print("kestrel/simsimd = simsimd time / kestrel time (throughput ratio); target >= 1.00 for f32, f16, i8.")
        print("max rel diff = max |kestrel - simsimd| / max(|simsimd|, mean |simsimd|) over all rows.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
