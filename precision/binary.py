"""``Binary`` and ``Ternary``: one- and two-bit weights (BinaryConnect, BNN, XNOR-Net, TWN).

Both quantizers also bit-pack their codes along the last axis in the same pass
(``precision.packing`` layout) and cache the result, so ``q.packed(-1)`` costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from precision import _binary_kernels as _k
from precision._numba_config import PARALLEL_THRESHOLD
from precision.base import NumberFormat, as_real_array, seed_to_uint64
from precision.packing import PackedBits, pack
from precision.qarray import QArray

#: Accepted ``scale=`` values: no scale (1.0), one α per tensor, one α per index of axis 0.
SCALES = (None, "tensor", "channel")
#: Accepted ``Ternary(threshold_mode=)`` values.
THRESHOLD_MODES = ("relative", "absolute")
_CHUNK_TASKS = 256


def _check_scale(scale) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not a known scale; expected one of "
                         f"{', '.join(map(repr, SCALES))}")


def _as_kernel_input(x) -> np.ndarray:
    """Real input as a float array the kernels read (float32/float64 kept, others to float64;
    integers above 2**53 may round, which never changes their sign)."""
    arr = as_real_array(x)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _rows(arr: np.ndarray) -> np.ndarray:
    """C-contiguous (rows, L) view of ``arr`` with L the last axis (a 0-d array is (1, 1))."""
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    return np.ascontiguousarray(arr).reshape(-1 if arr.size else
                                             int(np.prod(arr.shape[:-1])), arr.shape[-1])


def _fsum_mean(values: np.ndarray) -> float:
    """``fsum(|values|) / n``: the correctly rounded sum (as ``math.fsum``), then one float64
    division; 0.0 if empty, inf when the sum is beyond the float64 range (the callers raise).

    Defined exactly, unlike ``np.mean`` whose summation order depends on the numpy build: the
    sum is accumulated exactly in integer bins by a kernel and rounded once here.
    """
    if not values.size:
        return 0.0
    lo = np.zeros(2048, dtype=np.int64)
    hi = np.zeros(2048, dtype=np.int64)
    _k.abs_sum_bins(np.ascontiguousarray(values).reshape(-1), lo, hi)
    total = 0
    for e in np.flatnonzero(lo | hi).tolist():
        total += (int(lo[e]) + (int(hi[e]) << 27)) << (e - 1)
    try:
        return (total / (1 << 1074)) / values.size   # int / int: correctly rounded
    except OverflowError:
        return math.inf


def _mean_abs(arr: np.ndarray, per_channel: bool):
    """mean |x| (see :func:`_fsum_mean`) per tensor, a Python float, or per index of axis 0,
    a float64 array shaped (O, 1, ...)."""
    a = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)
    if not per_channel:
        return _fsum_mean(a.reshape(-1))
    rows = a.reshape(a.shape[0], math.prod(a.shape[1:])) if a.ndim > 1 else a.reshape(-1, 1)
    out = np.array([_fsum_mean(row) for row in rows], dtype=np.float64)
    return out.reshape((a.shape[0],) + (1,) * (a.ndim - 1))


def _channel_axis_check(arr: np.ndarray, fmt) -> None:
    if arr.ndim == 0:
        raise ValueError(f"{fmt!r}: scale='channel' needs at least one axis (axis 0 indexes the "
                         "channels); got a 0-d input")


def _raise_nan(n_nan: int, fmt) -> None:
    if n_nan:
        raise ValueError(f"x holds {n_nan} NaN value(s); {fmt!r} cannot quantize NaN")


def _finite_scale(alpha, fmt, what: str):
    if not np.all(np.isfinite(alpha)):
        raise ValueError(f"{fmt!r}: {what} is not finite (x holds ±inf, or |x| sums beyond "
                         "float64); clip x or use scale=None")
    return alpha


def _planes_to_packed(planes: np.ndarray, shape: tuple[int, ...]) -> PackedBits:
    n_planes, _, n_words = planes.shape
    return PackedBits(planes.reshape((n_planes,) + shape[:-1] + (n_words,)), shape[-1],
                      len(shape) - 1, shape)


def _finish(fmt, codes2d, planes, arr, alpha) -> QArray:
    q = QArray(codes2d.reshape(arr.shape), fmt, alpha)
    if arr.ndim >= 1:
        q._cache[("packed", arr.ndim - 1)] = _planes_to_packed(planes, arr.shape)
    return q


def _dequantize(q: QArray) -> np.ndarray:
    return q.codes.astype(np.float64) * q.scale


@dataclass(frozen=True)
class Binary(NumberFormat):
    """Codes ``±1`` (int8), value ``α · code``.

    Deterministic (BinaryConnect, BNN): ``+1`` for ``x >= 0`` (also ``-0.0``), else ``-1``.
    ``stochastic=True``: ``+1`` with probability ``hard_sigmoid(x) = clip((x + 1) / 2, 0, 1)``,
    exactly: ``+1`` iff ``t < x`` with ``t = (r >> 11) · 2**-52 - 1`` (``r`` the counter-based
    word of ``(seed, flat index)``), which is ``hard_sigmoid(x)`` exactly when ``x`` is a
    multiple of ``2**-52``.  ``scale``: None (``α = 1``), ``"tensor"`` (XNOR-Net, Rastegari et
    al. 2016: ``α = mean |x|``, a Python float) or ``"channel"`` (``α`` per index of axis 0 =
    mean ``|x|`` over the other axes, a float64 array shaped ``(O, 1, 1, ...)``); a mean is
    ``math.fsum(|x|) / n`` (correctly rounded sum, one division).  The sign decision does not
    depend on ``α``.  NaN input raises ``ValueError``.
    """

    stochastic: bool = False
    scale: str | None = None

    family: ClassVar[str] = "binary"

    def __post_init__(self) -> None:
        if not isinstance(self.stochastic, (bool, np.bool_)):
            raise TypeError(f"stochastic must be a bool, got {type(self.stochastic).__name__}")
        object.__setattr__(self, "stochastic", bool(self.stochastic))
        _check_scale(self.scale)

    @property
    def bits(self) -> int:
        return 1

    @property
    def code_dtype(self) -> np.dtype:
        return np.dtype(np.int8)

    @property
    def is_stochastic(self) -> bool:
        return self.stochastic

    def quantize(self, x, seed=None, *, nan: str = "raise") -> QArray:
        """Binarize ``x``; the codes are also packed along the last axis (cached)."""
        if nan != "raise":
            raise ValueError(f"nan={nan!r} is not supported by Binary; expected 'raise' "
                             "(NaN has no sign)")
        arr = _as_kernel_input(x)
        key = np.uint64(seed_to_uint64(seed, fmt=self) if self.stochastic else 0)
        if self.scale == "channel":
            _channel_axis_check(arr, self)
        x2d = _rows(arr)
        codes = np.empty(x2d.shape, dtype=np.int8)
        planes = np.empty((1, x2d.shape[0], (x2d.shape[1] + 63) // 64), dtype=np.uint64)
        if x2d.size >= PARALLEL_THRESHOLD:
            n_nan = _k._binarize_parallel(x2d, codes, planes, self.stochastic, key, _CHUNK_TASKS)
        else:
            n_nan = _k._binarize_range(x2d, codes, planes, 0, planes.shape[1] * planes.shape[2],
                                       self.stochastic, key)
        _raise_nan(n_nan, self)
        alpha = 1.0
        if self.scale is not None:
            alpha = _finite_scale(_mean_abs(arr, self.scale == "channel"), self, "α = mean |x|")
        return _finish(self, codes, planes, arr, alpha)

    def dequantize(self, q: QArray) -> np.ndarray:
        """``α · code`` in float64 (exact)."""
        return _dequantize(q)


@dataclass(frozen=True)
class Ternary(NumberFormat):
    """Codes ``{-1, 0, +1}`` (int8), value ``α · code`` (ternary weight networks, Li & Liu 2016).

    ``code = +1`` where ``x > Δ``, ``-1`` where ``x < -Δ``, else 0.  ``threshold_mode="relative"``
    (TWN): ``Δ = threshold · mean |x|`` (float64 product), per tensor, or per index of axis 0
    when ``scale="channel"``; ``"absolute"``: ``Δ = threshold``.  ``scale``: None (``α = 1``),
    ``"tensor"`` (``α = mean |x|`` over the elements with ``|x| > Δ``) or ``"channel"`` (the same
    per index of axis 0, shaped ``(O, 1, ...)``); ``α = 0`` where no element exceeds ``Δ``.  NaN
    input raises ``ValueError``.
    """

    threshold: float = 0.7
    threshold_mode: str = "relative"
    scale: str | None = None

    family: ClassVar[str] = "ternary"

    def __post_init__(self) -> None:
        t = self.threshold
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, float, np.integer,
                                                                 np.floating)):
            raise TypeError(f"threshold must be a real number, got {type(t).__name__} {t!r}")
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"threshold={t!r} is out of range; expected a finite value >= 0")
        object.__setattr__(self, "threshold", float(t))
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(f"threshold_mode={self.threshold_mode!r} is not known; expected "
                             f"one of {', '.join(map(repr, THRESHOLD_MODES))}")
        _check_scale(self.scale)

    @property
    def bits(self) -> int:
        return 2

    @property
    def code_dtype(self) -> np.dtype:
        return np.dtype(np.int8)

    @property
    def is_stochastic(self) -> bool:
        return False

    def _deltas(self, arr: np.ndarray) -> np.ndarray:
        """Δ per channel (the scale="channel" case) or a single Δ, as a 1-d float64 array."""
        per_channel = self.scale == "channel"
        if self.threshold_mode == "absolute":
            n = arr.shape[0] if per_channel else 1
            return np.full(n, self.threshold)
        m = _mean_abs(arr, per_channel)
        delta = self.threshold * np.asarray(m, dtype=np.float64).reshape(-1)
        return _finite_scale(delta, self, "Δ = threshold · mean |x|")

    def quantize(self, x, seed=None, *, nan: str = "raise") -> QArray:
        """Ternarize ``x``; the two planes are also packed along the last axis (cached)."""
        if nan != "raise":
            raise ValueError(f"nan={nan!r} is not supported by Ternary; expected 'raise'")
        arr = _as_kernel_input(x)
        if self.threshold_mode == "relative" and arr.size and np.isnan(arr).any():
            _raise_nan(int(np.isnan(arr).sum()), self)   # before Δ: a NaN mean hides the count
        per_channel = self.scale == "channel"
        if per_channel:
            _channel_axis_check(arr, self)
        delta = self._deltas(arr)
        if per_channel and arr.ndim == 1:
            x2d = np.ascontiguousarray(arr).reshape(-1, 1)   # one row per channel
            rows_per_group = 1
        else:
            x2d = _rows(arr)
            rows_per_group = max(x2d.shape[0] // max(delta.size, 1), 1)
        codes = np.empty(x2d.shape, dtype=np.int8)
        planes = np.empty((2, x2d.shape[0], (x2d.shape[1] + 63) // 64), dtype=np.uint64)
        if x2d.size >= PARALLEL_THRESHOLD:
            n_nan = _k._ternarize_parallel(x2d, delta, rows_per_group, codes, planes,
                                           _CHUNK_TASKS)
        else:
            n_nan = _k._ternarize_range(x2d, delta, rows_per_group, codes, planes, 0,
                                        planes.shape[1] * planes.shape[2])
        _raise_nan(n_nan, self)
        codes = codes.reshape(arr.shape)
        alpha = 1.0
        if self.scale is not None:
            alpha = _finite_scale(self._alpha(arr, codes), self, "α")
        q = QArray(codes, self, alpha)
        if arr.ndim >= 1:
            packed = (pack(q, axis=-1) if per_channel and arr.ndim == 1
                      else _planes_to_packed(planes, arr.shape))
            q._cache[("packed", arr.ndim - 1)] = packed
        return q

    def _alpha(self, arr: np.ndarray, codes: np.ndarray):
        """mean |x| over the nonzero codes (fsum, then one division; 0 where there are none),
        per tensor or per index of axis 0."""
        a = arr
        if self.scale == "tensor":
            return _fsum_mean(a[codes != 0])
        rows = a.reshape(a.shape[0], math.prod(a.shape[1:])) if a.ndim > 1 else a.reshape(-1, 1)
        nz = codes.reshape(rows.shape) != 0
        out = np.array([_fsum_mean(r[m]) for r, m in zip(rows, nz)], dtype=np.float64)
        return out.reshape((a.shape[0],) + (1,) * (a.ndim - 1))

    def dequantize(self, q: QArray) -> np.ndarray:
        """``α · code`` in float64 (exact)."""
        return _dequantize(q)


def warmup() -> None:
    """Compile the binary/ternary/packing kernels: the serial ones on one-element inputs and
    the threaded quantizers on an array of ``PARALLEL_THRESHOLD`` elements (parallel kernels
    are not cached on disk: without this, the first quantization of a large binary or ternary
    array in a process — a live-lab update of a binary model — paid ~1-2 s of compilation)."""
    from precision.packing import unpack

    x = np.zeros((1, 1))
    for fmt in (Binary(), Binary(stochastic=True), Ternary()):
        q = fmt.quantize(x, seed=0)
        unpack(q.packed(0))
        unpack(q.packed(-1))
    large = np.zeros((1, PARALLEL_THRESHOLD))
    for fmt in (Binary(), Ternary()):  # stochastic binary shares Binary()'s kernel
        fmt.quantize(large, seed=0)
