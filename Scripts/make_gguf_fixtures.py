#!/usr/bin/env python3
"""Writes the GGUF reference files of Tests/Fixtures/gguf/ with llama.cpp's own writer (PyPI `gguf`
0.19.0), and expected.json with every value they hold, for KestrelQuantizationTests/GGUFFixtureTests.

    Benchmarks/peers/.venv/bin/python Scripts/make_gguf_fixtures.py [OUT_DIR]

Block-format tensors reuse the bytes of Tests/Fixtures/ggml-quants (so their contents, and their
dequantization, are known). Every file is read back with gguf-py's reader and compared with what
was meant to be written before expected.json is saved. Deterministic (fixed seed).
"""
import hashlib
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V, GGUFWriter

from gguf_common import read_with_gguf_py, typed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUANTS = os.path.join(ROOT, "Tests", "Fixtures", "ggml-quants")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures", "gguf")
ROW = 256  # fixture row length


def quant_rows(name, first, count, row_bytes):
    raw = np.fromfile(os.path.join(QUANTS, name), dtype=np.uint8)
    return raw[first * row_bytes:(first + count) * row_bytes].reshape(count, row_bytes), first * row_bytes


# Metadata of every type: (key, GGUF type, value, array element types outermost first).
METADATA = [
    ("test.uint8", V.UINT8, 255, None),
    ("test.int8", V.INT8, -128, None),
    ("test.uint16", V.UINT16, 65535, None),
    ("test.int16", V.INT16, -32768, None),
    ("test.uint32", V.UINT32, 4294967295, None),
    ("test.int32", V.INT32, -2147483648, None),
    ("test.uint64", V.UINT64, 18446744073709551615, None),
    ("test.int64", V.INT64, -9223372036854775808, None),
    ("test.float32", V.FLOAT32, 0.1, None),
    ("test.float32_neg_zero", V.FLOAT32, -0.0, None),
    ("test.float32_inf", V.FLOAT32, float("-inf"), None),
    ("test.float32_nan", V.FLOAT32, float("nan"), None),
    ("test.float64", V.FLOAT64, 2.0 ** -1074, None),
    ("test.bool_true", V.BOOL, True, None),
    ("test.bool_false", V.BOOL, False, None),
    ("test.string", V.STRING, "Kestrel \u00e9\u00e8 \u6f22\u5b57 \U0001F985", None),
    ("test.string_empty", V.STRING, "", None),
    ("test.array.uint8", V.ARRAY, [0, 1, 255], [V.UINT8]),
    ("test.array.int8", V.ARRAY, [-128, 0, 127], [V.INT8]),
    ("test.array.uint16", V.ARRAY, [0, 65535], [V.UINT16]),
    ("test.array.int16", V.ARRAY, [-32768, 32767], [V.INT16]),
    ("test.array.uint32", V.ARRAY, [1, 4294967295], [V.UINT32]),
    ("test.array.int32", V.ARRAY, [-1, 2147483647], [V.INT32]),
    ("test.array.uint64", V.ARRAY, [0, 18446744073709551615], [V.UINT64]),
    ("test.array.int64", V.ARRAY, [-9223372036854775808, 9223372036854775807], [V.INT64]),
    ("test.array.float32", V.ARRAY, [1.5, -2.25, float("inf")], [V.FLOAT32]),
    ("test.array.float64", V.ARRAY, [3.141592653589793, -1e300], [V.FLOAT64]),
    ("test.array.bool", V.ARRAY, [True, False, True], [V.BOOL]),
    ("test.array.string", V.ARRAY, ["", "a", "\u00fc\u00df", "<|end|>"], [V.STRING]),
    # gguf-py infers the inner arrays' element type: int -> int32, float -> float32, str -> string.
    ("test.array.nested_int32", V.ARRAY, [[1, 2, 3], [-4], [5, 6]], [V.ARRAY, V.INT32]),
    ("test.array.nested_string", V.ARRAY, [["x", "yz"], ["w"]], [V.ARRAY, V.STRING]),
    ("test.array.nested3_float32", V.ARRAY, [[[0.5, -0.5]], [[1.0]]], [V.ARRAY, V.ARRAY, V.FLOAT32]),
]


def add_metadata(w, items):
    for key, vtype, value, sub in items:
        # add_key_value directly: add_string/add_array skip empty values.
        w.add_key_value(key, value, vtype, sub_type=sub[0] if sub else None)


def expected_metadata(items, arch):
    out = [{"key": "general.architecture", **typed(V.STRING, arch)}]
    for key, vtype, value, sub in items:
        out.append({"key": key, **typed(vtype, value, sub)})
    return out


def write(path, arch, metadata, tensors, alignment=None):
    """tensors: (name, numpy array, raw GGML type or None, expected-content dict)."""
    w = GGUFWriter(path, arch)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    add_metadata(w, metadata)
    for name, arr, raw_type, _ in tensors:
        w.add_tensor(name, arr, raw_dtype=raw_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def float_content(arr, ggml_type):
    bits = arr.view(np.uint32 if ggml_type == Q.F32 else np.uint16).reshape(-1)
    return {"bits": [int(b) for b in bits]}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261203)
    files = {}

    # 1. Every metadata type; tensors in f32, f16, bf16 (ranks 1-4) and four block formats.
    f32 = rng.standard_normal((3, 5)).astype(np.float32)
    f32.flat[:6] = [np.nan, -0.0, np.inf, -np.inf, np.float32(1e-45), 65504.0]
    f16 = rng.standard_normal((2, 3, 4)).astype(np.float16)
    bf16 = rng.integers(0, 65536, size=7, dtype=np.uint16)  # raw bfloat16 bit patterns
    f32_4d = (np.arange(6, dtype=np.float32) - 2.5).reshape(1, 2, 1, 3)
    scalar_like = np.array([42.0], dtype=np.float32)
    q8, q8_at = quant_rows("Q8_0.quant.bin", 0, 2, ROW // 32 * 34)
    q4, q4_at = quant_rows("Q4_0.quant.bin", 4, 3, ROW // 32 * 18)
    q4k, q4k_at = quant_rows("Q4_K.dqblocks.bin", 0, 8, 144)
    q6k, q6k_at = quant_rows("Q6_K.dqblocks.bin", 2, 4, 210)
    tensors = [
        ("f32.matrix", f32, None, float_content(f32, Q.F32)),
        ("f16.cube", f16, None, float_content(f16, Q.F16)),
        ("bf16.vector", bf16, Q.BF16, float_content(bf16, Q.BF16)),
        ("f32.rank4", f32_4d, None, float_content(f32_4d, Q.F32)),
        ("f32.one", scalar_like, None, float_content(scalar_like, Q.F32)),
        ("blk.q8_0", q8, Q.Q8_0, {"source": "ggml-quants/Q8_0.quant.bin", "source_offset": q8_at,
                                  "dequant_source": "ggml-quants/Q8_0.dequant.bin", "dequant_offset": 0}),
        ("blk.q4_0", q4, Q.Q4_0, {"source": "ggml-quants/Q4_0.quant.bin", "source_offset": q4_at,
                                  "dequant_source": "ggml-quants/Q4_0.dequant.bin", "dequant_offset": 4 * ROW * 4}),
        ("blk.q4_k", q4k, Q.Q4_K, {"source": "ggml-quants/Q4_K.dqblocks.bin", "source_offset": q4k_at,
                                   "dequant_source": "ggml-quants/Q4_K.dqblocks.dequant.bin", "dequant_offset": 0}),
        ("blk.q6_k", q6k, Q.Q6_K, {"source": "ggml-quants/Q6_K.dqblocks.bin", "source_offset": q6k_at,
                                   "dequant_source": "ggml-quants/Q6_K.dqblocks.dequant.bin", "dequant_offset": 2 * ROW * 4}),
    ]
    files["all-types.gguf"] = ("kestrel-test", METADATA, tensors, None)

    # 2. general.alignment = 64 and tensors whose sizes are not multiples of it (padding between them).
    odd32 = np.array([1.0, -2.0, 3.5], dtype=np.float32)
    odd16 = np.arange(5, dtype=np.float16)
    q8b, q8b_at = quant_rows("Q8_0.quant.bin", 7, 1, ROW // 32 * 34)
    files["align64.gguf"] = ("kestrel-align", [("test.note", V.STRING, "alignment 64", None)], [
        ("odd.f32", odd32, None, float_content(odd32, Q.F32)),
        ("odd.f16", odd16, None, float_content(odd16, Q.F16)),
        ("one.q8_0", q8b, Q.Q8_0, {"source": "ggml-quants/Q8_0.quant.bin", "source_offset": q8b_at,
                                   "dequant_source": "ggml-quants/Q8_0.dequant.bin", "dequant_offset": 7 * ROW * 4}),
    ], 64)

    # 3. Metadata only.
    files["no-tensors.gguf"] = ("kestrel-empty", [("test.count", V.UINT32, 0, None)], [], None)

    expected = {"generator": "Scripts/make_gguf_fixtures.py", "gguf_version": gguf.__version__ if hasattr(gguf, "__version__") else "0.19.0",
                "files": {}}
    for fname, (arch, meta, tens, align) in files.items():
        path = os.path.join(OUT, fname)
        write(path, arch, meta, tens, align)
        meta_json = expected_metadata(meta, arch)
        if align is not None:
            meta_json.insert(1, {"key": "general.alignment", **typed(V.UINT32, align)})
        seen = read_with_gguf_py(path)
        assert seen["metadata"] == meta_json or _same_with_nan(seen["metadata"], meta_json), fname
        assert [t["name"] for t in seen["tensors"]] == [t[0] for t in tens], fname
        tj = []
        for st, (name, arr, raw_type, content) in zip(seen["tensors"], tens):
            want = bytes(np.ascontiguousarray(arr).view(np.uint8).reshape(-1))
            assert bytes(st["raw"]) == want, name
            tj.append({"name": name, "type": st["type"], "dims": st["dims"], "offset": st["offset"],
                       "n_bytes": st["n_bytes"], "sha256": hashlib.sha256(want).hexdigest(), **content})
        expected["files"][fname] = {"version": seen["version"], "alignment": seen["alignment"],
                                    "data_offset": seen["data_offset"], "file_size": os.path.getsize(path),
                                    "metadata": meta_json, "tensors": tj}

    # 4. Version 2: the same layout as 3 for little-endian files, so align64 with its version patched.
    src = open(os.path.join(OUT, "align64.gguf"), "rb").read()
    v2 = src[:4] + (2).to_bytes(4, "little") + src[8:]
    open(os.path.join(OUT, "align64-v2.gguf"), "wb").write(v2)
    e2 = json.loads(json.dumps(expected["files"]["align64.gguf"]))
    e2["version"] = 2
    assert read_with_gguf_py(os.path.join(OUT, "align64-v2.gguf"))["version"] == 2
    expected["files"]["align64-v2.gguf"] = e2

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    for fname in sorted(expected["files"]):
        print(fname, expected["files"][fname]["file_size"], "bytes")


def _same_with_nan(a, b):
    # NaN bit patterns compare as JSON strings, so a mismatch here is real.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


if __name__ == "__main__":
    main()
