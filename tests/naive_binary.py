"""Exact references for binary/ternary quantizers and bit packing (Python ints / Fraction).
Re-exported by tests/naive.py."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["naive_binarize", "naive_ternarize", "naive_fsum_mean", "naive_pack", "naive_unpack"]


def _exact(x):
    """x as a Fraction; ±inf stay floats (they compare correctly with Fractions)."""
    return x if math.isinf(x) else Fraction(x)


def naive_binarize(xs, *, stochastic=False, rands=None) -> list[int]:
    """Sign with +1 for x >= 0 (also -0.0); stochastic: +1 iff (r >> 11) / 2**52 - 1 < x."""
    out = []
    for i, x in enumerate(xs):
        if stochastic:
            t = Fraction(int(rands[i]) >> 11, 2**52) - 1
            out.append(1 if t < _exact(x) else -1)
        else:
            out.append(1 if x >= 0 else -1)
    return out


def naive_ternarize(xs, delta) -> list[int]:
    """+1 where x > delta, -1 where x < -delta, 0 otherwise (exact comparisons)."""
    d = Fraction(delta)
    return [1 if _exact(x) > d else -1 if _exact(x) < -d else 0 for x in xs]


def naive_fsum_mean(values) -> float:
    """The correctly rounded sum of |values| (exact Fraction sum, rounded once), divided once."""
    values = list(values)
    if not values:
        return 0.0
    total = sum((abs(Fraction(v)) for v in values), Fraction(0))
    if total > Fraction(2) ** 1024 - Fraction(2) ** 970:   # rounds to inf: fsum overflows
        return math.inf
    return float(total) / len(values)


def naive_pack(codes: np.ndarray, axis: int, n_planes: int) -> np.ndarray:
    """Planes (n_planes, *other dims, n_words) with Python ints: bit j % 64 of word j // 64."""
    moved = np.moveaxis(np.asarray(codes), axis, -1)
    length = moved.shape[-1]
    n_words = (length + 63) // 64
    planes = np.zeros((n_planes,) + moved.shape[:-1] + (n_words,), dtype=np.uint64)
    for idx in np.ndindex(moved.shape[:-1]):
        row = [int(c) for c in moved[idx]]
        for w in range(n_words):
            neg = sum(1 << (j - 64 * w) for j in range(64 * w, min(64 * w + 64, length))
                      if row[j] == -1)
            planes[(0,) + idx + (w,)] = neg
            if n_planes == 2:
                nz = sum(1 << (j - 64 * w) for j in range(64 * w, min(64 * w + 64, length))
                         if row[j] != 0)
                planes[(1,) + idx + (w,)] = nz
    return planes


def naive_unpack(planes: np.ndarray, length: int, axis: int, shape) -> np.ndarray:
    """Inverse of naive_pack."""
    n_planes = planes.shape[0]
    moved_shape = tuple(s for k, s in enumerate(shape) if k != axis) + (length,)
    out = np.zeros(moved_shape, dtype=np.int8)
    for idx in np.ndindex(moved_shape[:-1]):
        for j in range(length):
            neg = (int(planes[(0,) + idx + (j // 64,)]) >> (j % 64)) & 1
            nz = (int(planes[(1,) + idx + (j // 64,)]) >> (j % 64)) & 1 if n_planes == 2 else 1
            out[idx + (j,)] = nz * (1 - 2 * neg)
    return np.moveaxis(out, -1, axis)
