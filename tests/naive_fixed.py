"""Exact references for fixed point (Python ints / fractions.Fraction). Re-exported by tests/naive.py.

Written independently of the kernels and as literally as possible after the Xilinx HLS header
(``ap_fixed_base`` constructor and ``overflow_adjust``): rounding on an exact Fraction, overflow
as bit operations on a W-bit word.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

_M64 = (1 << 64) - 1


def naive_uniform_bits(key: int, index: int) -> int:
    """splitmix64 at position index+1 of the Weyl sequence starting at mix64(key)."""

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    return mix((mix(key & _M64) + (index + 1) * 0x9E3779B97F4A7C15) & _M64)


def naive_round(y: Fraction, mode: str, rand: int | None = None) -> int:
    """``y`` rounded to an integer by ``mode``; ``rand`` the 64-bit word for stochastic."""
    f = math.floor(y)
    frac = y - f
    half = Fraction(1, 2)
    if mode == "floor":
        up = False
    elif mode == "toward_zero":
        up = frac > 0 and y < 0
    elif mode == "nearest":
        up = frac >= half
    elif mode == "nearest_even":
        up = frac > half or (frac == half and f % 2 == 1)
    elif mode == "nearest_away":
        up = frac > half or (frac == half and y > 0)
    elif mode == "nearest_zero":
        up = frac > half or (frac == half and y < 0)
    elif mode == "nearest_down":
        up = frac > half
    elif mode == "stochastic":
        up = Fraction(rand >> 11, 2**53) < frac
    else:
        raise ValueError(mode)
    return f + int(up)


def _to_code(v: int, wl: int, signed: bool) -> int:
    v &= (1 << wl) - 1
    if signed and v >> (wl - 1):
        v -= 1 << wl
    return v


def naive_overflow(r: int, floor_y: int, wl: int, signed: bool, mode: str, nsat: int) -> int:
    """The HLS overflow handling of the rounded integer ``r`` (floor_y: the value before
    rounding, in steps, floored; its bit ``wl`` is the header's ``lD``)."""
    lo, hi = (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)
    full = (1 << wl) - 1
    over, under = r > hi, r < lo
    if mode == "saturate_symmetric" and signed and r == lo:
        under = True
    v = r & full
    if not (over or under):
        return _to_code(v, wl, signed)
    sign = r < 0
    msb = 1 << (wl - 1)
    mask = 0 if nsat >= wl else full >> nsat
    if mode in ("saturate", "saturate_symmetric"):
        if signed:
            if over:
                return hi
            return lo + 1 if (mode == "saturate_symmetric" and wl > 1) else lo
        return hi if over else 0
    if mode == "saturate_zero":
        return 0
    if mode == "wrap":
        if nsat == 0:
            return _to_code(v, wl, signed)
        if signed:
            if nsat > 1:
                v = v & mask if sign else v | (full & ~mask)
            v = v | msb if sign else v & ~msb
        else:
            v |= full & ~mask
        return _to_code(v, wl, signed)
    assert mode == "wrap_sign_magnitude" and signed
    ro = (v >> (wl - 1)) & 1
    if nsat == 0:
        ld = (floor_y >> wl) & 1
        if ld != ro:
            v = full & ~v
            v = v | msb if ld else v & ~msb
    elif nsat == 1:
        if int(sign) != ro:
            v = full & ~v
    else:
        lno = (v >> max(wl - nsat, 0)) & 1
        if lno == int(sign):
            v = full & ~v
        v = v & mask if sign else v | (full & ~mask)
        v = v | msb if sign else v & ~msb
    return _to_code(v, wl, signed)


def naive_fixed_exact(y: Fraction, fmt, rand: int = 0) -> int:
    """The code of the exact value ``y`` given in units of the step (y = x * 2**fl)."""
    r = naive_round(y, fmt.rounding, rand)
    return naive_overflow(r, math.floor(y), fmt.wl, fmt.signed, fmt.overflow,
                          fmt.saturation_bits)


def naive_fixed_quantize(x, fmt, key: int = 0, *, nan: str = "raise",
                         first_index: int = 0) -> np.ndarray:
    """Reference of ``fmt.quantize(x, seed=key)`` (key: the uint64 seed), element by element.

    ``+-inf`` is taken as ``+-2**1024`` as the HLS double constructor does.  ``first_index``:
    the flat index of ``x``'s first element in a larger array (the stochastic counter), so a
    slice of a big input can be checked without computing the whole reference.
    """
    arr = np.asarray(x)
    out = []
    for i, v in enumerate(arr.reshape(-1).tolist()):
        if isinstance(v, float) and math.isnan(v):
            if nan != "zero":
                raise ValueError("NaN")
            out.append(0)
            continue
        if isinstance(v, float) and math.isinf(v):
            val = Fraction(2) ** 1024 * (1 if v > 0 else -1)
        else:
            val = Fraction(v)
        y = val * Fraction(2) ** fmt.fl
        out.append(naive_fixed_exact(y, fmt, naive_uniform_bits(key, first_index + i)))
    return np.array(out, dtype=object).astype(fmt.code_dtype).reshape(arr.shape)


def naive_fixed_requantize(values, fl: int, fmt, key: int = 0) -> np.ndarray:
    """Reference of ``fmt.requantize(values, fl, seed=key)``."""
    arr = np.asarray(values)
    out = []
    for i, v in enumerate(arr.reshape(-1).tolist()):
        y = Fraction(int(v)) * Fraction(2) ** (fmt.fl - fl)
        out.append(naive_fixed_exact(y, fmt, naive_uniform_bits(key, i)))
    return np.array(out, dtype=object).astype(fmt.code_dtype).reshape(arr.shape)


def naive_overflows(x: float, fl: int, wl: int, signed: bool) -> bool:
    """True when the real value x lies outside [min_code, max_code] * 2**-fl."""
    if math.isnan(x):
        return False
    if math.isinf(x):
        return True
    lo, hi = (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)
    y = Fraction(x) * Fraction(2) ** fl
    return not lo <= y <= hi


def naive_group_fl(values, wl: int, signed: bool, rate: float,
                   fl_range=range(-1100, 1200)) -> int | None:
    """The largest fl in fl_range with at most floor(rate * n) overflows (brute force);
    None when every fl in the range qualifies (unbounded)."""
    values = list(values)
    allowed = math.floor(Fraction(rate) * len(values))
    ok = [fl for fl in fl_range
          if sum(naive_overflows(v, fl, wl, signed) for v in values) <= allowed]
    if ok and ok[-1] == fl_range[-1]:
        return None
    return ok[-1] if ok else min(fl_range)
