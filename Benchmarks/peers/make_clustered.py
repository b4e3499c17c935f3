#!/usr/bin/env python3
"""Writes the clustered synthetic ANN data set used by `kestrel ann-bench` and hnswlib_peer.py.

Base and query vectors are drawn from the same mixture: `clusters` centres ~ N(0, 1)^dim, each
point = centre + N(0, spread^2)^dim, with cluster sizes drawn from a Dirichlet so some clusters
are dense. Exact ground truth (squared L2, or inner product / cosine) is computed in float64.

Output (default Benchmarks/peers/data/): base.fvecs, queries.fvecs, gt_<metric>.ivecs
(k = 100 rows of 0-based base row numbers).

Usage: make_clustered.py [--n 100000] [--dim 128] [--nq 10000] [--clusters 256] [--spread 0.6]
                         [--metric l2|ip|cos] [--seed 7] [--out DIR]
"""
import argparse
import os
import sys

import numpy as np


def write_vecs(path, arr):
    arr = np.ascontiguousarray(arr)
    n, d = arr.shape
    out = np.empty((n, d + 1), dtype=np.int32)
    out[:, 0] = d
    out[:, 1:] = arr.view(np.int32)
    tmp = path + ".tmp"
    out.tofile(tmp)
    os.replace(tmp, path)


def clustered(rng, n, dim, centres, weights, spread):
    labels = rng.choice(len(centres), size=n, p=weights)
    return (centres[labels] + rng.standard_normal((n, dim)) * spread).astype(np.float32)


def ground_truth(base, queries, k, metric):
    b = base.astype(np.float64)
    if metric == "cos":
        b /= np.linalg.norm(b, axis=1, keepdims=True)
    bn = (b * b).sum(axis=1)
    gt = np.empty((len(queries), k), dtype=np.int32)
    for s in range(0, len(queries), 1000):
        q = queries[s:s + 1000].astype(np.float64)
        if metric == "cos":
            q /= np.linalg.norm(q, axis=1, keepdims=True)
        dots = q @ b.T
        dist = (bn[None, :] - 2 * dots) if metric == "l2" else -dots
        part = np.argpartition(dist, k, axis=1)[:, :k]
        order = np.take_along_axis(dist, part, axis=1).argsort(axis=1, kind="stable")
        gt[s:s + 1000] = np.take_along_axis(part, order, axis=1)
    return gt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--nq", type=int, default=10_000)
    ap.add_argument("--clusters", type=int, default=256)
    ap.add_argument("--spread", type=float, default=0.6)
    ap.add_argument("--metric", choices=["l2", "ip", "cos"], default="l2")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    centres = rng.standard_normal((a.clusters, a.dim))
    weights = rng.dirichlet(np.full(a.clusters, 2.0))
    base = clustered(rng, a.n, a.dim, centres, weights, a.spread)
    queries = clustered(rng, a.nq, a.dim, centres, weights, a.spread)
    write_vecs(os.path.join(a.out, "base.fvecs"), base)
    write_vecs(os.path.join(a.out, "queries.fvecs"), queries)
    gt = ground_truth(base, queries, min(a.k, a.n), a.metric)
    write_vecs(os.path.join(a.out, f"gt_{a.metric}.ivecs"), gt)
    print(f"wrote {a.n} x {a.dim} base, {a.nq} queries, gt_{a.metric} (k={gt.shape[1]}) to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
