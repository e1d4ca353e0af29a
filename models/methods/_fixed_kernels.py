"""Fused fixed-point rounding for the "fixed" training method: round and dequantize in one pass.

Fixed-point training (``models.methods.fixed``) needs the *values* ``Q(x) = code * 2**-fl`` of
every activation, error and parameter, never the codes.  ``FixedPoint.quantize`` writes the
codes (one pass, one allocation) and the method then multiplied them by ``2**-fl`` (a second
pass, a second allocation).  These kernels go straight from ``x`` to ``Q(x)``: they round
``y = x * 2**fl`` to an integral float64 ``r`` with the rule of ``precision.fixed`` (module
docstring there), apply the overflow mode in float, and store ``r * 2**-fl`` -- exact, since
``|r| < 2**31`` and the factor is a power of two -- either into a new array or in place.

The rule, with ``f = floor(y)`` and ``h = f + 0.5`` (exact for ``|y| < 2**52``):

* nearest modes go up iff ``y > h``, or ``y == h`` and the tie goes up (``nearest``: always;
  ``nearest_even``: iff ``f`` is odd; ``nearest_away``: iff ``f >= 0``; ``nearest_zero``: iff
  ``f < 0``; ``nearest_down``: never); ``toward_zero`` goes up iff ``f < 0`` and ``y != f``;
  ``floor`` never;
* ``stochastic`` goes up iff ``t < y - f`` exactly, ``t = (uniform_bits(key, i) >> 11) *
  2**-53`` (``precision.stochastic``; ``i`` the flat C-order index).  ``y - f`` is inexact for
  ``-1 < y < 0``, so there ``t - 1 < y`` (exact) is tested instead.

Elements outside the float fast range (NaN, +-inf, ``|y| >= 2**52``, subnormal ``y``) are left
as they were and counted; the caller then redoes the tensor with ``FixedPoint.quantize``, the
exact reference path.  Overflow with bit surgery (``wrap`` with ``saturation_bits``,
``wrap_sign_magnitude``) never reaches these kernels.

Kernels stay valid Python (``NUMBA_DISABLE_JIT=1``); each loop is call-free after inlining and
branch-free, so LLVM vectorizes it.
"""

from __future__ import annotations

import numpy as np

from precision._numba_config import njit_serial
from precision.modes import (
    OVF_SATURATE,
    OVF_SATURATE_SYMMETRIC,
    OVF_SATURATE_ZERO,
    RND_FLOOR,
    RND_NEAREST,
    RND_NEAREST_AWAY,
    RND_NEAREST_EVEN,
    RND_NEAREST_ZERO,
    RND_TOWARD_ZERO,
)
from precision.stochastic import GOLDEN_GAMMA, mix64

#: |y| below 2**52: floor, the midpoint f + 0.5 and y - f are exact float64 operations.
FAST_LIMIT = 4503599627370496.0
#: The smallest normal float64: below it, x * 2**fl may have lost bits.
SMALLEST_NORMAL = 2.2250738585072014e-308
TWO_M53 = 1.1102230246251565e-16
_U11 = np.uint64(11)
_U26 = np.uint64(26)
_LOW26 = np.uint64((1 << 26) - 1)
_TWO_26 = 67108864.0


@njit_serial(inline="always")
def _in_fast_range(x, y):
    ay = abs(y)
    return (ay < FAST_LIMIT) & ((ay >= SMALLEST_NORMAL) | (x == 0.0))


@njit_serial(inline="always")
def _round_nearest_family(y, near, trunc, tie_pos, tie_neg, even):
    """``y`` rounded to an integral float by a deterministic mode (module docstring)."""
    f = np.floor(y)
    h = f + 0.5
    half = f * 0.5
    tie = (tie_neg if f < 0.0 else tie_pos) | (even & (half != np.floor(half)))
    up = (near & ((y > h) | ((y == h) & tie))) | (trunc & (y != f) & (f < 0.0))
    return f + (1.0 if up else 0.0)


@njit_serial(inline="always")
def _round_stochastic(y, z):
    """``y`` rounded up iff ``(mix64(z) >> 11) * 2**-53 < y - floor(y)`` (module docstring);
    ``z = start + (i + 1) * GOLDEN_GAMMA`` is element ``i``'s Weyl state
    (``precision.stochastic.bits_at``)."""
    f = np.floor(y)
    u = mix64(z) >> _U11
    # float64(u) from two int32 halves: AVX2 converts int32, not int64, to double in vector
    # registers; 2**26 * hi + lo is exact (u < 2**53).
    t = (np.float64(np.int32(u >> _U26)) * _TWO_26 + np.float64(np.int32(u & _LOW26))) * TWO_M53
    up = (t - 1.0 < y) if f == -1.0 else (t < y - f)
    return f + (1.0 if up else 0.0)


@njit_serial(inline="always")
def _overflow(r, lo, lo_sat, hi, two_wl, inv_two_wl, zero, wrap):
    """The overflow mode on the integral float ``r``: clamp to ``[lo_sat, hi]``; 0 outside
    ``[lo, hi]`` (``zero``, saturate_zero); or two's-complement wrap into ``[lo, lo + 2**wl)``
    (``wrap``; exact for ``|r| < 2**53``, and ``* 2**-wl`` is the exact division)."""
    wrapped = r - two_wl * np.floor((r - lo) * inv_two_wl)
    outside = (r > hi) | (r < lo)
    bounded = (0.0 if outside else r) if zero else min(max(r, lo_sat), hi)
    return wrapped if wrap else bounded


@njit_serial(inline="always")
def _flags(rmode, omode):
    """Loop-invariant booleans of the rounding and overflow modes."""
    near = not (rmode == RND_FLOOR or rmode == RND_TOWARD_ZERO)
    trunc = rmode == RND_TOWARD_ZERO
    tie_pos = rmode == RND_NEAREST or rmode == RND_NEAREST_AWAY
    tie_neg = rmode == RND_NEAREST or rmode == RND_NEAREST_ZERO
    even = rmode == RND_NEAREST_EVEN
    zero = omode == OVF_SATURATE_ZERO
    wrap = not (omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC or zero)
    return near, trunc, tie_pos, tie_neg, even, zero, wrap


def _round_values(xs, out, scale, step, rmode, omode, lo, lo_sat, hi, two_wl):
    """``out[i] = Q(xs[i])`` for a deterministic rounding mode; ``xs`` and ``out`` flat arrays
    of the same size.  ``scale = 2**fl``, ``step = 2**-fl``; ``lo, lo_sat, hi`` the code range
    as floats (``lo_sat = lo + 1`` under saturate_symmetric), ``two_wl = 2**wl``.  Elements
    outside the fast range keep ``xs[i]``; returns their number."""
    near, trunc, tie_pos, tie_neg, even, zero, wrap = _flags(rmode, omode)
    inv_two_wl = 1.0 / two_wl
    rare = 0
    for i in range(xs.size):
        x = np.float64(xs[i])
        y = x * scale
        ok = _in_fast_range(x, y)
        r = _overflow(_round_nearest_family(y, near, trunc, tie_pos, tie_neg, even),
                      lo, lo_sat, hi, two_wl, inv_two_wl, zero, wrap)
        out[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


def _round_values_inplace(p, scale, step, rmode, omode, lo, lo_sat, hi, two_wl):
    """``p[i] = Q(p[i])`` in place (``_round_values``; one array, so that LLVM vectorizes
    without a runtime aliasing check that in-place calls would fail)."""
    near, trunc, tie_pos, tie_neg, even, zero, wrap = _flags(rmode, omode)
    inv_two_wl = 1.0 / two_wl
    rare = 0
    for i in range(p.size):
        x = p[i]
        y = x * scale
        ok = _in_fast_range(x, y)
        r = _overflow(_round_nearest_family(y, near, trunc, tie_pos, tie_neg, even),
                      lo, lo_sat, hi, two_wl, inv_two_wl, zero, wrap)
        p[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


def _round_values_stochastic(xs, out, scale, step, omode, lo, lo_sat, hi, two_wl, start):
    """``_round_values`` for stochastic rounding; ``start = mix64(key)`` of the tensor's key."""
    zero = omode == OVF_SATURATE_ZERO
    wrap = not (omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC or zero)
    inv_two_wl = 1.0 / two_wl
    rare = 0
    z = np.uint64(start)
    for i in range(xs.size):
        z = z + GOLDEN_GAMMA  # the Weyl state of element i, added, not multiplied
        x = np.float64(xs[i])
        y = x * scale
        ok = _in_fast_range(x, y)
        r = _overflow(_round_stochastic(y, z), lo, lo_sat, hi, two_wl, inv_two_wl, zero, wrap)
        out[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


def _round_values_stochastic_inplace(p, scale, step, omode, lo, lo_sat, hi, two_wl, start):
    """``_round_values_stochastic`` in place (see ``_round_values_inplace``)."""
    zero = omode == OVF_SATURATE_ZERO
    wrap = not (omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC or zero)
    inv_two_wl = 1.0 / two_wl
    rare = 0
    z = np.uint64(start)
    for i in range(p.size):
        z = z + GOLDEN_GAMMA
        x = p[i]
        y = x * scale
        ok = _in_fast_range(x, y)
        r = _overflow(_round_stochastic(y, z), lo, lo_sat, hi, two_wl, inv_two_wl, zero, wrap)
        p[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


round_values = njit_serial(_round_values)
round_values_inplace = njit_serial(_round_values_inplace)
round_values_stochastic = njit_serial(_round_values_stochastic)
round_values_stochastic_inplace = njit_serial(_round_values_stochastic_inplace)
