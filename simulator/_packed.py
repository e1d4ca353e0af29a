"""Bit planes of binary/ternary operands for the popcount kernels, packed once per QArray.

``row_planes(q, axis)`` returns the ``neg`` and ``nz`` uint64 planes, each of shape
``(rows, ceil(K/64))``: one row per index of the other axis of a 2-d ``q``, the reduction
``axis`` packed LSB first.  They come from ``q.packed(axis)`` (``precision.packing``: planes shaped ``(n_planes, *other, words)``,
cached in the QArray; the last axis is packed at quantization time), so a weight matrix is packed
once, never inside every product.  A binary array has no "nonzero" plane; its all-ones plane
(padding bits 0) is built once per length and cached too.

The planes come wrapped in a :class:`RowPlanes`, which also keeps the 4-bit positions the AVX2
kernels read (:mod:`simulator._table_kernels`), built on first use, so that a cached weight is
rearranged once as well.
"""

from __future__ import annotations

import numpy as np

from simulator._table_kernels import left_positions, right_positions
from simulator._xnor_kernels import pack_rows

_KEY = "simulator.row_planes"


class RowPlanes:
    """The packed ``neg`` and ``nz`` planes of an operand and its positions for the table
    kernels."""

    __slots__ = ("_positions", "neg", "nz")

    def __init__(self, neg: np.ndarray, nz: np.ndarray):
        self.neg, self.nz = neg, nz
        self._positions = {}

    def positions(self, side: str, ternary: bool) -> np.ndarray:
        """The table kernels' layout of this operand as the ``"left"`` (index bytes per row) or
        ``"right"`` (rows transposed in chunks of 32) operand, binary or ternary positions."""
        key = (side, ternary)
        if key not in self._positions:
            build = left_positions if side == "left" else right_positions
            self._positions[key] = build(self.neg, self.nz, ternary)
        return self._positions[key]


def pack_planes(codes2d: np.ndarray) -> RowPlanes:
    """The ``neg`` and ``nz`` uint64 bit planes of a (R, K) array of codes in {-1, 0, 1}."""
    r, k = codes2d.shape
    words = (k + 63) // 64
    neg = np.empty((r, words), dtype=np.uint64)
    nz = np.empty((r, words), dtype=np.uint64)
    pack_rows(np.ascontiguousarray(codes2d, dtype=np.int8), neg, nz)
    return RowPlanes(neg, nz)


def _ones_plane(rows: int, length: int) -> np.ndarray:
    words = (length + 63) // 64
    plane = np.full((rows, words), np.uint64(0xFFFF_FFFF_FFFF_FFFF), dtype=np.uint64)
    if length % 64:
        plane[:, -1] = np.uint64((1 << (length % 64)) - 1)
    return plane


def row_planes(q, axis: int) -> RowPlanes:
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
        cache[key] = RowPlanes(neg, nz)
    return cache[key]


def cached_planes(q, key, codes2d: np.ndarray) -> RowPlanes:
    """``pack_planes(codes2d)`` cached in ``q`` under ``key`` (``codes2d`` derived from ``q``,
    e.g. conv weights reshaped to (O, C*KH*KW), which ``q.packed`` does not cover)."""
    full = (_KEY,) + tuple(key)
    if full not in q._cache:
        q._cache[full] = pack_planes(codes2d)
    return q._cache[full]
