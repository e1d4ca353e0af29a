"""Bit planes of binary/ternary operands for the popcount kernels, packed once per QArray.

``row_planes(q, axis)`` returns ``(neg, nz)`` uint64 arrays of shape ``(rows, ceil(K/64))``: one
row per index of the other axis of a 2-d ``q``, the reduction ``axis`` packed LSB first.  They
come from ``q.packed(axis)`` (``precision.packing``: planes shaped ``(n_planes, *other, words)``,
cached in the QArray; the last axis is packed at quantization time), so a weight matrix is packed
once, never inside every product.  A binary array has no "nonzero" plane; its all-ones plane
(padding bits 0) is built once per length and cached too.
"""

from __future__ import annotations

import numpy as np

from simulator._gemm import pack_planes

_KEY = "simulator.row_planes"


def _ones_plane(rows: int, length: int) -> np.ndarray:
    words = (length + 63) // 64
    plane = np.full((rows, words), np.uint64(0xFFFF_FFFF_FFFF_FFFF), dtype=np.uint64)
    if length % 64:
        plane[:, -1] = np.uint64((1 << (length % 64)) - 1)
    return plane


def row_planes(q, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed (neg, nz) planes of the 2-d ``q`` with ``axis`` (the reduction) packed."""
    key = (_KEY, "rows", axis)
    cache = q._cache
    if key not in cache:
        packed = q.packed(axis)
        planes = packed.planes
        rows = q.shape[1 - axis]
        neg = np.ascontiguousarray(planes[0].reshape(rows, -1))
        if planes.shape[0] == 2:
            nz = np.ascontiguousarray(planes[1].reshape(rows, -1))
        else:
            nz = _ones_plane(rows, q.shape[axis])
        cache[key] = (neg, nz)
    return cache[key]


def cached_planes(q, key, codes2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pack_planes(codes2d)`` cached in ``q`` under ``key`` (``codes2d`` derived from ``q``,
    e.g. conv weights reshaped to (O, C*KH*KW), which ``q.packed`` does not cover)."""
    full = (_KEY,) + tuple(key)
    if full not in q._cache:
        q._cache[full] = pack_planes(codes2d)
    return q._cache[full]
