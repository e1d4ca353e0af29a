"""The quantized GEMM shared by ``ops.matmul``, ``ops.dense`` and ``ops.conv2d``.

Everything is phrased in the "dense" orientation ``y[i, j] = bias[j] + sum_k x[i, k] * w[j, k]``
(both operands with the reduction axis last), which is what bit-packed popcounts want.  The
operands arrive as :class:`~simulator._operands.Operand` plus 2-d code views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator import _xnor_kernels as X
from simulator._avx2_table import AVAILABLE as TABLE_KERNELS
from simulator._dot import check_method, integer_matmul, kernel_codes, plan
from simulator._matmul_kernels import finish_int
from simulator._operands import check_product_fits
from simulator._packed import pack_planes
from simulator._table_kernels import table_gemm

_BINARY_KINDS = ("binary", "ternary")


@dataclass
class GemmResult:
    contents: np.ndarray  # (M, N) accumulator contents (ints) or values (floating accumulator)
    fl: int               # the accumulator's fractional length (integer accumulators)
    events: int           # accumulator overflow events (-1: not counted)
    path: str             # "float" | "int" | "popcount" | "sign_select" | "float_acc"


def aligned_bias(bias_op, n: int, fl: int, name: str = "qb") -> np.ndarray | None:
    """The bias codes shifted exactly onto the accumulator grid ``2**-fl`` (int64, shape (N,)).

    This is the value the accumulator is preloaded with before ``k = 0``.
    """
    if bias_op is None:
        return None
    codes = np.asarray(bias_op.codes)
    if codes.shape != (n,):
        raise ValueError(f"{name} has shape {codes.shape}; expected ({n},), one per output")
    if np.ndim(bias_op.alpha) or bias_op.alpha != 1.0:
        raise ValueError(f"{name} must be fixed point (unscaled), got a scaled {bias_op.kind}")
    shift = fl - bias_op.fl
    if shift < 0:
        raise ValueError(
            f"{name} has fl={bias_op.fl}, finer than the accumulator's fl={fl}: it cannot be "
            f"aligned exactly; cast it first, e.g. ops.cast(qb, FixedPoint(il, {fl}))"
        )
    # Bound by the codes actually present, not the format's range: a bias rounded onto the
    # accumulator grid has a 64-bit format although its values are small.
    largest = max(abs(int(codes.min())), abs(int(codes.max()))) if codes.size else 0
    if largest == 0:
        return np.zeros(n, dtype=np.int64)
    if (largest << shift) >= (1 << 62):
        raise ValueError(f"{name} aligned to fl={fl} needs more than 62 bits "
                         f"(largest |code| {largest} shifted left by {shift})")
    return np.left_shift(codes.astype(np.int64), shift)


def gemm(x_op, x2d, w_op, w2d, acc, bias_op=None, method: str = "auto", count: bool = True,
         x_planes=None, w_planes=None, out_dtype=np.int64) -> GemmResult:
    """Accumulator contents of ``bias + x2d @ w2d.T`` (x2d (M, K), w2d (N, K) code views).

    ``x_planes`` / ``w_planes``: callables returning the operands' packed (neg, nz) planes, used
    by the popcount path (so that cached packings are reused).
    """
    check_method(method)
    m, kk = x2d.shape
    n = w2d.shape[0]
    maxprod = check_product_fits(x_op, w_op, acc)
    fl = x_op.fl + w_op.fl
    pre = aligned_bias(bias_op, n, fl)
    pre_max = int(np.abs(pre).max()) if pre is not None and pre.size else 0
    p = plan(kk, maxprod, pre_max, acc)
    kinds = (x_op.kind, w_op.kind)
    both_bits = kinds[0] in _BINARY_KINDS and kinds[1] in _BINARY_KINDS
    if method == "popcount" and not both_bits:
        raise ValueError(
            f"method='popcount' needs binary or ternary operands on both sides, got {kinds}")
    if method == "popcount" and p["step"]:
        raise ValueError("method='popcount' cannot saturate after every step; use method='int'")
    if both_bits and method in ("auto", "popcount") and not p["step"] and m and n:
        return _popcount(x_op, x2d, w_op, w2d, acc, pre, fl, x_planes, w_planes, out_dtype)
    one_bits = (kinds[1] in _BINARY_KINDS) != (kinds[0] in _BINARY_KINDS)
    if one_bits and method == "auto" and not p["step"] and p["int64_exact"] and m and n:
        return _sign_select(x_op, x2d, w_op, w2d, acc, pre, fl, out_dtype)
    contents, events, path = integer_matmul(x2d, w2d.T, acc, maxprod, pre, method, out_dtype,
                                            count)
    return GemmResult(contents, fl, events, path)


def _finish(c, acc, out_dtype):
    out = np.empty(c.shape, dtype=np.int64)
    counts = np.zeros(c.shape[0], dtype=np.int64)
    finish_int(c, acc.min_value, acc.max_value, acc.width, acc.overflow == "saturate", out,
               counts)
    return out.astype(out_dtype, copy=False), int(counts.sum())


def _popcount(x_op, x2d, w_op, w2d, acc, pre, fl, x_planes, w_planes, out_dtype):
    m, kk = x2d.shape
    n = w2d.shape[0]
    xp = x_planes() if x_planes is not None else pack_planes(x2d)
    wp = w_planes() if w_planes is not None else pack_planes(w2d)
    # The kernels write int32 (|dot| <= K < 2**31; one compiled form per kernel: they are
    # parallel, so compiled in every process).
    c = np.empty((m, n), dtype=np.int32 if kk < 2**31 else np.int64)
    binary = x_op.kind == "binary" and w_op.kind == "binary"
    if TABLE_KERNELS:
        table_gemm(xp.positions("left", not binary), wp.positions("right", not binary), kk,
                   not binary, c)
    elif binary:
        X.xnor_gemm(xp.neg, wp.neg, kk, c)
    else:
        X.ternary_gemm(xp.neg, xp.nz, wp.neg, wp.nz, c)
    # |dot| <= K: when K plus the largest preloaded bias fits the register, no sum can
    # overflow and the wrap/saturate pass is the identity, so skip it.
    bound = kk + (int(np.abs(pre).max()) if pre is not None and np.size(pre) else 0)
    if pre is not None:
        c = c + pre  # int32 + int64: an int64 array
    if acc.min_value <= -bound and bound <= acc.max_value:
        return GemmResult(c.astype(out_dtype, copy=False), fl, 0, "popcount")
    c = c.astype(np.int64, copy=False)
    out, events = _finish(c, acc, out_dtype)
    return GemmResult(out, fl, events, "popcount")


def _sign_select(x_op, x2d, w_op, w2d, acc, pre, fl, out_dtype):
    m = x2d.shape[0]
    n = w2d.shape[0]
    c = np.empty((m, n), dtype=np.int64)
    c[...] = pre if pre is not None else 0
    if w_op.kind in _BINARY_KINDS:
        X.sign_select_matmul(kernel_codes(x2d), np.ascontiguousarray(w2d.T, np.int8), c)
    else:  # binary activations, fixed-point weights: the same sum with the roles swapped
        ct = np.ascontiguousarray(c.T)
        X.sign_select_matmul(kernel_codes(w2d), np.ascontiguousarray(x2d.T, np.int8), ct)
        c = np.ascontiguousarray(ct.T)
    # The caller checked |sum| < 2**63 (int64_exact): the modular int64 sums are exact.
    out, events = _finish(c, acc, out_dtype)
    return GemmResult(out, fl, events, "sign_select")
