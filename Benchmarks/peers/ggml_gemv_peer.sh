#!/usr/bin/env bash
# Builds and runs ggml_gemv_peer.c (Kestrel's block GEMV vs ggml's CPU dot products, same blocks, one
# process, interleaved) at the two shapes of Documentation/Benchmarks.md §12.
# GGML_LIB: the directory holding libggml-cpu.so and libggml-base.so of an installed ggml, e.g. PyPI
# ggml-python's <site-packages>/ggml/lib (this script builds no ggml). Compiles CKernels/*.c with -O2
# like a release build. Extra arguments go to every run (e.g. REPS, types).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${GGML_LIB:?set GGML_LIB to the directory with libggml-cpu.so (e.g. <site-packages>/ggml/lib)}"
CC=${CC:-clang}
out=$(mktemp -d "${TMPDIR:-/tmp}/ggml-peer.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$CC" -std=c11 -O2 -ICKernels/include -ICKernels -o "$out/ggml_gemv_peer" Benchmarks/peers/ggml_gemv_peer.c CKernels/*.c \
  -L"$GGML_LIB" -lggml-cpu -lggml-base -Wl,-rpath,"$GGML_LIB" -lm -lpthread
echo "ggml-gemv-peer: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
BURST=${BURST:-5} "$out/ggml_gemv_peer" 4096 4096 "${REPS_SMALL:-21}"
BURST=${BURST_BIG:-1} "$out/ggml_gemv_peer" 32768 8192 "${REPS_BIG:-7}"
echo "ggml-gemv-peer: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
