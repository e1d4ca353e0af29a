"""Exact references for minifloats (Python ints / fractions.Fraction); re-exported by
tests/naive.py.

The definition used: a format's finite values form the grid ``n * 2**(max(k, emin) - m)`` on the
binade ``[2**k, 2**(k+1))``, ``emin = 1 - bias``; a real ``x`` is rounded once on that grid with
an exponent range unbounded above; a rounded magnitude above the largest finite value overflows.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["naive_float_decode", "naive_float_encode", "naive_float_round",
           "naive_float_max", "naive_float_nan_code", "naive_float_values"]

NAN = "nan"


def _floor_log2(r: Fraction) -> int:
    """floor(log2 r) for r > 0."""
    k = r.numerator.bit_length() - r.denominator.bit_length()
    while Fraction(2) ** k > r:
        k -= 1
    while Fraction(2) ** (k + 1) <= r:
        k += 1
    return k


def naive_float_max(e: int, m: int, bias: int, finite: bool) -> Fraction:
    """Largest finite value: IEEE ``2**(2**e-2-b) (2 - 2**-m)``; finite
    ``2**(2**e-1-b) (2 - 2**(1-m))``."""
    if finite:
        return Fraction(2) ** (2**e - 1 - bias) * (2 - Fraction(2, 2**m))
    return Fraction(2) ** (2**e - 2 - bias) * (2 - Fraction(1, 2**m))


def naive_float_nan_code(e: int, m: int, finite: bool) -> int:
    return (1 << (e + m)) - 1 if finite else (((1 << e) - 1) << m) | (1 << (m - 1))


def naive_float_decode(code: int, e: int, m: int, bias: int, finite: bool, subnormals=True):
    """Value of a code: a Fraction, ``"nan"`` or ``±math.inf`` (the sign of a zero is lost)."""
    sign = -1 if (code >> (e + m)) & 1 else 1
    field = (code >> m) & ((1 << e) - 1)
    mant = code & ((1 << m) - 1)
    if field == (1 << e) - 1:
        if finite and mant == (1 << m) - 1:
            return NAN
        if not finite:
            return NAN if mant else sign * math.inf
    if field == 0:
        if not subnormals:
            return Fraction(0)
        return sign * Fraction(mant) * Fraction(2) ** (1 - bias - m)
    return sign * Fraction((1 << m) + mant) * Fraction(2) ** (field - bias - m)


def naive_float_values(e: int, m: int, bias: int, finite: bool) -> list[tuple[Fraction, int]]:
    """Every non-negative finite (value, code) pair, by enumeration of the codes."""
    out = []
    for code in range(1 << (e + m)):
        v = naive_float_decode(code, e, m, bias, finite)
        if v != NAN and v != math.inf:
            out.append((v, code))
    return out


def naive_float_round(x, e: int, m: int, bias: int, *, subnormals=True, finite=False,
                      rounding="nearest_even", overflow=None, rand: int = 0):
    """``x`` (float, int or Fraction) rounded into the format: returns ``(value, sign)`` with
    value a Fraction >= 0 or ``math.inf`` or ``"nan"``, sign 0/1 (the code's sign bit)."""
    overflow = overflow or ("nan" if finite else "inf")
    if isinstance(x, float) and math.isnan(x):
        return NAN, 0
    negative = (x < 0) or (isinstance(x, float) and x == 0 and math.copysign(1, x) < 0)
    sign = 1 if negative else 0
    top = naive_float_max(e, m, bias, finite)
    if isinstance(x, float) and math.isinf(x):
        if overflow == "saturate":
            return top, sign
        return (NAN, 0) if finite else (math.inf, sign)
    a = abs(Fraction(x))
    if a == 0:
        return Fraction(0), sign
    emin = 1 - bias
    step = Fraction(2) ** (max(_floor_log2(a), emin) - m)
    n = math.floor(a / step)
    frac = a / step - n
    if rounding == "nearest_even":
        up = frac > Fraction(1, 2) or (frac == Fraction(1, 2) and n % 2 == 1)
    elif rounding == "toward_zero":
        up = False
    elif rounding == "stochastic":
        up = Fraction(rand >> 11, 2**53) < frac
    else:
        raise ValueError(rounding)
    r = (n + up) * step
    if r > top:
        if overflow == "saturate" or (rounding == "toward_zero" and not finite):
            return top, sign
        return (NAN, 0) if finite else (math.inf, sign)
    if not subnormals and 0 < r < Fraction(2) ** emin:
        r = Fraction(0)
    return r, sign


def naive_float_encode(x, e: int, m: int, bias: int, **kw) -> int:
    """The code of ``naive_float_round(x, ...)``."""
    finite = kw.get("finite", False)
    r, sign = naive_float_round(x, e, m, bias, **kw)
    if r == NAN:
        return naive_float_nan_code(e, m, finite)
    s = sign << (e + m)
    if r == math.inf:
        return s | (((1 << e) - 1) << m)
    if r == 0:
        return s
    emin = 1 - bias
    if r < Fraction(2) ** emin:
        mant = r / Fraction(2) ** (emin - m)
        assert mant.denominator == 1
        return s | int(mant)
    k = _floor_log2(r)
    mant = r / Fraction(2) ** (k - m) - (1 << m)
    assert mant.denominator == 1 and 0 <= mant < (1 << m)
    return s | ((k + bias) << m) | int(mant)
