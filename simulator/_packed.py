"""Bit planes of binary/ternary operands for the popcount kernels, packed once per QArray.

``row_planes(q, axis)`` returns ``(neg, nz)`` uint64 arrays of shape ``(rows, ceil(K/64))``: one
row per index of the other axis of a 2-d ``q``, the reduction ``axis`` packed LSB first (the
layout of ``precision.packing``).  The result is cached in the QArray, like ``q.packed(axis)``,
so a weight matrix is packed on its first product only.
"""

from __future__ import annotations

import numpy as np

from simulator._gemm import pack_planes

_KEY = "simulator.row_planes"


def row_planes(q, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed (neg, nz) planes of the 2-d ``q`` with ``axis`` (the reduction) packed."""
    codes = q.codes if axis == q.ndim - 1 else np.moveaxis(q.codes, axis, -1)
    return cached_planes(q, ("rows", axis), codes.reshape(-1, codes.shape[-1]))


def cached_planes(q, key, codes2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pack_planes(codes2d)`` cached in ``q`` under ``key`` (codes2d must derive from q)."""
    cache = q._cache
    full = (_KEY,) + tuple(key)
    if full not in cache:
        cache[full] = pack_planes(codes2d)
    return cache[full]
