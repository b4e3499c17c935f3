#!/usr/bin/env bash
# C-level cross-tier check of the kernel tables (CKernels/test/*.c):
#  1. cross-compiles every CKernels/*.c plus the driver for aarch64 (x86 files compile to nothing there)
#     and runs it under qemu-aarch64 -cpu max for the NEON and NEON-dotprod tiers (both must exist);
#  2. builds the same driver natively and runs it on this machine's SIMD tiers (unsupported ones are
#     skipped), a second check of the x86 tiers independent of the Swift tests.
# Needs qemu-user, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and clang (.ci/run installs the first three;
# clang comes with the Swift toolchain). Fails on any missing tool, warning, mismatch or crash.
set -euo pipefail
cd "$(dirname "$0")/../.."

CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
NATIVE_CC=${NATIVE_CC:-clang}
QEMU=${QEMU:-qemu-aarch64}
SYSROOT=${SYSROOT:-/usr/aarch64-linux-gnu}
FLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -ICKernels/include -ICKernels)

missing=()
for tool in "$CROSS_CC" "$QEMU" "$NATIVE_CC"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -d "$SYSROOT" ] || missing+=("$SYSROOT (libc6-dev-arm64-cross)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "neon-check: ERROR: missing ${missing[*]}" >&2
  echo "neon-check: install with: apt-get install -y qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/neon-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

total_pass=0
total_fail=0
status=0

# Runs the driver, streams its output, adds its closing "N passed, M failed" line to the totals.
run_driver() {
  local log=$work/run.log rc=0
  "$@" 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E '^[^:]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
  if [ -z "$line" ]; then
    echo "neon-check: ERROR: the driver ended without its summary (exit $rc)" >&2
    status=1
    total_fail=$((total_fail + 1))
    return
  fi
  local p f
  p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$line")
  f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$line")
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then status=1; fi
}

echo "neon-check: $CROSS_CC ${FLAGS[*]} -static CKernels/*.c CKernels/test/*.c"
"$CROSS_CC" "${FLAGS[@]}" -static -o "$work/neon_check_aarch64" CKernels/*.c CKernels/test/*.c -lm
# KESTREL_ISA would cap the active tier; the check expects the best one (neondot under -cpu max).
run_driver env -u KESTREL_ISA "$QEMU" -cpu max -L "$SYSROOT" "$work/neon_check_aarch64" \
  --require --expect-active neondot --label "neon-check (aarch64, qemu -cpu max)" neon neondot

case "$(uname -m)" in
  x86_64 | amd64) native_tiers=(avx2 avx512 avx512vnni) ;;
  aarch64 | arm64) native_tiers=(neon neondot) ;;
  *) native_tiers=() ;;
esac
if [ ${#native_tiers[@]} -gt 0 ]; then
  echo "neon-check: $NATIVE_CC ${FLAGS[*]} CKernels/*.c CKernels/test/*.c (native $(uname -m))"
  "$NATIVE_CC" "${FLAGS[@]}" -o "$work/neon_check_native" CKernels/*.c CKernels/test/*.c -lm -lpthread
  run_driver env -u KESTREL_ISA "$work/neon_check_native" --label "neon-check (native $(uname -m))" "${native_tiers[@]}"
fi

echo "neon-check: $total_pass passed, $total_fail failed"
exit $status
