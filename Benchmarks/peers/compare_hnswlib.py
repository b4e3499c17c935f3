#!/usr/bin/env python3
"""Interleaved comparison of `kestrel ann-bench` and hnswlib_peer.py on the same files.

Single runs of two processes on a shared 2-core VM move by 20-40 % from one minute to the next
(the last-level cache and memory bandwidth are shared with other tenants), so one run of each is
not a comparison. This script:

1. builds each index once per --build-threads value (alternating which library goes first) and
   saves it, recording build time, index bytes and resident-memory growth;
2. then runs R rounds of search-only runs that load the saved indexes, alternating the order
   (kestrel first in odd rounds, hnswlib first in even ones), each run timing every ef as one
   batch of all queries on 1 thread, best of --repeat;
3. prints, per ef, the recall of each library, the median QPS of each and the median and range of
   the per-round ratios (kestrel QPS / hnswlib QPS, both measured minutes apart at most), and the
   build and memory figures, as Markdown.

    compare_hnswlib.py --base B --queries Q --ground-truth GT [--kestrel PATH] [--rounds 7]
                       [--ef 16,32,64] [--M 16] [--ef-construction 200] [--build-threads 1,2]
                       [--repeat 3] [--work DIR] [--json OUT]

Run it with the venv's python (Benchmarks/peers/setup.sh), from the package root, after
`swift build -c release --product kestrel`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--ground-truth", required=True)
    ap.add_argument("--kestrel", default=".build/release/kestrel")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ef", default="16,32,64")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--build-threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", help="directory for the saved indexes (default: a temporary one)")
    ap.add_argument("--json", help="also write every raw JSON line and the summary here")
    a = ap.parse_args()

    work = a.work or tempfile.mkdtemp(prefix="kestrel-vs-hnswlib-")
    os.makedirs(work, exist_ok=True)
    common = ["--base", a.base, "--queries", a.queries, "--ground-truth", a.ground_truth, "--k", str(a.k),
              "--metric", "l2", "--threads", "1", "--latency-queries", "0", "--repeat", str(a.repeat)]
    # Build parameters only where an index is built: `kestrel ann-bench` refuses them with --load-index.
    build = ["--M", str(a.M), "--ef-construction", str(a.ef_construction)]
    kestrel = [a.kestrel, "ann-bench", "--json"] + common
    hnsw = [sys.executable, os.path.join(HERE, "hnswlib_peer.py")] + common
    raw = []

    # 1. Builds (one per library and thread count, alternating who goes first).
    builds = {}
    for i, bt in enumerate(int(x) for x in a.build_threads.split(",")):
        kidx, hidx = os.path.join(work, f"kestrel_bt{bt}.kvx"), os.path.join(work, f"hnswlib_bt{bt}.bin")
        order = [("kestrel", kestrel + build + ["--ef", a.ef, "--build-threads", str(bt), "--save-index", kidx]),
                 ("hnswlib", hnsw + build + ["--ef", a.ef, "--build-threads", str(bt), "--save-index", hidx])]
        for name, cmd in (order if i % 2 == 0 else order[::-1]):
            lines = run_lines(cmd)
            raw += [dict(l, lib=name, phase="build") for l in lines]
            builds[(name, bt)] = next(l for l in lines if l["event"] == "build")
            print(f"built {name} with {bt} thread(s): {builds[(name, bt)]['build_s']:.1f} s", file=sys.stderr)
    search_bt = max(bt for (_, bt) in builds)
    kidx, hidx = os.path.join(work, f"kestrel_bt{search_bt}.kvx"), os.path.join(work, f"hnswlib_bt{search_bt}.bin")

    # 2. Interleaved search rounds on the saved indexes.
    qps = {"kestrel": {}, "hnswlib": {}}
    recall = {"kestrel": {}, "hnswlib": {}}
    ratios = {}
    for r in range(a.rounds):
        runs = [("kestrel", kestrel + ["--ef", a.ef, "--load-index", kidx]),
                ("hnswlib", hnsw + ["--ef", a.ef, "--load-index", hidx])]
        got = {}
        for name, cmd in (runs if r % 2 == 0 else runs[::-1]):
            lines = [l for l in run_lines(cmd) if l["event"] == "search"]
            raw += [dict(l, lib=name, phase="search", round=r) for l in lines]
            got[name] = {l["ef"]: l for l in lines}
        for ef, kl in got["kestrel"].items():
            hl = got["hnswlib"][ef]
            kq, hq = a_qps(kl), a_qps(hl)
            qps["kestrel"].setdefault(ef, []).append(kq)
            qps["hnswlib"].setdefault(ef, []).append(hq)
            recall["kestrel"][ef], recall["hnswlib"][ef] = kl["recall"], hl["recall"]
            ratios.setdefault(ef, []).append(kq / hq)
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"ef {ef} {ratios[ef][-1]:.2f}x" for ef in sorted(ratios)),
              file=sys.stderr)

    # 3. Summary.
    print(f"Search: {a.rounds} interleaved rounds, 1 thread, best of {a.repeat} batches per run; "
          f"indexes built with {search_bt} thread(s).\n")
    print("| ef | recall@10 kestrel / hnswlib | median QPS kestrel / hnswlib | ratio median (min–max over rounds) |")
    print("|---|---|---|---|")
    summary = {"search": [], "build": []}
    for ef in sorted(ratios):
        km, hm, rs = statistics.median(qps["kestrel"][ef]), statistics.median(qps["hnswlib"][ef]), ratios[ef]
        print(f"| {ef} | {recall['kestrel'][ef]:.4f} / {recall['hnswlib'][ef]:.4f} | {km:,.0f} / {hm:,.0f} | "
              f"**{statistics.median(rs):.2f}×** ({min(rs):.2f}–{max(rs):.2f}) |")
        summary["search"].append({"ef": ef, "recall_kestrel": recall["kestrel"][ef], "recall_hnswlib": recall["hnswlib"][ef],
                                  "qps_kestrel": km, "qps_hnswlib": hm, "ratio_median": statistics.median(rs),
                                  "ratios": rs})
    print("\n| build threads | build s kestrel / hnswlib (ratio) | index bytes kestrel / hnswlib file | RSS growth MB kestrel / hnswlib |")
    print("|---|---|---|---|")
    for bt in sorted({bt for (_, bt) in builds}):
        kb, hb = builds[("kestrel", bt)], builds[("hnswlib", bt)]
        print(f"| {bt} | {kb['build_s']:.1f} / {hb['build_s']:.1f} ({kb['build_s'] / hb['build_s']:.2f}×) | "
              f"{kb['index_bytes'] / 1e6:.1f} MB / {hb['index_bytes'] / 1e6:.1f} MB | "
              f"{kb['mem_bytes'] / 1e6:.1f} / {hb['mem_bytes'] / 1e6:.1f} |")
        summary["build"].append({"threads": bt, "kestrel": kb, "hnswlib": hb})
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"raw": raw, "summary": summary}, f, indent=1)


def a_qps(line):
    return line["nq"] / line["batch_s"]


if __name__ == "__main__":
    main()
