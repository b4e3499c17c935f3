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

--kestrel takes several comma-separated binaries (e.g. a build before and after a change): each is
run on every case right after torch, so all of them see the same machine conditions in one run.
--cpu-time adds CPU-time figures for machines too loaded for wall time to mean much: torch's are
time.process_time() around each call (all its threads); kestrel's are the CPU time
(getrusage of the child) of a run with W warm-up and R timed calls minus that of a run with no
warm-up and one call on the same files, divided by W + R - 1 (so file loading and start-up cancel;
needs W + R >= 2). With T > 1 threads a CPU time is the work of all threads, not the elapsed time.
"""
import argparse
import json
import os
import resource
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
    """Median and minimum wall ms, minimum CPU ms (process_time, all threads), last output."""
    out = None
    with torch.inference_mode():
        for _ in range(warmup):
            out = torch_sdpa(q, k, v, causal, gqa)
        samples, cpu = [], []
        for _ in range(reps):
            c0, t0 = time.process_time(), time.perf_counter()
            out = torch_sdpa(q, k, v, causal, gqa)
            samples.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(samples), min(samples), min(cpu), out


def children_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e3


def run_kestrel(kestrel, files, shape, causal, threads, warmup, reps, kernel):
    b, h, hkv, nq, nk, d = shape
    cmd = [kestrel, "attention-bench", "--q", files["q"], "--k", files["k"], "--v", files["v"], "--out", files["o"],
           "--batch", str(b), "--heads", str(h), "--kv-heads", str(hkv), "--seq-q", str(nq), "--seq-kv", str(nk),
           "--head-dim", str(d), "--causal", "1" if causal else "0", "--scale", repr(1.0 / d ** 0.5),
           "--threads", str(threads), "--warmup", str(warmup), "--reps", str(reps), "--kernel", kernel]
    c0 = children_cpu_ms()
    p = subprocess.run(cmd, capture_output=True, text=True)
    cpu = children_cpu_ms() - c0
    lines = p.stdout.strip().splitlines()
    last = json.loads(lines[-1]) if lines else {}
    if p.returncode == 2:
        return {"unsupported": last.get("unsupported", "?")}
    if p.returncode != 0:
        raise SystemExit(f"kestrel attention-bench failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    last["cpu_total_ms"] = cpu
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kestrel", default=os.path.join(ROOT, ".build", "release", "kestrel"),
                    help="kestrel binary, or several comma-separated (each run after torch on every case)")
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
    ap.add_argument("--cpu-time", action="store_true", help="also CPU-time figures (see above); needs W + R >= 2")
    args = ap.parse_args()
    binaries = [b for b in args.kestrel.split(",") if b]
    for b in binaries:
        if not os.access(b, os.X_OK):
            raise SystemExit(f"{b} not found: swift build -c release --product kestrel")
    if args.cpu_time and args.warmup + args.reps < 2:
        raise SystemExit("--cpu-time needs --warmup + --reps >= 2")
    os.makedirs(args.data_dir, exist_ok=True)
    hkv = args.kv_heads or args.heads
    info = subprocess.run([binaries[0], "info"], capture_output=True, text=True).stdout.splitlines()
    if not args.json:
        print(f"torch {torch.__version__} (CPU SDPA), numpy {np.__version__}; {info[0] if info else 'kestrel'}; "
              f"B={args.batch} H={args.heads} HKV={hkv}, W={args.warmup} R={args.reps}, kestrel --kernel {args.kernel}")
        if len(binaries) > 1:
            for i, b in enumerate(binaries):
                print(f"  bin {i}: {b}")
        print(f"{'D':>4} {'N':>5} {'mask':>6} {'thr':>3} {'bin':>3} | {'torch ms':>9} {'min':>9} | {'kestrel ms':>10} {'min':>9} | "
              f"{'ratio':>6} {'min':>6} | {'max|diff|':>9} {'extra MiB':>9}"
              + (f" | {'torch cpu':>9} {'kes. cpu':>9} {'cpu ratio':>9}" if args.cpu_time else ""))
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
                    t_med, t_min, t_cpu, t_out = time_torch(q, k, v, causal, hkv != args.heads, args.warmup, args.reps)
                    for bi, binary in enumerate(binaries):
                        ks = run_kestrel(binary, files, shape, causal, t, args.warmup, args.reps, args.kernel)
                        row = {"D": d, "N": n, "NQ": nq, "causal": causal, "threads": t, "torch_median_ms": t_med,
                               "torch_min_ms": t_min, "torch": torch.__version__, "kestrel_binary": binary}
                        if "unsupported" in ks:
                          row["kestrel_unsupported"] = ks["unsupported"]
                          print(json.dumps(row) if args.json else f"{d:>4} {n:>5} {'causal' if causal else 'none':>6} {t:>3} {bi:>3} | "
                                f"{t_med:9.2f} {t_min:9.2f} | kestrel: unsupported ({ks['unsupported']})")
                          continue
                        if args.cpu_time:
                          one = run_kestrel(binary, files, shape, causal, t, 0, 1, args.kernel)
                          k_cpu = (ks["cpu_total_ms"] - one["cpu_total_ms"]) / (args.warmup + args.reps - 1)
                          row.update({"torch_cpu_min_ms": t_cpu, "kestrel_cpu_ms": k_cpu, "ratio_cpu": t_cpu / k_cpu})
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
                            print(f"{d:>4} {n:>5} {'causal' if causal else 'none':>6} {t:>3} {bi:>3} | {t_med:9.2f} {t_min:9.2f} | "
                                  f"{ks['median_ms']:10.2f} {ks['min_ms']:9.2f} | {row['ratio_median']:6.2f} {row['ratio_min']:6.2f} | "
                                  f"{diff:9.2e} {ks['peak_extra_bytes'] / 2**20:9.2f}"
                                  + (f" | {t_cpu:9.2f} {row['kestrel_cpu_ms']:9.2f} {row['ratio_cpu']:9.2f}" if args.cpu_time else "")
                                  + ("" if ok else "  OUTPUT MISMATCH"))
                        sys.stdout.flush()
    if failures:
        raise SystemExit(f"{failures} case(s) differ from torch by more than {args.tolerance}")


if __name__ == "__main__":
    main()
