"""Helpers shared by make_gguf_fixtures.py and check_gguf_roundtrip.py.

Typed JSON values (the form Tests/Fixtures/gguf/expected.json uses, read by the Swift tests):
  {"type": "uint8" | ... | "int64", "value": "<decimal string>"}   (strings: exact for 64-bit values)
  {"type": "float32" | "float64", "bits": "<hex bit pattern>"}     (exact, NaN and -0 included)
  {"type": "bool", "value": true}
  {"type": "string", "value": "..."}
  {"type": "array", "element_type": "<type>", "elements": [<typed values>]}
"""
import struct

import numpy as np
from gguf import GGUFReader, GGUFValueType

TYPE_NAMES = {
    GGUFValueType.UINT8: "uint8", GGUFValueType.INT8: "int8", GGUFValueType.UINT16: "uint16",
    GGUFValueType.INT16: "int16", GGUFValueType.UINT32: "uint32", GGUFValueType.INT32: "int32",
    GGUFValueType.FLOAT32: "float32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array", GGUFValueType.UINT64: "uint64", GGUFValueType.INT64: "int64",
    GGUFValueType.FLOAT64: "float64",
}
BY_NAME = {v: k for k, v in TYPE_NAMES.items()}


def typed(vtype, value, sub=None):
    """The typed JSON form of a Python value written with GGUF type `vtype`."""
    name = TYPE_NAMES[vtype]
    if vtype == GGUFValueType.FLOAT32:
        return {"type": name, "bits": "0x%08x" % struct.unpack("<I", struct.pack("<f", value))[0]}
    if vtype == GGUFValueType.FLOAT64:
        return {"type": name, "bits": "0x%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]}
    if vtype == GGUFValueType.BOOL:
        return {"type": name, "value": bool(value)}
    if vtype == GGUFValueType.STRING:
        return {"type": name, "value": value}
    if vtype == GGUFValueType.ARRAY:
        return {"type": name, "element_type": TYPE_NAMES[sub[0]],
                "elements": [typed(sub[0], v, sub[1:] if len(sub) > 1 else None) for v in value]}
    return {"type": name, "value": str(int(value))}


def decode_parts(parts, i, vtype):
    """Decodes one value from a gguf-py ReaderField's flat `parts` list starting at index i
    (gguf-py flattens nested arrays; this rebuilds them). Returns (typed JSON, next index)."""
    vtype = GGUFValueType(int(vtype))
    if vtype == GGUFValueType.STRING:
        return {"type": "string", "value": bytes(parts[i + 1]).decode("utf-8")}, i + 2
    if vtype == GGUFValueType.ARRAY:
        etype = GGUFValueType(int(parts[i][0]))
        n = int(parts[i + 1][0])
        j = i + 2
        elements = []
        for _ in range(n):
            e, j = decode_parts(parts, j, etype)
            elements.append(e)
        return {"type": "array", "element_type": TYPE_NAMES[etype], "elements": elements}, j
    raw = parts[i]
    if vtype == GGUFValueType.FLOAT32:
        return {"type": "float32", "bits": "0x%08x" % int(raw.view(np.uint32)[0])}, i + 1
    if vtype == GGUFValueType.FLOAT64:
        return {"type": "float64", "bits": "0x%016x" % int(raw.view(np.uint64)[0])}, i + 1
    if vtype == GGUFValueType.BOOL:
        return {"type": "bool", "value": bool(raw[0])}, i + 1
    return {"type": TYPE_NAMES[vtype], "value": str(int(raw[0]))}, i + 1


def read_with_gguf_py(path):
    """Everything gguf-py's reader sees in `path`, in the typed JSON form."""
    r = GGUFReader(path)
    version = int(r.fields["GGUF.version"].parts[0][0])
    metadata = []
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        # parts: key length, key bytes, value type, then the value's parts.
        value, end = decode_parts(field.parts, 3, field.parts[2][0])
        assert end == len(field.parts), key
        metadata.append({"key": key, **value})
    tensors = []
    for t in r.tensors:
        raw = np.asarray(r.data[t.data_offset:t.data_offset + t.n_bytes], dtype=np.uint8)
        tensors.append({
            "name": t.name,
            "type": int(t.tensor_type),
            "dims": [int(d) for d in t.shape],           # ggml order (ne[0] first)
            "offset": int(t.data_offset - r.data_offset),  # relative to the data section
            "n_bytes": int(t.n_bytes),
            "raw": raw,
        })
    return {"version": version, "alignment": int(r.alignment), "data_offset": int(r.data_offset),
            "metadata": metadata, "tensors": tensors}
