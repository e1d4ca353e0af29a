"""Numba cores of the float64 BLAS path's closing pass: exact sums back into the register.

The BLAS path computes ``a @ b`` on codes cast to float64; every partial sum is an integer below
``2**53``, so the float result is the exact integer sum.  This pass turns it into accumulator
contents (bias added, then wrap / saturate at the end) *in place*: the int64 result is written as
bit patterns over the float64 array it was read from, which BLAS wrote into the very memory that
is returned.  One array instead of two: half the memory traffic, and the fresh result's
first-touch page faults are paid once, by BLAS's write.

The conversion float64 -> int64 is the magic-number trick.  For an integer ``x`` with
``|x| <= 2**51``, ``y = x + 1.5 * 2**52`` is an integer in ``[2**52, 2**53]``, so the addition is
exact, and the bit pattern of a float64 in ``[2**52, 2**53]`` is ``bits(2**52) + (y - 2**52)``
(the mantissa field counts units; ``2**53`` itself continues the sequence).  Hence
``bits(x + 1.5 * 2**52) - bits(1.5 * 2**52) == x`` exactly, a float add and an integer subtract
that both vectorize on AVX2, where a float64 -> int64 conversion has no vector instruction
(``cvttsd2si`` one element at a time: about 1.1 ns per element, against about 0.3 ns here).
``-0.0`` (BLAS returns it for sums of ``-0.0`` products) gives 0.

Kernels take plain arrays and scalars and stay valid Python (``NUMBA_DISABLE_JIT=1``): numpy
scalars have the same ``.view`` as Numba's bitcast.
"""

from __future__ import annotations

import numpy as np

from precision._numba_config import njit_serial
from simulator._matmul_kernels import wrap_add_mask, wrap_constants

#: ``1.5 * 2**52``: adding it to an integer ``|x| <= 2**51`` puts ``x`` in the mantissa's units.
MAGIC = 6755399441055744.0
#: ``bits(MAGIC)``.
MAGIC_BITS = 0x4338000000000000
#: The largest ``|x|`` the magic-number conversion is exact for.
MAGIC_LIMIT = 1 << 51

#: What the register does with the exact sum: nothing (a proven bound keeps every sum in range),
#: saturate at the end, or wrap (two's complement) at the end.
RULE_NONE = 0
RULE_SATURATE = 1
RULE_WRAP = 2


@njit_serial
def exact_int(x):
    """The int64 equal to the integral float64 ``x``, exact for ``|x| <= 2**51``."""
    return np.float64(x + np.float64(MAGIC)).view(np.int64) - np.int64(MAGIC_BITS)


@njit_serial
def int_bits(v):
    """The float64 whose bit pattern is the int64 ``v`` (stored, never computed with)."""
    return np.int64(v).view(np.float64)


@njit_serial
def codes_to_float(src, dst):
    """``dst[i] = src[i]``: flat integer codes to float64 (exact for ``|code| < 2**53``).

    One vectorized pass (int16 -> float64 is ``vpmovsxwd`` + ``vcvtdq2pd`` on AVX2); it costs
    what ``np.copyto`` costs on the data, but less of the cold-cache overhead of numpy's cast
    machinery around it (about 0.05 ms per call at 512 x 512, measured).
    """
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit_serial
def finish_float_exact(c, bias, lo, hi, width, rule):
    """Accumulator contents of the exact float64 sums ``c`` plus ``bias[j]``, written in place;
    returns the number of overflow events.

    ``c`` (M, N) float64 holds integers with ``|c| <= 2**51``; ``bias`` int64 (N,) (zeros for no
    bias; ``|bias| < 2**62``, so ``c + bias`` fits int64).  On return ``c.view(np.int64)`` holds
    the register contents by ``rule`` (``RULE_*``) in ``[lo, hi]`` of a ``width``-bit register;
    the result counts the outputs whose exact value left the register (``RULE_NONE``: the
    caller proved there are none, and 0 is returned).  The rule is chosen once per row so that
    each inner loop is branch-free and vectorizes.  The count is returned rather than written
    per row: every numpy call after a BLAS call runs on cold caches (tens of microseconds
    each, measured), so the caller does no more work than this one call.
    """
    m, n = c.shape
    half, mask = wrap_constants(width)
    wrap_is_identity = width == 64  # every int64 is a 64-bit register value
    total = 0
    for i in range(m):
        if rule == RULE_NONE or (rule == RULE_WRAP and wrap_is_identity):
            for j in range(n):
                c[i, j] = int_bits(exact_int(c[i, j]) + bias[j])
        elif rule == RULE_SATURATE:
            events = 0
            for j in range(n):
                v = exact_int(c[i, j]) + bias[j]
                events += (v > hi) | (v < lo)
                c[i, j] = int_bits(min(max(v, lo), hi))
            total += events
        else:
            events = 0
            for j in range(n):
                v = exact_int(c[i, j]) + bias[j]
                events += (v > hi) | (v < lo)
                c[i, j] = int_bits(wrap_add_mask(v, half, mask))
            total += events
    return total
