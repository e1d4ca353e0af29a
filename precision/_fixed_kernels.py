"""Numba cores of fixed-point quantization (HLS ``ap_fixed`` assignment semantics).

Everything here takes arrays and scalars only and stays valid Python (``NUMBA_DISABLE_JIT=1``).
The public wrappers live in :mod:`precision.fixed`; the exact rules are documented there.

Two scalar helpers have stable signatures because the simulator's kernels call them:

* ``round_shift_right(n, shift, mode, rand)``: ``n / 2**shift`` rounded to an integer.
* ``apply_overflow(n, wl, signed, mode, saturation_bits)``: the HLS overflow handling of an
  already-rounded integer into a ``wl``-bit word.

Speed: numba does not inline calls between separately compiled functions, and a call in a loop
body also stops LLVM from vectorizing it.  So the array loops run in two passes: a call-free,
vectorizable pass computes every element whose y = x * 2**fl is in the float fast range and
whose overflow needs no bit surgery, and counts the others ("rare": |y| >= 2**52, subnormal y,
NaN, inf, or an overflow under wrap-with-N / wrap_sign_magnitude); only when that count is
non-zero, a second pass recomputes them with the exact scalar path.

Bit patterns are handled as ``uint64`` and converted to the int64 code only at the end, because
numba (like numpy) promotes mixed int64/uint64 arithmetic to float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from precision.modes import (
    OVF_SATURATE, OVF_SATURATE_SYMMETRIC, OVF_SATURATE_ZERO, OVF_WRAP, OVF_WRAP_SIGN_MAGNITUDE,
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

    Returns the int64 code (an unsigned 64-bit code as its int64 reinterpretation).  For
    ``"wrap_sign_magnitude"`` HLS looks at bit ``wl`` of the value *before* rounding; this
    helper has only the rounded value and uses its bit ``wl``, which is the same unless
    rounding carried into that bit.
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
        frac = y - f  # exact in this range
        n = np.int64(f)
        if rmode == RND_STOCHASTIC:
            u = bits_at(start, index) >> _U11
            up = 1 if np.float64(u) * _TWO_M53 < frac else 0
        else:
            cmp_half = 1 if frac > 0.5 else (0 if frac == 0.5 else -1)
            up = _round_up(n, cmp_half, frac != 0.0, rmode, False)
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


@njit_serial
def quantize_float_per_element_fl(xs, fls, out, wl, signed, rmode, omode, nsat, start):
    """Exact scalar path with one fl per element (dynamic fixed point groups); returns the
    NaN count."""
    nan_count = 0
    for i in range(xs.size):
        x = np.float64(xs[i])
        if x != x:
            nan_count += 1
            out[i] = 0
        else:
            fl = fls[i]
            out[i] = quantize_one(x, math.ldexp(1.0, int(fl)), fl, wl, signed, rmode, omode, nsat,
                                  start, i)
    return nan_count


@njit_parallel
def quantize_float_per_element_fl_parallel(xs, fls, out, wl, signed, rmode, omode, nsat, start):
    """``quantize_float_per_element_fl`` over threads."""
    nan_count = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        if x != x:
            nan_count += 1
            out[i] = 0
        else:
            fl = fls[i]
            out[i] = quantize_one(x, math.ldexp(1.0, int(fl)), fl, wl, signed, rmode, omode, nsat,
                                  start, i)
    return nan_count


# --------------------------------------------------------------------------- fast two-pass loops
def _fast_pass(xs, out, scale, wl, signed, rmode, omode, lo, lo_sat, hi, slow_overflow):
    """Pass 1 for deterministic rounding (one body, compiled serial and parallel below).

    ``lo``/``hi``: the code range clipped to int64; ``lo_sat``: the lowest saturated code
    (``lo + 1`` for saturate_symmetric); ``slow_overflow``: overflow needs the exact path.
    Returns the number of elements left for ``_exact_pass``.
    """
    ext = 64 - wl
    umask = np.int64(-1) if wl >= 64 else (np.int64(1) << wl) - 1
    sat = omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC
    zero = omode == OVF_SATURATE_ZERO
    nearest = rmode == RND_NEAREST
    even = rmode == RND_NEAREST_EVEN
    away = rmode == RND_NEAREST_AWAY
    tzero = rmode == RND_NEAREST_ZERO
    down = rmode == RND_NEAREST_DOWN
    trunc = rmode == RND_TOWARD_ZERO
    rare = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        y = x * scale
        ay = abs(y)
        ok = (ay < _FAST_LIMIT) & ((ay >= _SMALLEST_NORMAL) | (x == 0.0))
        f = np.floor(y) if ok else 0.0
        frac = (y - f) if ok else 0.0
        n = np.int64(f)
        gt = frac > 0.5
        tie = frac == 0.5
        up = ((nearest & (gt | tie)) | (even & (gt | (tie & ((n & 1) == 1))))
              | (away & (gt | (tie & (n >= 0)))) | (tzero & (gt | (tie & (n < 0))))
              | (down & gt) | (trunc & (frac != 0.0) & (n < 0)))
        r = n + np.int64(up)
        outside = (r > hi) | (r < lo)
        if signed:
            wrapped = (r << ext) >> ext
        else:
            wrapped = r & umask
        clamped = min(max(r, lo_sat), hi)
        code = clamped if sat else ((0 if outside else r) if zero else wrapped)
        out[i] = code
        rare += np.int64((not ok) | (outside & slow_overflow))
    return rare


def _fast_pass_stochastic(xs, out, scale, wl, signed, omode, lo, lo_sat, hi, slow_overflow,
                          start):
    """Pass 1 for stochastic rounding: up iff (bits >> 11) * 2**-53 < frac."""
    ext = 64 - wl
    umask = np.int64(-1) if wl >= 64 else (np.int64(1) << wl) - 1
    sat = omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC
    zero = omode == OVF_SATURATE_ZERO
    rare = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        y = x * scale
        ay = abs(y)
        ok = (ay < _FAST_LIMIT) & ((ay >= _SMALLEST_NORMAL) | (x == 0.0))
        f = np.floor(y) if ok else 0.0
        frac = (y - f) if ok else 0.0
        u = bits_at(start, i) >> _U11
        r = np.int64(f) + np.int64(np.float64(u) * _TWO_M53 < frac)
        outside = (r > hi) | (r < lo)
        if signed:
            wrapped = (r << ext) >> ext
        else:
            wrapped = r & umask
        clamped = min(max(r, lo_sat), hi)
        code = clamped if sat else ((0 if outside else r) if zero else wrapped)
        out[i] = code
        rare += np.int64((not ok) | (outside & slow_overflow))
    return rare


def _exact_pass(xs, out, scale, fl, wl, signed, rmode, omode, nsat, start, everything):
    """Pass 2: the exact scalar path for the elements pass 1 left (or ``everything``);
    returns the number of NaNs (coded 0)."""
    nan_count = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        ay = abs(x * scale)
        if x != x:
            nan_count += 1
            out[i] = 0
        elif everything or not (ay < _FAST_LIMIT and (ay >= _SMALLEST_NORMAL or x == 0.0)):
            out[i] = quantize_one(x, scale, fl, wl, signed, rmode, omode, nsat, start, i)
    return nan_count


fast_pass_serial = njit_serial(_fast_pass)
fast_pass_parallel = njit_parallel(_fast_pass)
fast_pass_stochastic_serial = njit_serial(_fast_pass_stochastic)
fast_pass_stochastic_parallel = njit_parallel(_fast_pass_stochastic)
exact_pass_serial = njit_serial(_exact_pass)
exact_pass_parallel = njit_parallel(_exact_pass)


@njit_serial(inline="always")
def _narrow_code(r, outside, sat, zero, lo, lo_sat, hi, two_wl):
    """The code of the rounded float ``r`` for ``wl <= 31``, in float arithmetic (exact for
    |r| < 2**53): clamp, zero or wrap into [lo, lo + 2**wl)."""
    wrapped = r - two_wl * np.floor((r - lo) / two_wl)
    return min(max(r, lo_sat), hi) if sat else ((0.0 if outside else r) if zero else wrapped)


def _fast_pass_narrow(xs, out, scale, rmode, omode, lo, lo_sat, hi, two_wl, slow_overflow):
    """Pass 1 for ``wl <= 31`` and deterministic rounding, all in float64 (AVX2 has no
    packed int64 min/max, arithmetic shift or float-to-int64 conversion)."""
    sat = omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC
    zero = omode == OVF_SATURATE_ZERO
    near = not (rmode == RND_FLOOR or rmode == RND_TOWARD_ZERO)
    tie_up = rmode == RND_NEAREST
    tie_even = rmode == RND_NEAREST_EVEN
    tie_away = rmode == RND_NEAREST_AWAY
    tie_zero = rmode == RND_NEAREST_ZERO
    trunc = rmode == RND_TOWARD_ZERO
    rare = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        y = x * scale
        ay = abs(y)
        ok = (ay < _FAST_LIMIT) & ((ay >= _SMALLEST_NORMAL) | (x == 0.0))
        f = np.floor(y) if ok else 0.0
        frac = (y - f) if ok else 0.0
        half = f * 0.5
        odd = half != np.floor(half)
        tiebit = tie_up | (tie_even & odd) | (tie_away & (f >= 0.0)) | (tie_zero & (f < 0.0))
        up = (near & ((frac > 0.5) | ((frac == 0.5) & tiebit))) | (
            trunc & (frac != 0.0) & (f < 0.0))
        r = f + (1.0 if up else 0.0)
        outside = (r > hi) | (r < lo)
        out[i] = np.int32(_narrow_code(r, outside, sat, zero, lo, lo_sat, hi, two_wl))
        rare += np.int64((not ok) | (outside & slow_overflow))
    return rare


def _fast_pass_narrow_stochastic(xs, out, scale, omode, lo, lo_sat, hi, two_wl, slow_overflow,
                                 start):
    """``_fast_pass_narrow`` for stochastic rounding."""
    sat = omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC
    zero = omode == OVF_SATURATE_ZERO
    rare = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        y = x * scale
        ay = abs(y)
        ok = (ay < _FAST_LIMIT) & ((ay >= _SMALLEST_NORMAL) | (x == 0.0))
        f = np.floor(y) if ok else 0.0
        frac = (y - f) if ok else 0.0
        u = bits_at(start, i) >> _U11
        r = f + (1.0 if np.float64(u) * _TWO_M53 < frac else 0.0)
        outside = (r > hi) | (r < lo)
        out[i] = np.int32(_narrow_code(r, outside, sat, zero, lo, lo_sat, hi, two_wl))
        rare += np.int64((not ok) | (outside & slow_overflow))
    return rare


fast_pass_narrow_serial = njit_serial(_fast_pass_narrow)
fast_pass_narrow_parallel = njit_parallel(_fast_pass_narrow)
fast_pass_narrow_stochastic_serial = njit_serial(_fast_pass_narrow_stochastic)
fast_pass_narrow_stochastic_parallel = njit_parallel(_fast_pass_narrow_stochastic)


def _requantize_fast(vs, out, shift, wl, signed, rmode, omode, lo, lo_sat, hi, slow_overflow,
                     start):
    """Pass 1 of requantize for ``1 <= shift <= 53``: integer rounding of ``v / 2**shift``
    without calls (vectorizable); returns the number of elements left for the exact pass
    (overflows that need wrap-with-N / sign-magnitude bit surgery)."""
    ext = 64 - wl
    umask = np.int64(-1) if wl >= 64 else (np.int64(1) << wl) - 1
    half = np.int64(1) << (shift - 1)
    sat = omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC
    zero = omode == OVF_SATURATE_ZERO
    near = not (rmode == RND_FLOOR or rmode == RND_TOWARD_ZERO or rmode == RND_STOCHASTIC)
    tie_up = rmode == RND_NEAREST
    tie_even = rmode == RND_NEAREST_EVEN
    tie_away = rmode == RND_NEAREST_AWAY
    tie_zero = rmode == RND_NEAREST_ZERO
    trunc = rmode == RND_TOWARD_ZERO
    stochastic = rmode == RND_STOCHASTIC
    rare = 0
    for i in prange(vs.size):
        v = np.int64(vs[i])
        n = v >> shift
        rem = v - (n << shift)
        tiebit = tie_up | (tie_even & ((n & 1) == 1)) | (tie_away & (n >= 0)) | (
            tie_zero & (n < 0))
        up = (near & ((rem > half) | ((rem == half) & tiebit))) | (
            trunc & (rem != 0) & (n < 0))
        if stochastic:
            u = np.int64(bits_at(start, i) >> _U11)
            up = u < (rem << (53 - shift))
        r = n + np.int64(up)
        outside = (r > hi) | (r < lo)
        if signed:
            wrapped = (r << ext) >> ext
        else:
            wrapped = r & umask
        clamped = min(max(r, lo_sat), hi)
        out[i] = clamped if sat else ((0 if outside else r) if zero else wrapped)
        rare += np.int64(outside & slow_overflow)
    return rare


requantize_fast_serial = njit_serial(_requantize_fast)
requantize_fast_parallel = njit_parallel(_requantize_fast)
