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

import functools

import numpy as np
from numba import prange

from precision._fixed_kernels import (
    _FAST_LIMIT, _SMALLEST_NORMAL, _TWO_M53, _U11, quantize_one, stochastic_up,
)
from precision._numba_config import njit_parallel, njit_serial
from precision.modes import (
    OVF_SATURATE, OVF_SATURATE_SYMMETRIC, OVF_SATURATE_ZERO,
    RND_FLOOR, RND_NEAREST, RND_NEAREST_AWAY, RND_NEAREST_EVEN,
    RND_NEAREST_ZERO, RND_STOCHASTIC, RND_TOWARD_ZERO,
)
from precision.stochastic import GOLDEN_GAMMA, bits_at, mix64, weyl_at

@njit_serial(inline="always")
def _overflow_int64(r, ext, umask, signed, sat, zero, lo, lo_sat, hi):
    """``(code, outside)``: the rounded int64 ``r`` clamped (``sat``), zeroed (``zero``) or
    wrapped to ``64 - ext`` bits, and whether it lies outside ``[lo, hi]`` (branch-free: the
    caller's loop stays vectorizable)."""
    outside = (r > hi) | (r < lo)
    wrapped = ((r << ext) >> ext) if signed else (r & umask)
    clamped = min(max(r, lo_sat), hi)
    return (clamped if sat else ((0 if outside else r) if zero else wrapped)), outside


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
    near, trunc, tie_pos, tie_neg, even = rounding_flags(rmode)
    rare = 0
    for i in prange(xs.size):
        x = np.float64(xs[i])
        y = x * scale
        ok = in_fast_range(x, y)
        r = round_float_flags(y if ok else 0.0, near, trunc, tie_pos, tie_neg, even)
        code, outside = _overflow_int64(np.int64(r), ext, umask, signed, sat, zero, lo, lo_sat,
                                        hi)
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
        ok = in_fast_range(x, y)
        r = round_float_stochastic(y if ok else 0.0, bits_at(start, i))
        code, outside = _overflow_int64(np.int64(r), ext, umask, signed, sat, zero, lo, lo_sat,
                                        hi)
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


#: Overflow classes of the narrow kernels.  ``saturate_symmetric`` is ``saturate`` with a
#: higher lowest code; both wrap modes wrap, and the overflows that need wrap-with-N or
#: sign-magnitude bit surgery are left to the exact pass.
SAT_CLASS, ZERO_CLASS, WRAP_CLASS = 0, 1, 2


def overflow_class(omode: int) -> int:
    """The narrow-kernel class of the overflow mode code ``omode``."""
    if omode == OVF_SATURATE or omode == OVF_SATURATE_SYMMETRIC:
        return SAT_CLASS
    return ZERO_CLASS if omode == OVF_SATURATE_ZERO else WRAP_CLASS


@njit_serial(inline="always")
def in_fast_range(x, y):
    """y = x * 2**fl is exact and small enough for float rounding (not NaN, inf, subnormal or
    beyond 2**52)."""
    ay = abs(y)
    return (ay < _FAST_LIMIT) & ((ay >= _SMALLEST_NORMAL) | (x == 0.0))


@njit_serial(inline="always")
def rounding_flags(rmode):
    """Loop-invariant booleans of the deterministic rounding mode ``rmode`` for
    :func:`round_float_flags`: ``(near, trunc, tie_pos, tie_neg, even)``."""
    near = not (rmode == RND_FLOOR or rmode == RND_TOWARD_ZERO)
    trunc = rmode == RND_TOWARD_ZERO
    tie_pos = rmode == RND_NEAREST or rmode == RND_NEAREST_AWAY
    tie_neg = rmode == RND_NEAREST or rmode == RND_NEAREST_ZERO
    even = rmode == RND_NEAREST_EVEN
    return near, trunc, tie_pos, tie_neg, even


@njit_serial(inline="always")
def round_float_flags(y, near, trunc, tie_pos, tie_neg, even):
    """``y`` rounded to an integral float64 by the deterministic mode whose
    :func:`rounding_flags` are given; branch-free, so a loop over it vectorizes whether the
    mode is a compile-time constant (the narrow kernels) or a run-time value (the training
    kernels of ``models.methods._fixed_kernels``).

    With ``f = floor(y)`` and the midpoint ``h = f + 0.5`` (exact for ``|y| < 2**52``), the
    nearest modes go up iff ``y > h``, or ``y == h`` and the mode breaks the tie upward
    (``nearest``: always; ``nearest_even``: iff ``f`` is odd; ``nearest_away``: iff ``f >= 0``;
    ``nearest_zero``: iff ``f < 0``; ``nearest_down``: never); ``toward_zero`` goes up iff
    ``f < 0`` and ``y != f``; ``floor`` never.  ``y - f`` is not exact for small negative
    ``y``, and ``floor(y + 0.5)`` is wrong at ``y = 0.5 - 2**-54`` (the sum rounds up to 1):
    compare ``y`` with ``h`` instead.
    """
    f = np.floor(y)
    h = f + 0.5
    half = f * 0.5
    tie = (tie_neg if f < 0.0 else tie_pos) | (even & (half != np.floor(half)))
    up = (near & ((y > h) | ((y == h) & tie))) | (trunc & (y != f) & (f < 0.0))
    return f + (1.0 if up else 0.0)


_U26 = np.uint64(26)
_LOW26 = np.uint64((1 << 26) - 1)


@njit_serial(inline="always")
def round_float_stochastic(y, bits):
    """``y`` rounded stochastically with the random word ``bits``: up iff
    (bits >> 11) * 2**-53 < frac, exactly."""
    f = np.floor(y)
    frac = y - f
    u = bits >> _U11
    # float64(u) from two int32 halves: AVX2 converts int32 (not 64-bit ints) to double in
    # vector registers; 2**26 * hi + lo is exact (u < 2**53).
    t = (np.float64(np.int32(u >> _U26)) * 67108864.0
         + np.float64(np.int32(u & _LOW26))) * _TWO_M53
    return f + (1.0 if stochastic_up(t, y, f, frac) else 0.0)


@functools.cache
def narrow_block(rmode: int, oclass: int):
    """The float pass for ``wl <= 31`` (or signed ``wl == 32``): one serial kernel per rounding
    mode and overflow class, compiled (and cached on disk) on first use.

    ``block(xs, out, scale, lo, lo_sat, hi, two_wl, slow_overflow, start, i0) -> rare``: codes
    of the contiguous ``xs`` into ``out`` (any integer dtype holding them), ``i0`` the flat index
    of ``xs[0]`` (the stochastic counter); bounds as floats.  Returns the number of elements
    left for ``_exact_pass``.

    Everything is float64: AVX2 has no packed int64 min/max, arithmetic shift or
    float-to-int64 conversion, so round and overflow in float and convert once to int32,
    narrowed on the store.  The modes are closure constants, so the loop body has no mode
    branches and LLVM vectorizes it; the loop runs from 0 over a contiguous view, so it needs
    no negative-index wraparound (which made LLVM scalarize every load and store).
    """

    def block(xs, out, scale, lo, lo_sat, hi, two_wl, slow_overflow, start, i0):
        inv_two_wl = 1.0 / two_wl  # a power of two: (r - lo) * inv_two_wl is exact
        weyl = weyl_at(start, i0)  # the counter of element i0, stepped by GOLDEN_GAMMA
        rare = 0
        for i in range(xs.size):
            x = np.float64(xs[i])
            y = x * scale
            if oclass == WRAP_CLASS:
                # the low wl bits must be exact: the exact pass does all but the fast range
                bad = not in_fast_range(x, y)
                y = 0.0 if bad else y
            else:
                # A huge or infinite y saturates (or zeroes) whatever its rounding, and every
                # mode rounds a subnormal y as the exact value; only NaN and an x whose
                # product underflowed to 0 (floor, stochastic) need the exact path.
                bad = (x != x) | ((y == 0.0) & (x != 0.0))
            if rmode == RND_STOCHASTIC:
                r = round_float_stochastic(y, mix64(weyl))
                weyl += GOLDEN_GAMMA
            else:
                near, trunc, tie_pos, tie_neg, even = rounding_flags(rmode)
                r = round_float_flags(y, near, trunc, tie_pos, tie_neg, even)
            if oclass == SAT_CLASS:
                c = r if r > lo_sat else lo_sat  # NaN -> lo_sat: a valid int32, redone later
                code = c if c < hi else hi
            elif oclass == ZERO_CLASS:
                code = 0.0 if (r > hi) | (r < lo) | bad else r
            else:
                # exact for |r| < 2**53: wrap into [lo, lo + 2**wl)
                code = r - two_wl * np.floor((r - lo) * inv_two_wl)
                bad = bad | (((r > hi) | (r < lo)) & slow_overflow)
            out[i] = np.int32(code)
            rare += np.int64(bad)
        return rare

    # One on-disk cache index per variant: variants sharing one index (same qualname, told
    # apart only by their closure constants) can be cross-wired when two processes compile
    # different variants at once (numba picks data-file names from the index it last read).
    block.__qualname__ = block.__name__ = f"narrow_block_r{rmode}_o{oclass}"
    return njit_serial(block)


#: Elements per parallel task: 128 KiB of float64 input, so each thread streams through
#: contiguous memory and the per-task overhead stays negligible.
BLOCK = 1 << 14


@functools.cache
def narrow_parallel(rmode: int, oclass: int):
    """``narrow_block(rmode, oclass)`` over blocks of ``BLOCK`` elements in parallel (same
    arguments but ``i0``; compiled per process on first use: parallel kernels are not cached).
    """
    block = narrow_block(rmode, oclass)

    def run(xs, out, scale, lo, lo_sat, hi, two_wl, slow_overflow, start):
        n_blocks = (xs.size + BLOCK - 1) // BLOCK
        rare = 0
        for b in prange(n_blocks):
            i0 = b * BLOCK
            i1 = min(i0 + BLOCK, xs.size)
            rare += block(xs[i0:i1], out[i0:i1], scale, lo, lo_sat, hi, two_wl,
                          slow_overflow, start, i0)
        return rare

    return njit_parallel(run)


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
