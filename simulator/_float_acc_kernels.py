"""Numba core of dot products summed in a floating-point accumulator (bf16, fp16, fp32, ...).

Each product ``a[i, k] * b[k, j]`` is exact in float64 (the public wrapper checks that the
significands fit 53 bits together).  Each addition is rounded once to the accumulator format,
in ascending ``k``, with ``round_to_minifloat``.  The float64 sum ``acc + p`` could itself round
before that, giving a double rounding; instead the exact sum is formed with TwoSum and rounded
to odd in float64 (truncate, then force the last bit to 1 if anything was discarded).  A value
rounded to odd with at least two more bits than the target (53 >= 24 + 2 for fp32 and anything
narrower) rounds to the target exactly as the exact sum would, for nearest-even and toward-zero.
Stochastic rounding sees the round-to-odd image of the sum, so its probabilities are exact to
within ``2**-28`` of a step (fp32 and narrower), not bit-exact to the Fraction rule.

The kernel is serial and cached: the rounding code is large, and recompiling it in a parallel
kernel every session cost more than the parallel speed-up returns on the sizes simulated.
"""

from __future__ import annotations

import math

import numpy as np
from precision._float_kernels import round_to_minifloat
from precision._numba_config import njit_serial
from precision.stochastic import bits_at

_STOCHASTIC_OFF = np.uint64(0)


@njit_serial
def sum_round_to_odd(x, y):
    """``x + y`` rounded to odd in float64 (exact when the sum is exact)."""
    s = x + y
    if not math.isfinite(s):
        return s
    yy = s - x
    err = (x - (s - yy)) + (y - yy)
    if err == 0.0:
        return s
    bits = np.array([s]).view(np.int64)[0]
    # Truncate toward zero: step s back by one ulp when it rounded away from zero.
    if (err > 0.0) != (s > 0.0):
        bits -= 1
    if bits & 1 == 0:
        bits += 1  # odd neighbour away from zero: the sticky bit of the discarded part
    return np.array([bits]).view(np.float64)[0]


@njit_serial
def float_acc_matmul(a, b, preload, exp_bits, man_bits, bias, subnormals, finite, mode,
                     saturate, stochastic, start, out):
    """``out[i, j]`` = the accumulator after ``preload[i, j]`` and every ``a[i, k] * b[k, j]``.

    ``a`` (M, K) and ``b`` (K, N) float64 values, ``preload`` (M, N) float64 (the bias, rounded
    into the accumulator as the first write).  With ``stochastic`` the random word of addition
    ``k`` of output ``(i, j)`` is ``bits_at(start, (i * N + j) * (K + 1) + k + 1)`` (index
    ``... + 0`` is the preload).
    """
    m, kk = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            base = (i * n + j) * (kk + 1)
            rand = bits_at(start, base) if stochastic else _STOCHASTIC_OFF
            acc = round_to_minifloat(preload[i, j], exp_bits, man_bits, bias, subnormals, finite,
                                     mode, saturate, rand)
            for k in range(kk):
                s = sum_round_to_odd(acc, a[i, k] * b[k, j])
                rand = bits_at(start, base + k + 1) if stochastic else _STOCHASTIC_OFF
                acc = round_to_minifloat(s, exp_bits, man_bits, bias, subnormals, finite, mode,
                                         saturate, rand)
            out[i, j] = acc
