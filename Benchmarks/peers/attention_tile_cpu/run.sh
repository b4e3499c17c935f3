#!/usr/bin/env bash
# Kernel-level, one-thread CPU-time comparison used for Benchmarks.md §13.6 when the machine was too loaded
# for the peer script's wall times: builds attention_tile_cpu.c against CKernels of a tree (default this one)
# and prints, per D, N and mask, its CPU time with the given tiles and torch SDPA's (process_time, 1 thread).
#   bash Benchmarks/peers/attention_tile_cpu/run.sh [tree] [block_q block_k]
# The "before" column of §13.6 is the same driver built from main at ecb8efa with the old rule's tiles
# (no tile arguments); "after" is this branch with 64 32.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); tree=${1:-$here/../../..}; shift || true
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
for f in "$tree"/CKernels/*.c; do clang -std=c11 -O3 -I"$tree/CKernels/include" -I"$tree/CKernels" -c "$f" -o "$out/$(basename "$f" .c).o"; done
clang -std=c11 -O3 -I"$tree/CKernels/include" -c "$here/attention_tile_cpu.c" -o "$out/driver.o"
clang -o "$out/tile" "$out"/*.o -lm -lpthread
PY=${PY:-$here/../.venv/bin/python}
uptime
for D in 64 128; do for N in 1024 2048 4096; do for c in 1 0; do
  "$out/tile" $D $N $c 1 "$@"
  "$PY" - $D $N $c <<'PYEOF'
import sys, time, torch, torch.nn.functional as F
torch.set_num_threads(1)
D, N, c = map(int, sys.argv[1:])
g = torch.Generator().manual_seed(0)
q, k, v = (torch.rand(1, 8, N, D, generator=g) * 2 - 1 for _ in range(3))
with torch.inference_mode():
    F.scaled_dot_product_attention(q, k, v, is_causal=bool(c))
    t0 = time.process_time(); F.scaled_dot_product_attention(q, k, v, is_causal=bool(c)); t = time.process_time() - t0
print(f"torch D={D} N={N} causal={c}: {t * 1e3:.1f} ms cpu")
PYEOF
done; done; done
uptime
