#!/usr/bin/env bash
# Builds the WebAssembly modules of the C kernels (Documentation/WebAssembly.md):
#   OUT_DIR/kestrel-kernels.wasm         wasm32 + simd128 (the *_wasm_simd128.c tier)
#   OUT_DIR/kestrel-kernels-scalar.wasm  wasm32 without SIMD (the scalar tier), for engines
#                                        without the SIMD proposal
# with the Swift toolchain's clang and wasm-ld: freestanding, no libc or libm (the stand-in
# headers of CKernels/wasm/include), memory exported, nothing imported.
# Usage: bash CKernels/wasm/build.sh [OUT_DIR]   (default .build/wasm/). CLANG overrides the compiler.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ck="$(dirname "$here")"
out="${1:-.build/wasm}"
mkdir -p "$out"
clang="${CLANG:-}"
if [ -z "$clang" ]; then
    if [ -x /opt/swift/usr/bin/clang ]; then clang=/opt/swift/usr/bin/clang
    else clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"; fi
fi
if ! "$clang" -print-targets 2>/dev/null | grep -q wasm32; then
    echo "build.sh: $clang has no wasm32 target" >&2
    exit 2
fi

# The kernel families (scalar references, quantized dots and their activation quantizers).
common_src=(
    distance_float_scalar.c distance_int_scalar.c convert_scalar.c math_scalar.c
    qdot_scalar.c qdot_act.c quant_blocks_scalar.c quant_ref.c
)
simd_src=(distance_float_wasm_simd128.c distance_int_wasm_simd128.c convert_wasm_simd128.c
          math_wasm_simd128.c qdot_wasm_simd128.c)
# MVP plus the few post-MVP features every engine with SIMD also has; the scalar module needs
# no SIMD. -ffp-contract=off: no FMA exists in these targets, so say so (and keep the native
# reference build, which shares these sources, identical).
flags=(--target=wasm32 -mcpu=mvp -mbulk-memory -mnontrapping-fptoint -msign-ext -mmutable-globals
       -O3 -std=c11 -ffreestanding -nostdlib -ffp-contract=off -fno-math-errno
       -Wall -Wextra -Werror -Wno-unused-function
       -isystem "$here/include" -I "$ck/include" -I "$ck")
ldflags=(-Wl,--no-entry -Wl,--gc-sections -Wl,--strip-debug -Wl,-z,stack-size=65536 -Wl,--export-memory)

build() { # name extra-flags... -- sources...
    local name="$1"; shift
    local extra=()
    while [ "$1" != "--" ]; do extra+=("$1"); shift; done; shift
    local srcs=()
    for s in "$@"; do srcs+=("$ck/$s"); done
    "$clang" "${flags[@]}" "${extra[@]}" "${ldflags[@]}" "${srcs[@]}" "$here/kestrel_wasm.c" -o "$out/$name"
}

build kestrel-kernels.wasm -msimd128 -- "${common_src[@]}" "${simd_src[@]}"
build kestrel-kernels-scalar.wasm -- "${common_src[@]}"
echo "built $out/kestrel-kernels.wasm $out/kestrel-kernels-scalar.wasm"
