"""Numba cores of fixed-point quantization (HLS ``ap_fixed`` assignment semantics).

Everything here takes arrays and scalars only and stays valid Python (``NUMBA_DISABLE_JIT=1``).
The public wrappers live in :mod:`precision.fixed`; the exact rules are documented there.

Two scalar helpers have stable signatures because the simulator's kernels call them:

* ``round_shift_right(n, shift, mode, rand)``: ``n / 2**shift`` rounded to an integer.
* ``apply_overflow(n, wl, signed, mode, saturation_bits)``: the HLS overflow handling of an
  already-rounded integer into a ``wl``-bit word.

The vectorizable fast passes that the wrappers try first live in
:mod:`precision._fixed_fast_kernels`; these exact loops handle what they leave.

Bit patterns are handled as ``uint64`` and converted to the int64 code only at the end, because
numba (like numpy) promotes mixed int64/uint64 arithmetic to float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from precision.modes import (
    OVF_SATURATE, OVF_SATURATE_SYMMETRIC, OVF_SATURATE_ZERO, OVF_WRAP,
    RND_FLOOR, RND_NEAREST, RND_NEAREST_AWAY, RND_NEAREST_DOWN, RND_NEAREST_EVEN,
    RND_NEAREST_ZERO, RND_STOCHASTIC, RND_TOWARD_ZERO,
)
from precision.stochastic import bits_at

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_U11 = np.uint64(11)
_U53 = np.uint64(53)
_TWO53 = np.uint64(1 << 53)
_TWO63 = np.uint64(1 << 63)
#: Below 2**52 in magnitude, floor(y) and y - floor(y) of a float64 are exact.
_FAST_LIMIT = 4503599627370496.0
#: The smallest normal float64: x * 2**fl is exact when the product is normal and finite.
_SMALLEST_NORMAL = 2.2250738585072014e-308
_TWO_M53 = 1.1102230246251565e-16  # 2**-53


# --------------------------------------------------------------------------- rounding
@njit_serial
def _bit(n, pos):
    """Bit ``pos >= 0`` of the int64 ``n`` in infinite two's complement (sign beyond 63)."""
    if pos >= 63:
        return 1 if n < 0 else 0
    return (n >> pos) & 1


@njit_serial
def _floor_shift(n, shift):
    """``floor(n / 2**shift)`` for ``shift >= 0`` (any size)."""
    if shift >= 63:
        return -1 if n < 0 else 0
    return n >> shift


@njit_serial
def _round_up(floor_n, cmp_half, nonzero, mode, stochastic_up):
    """1 when the rounding ``mode`` moves ``floor(y)`` up by one, else 0.

    ``cmp_half`` is the sign of ``frac - 1/2`` and ``nonzero`` says ``frac > 0``, where
    ``frac = y - floor(y)``; ties (``cmp_half == 0``) are broken per mode.
    """
    if mode == RND_NEAREST:
        return 1 if cmp_half >= 0 else 0
    if mode == RND_FLOOR:
        return 0
    if mode == RND_NEAREST_EVEN:
        return 1 if cmp_half > 0 or (cmp_half == 0 and (floor_n & 1) == 1) else 0
    if mode == RND_NEAREST_AWAY:
        return 1 if cmp_half > 0 or (cmp_half == 0 and floor_n >= 0) else 0
    if mode == RND_NEAREST_ZERO:
        return 1 if cmp_half > 0 or (cmp_half == 0 and floor_n < 0) else 0
    if mode == RND_NEAREST_DOWN:
        return 1 if cmp_half > 0 else 0
    if mode == RND_TOWARD_ZERO:
        return 1 if nonzero and floor_n < 0 else 0
    return 1 if stochastic_up else 0  # RND_STOCHASTIC


@njit_serial(inline="always")
def stochastic_up(t, y, f, frac):
    """``t < y - floor(y)`` exactly, for ``t`` a multiple of 2**-53 in [0, 1), ``f = floor(y)``
    and ``frac = y - f`` (as computed in float64).

    ``frac`` is exact except for -1 < y < 0, where ``y + 1`` can round (y = -0.3 + 2**-54 has
    bits below 2**-53); there ``t - 1`` is exact instead, so compare that with y."""
    return (t - 1.0 < y) if f == -1.0 else (t < frac)


@njit_serial
def round_shift_right(n, shift, mode, rand):
    """``n / 2**shift`` rounded to an integer with rounding ``mode`` (exact; int64 result).

    ``shift >= 0`` (``shift >= 64`` allowed).  ``rand`` is the uint64 random word used by
    ``"stochastic"``: with ``u = rand >> 11`` (53 bits) and ``frac = n/2**shift - floor``, the
    result rounds up iff ``u * 2**-53 < frac`` exactly.
    """
    n = np.int64(n)
    if shift <= 0:
        return n
    u = np.uint64(rand) >> _U11
    if shift < 64:
        floor_n = n >> shift
        s = np.uint64(shift)
        rem = np.uint64(n) & ((_U1 << s) - _U1)
        half = _U1 << (s - _U1)
        cmp_half = 1 if rem > half else (0 if rem == half else -1)
        nonzero = rem != _U0
        up = False
        if mode == RND_STOCHASTIC:
            if shift <= 53:
                up = u < (rem << (_U53 - s))
            else:
                t = s - _U53
                ceil_q = (rem >> t) + (_U1 if (rem & ((_U1 << t) - _U1)) != _U0 else _U0)
                up = u < ceil_q
        return floor_n + _round_up(floor_n, cmp_half, nonzero, mode, up)
    # shift >= 64: |n| <= 2**63 <= 2**(shift-1), so frac is tiny (n >= 0) or >= 1/2 (n < 0).
    t = shift - 53
    up = False
    if n >= 0:
        floor_n = np.int64(0)
        nonzero = n != 0
        cmp_half = -1
        if mode == RND_STOCHASTIC:
            un = np.uint64(n)
            if t < 64:
                ut = np.uint64(t)
                ceil_q = (un >> ut) + (_U1 if (un & ((_U1 << ut) - _U1)) != _U0 else _U0)
            else:
                ceil_q = _U1 if n != 0 else _U0
            up = u < ceil_q
    else:
        floor_n = np.int64(-1)
        nonzero = True
        mag = (~np.uint64(n)) + _U1  # |n| as uint64, also for n = -2**63
        cmp_half = 0 if (shift == 64 and mag == _TWO63) else 1
        if mode == RND_STOCHASTIC:
            q = (mag >> np.uint64(t)) if t < 64 else _U0
            up = u < (_TWO53 - q)
    return floor_n + _round_up(floor_n, cmp_half, nonzero, mode, up)


# --------------------------------------------------------------------------- overflow
@njit_serial
def _word_mask(wl):
    return _ALL_ONES >> np.uint64(64 - wl)


@njit_serial
def _finish(bits, wl, signed):
    """The int64 code of a ``wl``-bit pattern: sign-extended when signed, else zero-extended
    (an unsigned 64-bit code comes back as its int64 reinterpretation)."""
    if signed:
        s = np.uint64(64 - wl)
        return np.int64(bits << s) >> np.int64(64 - wl)
    return np.int64(bits & _word_mask(wl))


@njit_serial
def _overflow_bits(low, over, under, neg, ld, wl, signed, mode, nsat):
    """HLS ``overflow_adjust`` on the wrapped word (``low`` = low 64 bits of the rounded
    integer).  ``neg``: the rounded value is negative; ``ld``: bit ``wl`` of ``floor(y)``."""
    mask = _word_mask(wl)
    v = low & mask
    if not (over or under):
        return _finish(v, wl, signed)
    msb = _U1 << np.uint64(wl - 1)
    if mode == OVF_SATURATE or mode == OVF_SATURATE_SYMMETRIC:
        if signed:
            if over:
                return np.int64(mask >> _U1)
            lowest = -np.int64(mask >> _U1) - 1
            if mode == OVF_SATURATE_SYMMETRIC and wl > 1:
                return lowest + 1
            return lowest
        return _finish(mask, wl, signed) if over else np.int64(0)
    if mode == OVF_SATURATE_ZERO:
        return np.int64(0)
    keep = _U0 if nsat >= wl else (mask >> np.uint64(nsat))  # the bits that keep wrapping
    if mode == OVF_WRAP:
        if nsat == 0:
            return _finish(v, wl, signed)
        if signed:
            if nsat > 1:
                v = (v & keep) if neg else (v | (mask & ~keep))
            v = (v | msb) if neg else (v & ~msb)
        else:
            v = v | (mask & ~keep)
        return _finish(v, wl, signed)
    # OVF_WRAP_SIGN_MAGNITUDE (signed only; validated by the wrapper)
    top = (v >> np.uint64(wl - 1)) & _U1
    if nsat == 0:
        if np.uint64(ld) != top:
            v = ~v & mask
    elif nsat == 1:
        if (_U1 if neg else _U0) != top:
            v = ~v & mask
    else:
        pos = wl - nsat if wl > nsat else 0
        if ((v >> np.uint64(pos)) & _U1) == (_U1 if neg else _U0):
            v = ~v & mask
        v = (v & keep) if neg else (v | (mask & ~keep))
        v = (v | msb) if neg else (v & ~msb)
    return _finish(v, wl, signed)


@njit_serial
def _overflow_small(r, ld, wl, signed, mode, nsat):
    """Overflow handling of an int64 rounded value ``r``; ``ld`` is bit ``wl`` of floor(y)."""
    mask = _word_mask(wl)
    if signed:
        hi = np.int64(mask >> _U1)
        lo = -hi - 1
        over = r > hi
        under = r < lo or (mode == OVF_SATURATE_SYMMETRIC and r == lo)
    else:
        over = wl < 64 and r > np.int64(mask)
        under = r < 0
    if not (over or under):
        return _finish(np.uint64(r), wl, signed)
    return _overflow_bits(np.uint64(r), over, under, r < 0, ld, wl, signed, mode, nsat)


@njit_serial
def _overflow_big(m, k, wl, signed, mode, nsat):
    """Overflow handling of the exact integer ``m * 2**k`` (int64 ``m``, ``k >= 0``)."""
    if m == 0:
        return np.int64(0)
    if k < 64 and ((m << k) >> k) == m:
        r = m << k
        return _overflow_small(r, _bit(r, wl), wl, signed, mode, nsat)
    neg = m < 0
    um = np.uint64(m)
    low = (um << np.uint64(k)) if k < 64 else _U0
    if not signed and not neg and wl == 64 and k < 64 and (low >> np.uint64(k)) == um:
        return np.int64(low)  # fits an unsigned 64-bit word
    ld = _bit(m, wl - k) if wl >= k else 0
    return _overflow_bits(low, not neg, neg, neg, ld, wl, signed, mode, nsat)


@njit_serial
def apply_overflow(n, wl, signed, mode, saturation_bits):
    """The HLS overflow handling of the already-rounded int64 ``n`` into a ``wl``-bit word.

    Returns the int64 code (an unsigned 64-bit code as its int64 reinterpretation).  This is
    exactly HLS's assignment of an integer already in target steps (``ap_fixed_base``
    ``operator=`` with no quantization: its ``lD`` for ``"wrap_sign_magnitude"`` is bit ``wl``
    of the source, here of ``n``; pinned against the Fraction reference in
    ``tests/precision/test_fixed_narrow.py``).  After a rounding, HLS takes ``lD`` from the
    value *before* rounding, which differs from bit ``wl`` of ``n`` when the rounding carried
    into that bit: round with ``requantize`` (or ``quantize_one``) instead of rounding first
    and calling this.
    """
    n = np.int64(n)
    return _overflow_small(n, _bit(n, wl), wl, signed, mode, saturation_bits)


# --------------------------------------------------------------------------- elements
@njit_serial
def _quantize_slow(x, fl, wl, signed, rmode, omode, nsat, start, index):
    """Exact path for |y| >= 2**52, subnormal or underflowing y, and +-inf (taken, as the HLS
    double constructor does, as +-2**1024)."""
    if math.isinf(x):
        m = np.int64(1 << 52) if x > 0 else -np.int64(1 << 52)
        e = 1024 - 52
    else:
        mant, ex = math.frexp(x)
        m = np.int64(mant * 9007199254740992.0)  # exact: |mant| in [1/2, 1), 53 bits
        e = ex - 53
    k = e + fl
    if k >= 0:
        return _overflow_big(m, k, wl, signed, omode, nsat)
    rand = bits_at(start, index) if rmode == RND_STOCHASTIC else _U0
    r = round_shift_right(m, -k, rmode, rand)
    return _overflow_small(r, _bit(_floor_shift(m, -k), wl), wl, signed, omode, nsat)


@njit_serial
def quantize_one(x, scale, fl, wl, signed, rmode, omode, nsat, start, index):
    """The int64 code of the float ``x`` (not NaN) with ``scale = 2.0**fl``."""
    y = x * scale
    ay = abs(y)
    if ay < _FAST_LIMIT and (ay >= _SMALLEST_NORMAL or x == 0.0):
        f = np.floor(y)
        n = np.int64(f)
        # y - f rounds for small negative y (-0.5 + 2**-54 gives 0.5): compare y itself with
        # the exact midpoint f + 0.5, as the fast passes do
        if rmode == RND_STOCHASTIC:
            u = bits_at(start, index) >> _U11
            up = 1 if stochastic_up(np.float64(u) * _TWO_M53, y, f, y - f) else 0
        else:
            h = f + 0.5
            cmp_half = 1 if y > h else (0 if y == h else -1)
            up = _round_up(n, cmp_half, y != f, rmode, False)
        return _overflow_small(n + up, _bit(n, wl), wl, signed, omode, nsat)
    return _quantize_slow(x, fl, wl, signed, rmode, omode, nsat, start, index)


@njit_serial
def requantize_one(v, shift, wl, signed, rmode, omode, nsat, start, index):
    """The int64 code of the exact value ``v * 2**-shift`` (in units of the target step)."""
    v = np.int64(v)
    if shift > 0:
        rand = bits_at(start, index) if rmode == RND_STOCHASTIC else _U0
        r = round_shift_right(v, shift, rmode, rand)
        return _overflow_small(r, _bit(_floor_shift(v, shift), wl), wl, signed, omode, nsat)
    return _overflow_big(v, -shift, wl, signed, omode, nsat)


# --------------------------------------------------------------------------- array loops
@njit_serial
def requantize_serial(vs, out, shift, wl, signed, rmode, omode, nsat, start):
    """Requantize the flat integer array ``vs`` (values ``vs * 2**-shift`` target steps)."""
    for i in range(vs.size):
        out[i] = requantize_one(vs[i], shift, wl, signed, rmode, omode, nsat, start, i)


@njit_parallel
def requantize_parallel(vs, out, shift, wl, signed, rmode, omode, nsat, start):
    """``requantize_serial`` over threads."""
    for i in prange(vs.size):
        out[i] = requantize_one(vs[i], shift, wl, signed, rmode, omode, nsat, start, i)
