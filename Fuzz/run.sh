#!/usr/bin/env bash
# Builds the loader fuzzer (libFuzzer + AddressSanitizer), writes the seed corpus, and fuzzes
# every loader of KestrelVectorIndex, the GGUF reader and the .kqt reader for SECONDS each (default 30). Exits non-zero when any
# target crashes, trips ASan, fails a consistency check, hangs (> 5 s on one input) or runs
# out of memory, printing the reproducer and the command that replays it.
#
#   bash Fuzz/run.sh [SECONDS_PER_TARGET]
#
# Environment: FUZZ_TARGETS (space-separated subset of the targets below), FUZZ_CORPUS_DIR (a
# directory that keeps the grown corpus between runs; default: a temporary one).
# Crash files go to Fuzz/artifacts/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-30}"
targets="${FUZZ_TARGETS:-hnsw hnsw-raw flat flat-raw vecs npy gguf kqt}"

# `--sanitize=fuzzer` makes SwiftPM link libFuzzer's main instead of the module's entry point.
# The sanitizers themselves are one -sanitize= list: swiftc keeps only the last -sanitize= flag,
# so SwiftPM's `--sanitize=fuzzer --sanitize=address` (two flags, in any order) would silently
# drop one of them. The C kernels get ASan too.
build_flags=(-c debug --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address)
echo "fuzz: building (swift build ${build_flags[*]})"
# The gold linker warns once per ASan helper symbol it cannot export; nothing else is filtered.
set +e
swift build "${build_flags[@]}" 2>&1 | grep -v "ld.gold: warning: Cannot export local symbol"
build_status=${PIPESTATUS[0]}
set -e
[ "$build_status" -eq 0 ] || { echo "fuzz: build failed"; exit 1; }
bin="$(swift build "${build_flags[@]}" --show-bin-path)/KestrelLoaderFuzzer"

work="$(mktemp -d "${TMPDIR:-/tmp}/kestrel-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
corpus_root="${FUZZ_CORPUS_DIR:-$work/corpus}"
mkdir -p artifacts "$corpus_root"
# Swift's own crash backtracer would run inside the ASan process; libFuzzer reports instead.
export SWIFT_BACKTRACE=enable=no
"$bin" --make-corpus="$work/seeds"

failed=()
for t in $targets; do
  case "$t" in
    hnsw|hnsw-raw|flat|flat-raw|gguf) max_len=8192 ;;  # the largest seeds are ~6 KB
    *) max_len=4096 ;;
  esac
  mkdir -p "$corpus_root/$t"
  log="$work/$t.log"
  echo "fuzz: $t for ${seconds}s"
  status=0
  "$bin" --target="$t" -max_total_time="$seconds" -max_len="$max_len" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$PWD/artifacts/$t-" "$corpus_root/$t" "$work/seeds/$t" >"$log" 2>&1 || status=$?
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$done_line" || true)"
  if [ "$status" -ne 0 ] || [ -z "$cov" ]; then
    # A missing DONE line with coverage also fails: the binary would not be instrumented.
    echo "fuzz: $t FAILED (exit $status)"
    grep -aE 'Fatal error|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY' "$log" | head -5 || true
    artifact="$(sed -n "s/.*Test unit written to //p" "$log" | tail -1)"
    if [ -n "$artifact" ]; then
      echo "fuzz: reproducer: $artifact"
      echo "fuzz: replay with: SWIFT_BACKTRACE=enable=no $bin --target=$t $artifact"
    else
      tail -20 "$log"
    fi
    failed+=("$t")
  else
    echo "fuzz: $t ok: ${execs} inputs, ${rate} exec/s, $cov"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all targets passed"
