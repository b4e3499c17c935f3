#!/usr/bin/env python3
"""Checks that gguf-py (llama.cpp's reader, PyPI `gguf` 0.19.0) reads the GGUF files Kestrel's
GGUFWriter makes, with the values that were written.

    Benchmarks/peers/.venv/bin/python Scripts/check_gguf_roundtrip.py [--skip-build]

Runs `swift test --filter GGUFExportTests` with KESTREL_GGUF_EXPORT_DIR set, then reads
  - rewrite-<fixture>.gguf (each reference file read by GGUFFile and written back by GGUFWriter):
    gguf-py must see exactly what Tests/Fixtures/gguf/expected.json records for the original
    (which came from gguf-py's writer, so this is independent of Kestrel's reader);
  - extras.gguf: the content listed in EXTRAS below (empty array and string, nested uint64 arrays,
    alignment 128, f32/f16/bf16 tensors made by Kestrel's conversions, Q4_0 and Q6_K blocks).
Exits non-zero on the first difference.
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_common import read_with_gguf_py  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")


def u(t, v):
    return {"type": t, "value": str(v)}


def f64(v):
    return {"type": "float64", "bits": "0x%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]}


EXTRAS_METADATA = [
    {"key": "general.alignment", **u("uint32", 128)},
    {"key": "general.architecture", "type": "string", "value": "kestrel-extras"},
    {"key": "extras.empty_array", "type": "array", "element_type": "int32", "elements": []},
    {"key": "extras.empty_string", "type": "string", "value": ""},
    {"key": "extras.nested_uint64", "type": "array", "element_type": "array", "elements": [
        {"type": "array", "element_type": "uint64", "elements": [u("uint64", 2**64 - 1), u("uint64", 0)]},
        {"type": "array", "element_type": "uint64", "elements": [u("uint64", 7)]}]},
    {"key": "extras.float64s", "type": "array", "element_type": "float64", "elements": [f64(-0.0), f64(float("inf"))]},
    {"key": "extras.int16", **u("int16", -2)},
]


def extras_tensors():
    vals = np.arange(12, dtype=np.float32) * 0.25 - 1
    q4 = np.fromfile(os.path.join(FIX, "ggml-quants", "Q4_0.quant.bin"), dtype=np.uint8)[:288]
    q6 = np.fromfile(os.path.join(FIX, "ggml-quants", "Q6_K.quant.bin"), dtype=np.uint8)[:210]
    bf16 = ((np.arange(5, dtype=np.float32) - 2).view(np.uint32) >> 16).astype(np.uint16)  # exact values
    return [
        ("w.f32", 0, [4, 3], vals.tobytes()),
        ("w.f16", 1, [3, 2, 2], vals.astype(np.float16).tobytes()),
        ("w.bf16", 30, [5], bf16.tobytes()),
        ("w.q4_0", 2, [256, 2], q4.tobytes()),
        ("w.q6_k", 14, [256, 1], q6.tobytes()),
    ]


def fail(msg):
    print("check_gguf_roundtrip: FAILED:", msg)
    sys.exit(1)


def check_file(path, metadata, tensors, alignment):
    seen = read_with_gguf_py(path)
    if seen["version"] != 3:
        fail(f"{path}: version {seen['version']}")
    if seen["alignment"] != alignment:
        fail(f"{path}: alignment {seen['alignment']} != {alignment}")
    if json.dumps(seen["metadata"], sort_keys=True) != json.dumps(metadata, sort_keys=True):
        fail(f"{path}: metadata differs:\n{seen['metadata']}\n{metadata}")
    if [t["name"] for t in seen["tensors"]] != [t[0] for t in tensors]:
        fail(f"{path}: tensor names {[t['name'] for t in seen['tensors']]}")
    for st, (name, gtype, dims, data) in zip(seen["tensors"], tensors):
        if (st["type"], st["dims"]) != (gtype, dims):
            fail(f"{path}: {name}: type/dims {st['type']} {st['dims']} != {gtype} {dims}")
        if bytes(st["raw"]) != data:
            fail(f"{path}: {name}: data differs")
        if st["offset"] % alignment != 0:
            fail(f"{path}: {name}: offset {st['offset']} not aligned")
    print(f"ok: {os.path.basename(path)}: {len(metadata)} keys, {len(tensors)} tensors")


def main():
    out = tempfile.mkdtemp(prefix="kestrel-gguf-roundtrip-")
    try:
        run(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(out):
    cmd = ["swift", "test", "--filter", "GGUFExportTests"]
    if "--skip-build" in sys.argv:
        cmd.insert(2, "--skip-build")
    env = dict(os.environ, KESTREL_GGUF_EXPORT_DIR=out)
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:])
        fail("swift test --filter GGUFExportTests failed")

    expected = json.load(open(os.path.join(FIX, "gguf", "expected.json")))
    for name, e in expected["files"].items():
        tensors = []
        for t in e["tensors"]:
            raw = open(os.path.join(FIX, "gguf", name), "rb").read()
            start = e["data_offset"] + t["offset"]
            data = raw[start:start + t["n_bytes"]]
            if hashlib.sha256(data).hexdigest() != t["sha256"]:
                fail(f"fixture {name}: {t['name']} does not match its sha256")
            tensors.append((t["name"], t["type"], t["dims"], data))
        check_file(os.path.join(out, f"rewrite-{name}"), e["metadata"], tensors, e["alignment"])
    check_file(os.path.join(out, "extras.gguf"), EXTRAS_METADATA, extras_tensors(), 128)
    print("check_gguf_roundtrip: all files read back by gguf-py with the values written")


if __name__ == "__main__":
    main()
