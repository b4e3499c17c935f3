#!/usr/bin/env python3
"""Checks every export of the two WebAssembly kernel modules in wasmtime against native scalar C.

Usage: python check_wasm.py WASM_DIR   (WASM_DIR holds kestrel-kernels.wasm and
kestrel-kernels-scalar.wasm, as built by CKernels/wasm/build.sh; needs wasmtime, numpy, gcc)

The reference is a native shared library built here by gcc from the same scalar sources and
kestrel_wasm.c (the exports' C names are kestrel_wasm_<name>), with the same freestanding
<math.h>, so exp is the scalar polynomial kestrel_exp_poly1 there too. Rules, per export:
  - the scalar module returns the native reference's bits for every export;
  - the simd128 module returns them too for everything integer, the conversions, the element-wise
    helpers, max, the Q8_0 / Q4_0 block dots (their f32 terms are added in the reference's order),
    the K-quant dots and the quantizers; exp is bit-identical between the two modules;
  - float distances, sum, sumsq and softmax are within the tolerances of CKernels/test
    (sum_tol / cos_tol of neon_check.c; softmax (2n + 16) 2^-24 relative);
  - exp is within 2 ulp of float64 exp where the result is a normal f32;
  - argument errors return the documented status, out-of-bounds pointers trap.
Prints '<N> passed, <M> failed' and exits non-zero on a failure.
"""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np
import wasmtime

HERE = os.path.dirname(os.path.abspath(__file__))
CK = os.path.dirname(HERE)
SOURCES = ["distance_float_scalar.c", "distance_int_scalar.c", "convert_scalar.c", "math_scalar.c",
           "qdot_scalar.c", "qdot_act.c", "quant_blocks_scalar.c", "quant_ref.c"]

# Signatures: argument kinds p (pointer), n (size_t / u32), f (f32); result kind.
I32, I64, F32, F64, VOID = "i32", "i64", "f32", "f64", "void"
SIG = {}
for op in ["dot", "l2sq", "cosine"]:
    for t in ["f32", "f16", "bf16"]:
        SIG[f"{op}_{t}"] = ("ppn", F32)
        SIG[f"{op}_{t}_many"] = ("ppnnnp", I32)
SIG.update({"dot_i8": ("ppn", I64), "l2sq_i8": ("ppn", I64), "cosine_i8": ("ppn", F32),
            "hamming_b1": ("ppn", I64), "jaccard_b1": ("ppn", F32)})
for name in ["dot_i8", "l2sq_i8", "cosine_i8", "hamming_b1", "jaccard_b1"]:
    SIG[name + "_many"] = ("ppnnnp", I32)
for name in ["f32_to_f16", "f16_to_f32", "f32_to_bf16", "bf16_to_f32", "exp_f32", "softmax_f32",
             "quantize_row_q8_0", "quantize_row_q8_K"]:
    SIG[name] = ("ppn", VOID)
SIG.update({"axpy_f32": ("fppn", VOID), "scale_f32": ("fppn", VOID), "add_f32": ("pppn", VOID),
            "mul_f32": ("pppn", VOID), "sum_f32": ("pn", F32), "max_f32": ("pn", F32), "sumsq_f32": ("pn", F32)})
for name in ["vec_dot_q8_0_q8_0", "vec_dot_q4_0_q8_0", "vec_dot_q4_K_q8_K", "vec_dot_q6_K_q8_K"]:
    SIG[name] = ("ppn", F32)
SIG.update({"gemv_i8": ("pnnnppfp", I32), "gemm_i8": ("pnnnpnnpppn", I32)})
for name in ["gemv_q8_0", "gemv_q4_0", "gemv_q4_K", "gemv_q6_K"]:
    SIG[name] = ("pnnpp", I32)
SIG.update({"wasm_abi_version": ("", I32), "wasm_tier": ("", I32), "wasm_bench": ("nppppn", F64),
            "wasm_alloc": ("n", I32), "wasm_reset": ("", VOID)})
WASM_ONLY = {"wasm_alloc", "wasm_reset"}

BLOCK = {"q8_0": 34, "q4_0": 18, "q4_K": 144, "q6_K": 210, "q8_K": 292}


class In:
    """An input array placed `shift` bytes past an aligned address (unaligned starts)."""

    def __init__(self, arr, shift=0):
        self.data = np.ascontiguousarray(arr).tobytes()
        self.shift = shift


class Out:
    def __init__(self, nbytes, init=None, shift=0):
        self.nbytes = nbytes
        # bytes to preload: the old y of in-place kernels (axpy), else a fill pattern, so that
        # elements a kernel must not write (error returns, gaps of ldc) compare equal too
        self.init = init if init is not None else b"\xab" * nbytes
        self.shift = shift


class Null:
    """A NULL pointer (offset 0 in the module)."""


def build_reference(tmp):
    so = os.path.join(tmp, "libkestrel_wasm_ref.so")
    cmd = ["gcc", "-O2", "-std=c11", "-shared", "-fPIC", "-ffp-contract=off", "-fno-math-errno",
           "-DKESTREL_SCALAR_ONLY", "-isystem", os.path.join(HERE, "include"), "-I", os.path.join(CK, "include"), "-I", CK]
    cmd += [os.path.join(CK, s) for s in SOURCES] + [os.path.join(HERE, "kestrel_wasm.c"), "-o", so]
    subprocess.run(cmd, check=True)
    return so


class Native:
    CT = {I32: ctypes.c_int32, I64: ctypes.c_int64, F32: ctypes.c_float, F64: ctypes.c_double, VOID: None}

    def __init__(self, so):
        self.lib = ctypes.CDLL(so)

    def call(self, name, args):
        args_sig, res = SIG[name]
        fn = getattr(self.lib, "kestrel_wasm_" + name)
        fn.restype = self.CT[res]
        fn.argtypes = [{"p": ctypes.c_void_p, "n": ctypes.c_size_t, "f": ctypes.c_float}[k] for k in args_sig]
        keep, outs, cargs = [], [], []
        for a in args:
            if isinstance(a, (In, Out)):
                size = len(a.data) if isinstance(a, In) else a.nbytes
                buf = ctypes.create_string_buffer(size + a.shift + 64)
                base = (ctypes.addressof(buf) + 63) & ~63
                addr = base + a.shift
                if isinstance(a, In):
                    ctypes.memmove(addr, a.data, size)
                elif a.init is not None:
                    ctypes.memmove(addr, a.init, size)
                keep.append(buf)
                if isinstance(a, Out):
                    outs.append((addr, size))
                cargs.append(addr)
            elif isinstance(a, Null):
                cargs.append(None)
            else:
                cargs.append(a)
        r = fn(*cargs)
        return r, [ctypes.string_at(addr, size) for addr, size in outs]


class Wasm:
    def __init__(self, path):
        self.engine = wasmtime.Engine()
        self.store = wasmtime.Store(self.engine)
        self.module = wasmtime.Module.from_file(self.engine, path)
        self.instance = wasmtime.Instance(self.store, self.module, [])
        self.ex = self.instance.exports(self.store)
        self.mem = self.ex["memory"]
        self.names = [e.name for e in self.module.exports]

    def fn(self, name):
        return self.ex["kestrel_" + name]

    def alloc(self, nbytes):
        p = self.fn("wasm_alloc")(self.store, nbytes)
        if p == 0:
            raise MemoryError(nbytes)
        return p

    def call(self, name, args):
        self.fn("wasm_reset")(self.store)
        outs, wargs = [], []
        for a in args:
            if isinstance(a, (In, Out)):
                size = len(a.data) if isinstance(a, In) else a.nbytes
                p = self.alloc(size + a.shift) + a.shift
                if isinstance(a, In) and size:
                    self.mem.write(self.store, a.data, p)
                elif isinstance(a, Out) and a.init is not None and size:
                    self.mem.write(self.store, a.init, p)
                if isinstance(a, Out):
                    outs.append((p, size))
                wargs.append(p)
            elif isinstance(a, Null):
                wargs.append(0)
            else:
                wargs.append(a)
        r = self.fn(name)(self.store, *wargs)
        if SIG[name][1] == F32 and r is not None:
            r = float(np.float32(r))
        return r, [bytes(self.mem.read(self.store, p, p + size)) for p, size in outs]


# ---- comparison helpers ----

def f32bits(x):
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def same(a, b):
    """Bit equality of results: floats by their f32 bits, ints by value, byte strings exactly."""
    if isinstance(a, float) or isinstance(b, float):
        return f32bits(a) == f32bits(b)
    return a == b


def close(got, want, tol):
    if np.isnan(want):
        return bool(np.isnan(got))
    if np.isinf(want):
        return f32bits(got) == f32bits(want)
    return bool(np.isfinite(got)) and abs(float(got) - float(want)) <= tol


def sum_tol(n, S):
    return (2.0 * n + 4.0) * 2.0 ** -24 * S + n * 2.0 ** -148


def cos_tol(n, aa, bb):
    if aa == 0 or bb == 0:
        return 0.0
    return 4.0 * (n + 2.0) * 2.0 ** -24 + 2.0 ** -22 + n * 2.0 ** -148 / np.sqrt(aa * bb)


def widen(t, arr):
    if t == "f32":
        return arr.astype(np.float64)
    if t == "f16":
        return arr.view(np.float16).astype(np.float64)
    return (arr.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def dist_tol(op, t, a, b, n):
    x, y = widen(t, a), widen(t, b)
    if op == "dot":
        return sum_tol(n, float(np.sum(np.abs(x * y))))
    if op == "l2sq":
        return sum_tol(n, float(np.sum((x - y) ** 2)))
    return cos_tol(n, float(np.sum(x * x)), float(np.sum(y * y)))


class Checker:
    def __init__(self, ref, scalar, simd):
        self.ref, self.scalar, self.simd = ref, scalar, simd
        self.passed = self.failed = 0
        self.covered = set()

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            if self.failed <= 40:
                print("FAIL:", what)

    def run(self, name, args, simd_rule="exact", tol=None):
        """Calls `name` in the three builds; scalar wasm must equal the reference bit for bit."""
        self.covered.add(name)
        want = self.ref.call(name, args)
        got_s = self.scalar.call(name, args)
        got_v = self.simd.call(name, args)
        self.check(same(got_s[0], want[0]) and got_s[1] == want[1], f"{name} scalar wasm != native {want[0]!r} {got_s[0]!r}")
        if simd_rule == "exact":
            self.check(same(got_v[0], want[0]) and got_v[1] == want[1], f"{name} simd128 != native {want[0]!r} {got_v[0]!r}")
        elif simd_rule == "exact_nan":  # f32 outputs: same bits, or both NaN (payloads are engine-defined)
            g = [np.frombuffer(b, np.float32) for b in got_v[1]]
            w = [np.frombuffer(b, np.float32) for b in want[1]]
            ok = all(np.all((x.view(np.uint32) == y.view(np.uint32)) | (np.isnan(x) & np.isnan(y))) for x, y in zip(g, w))
            self.check(ok, f"{name} simd128 != native (NaN aside)")
        elif simd_rule == "tol":
            ok = close(got_v[0], want[0], tol) if want[0] is not None else True
            self.check(ok, f"{name} simd128 {got_v[0]!r} vs native {want[0]!r} beyond tol {tol}")
        return want, got_s, got_v


rng = np.random.default_rng(20261203)
SIZES = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 384, 768, 1000, 1536, 4096]


def rand_vec(t, n, specials=False):
    x = rng.standard_normal(n).astype(np.float32)
    if t == "f32":
        return x
    if t == "f16":
        return x.astype(np.float16).view(np.uint16)
    return (x.view(np.uint32) >> 16).astype(np.uint16)


def test_float_distances(c):
    for t in ["f32", "f16", "bf16"]:
        for op in ["dot", "l2sq", "cosine"]:
            name = f"{op}_{t}"
            for n in SIZES:
                a, b = rand_vec(t, n), rand_vec(t, n)
                shift = (n % 4) * (4 if t == "f32" else 2)
                c.run(name, [In(a, shift), In(b), n], "tol", dist_tol(op, t, a, b, n))
            # identical vectors: cosine exactly 0 at every tier; NaN propagates
            a = rand_vec(t, 33)
            c.run(name, [In(a), In(a), 33], "tol", dist_tol(op, t, a, a, 33))
            bad = a.copy()
            bad[5] = np.float32("nan") if t == "f32" else (0x7e00 if t == "f16" else 0x7fc0)
            c.run(name, [In(bad), In(a), 33], "tol", 0.0)
            # many: row r equals the simd pair kernel's bits
            for dim in [0, 1, 3, 16, 17, 65, 768]:
                for count in [0, 1, 2, 3, 5, 9]:
                    stride = dim + (dim % 3)
                    q, base = rand_vec(t, dim), rand_vec(t, stride * count)
                    eb = 4 if t == "f32" else 2
                    args = [In(q), In(base), dim, count, stride, Out(4 * count)]
                    want, _, got_v = c.run(name + "_many", args, "status")
                    for r in range(count):
                        row = base[r * stride:r * stride + dim]
                        _, pair = c.simd.call(name, [In(q), In(row), dim]), None
                        pv = np.frombuffer(got_v[1][0], dtype=np.float32)[r]
                        c.check(f32bits(pv) == f32bits(_[0]), f"{name}_many row {r} != pair dim {dim}")
                        wv = np.frombuffer(want[1][0], dtype=np.float32)[r]
                        c.check(close(pv, wv, dist_tol(op, t, q, row, dim)), f"{name}_many row {r} vs native")
                    c.check(got_v[0] == 0 and want[0] == 0, f"{name}_many status")
                    del eb
            # argument errors: stride < dim, NULL with count > 0
            for args, st in [([In(rand_vec(t, 8)), In(rand_vec(t, 16)), 8, 2, 7, Out(8)], 2),
                             ([Null(), In(rand_vec(t, 16)), 8, 2, 8, Out(8)], 1),
                             ([In(rand_vec(t, 8)), In(rand_vec(t, 16)), 8, 2, 8, Null()], 1)]:
                want, got_s, got_v = c.run(name + "_many", args, "status")
                c.check(want[0] == st and got_s[0] == st and got_v[0] == st, f"{name}_many status {st}")


def rand_i8(n, extreme=False):
    if extreme:
        return rng.choice(np.array([-128, -127, 127], dtype=np.int8), n)
    return rng.integers(-128, 128, n, dtype=np.int16).astype(np.int8)


def test_int_distances(c):
    for name in ["dot_i8", "l2sq_i8", "cosine_i8"]:
        rule = "exact"
        for n in SIZES + [16384, 16385, 40000]:
            for extreme in [False, True]:
                a, b = rand_i8(n, extreme), rand_i8(n, extreme)
                c.run(name, [In(a, n % 4), In(b), n], rule)
        # constant extremes: every product or squared difference at its bound, the case the
        # simd128 int32 lanes' flush intervals are sized for
        for n in [2048, 2064, 16384, 40000]:
            for x, y in [(-128, -128), (-128, 127), (127, -128), (127, 127)]:
                c.run(name, [In(np.full(n, x, np.int8), 1), In(np.full(n, y, np.int8)), n], rule)
        for dim in [0, 1, 17, 768]:
            for count in [0, 1, 5]:
                stride = dim + 1
                q, base = rand_i8(dim), rand_i8(stride * count)
                c.run(name + "_many", [In(q), In(base), dim, count, stride, Out(4 * count)], rule)
        st = 2
        want, gs, gv = c.run(name + "_many", [In(rand_i8(4)), In(rand_i8(8)), 4, 2, 3, Out(8)], rule)
        c.check(want[0] == st and gs[0] == st and gv[0] == st, f"{name}_many stride < dim")
    # int32 outputs: dim above KESTREL_I8_MANY_MAX_DIM is refused
    for name in ["dot_i8_many", "l2sq_i8_many"]:
        want, gs, gv = c.run(name, [In(rand_i8(32769)), In(rand_i8(32769)), 32769, 1, 32769, Out(4)])
        c.check(want[0] == 2 and gs[0] == 2 and gv[0] == 2, f"{name} dim > 32768")
    for name in ["hamming_b1", "jaccard_b1"]:
        for n in SIZES + [32768, 32769, 70000]:
            a = rng.integers(0, 256, n, dtype=np.uint16).astype(np.uint8)
            b = rng.integers(0, 256, n, dtype=np.uint16).astype(np.uint8)
            c.run(name, [In(a, n % 4), In(b), n])
        c.run(name, [In(np.zeros(40, np.uint8)), In(np.zeros(40, np.uint8)), 40])
        for dim in [0, 1, 17, 96]:
            for count in [0, 1, 5]:
                q = rng.integers(0, 256, dim, dtype=np.uint16).astype(np.uint8)
                base = rng.integers(0, 256, (dim + 2) * count, dtype=np.uint16).astype(np.uint8)
                c.run(name + "_many", [In(q), In(base), dim, count, dim + 2, Out(4 * count)])


def test_convert(c):
    every_half = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    c.run("f16_to_f32", [In(every_half), Out(4 * 65536), 65536])
    c.run("bf16_to_f32", [In(every_half), Out(4 * 65536), 65536])
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504, 65519.99, 65520, 1e-8, 2 ** -24, 2 ** -25,
                        3 * 2 ** -26, 2 ** -14, 2 ** -14 * (1 - 2 ** -11), 1 + 2 ** -11, 1 + 3 * 2 ** -11,
                        3.4e38, 1e-45], dtype=np.float32)
    payload_nans = np.array([0x7f800001, 0xffc00123, 0x7fbfffff, 0x7f802000], dtype=np.uint32).view(np.float32)
    bits = rng.integers(0, 2 ** 32, 200000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    for arr in [special, payload_nans, bits, rng.standard_normal(1001).astype(np.float32) * 1e-5]:
        n = len(arr)
        c.run("f32_to_f16", [In(arr), Out(2 * n), n])
        c.run("f32_to_bf16", [In(arr), Out(2 * n), n])
    for n in SIZES:
        x = rand_vec("f32", n)
        for name, out in [("f32_to_f16", 2), ("f32_to_bf16", 2)]:
            c.run(name, [In(x, 4 * (n % 4)), Out(out * n, shift=2 * (n % 3)), n])
        for name in ["f16_to_f32", "bf16_to_f32"]:
            c.run(name, [In(rand_vec("f16", n), 2 * (n % 4)), Out(4 * n), n])


def f32_ulp(v):
    v = np.abs(np.float64(v))
    e = np.floor(np.log2(v)) if v > 0 else -149
    return 2.0 ** (max(e, -126) - 23)


def test_math(c):
    # exp: both modules identical, within 2 ulp of float64 exp where the result is a normal f32
    xs = np.concatenate([np.linspace(-87.3, 88.7, 20001, dtype=np.float32),
                         np.array([0, -0.0, 1e-30, -1e-30, 88.72, 88.73, 89, 100, -87.4, -95, -103.9, -104, -110,
                                   np.inf, -np.inf, np.nan], dtype=np.float32),
                         (rng.standard_normal(5000) * 30).astype(np.float32)])
    n = len(xs)
    want, got_s, got_v = c.run("exp_f32", [In(xs), Out(4 * n), n], "exact_nan")
    y = np.frombuffer(got_v[1][0], dtype=np.float32)
    ref = np.exp(xs.astype(np.float64))
    worst = 0.0
    for x, g, r in zip(xs, y, ref):
        if np.isnan(x):
            c.check(np.isnan(g), "exp(NaN)")
        elif r > 3.4028234663852886e38:
            c.check(g == np.inf, f"exp({x}) overflow -> {g}")
        elif r < 2.0 ** -126:
            c.check(0 <= g <= 2.0 ** -126 and abs(g - r) <= 2.0 ** -149, f"exp({x}) underflow -> {g}")
        else:
            err = abs(float(g) - r) / f32_ulp(r)
            worst = max(worst, err)
    c.check(worst <= 2.0, f"exp worst {worst:.3f} ulp > 2")
    print(f"exp: worst error {worst:.3f} ulp against float64 over {n} inputs")
    for n in SIZES:
        x = (rng.standard_normal(n) * 10).astype(np.float32)
        c.run("exp_f32", [In(x, 4 * (n % 4)), Out(4 * n), n], "exact_nan")
    # softmax
    cases = [(rng.standard_normal(n) * 8).astype(np.float32) for n in SIZES if n > 0]
    cases += [np.array([1, np.nan, 2], np.float32), np.array([1, np.inf, 2], np.float32),
              np.full(7, -np.inf, np.float32), np.array([-np.inf, 3, -np.inf, 1, -200], np.float32),
              np.array([1e30, -1e30, 0], np.float32)]
    for x in cases:
        n = len(x)
        want, got_s, got_v = c.run("softmax_f32", [In(x), Out(4 * n), n], "none")
        w = np.frombuffer(want[1][0], dtype=np.float32).astype(np.float64)
        g = np.frombuffer(got_v[1][0], dtype=np.float32).astype(np.float64)
        rel = (2.0 * n + 16.0) * 2.0 ** -24
        if np.any(np.isnan(x)) or np.any(x == np.inf):
            c.check(np.all(np.isnan(g)) and np.all(np.isnan(w)), "softmax NaN row")
        elif np.all(x == -np.inf):
            c.check(np.all(g == 0) and np.all(w == 0), "softmax masked row")
        else:
            c.check(np.all(np.abs(g - w) <= rel * w + 2.0 ** -125), f"softmax n={n} beyond {rel:.3g} relative")
            exact = np.exp(x.astype(np.float64) - np.max(x))
            exact /= exact.sum()
            c.check(np.all(np.abs(g - exact) <= rel * exact + 2.0 ** -125), f"softmax n={n} vs float64")
    c.run("softmax_f32", [Null(), Null(), 0])
    # element-wise: one IEEE operation per element at both tiers (no FMA in wasm): exact
    for n in SIZES:
        a, b = rand_vec("f32", n), rand_vec("f32", n)
        c.run("axpy_f32", [0.37, In(a, 4 * (n % 4)), Out(4 * n, b.tobytes()), n])
        c.run("scale_f32", [-1.5, In(a), Out(4 * n), n])
        c.run("add_f32", [In(a), In(b), Out(4 * n), n])
        c.run("mul_f32", [In(a), In(b), Out(4 * n), n])
        c.run("max_f32", [In(a, 4 * (n % 4)), n])
        S = float(np.sum(np.abs(a.astype(np.float64))))
        c.run("sum_f32", [In(a), n], "tol", sum_tol(n, S))
        c.run("sumsq_f32", [In(a), n], "tol", sum_tol(n, float(np.sum(a.astype(np.float64) ** 2))))
    for x in [np.array([1, 2, np.nan, 3, 4, 5, 6, 7, 8], np.float32), np.full(9, -np.inf, np.float32)]:
        c.run("max_f32", [In(x), len(x)])


def f16_scale(nb):
    return (rng.uniform(0.001, 0.05, nb).astype(np.float16)).view(np.uint16)


def q8_0_blocks(nb, extreme=False):
    blk = np.zeros((nb, 34), np.uint8)
    blk[:, 0:2] = f16_scale(nb).view(np.uint8).reshape(nb, 2)
    blk[:, 2:] = (rand_i8(nb * 32, extreme)).view(np.uint8).reshape(nb, 32)
    return blk


def raw_blocks(kind, nb):
    blk = rng.integers(0, 256, (nb, BLOCK[kind]), dtype=np.uint16).astype(np.uint8)
    d = f16_scale(nb).view(np.uint8).reshape(nb, 2)
    if kind in ("q4_0", "q4_K"):
        blk[:, 0:2] = d
    if kind == "q4_K":
        blk[:, 2:4] = f16_scale(nb).view(np.uint8).reshape(nb, 2)
    if kind == "q6_K":
        blk[:, 208:210] = d
    return blk


def test_qdot(c):
    for nb in [0, 1, 2, 3, 8, 33]:
        for extreme in [False, True]:
            w, x = q8_0_blocks(nb, extreme), q8_0_blocks(nb, extreme)
            c.run("vec_dot_q8_0_q8_0", [In(w, nb % 3), In(x), nb])
            c.run("vec_dot_q4_0_q8_0", [In(raw_blocks("q4_0", nb), 1), In(x), nb])
    for nsb in [0, 1, 2, 5]:
        n = 256 * nsb
        xf = (rng.standard_normal(n) * 3).astype(np.float32)
        want, _, _ = c.run("quantize_row_q8_K", [In(xf), Out(292 * nsb), n])
        xk = np.frombuffer(want[1][0], np.uint8)
        c.run("vec_dot_q4_K_q8_K", [In(raw_blocks("q4_K", nsb)), In(xk), nsb])
        c.run("vec_dot_q6_K_q8_K", [In(raw_blocks("q6_K", nsb), 3), In(xk), nsb])
        for rows in [0, 1, 3]:
            c.run("gemv_q4_K", [In(raw_blocks("q4_K", rows * nsb)), rows, nsb, In(xk), Out(4 * rows)])
            c.run("gemv_q6_K", [In(raw_blocks("q6_K", rows * nsb)), rows, nsb, In(xk), Out(4 * rows)])
    for n in [0, 32, 96, 1024]:
        xf = (rng.standard_normal(n) * 2).astype(np.float32)
        c.run("quantize_row_q8_0", [In(xf), Out(34 * (n // 32)), n])
    for rows in [0, 1, 4, 5]:
        for nb in [0, 1, 7]:
            x = q8_0_blocks(nb)
            c.run("gemv_q8_0", [In(q8_0_blocks(rows * nb)), rows, nb, In(x), Out(4 * rows)])
            c.run("gemv_q4_0", [In(raw_blocks("q4_0", rows * nb)), rows, nb, In(x), Out(4 * rows)])
    c.run("gemv_q8_0", [Null(), 2, 1, In(q8_0_blocks(1)), Out(8)])
    for rows, cols in [(0, 5), (1, 0), (3, 17), (5, 64), (4, 1000), (2, 70000)]:
        stride = cols + 3
        w, x = rand_i8(rows * stride, True), rand_i8(cols, True)
        rs = rng.uniform(0.1, 2, rows).astype(np.float32)
        want, gs, gv = c.run("gemv_i8", [In(w, 1), rows, cols, stride, In(rs), In(x), 0.01, Out(4 * rows)])
        if cols > 65536 and rows > 0:
            c.check(want[0] == 2 and gv[0] == 2, "gemv_i8 cols > 65536")
    for m, k, n in [(0, 3, 2), (1, 1, 1), (3, 17, 5), (6, 64, 7), (2, 300, 3)]:
        a, b = rand_i8(m * (k + 1)), rand_i8(n * (k + 2))
        rs, cs = rng.uniform(0.1, 2, m).astype(np.float32), rng.uniform(0.1, 2, n).astype(np.float32)
        c.run("gemm_i8", [In(a), m, k, k + 1, In(b), n, k + 2, In(rs), In(cs), Out(4 * m * (n + 1)), n + 1])
    want, gs, gv = c.run("gemm_i8", [In(rand_i8(8)), 2, 4, 3, In(rand_i8(8)), 2, 4, In(np.ones(2, np.float32)),
                                     In(np.ones(2, np.float32)), Out(16), 2])
    c.check(want[0] == 2 and gv[0] == 2, "gemm_i8 lda < k")


def test_module_api(c, mods):
    for m, tier in mods:
        c.covered.update(["wasm_abi_version", "wasm_tier", "wasm_alloc", "wasm_reset", "wasm_bench"])
        c.check(m.fn("wasm_abi_version")(m.store) == 1, "abi version")
        c.check(m.fn("wasm_tier")(m.store) == tier, "tier")
        m.fn("wasm_reset")(m.store)
        p1, p2 = m.alloc(1), m.alloc(100)
        c.check(p1 % 64 == 0 and p2 % 64 == 0 and p2 >= p1 + 1, "alloc alignment")
        pages = m.mem.size(m.store)
        big = m.alloc(64 << 20)  # grows the memory
        c.check(m.mem.size(m.store) > pages and big % 64 == 0, "alloc grows memory")
        c.check(m.fn("wasm_alloc")(m.store, 0xFFFFFFF0) == 0, "alloc beyond 4 GiB returns 0")
        m.fn("wasm_reset")(m.store)
        c.check(m.alloc(1) == p1, "reset frees everything")
        # an out-of-bounds range traps in the engine; the instance stays usable
        size = m.mem.data_len(m.store)
        try:
            m.fn("dot_f32")(m.store, size - 16, size - 16, 1000)
            c.check(False, "out-of-bounds read must trap")
        except wasmtime.Trap:
            c.check(True, "trap")
        a = rand_vec("f32", 64)
        r, _ = m.call("dot_f32", [In(a), In(a), 64])
        c.check(abs(r - float(np.dot(a.astype(np.float64), a))) < 1e-3, "usable after a trap")
        # the benchmark loop returns iters times the kernel's result
        m.fn("wasm_reset")(m.store)
        pa = m.alloc(4 * 64)
        m.mem.write(m.store, a.tobytes(), pa)
        one = m.fn("dot_f32")(m.store, pa, pa, 64)
        got = m.fn("wasm_bench")(m.store, 0, pa, pa, 0, 64, 5)
        c.check(abs(got - 5 * one) <= 1e-9 * abs(one) * 5, "bench checksum")
        c.check(m.fn("wasm_bench")(m.store, 99, pa, pa, 0, 64, 1) == -1.0, "bench unknown kernel")


def main():
    wasm_dir = sys.argv[1] if len(sys.argv) > 1 else ".build/wasm"
    with tempfile.TemporaryDirectory() as tmp:
        ref = Native(build_reference(tmp))
        scalar = Wasm(os.path.join(wasm_dir, "kestrel-kernels-scalar.wasm"))
        simd = Wasm(os.path.join(wasm_dir, "kestrel-kernels.wasm"))
        c = Checker(ref, scalar, simd)
        c.check(scalar.names == simd.names, "both modules export the same names")
        c.check(not list(simd.module.imports) and not list(scalar.module.imports), "modules import nothing")
        test_float_distances(c)
        test_int_distances(c)
        test_convert(c)
        test_math(c)
        test_qdot(c)
        test_module_api(c, [(scalar, 0), (simd, 1)])
        exported = {n[len("kestrel_"):] for n in simd.names if n != "memory"}
        missing = exported - c.covered
        c.check(not missing, f"exports without a check: {sorted(missing)}")
        c.check(exported == set(SIG), f"signature table out of date: {sorted(exported ^ set(SIG))}")
    print(f"wasm: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
