"""Turning accumulator contents into the returned ``QArray`` and counting output overflows."""

from __future__ import annotations

import functools

import numpy as np

from precision.base import seed_to_uint64
from precision.fixed import FixedPoint
from precision.modes import ROUNDING_CODES
from precision.qarray import QArray
from precision.stochastic import mix64
from simulator._matmul_kernels import count_rounding_overflow


def to_format(values, fl: int, alpha, fmt, seed, stats) -> QArray:
    """The exact integers ``values * 2**-fl`` (times ``alpha`` if not None) written into ``fmt``.

    FixedPoint targets: ``fmt.requantize`` (exact HLS assignment).  Other targets, or a scale
    ``alpha``: the float64 value (exact unless ``alpha`` has more significant bits than fit)
    is quantized with ``fmt.quantize``.
    """
    if alpha is None and isinstance(fmt, FixedPoint):
        key = seed_to_uint64(seed, fmt=fmt) if fmt.rounding == "stochastic" else None
        res = fmt.requantize(values, fl, seed=key)
        if stats is not None:
            stats["out_overflow"] = count_fixed_overflow(values, fl, fmt, key)
        return res
    if alpha is None and values.size and int(np.abs(values).max()) >= (1 << 53):
        raise ValueError(
            f"values of {int(np.abs(values).max()).bit_length()} bits are not exact in float64; "
            f"cast to a FixedPoint first, then to {fmt!r}")
    real = np.ldexp(np.asarray(values, dtype=np.float64), -fl)
    if alpha is not None:
        real = real * alpha
    if not hasattr(fmt, "quantize"):
        raise TypeError(f"out must be a number format (e.g. FixedPoint), got {type(fmt).__name__}")
    res = fmt.quantize(real, seed=seed)
    if stats is not None:
        stats["out_overflow"] = count_float_overflow(real, fmt)
    return res


def count_fixed_overflow(values, fl: int, fmt: FixedPoint, key) -> int:
    """How many ``values * 2**-fl`` overflow ``fmt`` after its rounding (as requantize rounds)."""
    shift = fl - fmt.fl
    max_code = min(fmt.max_code, (1 << 63) - 1)
    min_code = -(1 << (fmt.wl - 1)) if fmt.signed else 0
    if fmt.overflow == "saturate_symmetric" and fmt.signed and fmt.wl > 1:
        min_code = -max_code
    flat = np.ascontiguousarray(values, dtype=np.int64).reshape(-1)
    if shift <= 0:  # exact left shift: compare against the range shifted right
        s = -shift
        top, bottom = max_code >> s, -((-min_code) >> s)
        return int(np.count_nonzero(flat > top) + np.count_nonzero(flat < bottom))
    start = np.uint64(mix64(np.uint64(key))) if key is not None else np.uint64(0)
    return int(count_rounding_overflow(flat, shift, min_code, max_code,
                                       ROUNDING_CODES[fmt.rounding], start))


def count_float_overflow(real, fmt) -> int:
    """Values beyond a minifloat's largest finite magnitude (0 for other formats)."""
    if getattr(fmt, "family", "") != "float":
        return 0
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero(np.abs(real) > fmt.max))


def scale_by_power_of_two(alpha, fl: int):
    """``alpha * 2**-fl`` exactly, as ``np.ldexp(alpha, -fl)`` gives it.

    Two shortcuts, same values: while ``2**-fl`` is a normal double the product is one IEEE
    multiplication (exact, or rounded once like ``ldexp`` if the result is subnormal; ``ldexp``
    is a library call of ~10 ns per element: 2.9 ms at 512 x 512); and a broadcast ``alpha``
    (XNOR-Net scales arrive as an (M, N) view of an outer product whose rows or columns repeat)
    is scaled once per distinct value and broadcast again (a read-only view)."""
    alpha = np.asarray(alpha)
    repeated = [axis for axis, stride in enumerate(alpha.strides) if stride == 0]
    distinct = alpha[tuple(slice(0, 1) if axis in repeated else slice(None)
                           for axis in range(alpha.ndim))]
    scaled = distinct * 2.0 ** -fl if -1022 <= -fl <= 1023 else np.ldexp(distinct, -fl)
    return np.broadcast_to(scaled, alpha.shape) if repeated else scaled


@functools.lru_cache(maxsize=256)
def accumulator_format(width: int, fl: int, overflow: str) -> FixedPoint:
    """``FixedPoint(il=width - fl, fl=fl, overflow=overflow)``, the format of an accumulator's
    contents, built once per distinct register: its validation runs after every product
    otherwise, on caches a large GEMM has just cooled (~0.1 ms measured after a 512^3 dgemm)."""
    return FixedPoint(il=width - fl, fl=fl, overflow=overflow)


def finish(contents, fl: int, events: int, path: str, alpha, acc, out, seed, stats) -> QArray:
    """The result of a dot-product op from its accumulator contents (see ``ops``)."""
    if stats is not None:
        stats.update(acc_overflow=events, out_overflow=0, outputs=int(contents.size), path=path)
    if out is None:
        fmt = accumulator_format(acc.width, fl, acc.overflow)
        scale = 2.0 ** -fl if alpha is None else scale_by_power_of_two(alpha, fl)
        return QArray(contents.astype(fmt.code_dtype, copy=False), fmt, scale)
    return to_format(np.asarray(contents, dtype=np.int64), fl, alpha, out, seed, stats)


def finish_float(values, acc, out, seed, stats) -> QArray:
    """The result of a dot product summed in a floating-point accumulator."""
    if stats is not None:
        stats.update(acc_overflow=int(np.count_nonzero(~np.isfinite(values))), out_overflow=0,
                     outputs=int(values.size), path="float_acc")
    target = acc.floating if out is None else out
    res = target.quantize(values, seed=seed)
    if stats is not None and out is not None:
        stats["out_overflow"] = count_float_overflow(values, out)
    return res
