"""Dynamic fixed point (Courbariaux, Bengio & David 2014): one shared ``fl`` per group.

Every element is a ``wl``-bit fixed-point code; the scale ``2**-fl`` is shared by a group of
elements (the whole tensor, one index along an axis such as a channel, or blocks of ``n``
consecutive elements along the last axis) and chosen from the data.

**Overflow.**  At a given ``fl`` an element overflows when the real value lies outside the
representable interval ``[min_code * 2**-fl, max_code * 2**-fl]`` (before rounding; NaN never
counts, +-inf always does).  ``element_fl(x)`` is, per element, the largest ``fl`` at which it
does not overflow, so "``x`` overflows at ``fl``" is exactly ``element_fl(x) < fl``.

**Choice of fl** (``DynamicFixedPoint.choose_fl``): per group of ``n`` elements, the largest
``fl`` whose overflow count is at most ``floor(max_overflow_rate * n)`` (computed exactly),
clipped to ``[FL_MIN, FL_MAX]``.  When that is unbounded (too few non-zero elements: e.g. an
all-zero group) the group gets ``fl = wl - 1``.

**Training** (``ScaleTracker``): the paper's update policy, applied every ``update_every``
calls of ``update(x)`` with the overflow counts pooled over those calls: if the overflow rate at
the current ``fl`` exceeds ``max_overflow_rate``, ``fl -= 1`` (the scale doubles); else if the
rate at ``fl + 1`` (values doubled) is still ``<= max_overflow_rate``, ``fl += 1``; else keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from precision import _dynamic_kernels as K
from precision._numba_config import PARALLEL_THRESHOLD
from precision.base import NumberFormat, as_real_array, narrowest_int_dtype
from precision.fixed import FL_MAX, FL_MIN, FixedPoint, _check_int
from precision.modes import OVERFLOW_CODES, ROUNDING_CODES
from precision.qarray import QArray

#: element_fl of values that never overflow (zero, NaN) / always overflow (inf, bad sign).
_NEVER = np.iinfo(np.int64).max
_ALWAYS = np.iinfo(np.int64).min


def _canonical_group(group):
    if group == "tensor":
        return "tensor"
    if isinstance(group, (tuple, list)) and len(group) == 2 and group[0] in ("axis", "block"):
        kind, value = group
        value = _check_int(f"group[1] of {kind!r}", value)
        if kind == "block" and value < 1:
            raise ValueError(f"group=('block', {value}) is out of range; expected n >= 1")
        return (kind, value)
    raise ValueError(
        f"group={group!r} is not a known grouping; expected 'tensor', ('axis', k) or "
        "('block', n)"
    )


@dataclass(frozen=True)
class DynamicFixedPoint(NumberFormat):
    """``wl``-bit fixed point whose ``fl`` is chosen per group from the data.

    Parameters
    ----------
    wl
        Word length, ``1 <= wl <= 64``.
    group
        ``"tensor"`` (one fl), ``("axis", k)`` (one fl per index along axis ``k``, e.g. per
        output channel with ``k = 0``), ``("block", n)`` (blocks of ``n`` consecutive elements
        along the last axis).
    max_overflow_rate
        The fraction of a group's elements allowed to overflow, ``0 <= rate < 1``.
    signed, rounding, overflow
        As in :class:`~precision.fixed.FixedPoint` (no saturation bits).

    ``quantize`` returns ``QArray(codes, self, scale)`` with ``scale`` a float64 array of powers
    of two laid out as in docs/architecture.md; ``expand_scale(q)`` broadcasts it to the codes.
    """

    wl: int
    group: object = "tensor"
    max_overflow_rate: float = 0.0
    signed: bool = True
    rounding: str = "nearest"
    overflow: str = "saturate"

    family: ClassVar[str] = "dynamic_fixed"

    def __post_init__(self):
        wl = _check_int("wl", self.wl)
        if not 1 <= wl <= 64:
            raise ValueError(f"wl={wl} is out of range; expected 1 <= wl <= 64")
        rate = self.max_overflow_rate
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.floating,
                                                                       np.integer)):
            raise TypeError(f"max_overflow_rate must be a real number, got {rate!r}")
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(
                f"max_overflow_rate={rate} is out of range; expected 0 <= max_overflow_rate < 1"
            )
        # The template validates signed/rounding/overflow and canonicalizes the mode aliases.
        template = FixedPoint(il=wl, fl=0, signed=self.signed, rounding=self.rounding,
                              overflow=self.overflow)
        for name, value in (("wl", wl), ("group", _canonical_group(self.group)),
                            ("max_overflow_rate", float(rate)), ("signed", template.signed),
                            ("rounding", template.rounding), ("overflow", template.overflow)):
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ properties
    @property
    def bits(self) -> int:
        return self.wl

    @property
    def code_dtype(self) -> np.dtype:
        return narrowest_int_dtype(self.wl, self.signed)

    def fixed(self, fl: int) -> FixedPoint:
        """The plain fixed-point format of one group with fraction length ``fl``."""
        return FixedPoint(il=self.wl - fl, fl=fl, signed=self.signed, rounding=self.rounding,
                          overflow=self.overflow)

    # ------------------------------------------------------------------ groups
    def scale_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of the per-group scale (and fl) array for data of ``shape``."""
        if self.group == "tensor":
            return ()
        kind, value = self.group
        if kind == "axis":
            axis = self._axis(len(shape))
            return tuple(n if d == axis else 1 for d, n in enumerate(shape))
        if not shape:
            raise ValueError(f"group={self.group!r} needs at least one dimension, got a 0-d array")
        return shape[:-1] + (-(-shape[-1] // value),)

    def _axis(self, ndim: int) -> int:
        k = self.group[1]
        if not -ndim <= k < ndim:
            raise ValueError(
                f"group=('axis', {k}) is out of range for {ndim}-d data; expected "
                f"{-ndim} <= k < {ndim}"
            )
        return k % ndim

    def _grouped(self, a: np.ndarray, fill) -> np.ndarray:
        """``a`` rearranged to ``scale_shape + (n,)``, padding short blocks with ``fill``."""
        if self.group == "tensor":
            return a.reshape(-1)
        kind, value = self.group
        if kind == "axis":
            axis = self._axis(a.ndim)
            return np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1).reshape(
                self.scale_shape(a.shape) + (-1,))
        nblocks = self.scale_shape(a.shape)[-1]
        pad = nblocks * value - a.shape[-1]
        if pad:
            a = np.concatenate([a, np.full(a.shape[:-1] + (pad,), fill, a.dtype)], axis=-1)
        return a.reshape(a.shape[:-1] + (nblocks, value))

    def _group_sizes(self, shape: tuple[int, ...]) -> np.ndarray:
        sshape = self.scale_shape(shape)
        total = int(np.prod(shape)) if shape else 1
        if self.group == "tensor" or self.group[0] == "axis":
            per = total // max(int(np.prod(sshape)), 1) if total else 0
            return np.full(sshape, per, dtype=np.int64)
        n = self.group[1]
        sizes = np.full(sshape, n, dtype=np.int64)
        if sshape[-1]:
            sizes[..., -1] = shape[-1] - (sshape[-1] - 1) * n
        return sizes

    def _expand(self, per_group: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if self.group != "tensor" and self.group[0] == "block":
            per_group = np.repeat(per_group, self.group[1], axis=-1)[..., :shape[-1]]
        return per_group

    def expand_scale(self, q: QArray) -> np.ndarray:
        """``q.scale`` broadcastable against ``q.codes`` (blocks repeated along the last axis)."""
        return self._expand(np.asarray(q.scale, dtype=np.float64), q.codes.shape)

    # ------------------------------------------------------------------ fl choice
    def element_fl(self, x) -> np.ndarray:
        """Per element, the largest fl at which it does not overflow (int64; see module doc)."""
        x = np.asarray(as_real_array(x), dtype=np.float64)
        mant, ex = np.frexp(np.abs(x))
        ex = ex.astype(np.int64)
        out = np.full(x.shape, _NEVER, dtype=np.int64)
        wl = self.wl
        pos, neg = x > 0, x < 0
        if self.signed:
            # x > 0: x * 2**fl <= 2**(wl-1) - 1;  x < 0: |x| * 2**fl <= 2**(wl-1).
            fits = mant <= 1.0 - 2.0 ** (1 - wl)
            out[pos] = np.where(fits, wl - 1 - ex, wl - 2 - ex)[pos]
            out[neg] = np.where(mant == 0.5, wl - ex, wl - 1 - ex)[neg]
            if wl == 1:
                out[pos] = _ALWAYS  # the only non-negative code is 0
        else:
            fits = mant <= 1.0 - 2.0 ** (-wl)
            out[pos] = np.where(fits, wl - ex, wl - 1 - ex)[pos]
            out[neg] = _ALWAYS
        out[np.isinf(x)] = _ALWAYS
        return out

    def choose_fl(self, x) -> np.ndarray:
        """Per group, the largest fl with at most ``floor(rate * n)`` overflows (int64 array of
        ``scale_shape(x.shape)``)."""
        x = np.asarray(as_real_array(x))
        efl = self._grouped(self.element_fl(x), _NEVER)
        sizes = self._group_sizes(x.shape)
        rate = Fraction(self.max_overflow_rate)
        allowed = np.vectorize(lambda n: int(rate * int(n)), otypes=[np.int64])(sizes) \
            if sizes.size else sizes
        if efl.shape[-1] == 0:
            chosen = np.full(sizes.shape, _NEVER, dtype=np.int64)
        elif np.all(allowed == 0):
            chosen = efl.min(axis=-1)
        else:
            ordered = np.sort(efl, axis=-1)
            chosen = np.take_along_axis(ordered, allowed[..., None], axis=-1)[..., 0]
        chosen = np.where(chosen == _NEVER, self.wl - 1, chosen)
        return np.clip(chosen, FL_MIN, FL_MAX).astype(np.int64)

    # ------------------------------------------------------------------ quantizers
    def quantize(self, x, seed=None, *, nan: str = "raise", fl=None) -> QArray:
        """Codes with the per-group fl chosen by ``choose_fl`` (or given as ``fl``: an int or
        an array of ``scale_shape``); scale = ``2.0**-fl`` per group."""
        arr = as_real_array(x)
        fls = self.choose_fl(arr) if fl is None else self._check_fl(fl, arr.shape)
        template = self.fixed(0)
        start = template._stream_start(seed)
        if nan not in ("raise", "zero"):
            raise ValueError(f"nan={nan!r} is not a known policy; expected one of "
                             "('raise', 'zero')")
        scale = np.ldexp(np.ones(fls.shape), -fls)
        if fls.size and np.all(fls == fls.flat[0]):
            # One fl for every group (always so for "tensor"): the vectorized fixed-point path
            # gives the same codes (same flat-index random stream).
            codes = self.fixed(int(fls.flat[0])).quantize(arr, seed=seed, nan=nan).codes
            return QArray(codes, self, scale)
        flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
        per_element = np.ascontiguousarray(
            np.broadcast_to(self._expand(fls, arr.shape), arr.shape)).reshape(-1)
        out = np.empty(flat.size, dtype=self.code_dtype)
        kernel = (K.quantize_float_per_element_fl_parallel if flat.size >= PARALLEL_THRESHOLD
                  else K.quantize_float_per_element_fl)
        nan_count = kernel(flat, per_element, out, self.wl, self.signed,
                           ROUNDING_CODES[self.rounding], OVERFLOW_CODES[self.overflow], 0, start)
        if nan_count and nan == "raise":
            first = int(np.flatnonzero(np.isnan(flat))[0])
            raise ValueError(
                f"x contains {nan_count} NaN value(s), the first at flat index {first}; "
                "pass nan='zero' to quantize NaN to code 0"
            )
        return QArray(out.reshape(arr.shape), self, scale)

    def _check_fl(self, fl, shape) -> np.ndarray:
        sshape = self.scale_shape(shape)
        fls = np.asarray(fl)
        if fls.dtype.kind not in "iu":
            raise TypeError(f"fl must be an int or an integer array, got dtype {fls.dtype}")
        try:
            fls = np.broadcast_to(fls, sshape).astype(np.int64)
        except ValueError as exc:
            raise ValueError(f"fl of shape {np.shape(fl)} does not broadcast to the scale shape "
                             f"{sshape}") from exc
        bad = (fls < FL_MIN) | (fls > FL_MAX)
        if bad.any():
            raise ValueError(f"fl={int(fls[bad].flat[0])} is out of range; expected "
                             f"{FL_MIN} <= fl <= {FL_MAX}")
        return fls

    def dequantize(self, q: QArray) -> np.ndarray:
        """``codes * scale`` per group, float64 (exact when wl <= 53)."""
        return np.asarray(q.codes, dtype=np.float64) * self.expand_scale(q)


class ScaleTracker:
    """Tracks the per-group fl of a tensor during training (Courbariaux et al. 2014).

    ``update(x)`` counts, per group, the elements that overflow at the current ``fl`` and at
    ``fl + 1``; every ``update_every`` calls it applies the update policy (module docstring)
    to the pooled counts and resets them.  ``quantize(x, seed)`` uses the current fl.  The
    first call of either initializes fl with ``fmt.choose_fl(x)`` unless ``initial_fl`` is given.
    """

    def __init__(self, fmt: DynamicFixedPoint, update_every: int = 1, initial_fl=None):
        if not isinstance(fmt, DynamicFixedPoint):
            raise TypeError(f"fmt must be a DynamicFixedPoint, got {type(fmt).__name__}")
        update_every = _check_int("update_every", update_every)
        if update_every < 1:
            raise ValueError(f"update_every={update_every} is out of range; expected >= 1")
        self.fmt = fmt
        self.update_every = update_every
        self.fl = None if initial_fl is None else np.asarray(initial_fl, dtype=np.int64)
        self.steps = 0
        self._over = self._over_next = self._count = None

    def _ensure(self, x: np.ndarray) -> None:
        if self.fl is None:
            self.fl = self.fmt.choose_fl(x)
        self.fl = self.fmt._check_fl(self.fl, x.shape)
        if self._over is None:
            self._over = np.zeros(self.fl.shape, np.int64)
            self._over_next = np.zeros(self.fl.shape, np.int64)
            self._count = np.zeros(self.fl.shape, np.int64)

    def quantize(self, x, seed=None, *, nan: str = "raise") -> QArray:
        """``fmt.quantize`` with the tracked fl."""
        x = as_real_array(x)
        self._ensure(x)
        return self.fmt.quantize(x, seed=seed, nan=nan, fl=self.fl)

    def overflow_rate(self) -> np.ndarray:
        """The pooled overflow rate per group since the last policy step (float64)."""
        if self._count is None:
            return np.zeros(())
        return self._over / np.maximum(self._count, 1)

    def update(self, x) -> np.ndarray:
        """Count overflows of ``x`` and, every ``update_every`` calls, move fl; returns fl."""
        x = as_real_array(x)
        self._ensure(x)
        efl = self.fmt._grouped(self.fmt.element_fl(x), np.iinfo(np.int64).max)
        fl = self.fl[..., None]
        self._over += (efl < fl).sum(axis=-1)
        self._over_next += (efl <= fl).sum(axis=-1)
        self._count += self.fmt._group_sizes(x.shape)
        self.steps += 1
        if self.steps % self.update_every == 0:
            rate = Fraction(self.fmt.max_overflow_rate)
            too_many = np.vectorize(lambda o, n: Fraction(int(o), max(int(n), 1)) > rate,
                                    otypes=[bool])(self._over, self._count)
            room = np.vectorize(lambda o, n: Fraction(int(o), max(int(n), 1)) <= rate,
                                otypes=[bool])(self._over_next, self._count)
            step = np.where(too_many, -1, np.where(room, 1, 0))
            self.fl = np.clip(self.fl + step, FL_MIN, FL_MAX).astype(np.int64)
            self._over[...] = 0
            self._over_next[...] = 0
            self._count[...] = 0
        return self.fl


def warmup() -> None:
    """Compile the dynamic fixed-point kernel on a one-element input."""
    DynamicFixedPoint(8).quantize(np.zeros(1))
