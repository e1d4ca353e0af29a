"""Vectorizable fast passes of fixed-point quantization and requantization.

Speed: numba does not inline calls between separately compiled functions, and a call in a loop
body also stops LLVM from vectorizing it.  So the array loops run in two passes: a call-free,
vectorizable pass computes every element whose y = x * 2**fl is in the float fast range and
whose overflow needs no bit surgery, and counts the others ("rare": |y| >= 2**52, subnormal y,
NaN, inf, or an overflow under wrap-with-N / wrap_sign_magnitude); only when that count is
non-zero, a second pass recomputes them with the exact scalar path.

Each body is one plain function compiled twice: serial (cached) and parallel (uncached).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._fixed_kernels import (
    _FAST_LIMIT, _SMALLEST_NORMAL, _TWO_M53, _U11, quantize_one,
)
from precision._numba_config import njit_parallel, njit_serial
from precision.modes import (
    OVF_SATURATE, OVF_SATURATE_SYMMETRIC, OVF_SATURATE_ZERO,
    RND_FLOOR, RND_NEAREST, RND_NEAREST_AWAY, RND_NEAREST_DOWN, RND_NEAREST_EVEN,
    RND_NEAREST_ZERO, RND_STOCHASTIC, RND_TOWARD_ZERO,
)
from precision.stochastic import bits_at

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
        yy = y if ok else 0.0
        n = np.int64(f)
        # y against the midpoint f + 0.5 (exact); y - f is inexact for small negative y
        gt = yy > f + 0.5
        tie = yy == f + 0.5
        up = ((nearest & (gt | tie)) | (even & (gt | (tie & ((n & 1) == 1))))
              | (away & (gt | (tie & (n >= 0)))) | (tzero & (gt | (tie & (n < 0))))
              | (down & gt) | (trunc & (yy != f) & (n < 0)))
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
        r = np.int64(f) + np.int64(_stochastic_up(np.float64(u) * _TWO_M53, y, f, frac))
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
def _in_fast_range(x, y):
    """y = x * 2**fl is exact and small enough for float rounding (not NaN, inf, subnormal or
    beyond 2**52)."""
    ay = abs(y)
    return (ay < _FAST_LIMIT) & ((ay >= _SMALLEST_NORMAL) | (x == 0.0))


@njit_serial
def round_flags(rmode):
    """``(near, trunc, tie_pos, tie_neg, even)`` for ``_round_float`` (see there)."""
    near = not (rmode == RND_FLOOR or rmode == RND_TOWARD_ZERO)
    trunc = rmode == RND_TOWARD_ZERO
    tie_pos = rmode == RND_NEAREST or rmode == RND_NEAREST_AWAY
    tie_neg = rmode == RND_NEAREST or rmode == RND_NEAREST_ZERO
    return near, trunc, tie_pos, tie_neg, rmode == RND_NEAREST_EVEN


@njit_serial(inline="always")
def _round_float(y, near, trunc, tie_pos, tie_neg, even):
    """``y`` rounded to an integral float64, branch-free.  With ``f = floor(y)`` and the
    midpoint ``h = f + 0.5`` (exact for ``|y| < 2**52``), the nearest modes go up iff
    ``y > h``, or ``y == h`` and the tie goes up (``tie_pos`` / ``tie_neg`` by the sign of
    ``f``; ``nearest_even``: iff ``f`` is odd); ``toward_zero`` goes up iff ``f < 0`` and
    ``y != f``; ``floor`` never.  (``y - f`` is not exact for small negative ``y``: compare
    ``y`` itself.)"""
    f = np.floor(y)
    h = f + 0.5
    half = f * 0.5
    tie = (tie_neg if f < 0.0 else tie_pos) | (even & (half != np.floor(half)))
    up = (near & ((y > h) | ((y == h) & tie))) | (trunc & (y != f) & (f < 0.0))
    return f + (1.0 if up else 0.0)


_U26 = np.uint64(26)
_LOW26 = np.uint64((1 << 26) - 1)


@njit_serial(inline="always")
def _round_float_stochastic(y, ok, start, i):
    """``y`` rounded stochastically (up iff (bits >> 11) * 2**-53 < frac; 0.0 if not ok)."""
    f = np.floor(y) if ok else 0.0
    frac = (y - f) if ok else 0.0
    u = bits_at(start, i) >> _U11
    # float64(u) from two int32 halves: AVX2 converts int32 (not 64-bit ints) to double in
    # vector registers; 2**26 * hi + lo is exact (u < 2**53).
    uf = (np.float64(np.int32(u >> _U26)) * 67108864.0
          + np.float64(np.int32(u & _LOW26)))
    return f + (1.0 if _stochastic_up(uf * _TWO_M53, y, f, frac) else 0.0)


@njit_serial(inline="always")
def _stochastic_up(t, y, f, frac):
    """``t < y - floor(y)`` exactly, for ``t`` a multiple of 2**-53 in [0, 1).

    ``frac = y - f`` is exact except for -1 < y < 0, where ``y + 1`` can round (y = -0.3 +
    2**-54 has bits below 2**-53); there ``t - 1`` is exact instead, so compare that with y."""
    return (t - 1.0 < y) if f == -1.0 else (t < frac)


def _fast_pass_narrow(xs, out, scale, rmode, omode, lo, lo_sat, hi, two_wl, slow_overflow, i0, i1):
    """Pass 1 for ``wl <= 31`` and deterministic rounding over ``xs[i0:i1]``, all in float64
    (AVX2 has no packed int64 min/max, arithmetic shift or float-to-int64 conversion): round
    and overflow in float, then one conversion to int32, narrowed on the store.

    One loop per overflow class, so each is call-free and branch-free and LLVM vectorizes it
    (a select over all three codes costs a division per element); the parallel driver hands
    it blocks of ``BLOCK`` elements.
    """
    near, trunc, tie_pos, tie_neg, even = round_flags(rmode)
    rare = 0
    # Elements that are not ok get code 0 here (the float result may be NaN or huge, which
    # has no int32 value); the exact pass recomputes them.
    if omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC:
        for i in range(i0, i1):
            x = np.float64(xs[i])
            y = x * scale
            ok = _in_fast_range(x, y)
            r = _round_float(y, near, trunc, tie_pos, tie_neg, even)
            out[i] = np.int32(min(max(r, lo_sat), hi) if ok else 0.0)
            rare += np.int64(not ok)
    elif omode == OVF_SATURATE_ZERO:
        for i in range(i0, i1):
            x = np.float64(xs[i])
            y = x * scale
            ok = _in_fast_range(x, y)
            r = _round_float(y, near, trunc, tie_pos, tie_neg, even)
            out[i] = np.int32(0.0 if (r > hi) | (r < lo) | (not ok) else r)
            rare += np.int64(not ok)
    else:
        for i in range(i0, i1):
            x = np.float64(xs[i])
            y = x * scale
            ok = _in_fast_range(x, y)
            r = _round_float(y if ok else 0.0, near, trunc, tie_pos, tie_neg, even)
            outside = (r > hi) | (r < lo)
            # exact for |r| < 2**53: wrap into [lo, lo + 2**wl)
            out[i] = np.int32(r - two_wl * np.floor((r - lo) / two_wl))
            rare += np.int64((not ok) | (outside & slow_overflow))
    return rare


def _fast_pass_narrow_stochastic(xs, out, scale, omode, lo, lo_sat, hi, two_wl, slow_overflow,
                                 start, i0, i1):
    """``_fast_pass_narrow`` for stochastic rounding over ``xs[i0:i1]``."""
    rare = 0
    if omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC:
        for i in range(i0, i1):
            x = np.float64(xs[i])
            y = x * scale
            ok = _in_fast_range(x, y)
            r = _round_float_stochastic(y, ok, start, i)
            out[i] = np.int32(min(max(r, lo_sat), hi))
            rare += np.int64(not ok)
    elif omode == OVF_SATURATE_ZERO:
        for i in range(i0, i1):
            x = np.float64(xs[i])
            y = x * scale
            ok = _in_fast_range(x, y)
            r = _round_float_stochastic(y, ok, start, i)
            out[i] = np.int32(0.0 if (r > hi) | (r < lo) else r)
            rare += np.int64(not ok)
    else:
        for i in range(i0, i1):
            x = np.float64(xs[i])
            y = x * scale
            ok = _in_fast_range(x, y)
            r = _round_float_stochastic(y, ok, start, i)
            outside = (r > hi) | (r < lo)
            out[i] = np.int32(r - two_wl * np.floor((r - lo) / two_wl))
            rare += np.int64((not ok) | (outside & slow_overflow))
    return rare


#: Elements per parallel task: 128 KiB of float64 input, so each thread streams through
#: contiguous memory and the per-task overhead stays negligible.
BLOCK = 1 << 14

_narrow_block = njit_serial(_fast_pass_narrow)
_narrow_stochastic_block = njit_serial(_fast_pass_narrow_stochastic)


@njit_serial
def fast_pass_narrow_serial(xs, out, scale, rmode, omode, lo, lo_sat, hi, two_wl,
                            slow_overflow):
    """``_fast_pass_narrow`` over the whole array; returns the rare count."""
    return _narrow_block(xs, out, scale, rmode, omode, lo, lo_sat, hi, two_wl, slow_overflow,
                         0, xs.size)


@njit_parallel
def fast_pass_narrow_parallel(xs, out, scale, rmode, omode, lo, lo_sat, hi, two_wl,
                              slow_overflow):
    """``_fast_pass_narrow`` over blocks of ``BLOCK`` elements in parallel."""
    n_blocks = (xs.size + BLOCK - 1) // BLOCK
    rare = 0
    for b in prange(n_blocks):
        i0 = b * BLOCK
        rare += _narrow_block(xs, out, scale, rmode, omode, lo, lo_sat, hi, two_wl,
                              slow_overflow, i0, min(i0 + BLOCK, xs.size))
    return rare


@njit_serial
def fast_pass_narrow_stochastic_serial(xs, out, scale, omode, lo, lo_sat, hi, two_wl,
                                       slow_overflow, start):
    """``_fast_pass_narrow_stochastic`` over the whole array; returns the rare count."""
    return _narrow_stochastic_block(xs, out, scale, omode, lo, lo_sat, hi, two_wl,
                                    slow_overflow, start, 0, xs.size)


@njit_parallel
def fast_pass_narrow_stochastic_parallel(xs, out, scale, omode, lo, lo_sat, hi, two_wl,
                                         slow_overflow, start):
    """``_fast_pass_narrow_stochastic`` over blocks of ``BLOCK`` elements in parallel."""
    n_blocks = (xs.size + BLOCK - 1) // BLOCK
    rare = 0
    for b in prange(n_blocks):
        i0 = b * BLOCK
        rare += _narrow_stochastic_block(xs, out, scale, omode, lo, lo_sat, hi, two_wl,
                                         slow_overflow, start, i0, min(i0 + BLOCK, xs.size))
    return rare


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
