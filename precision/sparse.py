"""Sparse storage as Deep Compression stores it: relative indices of a few bits, filler zeros.

Han et al. (2016, sec. 2) store a pruned layer as (value, index difference) pairs.  The index
difference of each kept weight from the previous stored entry is written in ``index_bits`` bits;
when a gap is too long for that, a *filler zero* entry is stored in between (a zero value at the
farthest position the bits can reach).

Our encoding, exactly: walk the flattened array; with ``prev`` the position of the previous
stored entry (initially -1), each non-zero at position ``p`` has ``gap = p - prev`` in
``[1, 2**index_bits]``, stored as ``gap - 1``.  While ``gap > 2**index_bits`` a filler (value 0)
is stored at ``prev + 2**index_bits``.  Storage: ``n_entries * (index_bits + value_bits)`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precision._numba_config import njit_serial


@dataclass(frozen=True, eq=False)
class SparseEncoding:
    """A flattened array as relative-index entries (fillers included)."""

    gaps: np.ndarray       # int64, each in [1, 2**index_bits]
    values: np.ndarray     # the stored values (zeros at fillers), dtype of the input
    length: int            # number of elements of the dense array
    index_bits: int

    @property
    def n_entries(self) -> int:
        return int(self.gaps.size)

    @property
    def n_fillers(self) -> int:
        return int(np.count_nonzero(self.values == 0))

    def storage_bits(self, value_bits: int) -> int:
        """Exact bits of the stored stream: every entry holds a value and a relative index."""
        return self.n_entries * (self.index_bits + int(value_bits))

    def decode(self) -> np.ndarray:
        """The dense flattened array (lossless inverse of :func:`encode_sparse`)."""
        out = np.zeros(self.length, dtype=self.values.dtype)
        if self.n_entries:
            positions = np.cumsum(self.gaps) - 1
            out[positions] = self.values
        return out


@njit_serial
def _count_entries(positions, span):
    count = 0
    prev = -1
    for p in positions:
        gap = p - prev
        count += (gap - 1) // span + 1
        prev = p
    return count


@njit_serial
def _fill_entries(positions, span, gaps, src_index):
    k = 0
    prev = -1
    for i in range(positions.size):
        gap = positions[i] - prev
        while gap > span:
            gaps[k] = span
            src_index[k] = -1
            k += 1
            gap -= span
        gaps[k] = gap
        src_index[k] = i
        k += 1
        prev = positions[i]


def encode_sparse(values, index_bits: int) -> SparseEncoding:
    """Encode the non-zeros of ``values`` (flattened, C order) with ``index_bits``-bit gaps."""
    arr = np.asarray(values).ravel()
    if isinstance(index_bits, bool) or not isinstance(index_bits, (int, np.integer)):
        raise TypeError(f"index_bits must be an int, got {type(index_bits).__name__}")
    if not 1 <= index_bits <= 32:
        raise ValueError(f"index_bits={index_bits} is out of range; expected 1 <= index_bits <= 32")
    positions = np.flatnonzero(arr).astype(np.int64)
    span = 1 << int(index_bits)
    n = _count_entries(positions, span)
    gaps = np.empty(n, dtype=np.int64)
    src = np.empty(n, dtype=np.int64)
    _fill_entries(positions, span, gaps, src)
    stored = np.zeros(n, dtype=arr.dtype)
    real = src >= 0
    stored[real] = arr[positions[src[real]]]
    return SparseEncoding(gaps=gaps, values=stored, length=int(arr.size), index_bits=int(index_bits))


def sparse_storage_bits(mask, index_bits: int, value_bits: int) -> int:
    """Exact bits to store the kept weights of a boolean ``mask`` in the relative-index format."""
    positions = np.flatnonzero(np.asarray(mask).ravel()).astype(np.int64)
    if not 1 <= index_bits <= 32:
        raise ValueError(f"index_bits={index_bits} is out of range; expected 1 <= index_bits <= 32")
    return int(_count_entries(positions, 1 << int(index_bits))) * (int(index_bits) + int(value_bits))
