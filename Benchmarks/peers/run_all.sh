#!/usr/bin/env bash
# Builds kestrel in release and runs every measurement of Documentation/Benchmarks.md:
# the STREAM triad, `kernel-bench --all` (every kernel at every tier + target checks), and the
# SimSIMD comparison (creating Benchmarks/peers/.venv on first use). Output goes to stdout;
# `bash Benchmarks/peers/run_all.sh | tee results.txt` keeps a copy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

swift build -c release --product kestrel
kestrel="$root/.build/release/kestrel"

echo "== $kestrel info"
"$kestrel" info
echo
echo "== kestrel kernel-bench --stream (1 and 2 threads)"
"$kestrel" kernel-bench --stream
"$kestrel" kernel-bench --stream --threads 2
echo
echo "== kestrel kernel-bench --all"
"$kestrel" kernel-bench --all
echo
echo "== Benchmarks/peers/simsimd_peer.py"
[ -x "$here/.venv/bin/python" ] || bash "$here/setup.sh"
"$here/.venv/bin/python" "$here/simsimd_peer.py" --kestrel "$kestrel"
