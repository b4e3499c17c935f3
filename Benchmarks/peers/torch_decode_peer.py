#!/usr/bin/env python3
"""PyTorch's CPU scaled_dot_product_attention decoding from a KV cache, beside
`kestrel attention-bench --cache f32|f16|int8 [--paged --block N]` on the same K/V (issue 18's
peer comparison), in one script run.

For every cache type, layout, length and thread count it writes Q [B, H, NQ, D] and K, V
[B, HKV, NK, D] (seeded uniform [-1, 1) float32) under --data-dir, and times, interleaved in the
same process run:

- torch: what torch needs to decode from K/V held in that storage type, with
  torch.set_num_threads(T), W untimed calls, then R timed with time.perf_counter around the
  decode alone:
    f32   SDPA on the f32 K/V;
    f16   K/V held as float16, widened to f32 and attended (CPU SDPA computes in f32);
          `--f16-native` also times SDPA on float16 Q/K/V directly;
    int8  K/V held as int8 codes plus one f32 scale per token and head (the same symmetric
          per-row rule as Kestrel's cache: step = max|x| / 127, codes = round-half-even(x / step)
          clamped to ±127, computed in f32, so the codes are identical), dequantized and attended.
  Grouped-query attention (HKV < H) uses enable_gqa; NQ > 1 uses the bottom-right causal mask.
- kestrel: `kestrel attention-bench --cache TYPE [--paged --block N]` on the same files and
  threads (its JSON gives median/min ms, the cache bytes read and GB/s).

It checks the two outputs against each other (both attend to the same stored values; --tolerance)
and reports each one's error against f32 attention on the unrounded K/V (what f16/int8 storage
costs), the ratios torch / kestrel (> 1: kestrel faster), and, with --stream, Kestrel's GB/s as a
share of the STREAM triad bandwidth `kestrel kernel-bench --stream --threads T` measures in the
same run (before each group of cases).

Set up once with `bash Benchmarks/peers/setup.sh --torch`, build with
`swift build -c release --product kestrel`, then e.g.
  Benchmarks/peers/.venv/bin/python Benchmarks/peers/torch_decode_peer.py --caches f32,f16,int8 \
      --layouts contiguous,paged --lengths 16384 --threads 1,2 --stream
The defaults are issue 18's decode target: B=1, H=8, HKV=2, NQ=1, D=128, NK=16384, causal.
--json prints one JSON object per case instead of the table.
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


def words(text):
    return [x for x in text.split(",") if x]


def quantize_int8(x):
    """Kestrel's cache rule per (batch, head, token) row, in float32: codes int8, steps float32."""
    x = x.astype(np.float32)
    m = np.max(np.abs(x), axis=-1, keepdims=True).astype(np.float32)
    step = np.maximum(m / np.float32(127), np.float32(np.finfo(np.float32).tiny)).astype(np.float32)
    inv = (np.float32(1) / step).astype(np.float32)
    codes = np.rint(np.clip(x * inv, np.float32(-127), np.float32(127))).astype(np.int8)
    return codes, step


def sdpa(q, k, v, causal, gqa):
    nq, nk = q.shape[2], k.shape[2]
    kw = {"enable_gqa": True} if gqa else {}
    if causal and nq > 1:
        i = torch.arange(nq).unsqueeze(1)
        j = torch.arange(nk).unsqueeze(0)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=j <= i + (nk - nq), **kw)
    return F.scaled_dot_product_attention(q, k, v, **kw)  # NQ = 1, bottom-right causal: every key visible


def torch_decoder(cache, q, k, v, causal, gqa, native_f16):
    """The timed call for one storage type, and the values it attends to (for the reference)."""
    if cache == "f32":
        kt, vt = torch.from_numpy(k), torch.from_numpy(v)
        return (lambda: sdpa(q, kt, vt, causal, gqa)), (k, v)
    if cache == "f16":
        kh, vh = torch.from_numpy(k.astype(np.float16)), torch.from_numpy(v.astype(np.float16))
        if native_f16:
            qh = q.half()
            return (lambda: sdpa(qh, kh, vh, causal, gqa).float()), (kh.float().numpy(), vh.float().numpy())
        return (lambda: sdpa(q, kh.float(), vh.float(), causal, gqa)), (kh.float().numpy(), vh.float().numpy())
    kc, ks = quantize_int8(k)
    vc, vs = quantize_int8(v)
    kct, kst, vct, vst = (torch.from_numpy(a) for a in (kc, ks, vc, vs))
    stored = (kc.astype(np.float32) * ks, vc.astype(np.float32) * vs)
    return (lambda: sdpa(q, kct.float() * kst, vct.float() * vst, causal, gqa)), stored


def time_call(fn, warmup, reps):
    out = None
    with torch.inference_mode():
        for _ in range(warmup):
            out = fn()
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            out = fn()
            samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples), out.numpy()


def reference(q, k, v, causal, hkv):
    """float64 attention (bottom-right causal) over the given K/V values."""
    b, h, nq, d = q.shape
    g = h // hkv
    kk = np.repeat(k.astype(np.float64), g, axis=1)
    vv = np.repeat(v.astype(np.float64), g, axis=1)
    s = np.einsum("bhqd,bhkd->bhqk", q.astype(np.float64), kk) / np.sqrt(d)
    if causal:
        nk = k.shape[2]
        mask = np.arange(nk)[None, :] <= np.arange(nq)[:, None] + (nk - nq)
        s = np.where(mask, s, -np.inf)
    s -= s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("bhqk,bhkd->bhqd", p, vv)


def rel_err(x, ref):
    return float(np.max(np.abs(x - ref)) / max(np.max(np.abs(ref)), 1e-30))


def run_kestrel(kestrel, files, shape, cache, layout, block, causal, threads, warmup, reps):
    b, h, hkv, nq, nk, d = shape
    cmd = [kestrel, "attention-bench", "--q", files["q"], "--k", files["k"], "--v", files["v"], "--out", files["o"],
           "--batch", str(b), "--heads", str(h), "--kv-heads", str(hkv), "--seq-q", str(nq), "--seq-kv", str(nk),
           "--head-dim", str(d), "--causal", "1" if causal else "0", "--scale", repr(1.0 / d ** 0.5),
           "--threads", str(threads), "--warmup", str(warmup), "--reps", str(reps), "--cache", cache]
    if layout == "paged":
        cmd += ["--paged", "--block", str(block)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    last = json.loads(lines[-1]) if lines else {}
    if p.returncode == 2:
        return {"unsupported": last.get("unsupported", "?")}
    if p.returncode != 0:
        raise SystemExit(f"kestrel attention-bench failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return last


def stream_gbps(kestrel, threads):
    p = subprocess.run([kestrel, "kernel-bench", "--stream", "--threads", str(threads), "--json"],
                       capture_output=True, text=True)
    for line in reversed(p.stdout.strip().splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        for key in ("triad_gb_per_s", "gb_per_s", "best_gb_per_s"):
            if key in obj:
                return float(obj[key])
    raise SystemExit(f"kestrel kernel-bench --stream gave no GB/s:\n{p.stdout}\n{p.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kestrel", default=os.path.join(ROOT, ".build", "release", "kestrel"))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--seq-q", type=int, default=1, help="new query tokens NQ (1...8)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--lengths", type=ints, default=[16384], help="cached tokens NK, comma-separated")
    ap.add_argument("--caches", type=words, default=["f32", "f16", "int8"], help="f32, f16, int8; comma-separated")
    ap.add_argument("--layouts", type=words, default=["contiguous", "paged"], help="contiguous, paged; comma-separated")
    ap.add_argument("--block", type=int, default=16, help="tokens per block of the paged cache")
    ap.add_argument("--causal", type=int, default=1)
    ap.add_argument("--threads", type=ints, default=[1, 2], help="thread counts, comma-separated")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole grid (interleaved rounds)")
    ap.add_argument("--f16-native", action="store_true", help="time torch SDPA on float16 Q/K/V for the f16 cache")
    ap.add_argument("--stream", action="store_true", help="measure the STREAM triad per thread count and round")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference allowed between the two outputs")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "decode"))
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--json", action="store_true", help="one JSON object per case instead of the table")
    args = ap.parse_args()
    if not os.access(args.kestrel, os.X_OK):
        raise SystemExit(f"{args.kestrel} not found: swift build -c release --product kestrel")
    os.makedirs(args.data_dir, exist_ok=True)
    b, h, hkv, nq, d = args.batch, args.heads, args.kv_heads, args.seq_q, args.dim
    causal = bool(args.causal)
    info = subprocess.run([args.kestrel, "info"], capture_output=True, text=True).stdout.splitlines()
    if not args.json:
        print(f"torch {torch.__version__} (CPU SDPA), numpy {np.__version__}; {info[0] if info else 'kestrel'}; "
              f"B={b} H={h} HKV={hkv} NQ={nq} D={d} causal={int(causal)}, W={args.warmup} R={args.reps}, "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"{'cache':>5} {'layout':>10} {'NK':>6} {'thr':>3} | {'torch ms':>8} {'min':>7} | {'kestrel ms':>10} {'min':>7} | "
              f"{'ratio':>5} {'min':>5} | {'GB/s':>5} {'%STREAM':>7} | {'|k-t|':>8} {'err k':>8} {'err t':>8}")
    failures = 0
    for rnd in range(args.rounds):
        for n in args.lengths:
            rng = np.random.default_rng(args.seed + n)
            arrays = {"q": rng.uniform(-1, 1, (b, h, nq, d)).astype(np.float32),
                      "k": rng.uniform(-1, 1, (b, hkv, n, d)).astype(np.float32),
                      "v": rng.uniform(-1, 1, (b, hkv, n, d)).astype(np.float32)}
            files = {}
            for name, a in arrays.items():
                files[name] = os.path.join(args.data_dir, f"{name}_b{b}_h{h}_{hkv}_q{nq}_k{n}_d{d}.npy")
                np.save(files[name], np.ascontiguousarray(a, dtype="<f4"))
            files["o"] = os.path.join(args.data_dir, f"o_b{b}_h{h}_q{nq}_k{n}_d{d}.npy")
            exact = reference(arrays["q"], arrays["k"], arrays["v"], causal, hkv)
            q = torch.from_numpy(arrays["q"])
            for t in args.threads:
                stream = stream_gbps(args.kestrel, t) if args.stream else None
                if stream and not args.json:
                    print(f"  STREAM triad, {t} thread(s): {stream:.1f} GB/s")
                for cache in args.caches:
                    fn, stored = torch_decoder(cache, q, arrays["k"], arrays["v"], causal, hkv != h, args.f16_native)
                    for layout in args.layouts:
                        torch.set_num_threads(t)
                        t_med, t_min, t_out = time_call(fn, args.warmup, args.reps)
                        ks = run_kestrel(args.kestrel, files, (b, h, hkv, nq, n, d), cache, layout, args.block, causal, t,
                                         args.warmup, args.reps)
                        row = {"round": rnd, "cache": cache, "layout": layout, "block": args.block if layout == "paged" else None,
                               "NK": n, "threads": t, "torch_median_ms": t_med, "torch_min_ms": t_min,
                               "torch": torch.__version__, "stream_gb_per_s": stream}
                        if "unsupported" in ks:
                            row["kestrel_unsupported"] = ks["unsupported"]
                            print(json.dumps(row) if args.json else f"{cache:>5} {layout:>10} {n:>6} {t:>3} | kestrel: unsupported ({ks['unsupported']})")
                            continue
                        o = np.load(files["o"]).astype(np.float64)
                        same = reference(arrays["q"], stored[0], stored[1], causal, hkv)
                        diff = float(np.max(np.abs(o - t_out.astype(np.float64))))
                        ok = diff <= args.tolerance
                        failures += 0 if ok else 1
                        row.update({"kestrel_median_ms": ks["median_ms"], "kestrel_min_ms": ks["min_ms"],
                                    "ratio_median": t_med / ks["median_ms"], "ratio_min": t_min / ks["min_ms"],
                                    "cache_bytes": ks.get("cache_bytes"), "gb_per_s": ks.get("gb_per_s"),
                                    "stream_share": ks.get("gb_per_s", 0) / stream if stream else None,
                                    "max_abs_diff": diff, "kestrel_err_vs_stored": rel_err(o, same),
                                    "kestrel_rel_err_vs_f32": rel_err(o, exact), "torch_rel_err_vs_f32": rel_err(t_out, exact),
                                    "impl": ks["impl"]})
                        if args.json:
                            print(json.dumps(row))
                        else:
                            share = f"{100 * row['stream_share']:6.0f}%" if stream else f"{'-':>7}"
                            print(f"{cache:>5} {layout:>10} {n:>6} {t:>3} | {t_med:8.2f} {t_min:7.2f} | "
                                  f"{ks['median_ms']:10.2f} {ks['min_ms']:7.2f} | {row['ratio_median']:5.2f} {row['ratio_min']:5.2f} | "
                                  f"{ks.get('gb_per_s', 0):5.1f} {share} | {diff:8.1e} {row['kestrel_rel_err_vs_f32']:8.1e} "
                                  f"{row['torch_rel_err_vs_f32']:8.1e}" + ("" if ok else "  OUTPUT MISMATCH"))
                        sys.stdout.flush()
    if failures:
        raise SystemExit(f"{failures} case(s) differ from torch by more than {args.tolerance}")


if __name__ == "__main__":
    main()
