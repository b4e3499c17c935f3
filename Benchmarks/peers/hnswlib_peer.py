#!/usr/bin/env python3
"""Runs hnswlib on the same files and protocol as `kestrel ann-bench`, printing the same JSON lines.

    hnswlib_peer.py --base B --queries Q [--ground-truth GT] --k 10 --metric l2|ip|cos --M 16
                    --ef-construction 200 --ef 10,16,32,64,128,256 --threads 1,2 --build-threads 2
                    [--latency-queries 1000] [--ids-dir DIR]

Inputs: .fvecs/.bvecs/.npy (float32) for vectors, .ivecs/.npy (int32) for ground truth (0-based rows).
Builds once with --build-threads threads (`add_items(num_threads=...)`), then for every thread
count T and every ef times all queries as one `knn_query` batch on T threads; for T = 1 it also
times the first --latency-queries queries one call at a time. Recall@k is computed against the
ground truth when given, else against brute force (numpy, float64).

Memory: "index_bytes" is the size of hnswlib's saved index (its in-memory layout: level-0 block of
links + vector + label per element, plus upper-level links); "mem_bytes" is the growth of the
process's resident set across construction (also counts the label map, per-element mutexes and
allocator slack).

Output: one JSON object per line, first {"event":"build",...}, then {"event":"search",...} per (ef, T).
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import hnswlib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_clustered import ground_truth  # noqa: E402


def read_vecs(path, dtype, item):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size < 4:
        sys.exit(f"{path}: too short")
    d = int(raw[:4].view(np.int32)[0])
    row = 4 + d * item
    if d <= 0 or raw.size % row:
        sys.exit(f"{path}: malformed (dim {d}, {raw.size} bytes)")
    rows = raw.reshape(-1, row)
    if (rows[:, :4].copy().view(np.int32)[:, 0] != d).any():
        sys.exit(f"{path}: rows disagree on the dimension")
    return np.ascontiguousarray(rows[:, 4:]).view(dtype).reshape(len(rows), d)


def load(path):
    if path.endswith(".fvecs"):
        return read_vecs(path, np.float32, 4)
    if path.endswith(".ivecs"):
        return read_vecs(path, np.int32, 4)
    if path.endswith(".bvecs"):
        return read_vecs(path, np.uint8, 1).astype(np.float32)
    if path.endswith(".npy"):
        a = np.load(path)
        return a if a.dtype == np.int32 else a.astype(np.float32)
    sys.exit(f"{path}: unknown format")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_s():
    return time.process_time()


def write_ivecs(path, ids):
    out = np.empty((ids.shape[0], ids.shape[1] + 1), dtype=np.int32)
    out[:, 0] = ids.shape[1]
    out[:, 1:] = ids
    out.tofile(path)


def brute_force(base, queries, k, metric):
    # Exact neighbours in float64: the same routine that writes the data set's ground truth.
    return ground_truth(base, queries, k, metric).astype(np.int64)


def recall(found, truth, k):
    hits = 0
    for f, t in zip(found, truth):
        hits += len(set(int(x) for x in f[:k] if x >= 0) & set(int(x) for x in t[:k]))
    return hits / (len(found) * k)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--ground-truth")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--metric", choices=["l2", "ip", "cos"], default="l2")
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="10,16,32,64,128,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--latency-queries", type=int, default=1000)
    ap.add_argument("--ids-dir")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1, help="run every batch this many times, report the fastest")
    ap.add_argument("--save-index", help="after building, save hnswlib's index to this file")
    ap.add_argument("--load-index", help="load this saved hnswlib index instead of building (\"load\" event)")
    a = ap.parse_args()

    base = load(a.base)
    queries = load(a.queries)
    if base.shape[1] != queries.shape[1]:
        sys.exit("base and queries differ in dimension")
    n, dim = base.shape
    k = a.k
    truth = load(a.ground_truth)[:, :k] if a.ground_truth else brute_force(base, queries, k, a.metric)
    space = {"l2": "l2", "ip": "ip", "cos": "cosine"}[a.metric]

    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = hnswlib.Index(space=space, dim=dim)
    if a.load_index:
        index.load_index(a.load_index, max_elements=n)
    else:
        index.init_index(max_elements=n, M=a.M, ef_construction=a.ef_construction, random_seed=a.seed)
        index.add_items(base, np.arange(n), num_threads=a.build_threads)
    build_s = time.perf_counter() - t0
    mem = rss_bytes() - rss0
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "index.bin")
        index.save_index(p)
        index_bytes = os.path.getsize(p)
    if a.save_index:
        index.save_index(a.save_index)
    print(json.dumps({"event": "load" if a.load_index else "build", "build_s": build_s, "index_bytes": index_bytes, "mem_bytes": mem,
                      "build_threads": a.build_threads, "version": "hnswlib " + getattr(hnswlib, "__version__", "0.8.0"),
                      "n": n, "dim": dim, "M": a.M, "ef_construction": a.ef_construction}), flush=True)

    for t in [int(x) for x in a.threads.split(",")]:
        for ef in [int(x) for x in a.ef.split(",")]:
            index.set_ef(max(ef, k))
            batch_s, batch_cpu = float("inf"), 0.0
            for _ in range(max(1, a.repeat)):
                c0, w0 = cpu_s(), time.perf_counter()
                labels, _ = index.knn_query(queries, k=k, num_threads=t)
                wall = time.perf_counter() - w0
                if wall < batch_s:
                    batch_s, batch_cpu = wall, cpu_s() - c0
            rec = {"event": "search", "ef": ef, "threads": t, "nq": len(queries), "batch_s": batch_s,
                   "batch_cpu_s": batch_cpu, "qps": len(queries) / batch_s}
            if t == 1 and a.latency_queries > 0:
                lat = []
                for q in queries[:a.latency_queries]:
                    s = time.perf_counter()
                    index.knn_query(q, k=k, num_threads=1)
                    lat.append((time.perf_counter() - s) * 1e6)
                lat = np.array(lat)
                rec.update(lat_us_p50=float(np.percentile(lat, 50)), lat_us_p99=float(np.percentile(lat, 99)),
                           lat_n=len(lat))
            rec["recall"] = recall(labels, truth, k)
            if a.ids_dir:
                os.makedirs(a.ids_dir, exist_ok=True)
                write_ivecs(os.path.join(a.ids_dir, f"ef{ef}_t{t}.ivecs"), labels.astype(np.int32))
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
