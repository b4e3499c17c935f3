#!/usr/bin/env bash
# Builds both WebAssembly modules (build.sh) and checks every export in wasmtime against the
# native scalar reference (check_wasm.py). wasmtime and numpy come from PyPI into a virtual
# environment under .build/ (gitignored), made once. Usage: bash CKernels/wasm/check.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/.build/wasm}"
venv="$root/.build/wasm-venv"
bash "$root/CKernels/wasm/build.sh" "$out"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "wasmtime>=20" numpy
"$venv/bin/python" "$root/CKernels/wasm/check_wasm.py" "$out"
