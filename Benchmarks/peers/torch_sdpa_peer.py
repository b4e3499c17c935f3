#!/usr/bin/env python3
"""PyTorch's CPU scaled_dot_product_attention beside `kestrel attention-bench` on the same .npy
files (issue 17's peer comparison).

For every shape (B, H, NQ = NK = N, D), mask (causal or none) and thread count it writes Q, K, V
(seeded uniform [-1, 1) float32, C order) under --data-dir, times torch SDPA with
torch.set_num_threads(T) (W untimed calls, then R timed with time.perf_counter around the call
alone), runs `kestrel attention-bench` on the same files with the same threads, W and R, checks
the max abs difference of the two outputs (--tolerance), and prints one row per case: medians,
minima and the ratios torch / kestrel (> 1: kestrel faster).

Causal masks are bottom-right aligned as in the kestrel contract (query i sees key j iff
j <= i + (NK - NQ)). torch's is_causal=True is top-left aligned, so it is passed only when NQ == NK;
otherwise an explicit boolean mask is. Grouped-query (--kv-heads < --heads) uses enable_gqa.

Set up once with `bash Benchmarks/peers/setup.sh --torch` (torch from PyPI into the gitignored
venv), build with `swift build -c release --product kestrel`, then e.g.
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/torch_sdpa_peer.py --dims 64 --lengths 1024,4096 --threads 1,2
The defaults run issue 17's whole grid (D = 64, 128; N = 512 ... 8192; causal and not; 1 and 2
threads), which takes a long while; --json prints one JSON object per case instead of the table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def ints(text):
    return [int(x) for x in text.split(",") if x]


def bottom_right_mask(nq, nk):
    """Boolean [NQ, NK] mask, True where query i may attend key j (j <= i + NK - NQ)."""
    i = torch.arange(nq).unsqueeze(1)
    j = torch.arange(nk).unsqueeze(0)
    return j <= i + (nk - nq)


def torch_sdpa(q, k, v, causal, gqa):
    nq, nk = q.shape[2], k.shape[2]
    kw = {"enable_gqa": True} if gqa else {}
    if causal and nq != nk:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bottom_right_mask(nq, nk), **kw)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, **kw)


def time_torch(q, k, v, causal, gqa, warmup, reps):
    out = None
    with torch.inference_mode():
        for _ in range(warmup):
            out = torch_sdpa(q, k, v, causal, gqa)
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            out = torch_sdpa(q, k, v, causal, gqa)
            samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples), out


def run_kestrel(kestrel, files, shape, causal, threads, warmup, reps, kernel):
    b, h, hkv, nq, nk, d = shape
    cmd = [kestrel, "attention-bench", "--q", files["q"], "--k", files["k"], "--v", files["v"], "--out", files["o"],
           "--batch", str(b), "--heads", str(h), "--kv-heads", str(hkv), "--seq-q", str(nq), "--seq-kv", str(nk),
           "--head-dim", str(d), "--causal", "1" if causal else "0", "--scale", repr(1.0 / d ** 0.5),
           "--threads", str(threads), "--warmup", str(warmup), "--reps", str(reps), "--kernel", kernel]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    last = json.loads(lines[-1]) if lines else {}
    if p.returncode == 2:
        return {"unsupported": last.get("unsupported", "?")}
    if p.returncode != 0:
        raise SystemExit(f"kestrel attention-bench failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kestrel", default=os.path.join(ROOT, ".build", "release", "kestrel"))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=None, help="K/V heads (default --heads)")
    ap.add_argument("--dims", type=ints, default=[64, 128], help="head dimensions, comma-separated")
    ap.add_argument("--lengths", type=ints, default=[512, 1024, 2048, 4096, 8192], help="N = NQ = NK, comma-separated")
    ap.add_argument("--seq-q", type=int, default=None, help="NQ (default N): NQ < NK exercises the bottom-right mask")
    ap.add_argument("--causal", type=ints, default=[1, 0], help="1 causal, 0 none; comma-separated")
    ap.add_argument("--threads", type=ints, default=[1, 2], help="thread counts, comma-separated")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--kernel", default="flash", help="kestrel kernel: flash or naive")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference allowed between the outputs")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "attention"))
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--json", action="store_true", help="one JSON object per case instead of the table")
    args = ap.parse_args()
    if not os.access(args.kestrel, os.X_OK):
        raise SystemExit(f"{args.kestrel} not found: swift build -c release --product kestrel")
    os.makedirs(args.data_dir, exist_ok=True)
    hkv = args.kv_heads or args.heads
    info = subprocess.run([args.kestrel, "info"], capture_output=True, text=True).stdout.splitlines()
    if not args.json:
        print(f"torch {torch.__version__} (CPU SDPA), numpy {np.__version__}; {info[0] if info else 'kestrel'}; "
              f"B={args.batch} H={args.heads} HKV={hkv}, W={args.warmup} R={args.reps}, kestrel --kernel {args.kernel}")
        print(f"{'D':>4} {'N':>5} {'mask':>6} {'thr':>3} | {'torch ms':>9} {'min':>9} | {'kestrel ms':>10} {'min':>9} | "
              f"{'ratio':>6} {'min':>6} | {'max|diff|':>9} {'extra MiB':>9}")
    failures = 0
    for d in args.dims:
        for n in args.lengths:
            nq = args.seq_q or n
            shape = (args.batch, args.heads, hkv, nq, n, d)
            rng = np.random.default_rng(args.seed + 1000 * d + n)
            arrays = {"q": rng.uniform(-1, 1, (args.batch, args.heads, nq, d)).astype(np.float32),
                      "k": rng.uniform(-1, 1, (args.batch, hkv, n, d)).astype(np.float32),
                      "v": rng.uniform(-1, 1, (args.batch, hkv, n, d)).astype(np.float32)}
            files = {}
            for name, a in arrays.items():
                files[name] = os.path.join(args.data_dir, f"{name}_b{args.batch}_h{args.heads}_{hkv}_q{nq}_k{n}_d{d}.npy")
                np.save(files[name], np.ascontiguousarray(a, dtype="<f4"))
            files["o"] = os.path.join(args.data_dir, f"o_b{args.batch}_h{args.heads}_q{nq}_d{d}.npy")
            q, k, v = (torch.from_numpy(arrays[x]) for x in "qkv")
            for causal in [bool(c) for c in args.causal]:
                for t in args.threads:
                    torch.set_num_threads(t)
                    t_med, t_min, t_out = time_torch(q, k, v, causal, hkv != args.heads, args.warmup, args.reps)
                    ks = run_kestrel(args.kestrel, files, shape, causal, t, args.warmup, args.reps, args.kernel)
                    row = {"D": d, "N": n, "NQ": nq, "causal": causal, "threads": t, "torch_median_ms": t_med,
                           "torch_min_ms": t_min, "torch": torch.__version__}
                    if "unsupported" in ks:
                        row["kestrel_unsupported"] = ks["unsupported"]
                        print(json.dumps(row) if args.json else f"{d:>4} {n:>5} {'causal' if causal else 'none':>6} {t:>3} | "
                              f"{t_med:9.2f} {t_min:9.2f} | kestrel: unsupported ({ks['unsupported']})")
                        continue
                    o = np.load(files["o"])
                    diff = float(np.max(np.abs(o.astype(np.float64) - t_out.numpy().astype(np.float64))))
                    ok = diff <= args.tolerance
                    failures += 0 if ok else 1
                    row.update({"kestrel_median_ms": ks["median_ms"], "kestrel_min_ms": ks["min_ms"],
                                "ratio_median": t_med / ks["median_ms"], "ratio_min": t_min / ks["min_ms"],
                                "max_abs_diff": diff, "peak_extra_bytes": ks["peak_extra_bytes"], "impl": ks["impl"]})
                    if args.json:
                        print(json.dumps(row))
                    else:
                        print(f"{d:>4} {n:>5} {'causal' if causal else 'none':>6} {t:>3} | {t_med:9.2f} {t_min:9.2f} | "
                              f"{ks['median_ms']:10.2f} {ks['min_ms']:9.2f} | {row['ratio_median']:6.2f} {row['ratio_min']:6.2f} | "
                              f"{diff:9.2e} {ks['peak_extra_bytes'] / 2**20:9.2f}" + ("" if ok else "  OUTPUT MISMATCH"))
                    sys.stdout.flush()
    if failures:
        raise SystemExit(f"{failures} case(s) differ from torch by more than {args.tolerance}")


if __name__ == "__main__":
    main()
