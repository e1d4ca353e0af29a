"""Dot products in a floating-point accumulator: operand values, exactness checks, the driver."""

from __future__ import annotations

import numpy as np

from precision.base import seed_to_uint64
from precision.qarray import QArray
from precision.stochastic import mix64
from simulator._float_acc_kernels import float_acc_matmul
from simulator._operands import format_family


def float_operand(q, name: str) -> tuple[np.ndarray, int]:
    """The exact float64 values of ``q`` and how many significant bits they can have."""
    if not isinstance(q, QArray):
        raise TypeError(f"{name} must be a precision.QArray, got {type(q).__name__}")
    fam = format_family(q)
    if fam == "float":
        return q.to_float(), int(q.format.man_bits) + 1
    if fam in ("fixed", "dynamic_fixed"):
        if q.format.wl > 53:
            raise ValueError(f"{name} has wl={q.format.wl}: not exact in float64 (expected <= 53)")
        return q.to_float(), int(q.format.wl)
    if fam in ("binary", "ternary"):
        scale = np.asarray(q.scale, dtype=np.float64)
        values = q.codes.astype(np.float64) * scale
        return values, 1 if np.all(scale == 1.0) else 53
    raise TypeError(f"{name} has format {q.format!r}, which has no floating-point dot product")


def check_exact_products(bits_x: int, bits_w: int) -> None:
    """Products are exact in float64 when the significands together fit 53 bits."""
    if bits_x + bits_w > 53:
        raise ValueError(
            f"products of {bits_x}-bit and {bits_w}-bit significands need {bits_x + bits_w} bits "
            "and would round in float64 (expected <= 53): use narrower operands")


def float_acc_gemm(xv, wv, pre, acc, seed) -> np.ndarray:
    """Values of ``pre[j] + sum_k xv[i, k] * wv[j, k]`` summed in ``acc.floating``, ascending k.

    ``xv`` (M, K), ``wv`` (N, K) float64 values, ``pre`` (N,) float64 or None.
    """
    fmt = acc.floating
    m, n = xv.shape[0], wv.shape[0]
    preload = np.zeros((m, n), dtype=np.float64)
    if pre is not None:
        preload[...] = pre
    stochastic = fmt.rounding == "stochastic"
    start = np.uint64(0)
    if stochastic:
        start = np.uint64(mix64(np.uint64(seed_to_uint64(seed, fmt=fmt))))
    out = np.empty((m, n), dtype=np.float64)
    float_acc_matmul(np.ascontiguousarray(xv, dtype=np.float64),
                     np.ascontiguousarray(wv.T, dtype=np.float64), preload, *fmt.kernel_args(),
                     stochastic, start, out)
    return out
