"""Fused fixed-point rounding for the "fixed" training method: round and dequantize in one pass.

Fixed-point training (``models.methods.fixed``) needs the *values* ``Q(x) = code * 2**-fl`` of
every activation, error and parameter, never the codes.  ``FixedPoint.quantize`` writes the
codes (one pass, one allocation) and the method then multiplied them by ``2**-fl`` (a second
pass, a second allocation).  These kernels go straight from ``x`` to ``Q(x)``: they round
``y = x * 2**fl`` to an integral float64 ``r`` with the rule of ``precision.fixed`` (module
docstring there), apply the overflow mode in float, and store ``r * 2**-fl`` -- exact, since
``|r| < 2**31`` and the factor is a power of two -- either into a new array or in place.

The rounding rule and the fast-range test are the quantizer's own, shared with its narrow
kernels (``precision._fixed_fast_kernels``: ``round_float_flags``, ``round_float_stochastic``,
``in_fast_range``); stochastic rounding draws ``uniform_bits(key, i)`` for the flat C-order
index ``i``, as ``FixedPoint.quantize`` does.

Elements outside the float fast range (NaN, +-inf, ``|y| >= 2**52``, subnormal ``y``) are left
as they were and counted; the caller then redoes the tensor with ``FixedPoint.quantize``, the
exact reference path.  Overflow with bit surgery (``wrap`` with ``saturation_bits``,
``wrap_sign_magnitude``) never reaches these kernels.

Kernels stay valid Python (``NUMBA_DISABLE_JIT=1``); each loop is call-free after inlining and
branch-free, so LLVM vectorizes it.
"""

from __future__ import annotations

import numpy as np

from precision._fixed_fast_kernels import (
    in_fast_range,
    round_float_flags,
    round_float_stochastic,
    rounding_flags,
)
from precision._numba_config import njit_serial
from precision.modes import OVF_SATURATE, OVF_SATURATE_SYMMETRIC, OVF_SATURATE_ZERO
from precision.stochastic import GOLDEN_GAMMA, mix64


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
def _overflow_flags(omode):
    """``(zero, wrap)`` of :func:`_overflow` for the overflow mode ``omode``."""
    zero = omode == OVF_SATURATE_ZERO
    wrap = not (omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC or zero)
    return zero, wrap


@njit_serial(inline="always")
def _flags(rmode, omode):
    """Loop-invariant booleans of the rounding and overflow modes."""
    near, trunc, tie_pos, tie_neg, even = rounding_flags(rmode)
    zero, wrap = _overflow_flags(omode)
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
        ok = in_fast_range(x, y)
        r = _overflow(round_float_flags(y, near, trunc, tie_pos, tie_neg, even),
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
        ok = in_fast_range(x, y)
        r = _overflow(round_float_flags(y, near, trunc, tie_pos, tie_neg, even),
                      lo, lo_sat, hi, two_wl, inv_two_wl, zero, wrap)
        p[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


def _round_values_stochastic(xs, out, scale, step, omode, lo, lo_sat, hi, two_wl, start):
    """``_round_values`` for stochastic rounding; ``start = mix64(key)`` of the tensor's key."""
    zero, wrap = _overflow_flags(omode)
    inv_two_wl = 1.0 / two_wl
    rare = 0
    z = np.uint64(start)
    for i in range(xs.size):
        z = z + GOLDEN_GAMMA  # the Weyl state of element i, added, not multiplied
        x = np.float64(xs[i])
        y = x * scale
        ok = in_fast_range(x, y)
        r = _overflow(round_float_stochastic(y, mix64(z)), lo, lo_sat, hi, two_wl, inv_two_wl,
                      zero, wrap)
        out[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


def _round_values_stochastic_inplace(p, scale, step, omode, lo, lo_sat, hi, two_wl, start):
    """``_round_values_stochastic`` in place (see ``_round_values_inplace``)."""
    zero, wrap = _overflow_flags(omode)
    inv_two_wl = 1.0 / two_wl
    rare = 0
    z = np.uint64(start)
    for i in range(p.size):
        z = z + GOLDEN_GAMMA
        x = p[i]
        y = x * scale
        ok = in_fast_range(x, y)
        r = _overflow(round_float_stochastic(y, mix64(z)), lo, lo_sat, hi, two_wl, inv_two_wl,
                      zero, wrap)
        p[i] = r * step if ok else x
        rare += np.int64(not ok)
    return rare


round_values = njit_serial(_round_values)
round_values_inplace = njit_serial(_round_values_inplace)
round_values_stochastic = njit_serial(_round_values_stochastic)
round_values_stochastic_inplace = njit_serial(_round_values_stochastic_inplace)
