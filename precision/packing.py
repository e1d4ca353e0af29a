"""Bit-packing of binary and ternary codes into ``uint64`` words, the layout popcount kernels use.

Layout (a contract with ``simulator``): along the packed axis, element ``j`` goes to word
``j // 64``, bit ``j % 64`` (least significant bit first).  Plane 0 is the "negative" bit (1 where
the code is -1); plane 1, for ternary codes only, the "nonzero" bit (1 where the code is not 0).
Padding bits past ``length`` are 0 in every plane.  A binary code is ``1 - 2 neg``, a ternary one
``nz (1 - 2 neg)``; so a binary dot product of length ``n`` is ``n - 2 popcount(neg_a ^ neg_b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precision import _binary_kernels as _k
from precision._numba_config import PARALLEL_THRESHOLD
from precision.qarray import QArray

_CHUNK_TASKS = 256


@dataclass(frozen=True, eq=False)
class PackedBits:
    """Codes packed along one axis.

    Attributes
    ----------
    planes
        ``uint64`` array shaped ``(n_planes, *other_dims_in_order, n_words)``: the original
        shape without ``axis``, then ``n_words = ceil(length / 64)``.
    length
        Number of codes along the packed axis (bits used per row).
    axis
        The packed axis of the original array (non-negative).
    shape
        Shape of the original codes.
    """

    planes: np.ndarray
    length: int
    axis: int
    shape: tuple[int, ...]

    @property
    def n_planes(self) -> int:
        """1 for binary codes, 2 for ternary."""
        return self.planes.shape[0]

    @property
    def n_words(self) -> int:
        return self.planes.shape[-1]

    @property
    def negative(self) -> np.ndarray:
        """Plane 0: bit set where the code is -1."""
        return self.planes[0]

    @property
    def nonzero(self) -> np.ndarray | None:
        """Plane 1 (ternary only): bit set where the code is not 0; None for binary."""
        return self.planes[1] if self.n_planes == 2 else None

    def unpack(self) -> np.ndarray:
        """The int8 codes (see :func:`unpack`)."""
        return unpack(self)


def _normalize_axis(axis, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {type(axis).__name__} {axis!r}")
    if ndim == 0:
        raise ValueError("cannot pack a 0-d array: there is no axis to pack along")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis={axis} is out of range for a {ndim}-d array; expected "
                         f"{-ndim} <= axis < {ndim}")
    return int(axis) % ndim


def _three_d(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


def pack(q, axis: int = -1, *, ternary: bool | None = None) -> PackedBits:
    """Pack binary (±1) or ternary ({-1, 0, +1}) codes along ``axis`` into ``uint64`` words.

    ``q`` is a ``QArray`` of a ``Binary`` or ``Ternary`` format (``ternary`` then follows the
    format), or an integer array of codes with ``ternary=`` given.  Codes outside the alphabet
    raise ``ValueError``.  Lossless: ``unpack(pack(q, axis))`` equals the codes.
    """
    if isinstance(q, QArray):
        family = getattr(q.format, "family", "")
        if family not in ("binary", "ternary"):
            raise ValueError(f"only binary and ternary codes can be bit-packed; got a QArray of "
                             f"{q.format!r} (family {family!r})")
        ternary = family == "ternary"
        codes = q.codes
    else:
        if ternary is None or not isinstance(ternary, (bool, np.bool_)):
            raise TypeError("pack(codes) of a plain array needs ternary=True or ternary=False "
                            f"(got ternary={ternary!r}); a QArray carries its format")
        codes = np.asarray(q)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
    if codes.dtype != np.int8:
        if codes.size and (codes.min() < -1 or codes.max() > 1):
            raise ValueError(f"codes hold values outside {{-1, 0, +1}} (min {codes.min()}, "
                             f"max {codes.max()})")
        codes = codes.astype(np.int8)
    ax = _normalize_axis(axis, codes.ndim)
    outer, length, inner = _three_d(codes.shape, ax)
    c3 = np.ascontiguousarray(codes).reshape(outer, length, inner)
    n_planes = 2 if ternary else 1
    planes = np.empty((n_planes, outer, inner, (length + 63) // 64), dtype=np.uint64)
    n_tasks = outer * planes.shape[3]
    if inner == 1 and length % 8 == 0 and length and c3.ctypes.data % 8 == 0:
        # Whole rows of 8 codes read as uint64 words: the fast path of the last axis.
        words = c3.reshape(outer, length).view(np.uint64)
        p3 = planes.reshape(n_planes, outer, planes.shape[3])
        if codes.size >= PARALLEL_THRESHOLD:
            n_bad = _k._pack_words_parallel(words, p3, _CHUNK_TASKS)
        else:
            n_bad = _k._pack_words_range(words, p3, 0, n_tasks)
    elif codes.size >= PARALLEL_THRESHOLD and inner == 1:
        n_bad = _k._pack_parallel(c3, planes, _CHUNK_TASKS)
    else:
        # Along a non-last axis (a (K, N) weight packed along K, once per QArray) the
        # parallel kernel measured no faster than this cached serial one (4096 x 512: 1.5 ms
        # both ways), and compiling it costs ~3 s in every process.
        n_bad = _k._pack_range(c3, planes, 0, n_tasks)
    if n_bad:
        valid = (c3 >= -1) & (c3 <= 1) & ((c3 != 0) | ternary)
        n_bad = int(valid.size - np.count_nonzero(valid))
        alphabet = "{-1, 0, +1}" if ternary else "{-1, +1}"
        raise ValueError(f"{n_bad} code(s) are outside the {'ternary' if ternary else 'binary'}"
                         f" alphabet {alphabet}")
    other = codes.shape[:ax] + codes.shape[ax + 1:]
    return PackedBits(planes.reshape((n_planes,) + other + (planes.shape[3],)), length, ax,
                      tuple(codes.shape))


def unpack(packed: PackedBits) -> np.ndarray:
    """The int8 codes of ``packed``, shaped like the original array (lossless inverse of pack)."""
    if not isinstance(packed, PackedBits):
        raise TypeError(f"unpack expects a PackedBits, got {type(packed).__name__}")
    outer, length, inner = _three_d(packed.shape, packed.axis)
    planes = np.ascontiguousarray(packed.planes).reshape(packed.n_planes, outer, inner,
                                                            packed.n_words)
    codes = np.empty((outer, length, inner), dtype=np.int8)
    if inner == 1 and length % 8 == 0 and length:
        words = codes.reshape(outer, length).view(np.uint64)
        p3 = planes.reshape(packed.n_planes, outer, packed.n_words)
        if codes.size >= PARALLEL_THRESHOLD:
            _k._unpack_words_parallel(p3, words, _CHUNK_TASKS)
        else:
            _k._unpack_words_range(p3, words, 0, outer * packed.n_words)
    elif codes.size >= PARALLEL_THRESHOLD:
        _k._unpack_parallel(planes, codes, _CHUNK_TASKS)
    else:
        _k._unpack_range(planes, codes, 0, outer * planes.shape[3])
    return codes.reshape(packed.shape)
