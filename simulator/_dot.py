"""The exact integer matrix product engine behind ``ops.matmul``, ``dense`` and ``conv2d``.

``integer_matmul`` sums ``preload[j] + sum_k a[i, k] * b[k, j]`` into an :class:`Accumulator`
and picks the fastest path that is still exact:

* ``"float"``: float64 BLAS on the codes, exact when ``K * max|a*b| < 2**53`` (then every product
  and every partial sum, in whatever order BLAS adds them, is an integer below ``2**53``); one
  serial pass then adds the preload and applies wrap / saturate-at-end.  When
  ``K * max|a*b| <= 2**51`` that pass converts with the vectorized magic-number trick, in place
  over the float result that BLAS wrote into the returned array, and when the bound also proves
  that no sum leaves the register it only converts (``simulator/_float_gemm_kernels.py``).
* ``"int"``: int64 Numba kernels, parallel over row blocks, ascending ``k``.

A step-saturating accumulator whose partial sums provably never leave its range behaves exactly
like one that saturates at the end, so it may take the fast paths too.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from simulator import _float_gemm_kernels as F
from simulator import _matmul_kernels as K
from simulator._operands import FLOAT_EXACT, INT64_LIMIT

METHODS = ("auto", "float", "int", "popcount")

_workspace = threading.local()


def float_buffer(slot: str, shape: tuple[int, ...]) -> np.ndarray:
    """A reusable per-thread float64 scratch array (fresh large arrays cost page faults)."""
    size = math.prod(shape)
    buffers = getattr(_workspace, "buffers", None)
    if buffers is None:
        buffers = _workspace.buffers = {}
    buf = buffers.get(slot)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype=np.float64)
        if size <= (1 << 23):  # keep at most 64 MiB per slot alive
            buffers[slot] = buf
    return buf[:size].reshape(shape)


def float_codes(x: np.ndarray, slot: str) -> np.ndarray:
    """``x`` converted to float64 in the per-thread buffer ``slot``, in ``x``'s memory order.

    A transposed operand (Fortran order, e.g. ``dense``'s weights seen as ``w.T``) goes into a
    Fortran-ordered buffer: one contiguous pass instead of a strided one (512 x 512 int16:
    0.06 ms against 0.40 ms, measured), and BLAS reads either order at the same speed.
    """
    if not x.dtype.isnative:  # Numba refuses non-native byte orders; numpy casts them
        buf = float_buffer(slot, x.shape)
        np.copyto(buf, x, casting="unsafe")
        return buf
    if x.flags.c_contiguous:
        buf = float_buffer(slot, x.shape)
        F.codes_to_float(x.reshape(-1), buf.reshape(-1))
        return buf
    if x.flags.f_contiguous:
        buf = float_buffer(slot, x.shape[::-1])
        F.codes_to_float(x.T.reshape(-1), buf.reshape(-1))
        return buf.T
    buf = float_buffer(slot, x.shape)
    np.copyto(buf, x, casting="unsafe")
    return buf


def kernel_codes(x: np.ndarray) -> np.ndarray:
    """``x`` as C-contiguous int32 (codes that fit) or int64, the two dtypes the int kernels are
    compiled for: fewer specializations of uncached parallel kernels, so less compile time.
    int32 codes keep the 32x32->64-bit multiply cheap (vpmuldq)."""
    if x.dtype == np.int32 or x.dtype == np.int64:
        return np.ascontiguousarray(x)
    if x.dtype.itemsize <= 2 or x.dtype == np.bool_:
        return np.ascontiguousarray(x, dtype=np.int32)
    return np.ascontiguousarray(x, dtype=np.int64)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not known; expected one of {METHODS}")
    return method


def plan(k: int, maxprod: int, pre_max: int, acc) -> dict:
    """Bounds that decide which paths are exact for a length-``k`` dot product."""
    sum_bound = k * maxprod + pre_max
    no_overflow = sum_bound <= acc.max_value
    return {
        "sum_bound": sum_bound,
        "no_overflow": no_overflow,
        "step": bool(acc.saturate_each_step and not no_overflow),
        "float_magic": k * maxprod <= F.MAGIC_LIMIT,
        "float_ok": k * maxprod < FLOAT_EXACT and pre_max < (1 << 62),
        "int64_exact": sum_bound < INT64_LIMIT,
        "step_int64": acc.max_value + 1 + maxprod < INT64_LIMIT,
    }


def integer_matmul(a, b, acc, maxprod: int, preload=None, method: str = "auto",
                   out_dtype=np.int64, count: bool = True):
    """Accumulator contents of ``preload + a @ b`` and the number of accumulator overflow events.

    ``a`` (M, K) and ``b`` (K, N) are integer code arrays (any int dtype, any strides);
    ``preload`` an int64 array of shape (N,) (the aligned bias) or None.  Events: outputs whose
    exact value left the register (wrap, saturate at the end), or clamping additions plus
    clamped preloads (saturate each step).  ``count=False`` allows skipping the one costly
    count (a wrapping sum beyond int64, which needs exact 128-bit sums); events is then -1.
    Returns ``(contents, events, path)``.
    """
    m, kk = a.shape
    n = b.shape[1]
    pre = np.zeros(0, dtype=np.int64) if preload is None else np.asarray(preload, np.int64)
    pre_max = int(np.abs(pre).max()) if pre.size else 0
    p = plan(kk, maxprod, pre_max, acc)
    lo, hi, width = acc.min_value, acc.max_value, acc.width
    saturate = acc.overflow == "saturate"
    if method == "float" and not (p["float_ok"] and not p["step"]):
        why = ("a step-saturating accumulator needs the ordered int path" if p["step"] else
               f"K * max|a*b| = {kk * maxprod} is not below 2**53")
        raise ValueError(f"method='float' is not exact here: {why}; use method='int' or 'auto'")
    if method == "popcount":
        raise ValueError("method='popcount' needs binary or ternary operands on both sides")
    use_float = method == "float" or (method == "auto" and p["float_ok"] and not p["step"])
    if m == 0 or n == 0:
        return np.zeros((m, n), dtype=out_dtype), 0, "float" if use_float else "int"
    if use_float:
        af = float_codes(a, "a")
        bf = float_codes(b, "b")
        if p["float_magic"]:
            return _float_in_place(af, bf, pre, p, acc, out_dtype)
        counts = np.zeros(m, dtype=np.int64)
        out = np.empty((m, n), dtype=out_dtype)
        cf = float_buffer("c", (m, n))
        np.matmul(af, bf, out=cf)
        K.finish_float_serial(cf, pre, lo, hi, width, saturate, out, counts)
        return out, int(counts.sum()), "float"
    counts = np.zeros(m, dtype=np.int64)
    a = kernel_codes(a)
    b = kernel_codes(b)
    if p["step"]:
        start = np.broadcast_to(pre if pre.size else np.zeros(1, np.int64), (n,))
        clamped = np.clip(start, lo, hi)
        pre_events = int(np.count_nonzero(clamped != start)) * m
        c = np.empty((m, n), dtype=np.int64)
        c[...] = clamped
        if p["step_int64"]:
            K.matmul_saturate_steps(a, b, c, lo, hi, counts)
            out = c
        else:
            out = np.empty((m, n), dtype=np.int64)
            K.matmul_wide(a, b, c, lo, hi, width, 2, out, counts)
        return out.astype(out_dtype, copy=False), int(counts.sum()) + pre_events, "int"
    c = np.empty((m, n), dtype=np.int64)
    c[...] = pre if pre.size else 0
    out = np.empty((m, n), dtype=np.int64)
    if p["int64_exact"] or not saturate:
        # Modular int64 sums are exact when the bound holds, and wrap needs only the residue.
        K.matmul_modular(a, b, c)
        K.finish_int(c, lo, hi, width, saturate, out, counts)
        out = out.astype(out_dtype, copy=False)
        if p["int64_exact"]:
            events = int(counts.sum())
        else:
            events = _wide_events(a, b, pre, acc) if count else -1
        return out, events, "int"
    K.matmul_wide(a, b, c, lo, hi, width, 1, out, counts)
    return out.astype(out_dtype, copy=False), int(counts.sum()), "int"


def _float_in_place(af, bf, pre, p, acc, out_dtype):
    """The float path when every sum is at most ``2**51`` in magnitude: BLAS writes into the
    array that is returned (int64 results) and one vectorized pass converts it in place.

    Everything but that pass is prepared before the BLAS call: code run after it finds cold
    caches (a numpy reduction takes 50-70 us instead of 4 us right after a 512^3 dgemm,
    measured), so only the one kernel call follows it."""
    m, n = af.shape[0], bf.shape[1]
    wide = np.dtype(out_dtype) == np.int64
    contents = np.empty((m, n), np.int64) if wide else float_buffer("c", (m, n)).view(np.int64)
    cf = contents.view(np.float64)
    if p["no_overflow"]:  # the bound keeps every sum in the register: convert, count nothing
        rule = F.RULE_NONE
    else:
        rule = F.RULE_SATURATE if acc.overflow == "saturate" else F.RULE_WRAP
    bias = pre if pre.size else np.zeros(n, np.int64)
    lo, hi, width = acc.min_value, acc.max_value, acc.width
    np.matmul(af, bf, out=cf)
    events = F.finish_float_exact(cf, bias, lo, hi, width, rule)
    return (contents if wide else contents.astype(out_dtype)), events, "float"


def _wide_events(a, b, pre, acc) -> int:
    """Overflow events of a wrapping sum too large for int64 (a slower exact recount)."""
    m, n = a.shape[0], b.shape[1]
    start = np.empty((m, n), dtype=np.int64)
    start[...] = pre if pre.size else 0
    junk = np.empty((m, n), dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    K.matmul_wide(a, b, start, acc.min_value, acc.max_value, acc.width, 0, junk, counts)
    return int(counts.sum())
