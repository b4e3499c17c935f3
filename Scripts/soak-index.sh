#!/usr/bin/env bash
# Soak test of the vector indexes' thread-safety: runs the seeded stress mix of
# Tests/KestrelVectorIndexTests/IndexStressTests.swift (several threads mixing add, remove, search,
# filtered and batch search, compact, optimizeLayout, save and load-mapped, with invariants checked
# after every round) for MINUTES per test, in a release build, in its own build folder.
#
#   Scripts/soak-index.sh [MINUTES [SEED]]            # default 10 minutes, seed from the clock
#   SANITIZE=thread Scripts/soak-index.sh 5           # the same under ThreadSanitizer (debug build)
#   SANITIZE=address Scripts/soak-index.sh 5          # ... or AddressSanitizer
#
# The three stress tests (HNSW f32, HNSW int8 with kept f32 rows, FlatIndex) run in parallel as
# far as the test runner's width allows (on 2 cores two at a time: up to 2 × MINUTES in total).
# A failure prints the round, thread, operation and seed; rerun with the same SEED to replay each
# thread's operation sequence (the interleaving itself is up to the scheduler).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
seed=${2:-$(date +%s)}
case "$minutes" in ''|*[!0-9]*) echo "usage: $0 [MINUTES [SEED]]" >&2; exit 2 ;; esac
case "$seed" in ''|*[!0-9]*) echo "SEED must be a non-negative integer" >&2; exit 2 ;; esac
echo "soak: ${minutes} min per test, KESTREL_STRESS_SEED=${seed}${SANITIZE:+, sanitizer ${SANITIZE}}"
export KESTREL_STRESS_SECONDS=$((minutes * 60))
export KESTREL_STRESS_SEED="$seed"
if [[ -n "${SANITIZE:-}" ]]; then
  export LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp"
  exec swift test --sanitize="$SANITIZE" --scratch-path ".build-soak-$SANITIZE" --filter IndexStressTests
fi
# Release with testability: the tests check internal invariants (@testable import).
exec swift test -c release -Xswiftc -enable-testing --scratch-path .build-soak --filter IndexStressTests
