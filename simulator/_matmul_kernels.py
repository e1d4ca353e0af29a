"""Numba cores of the exact integer matrix product ``c = a @ b`` on codes.

Every kernel takes plain arrays and scalars (no formats) and stays valid Python, so
``NUMBA_DISABLE_JIT=1`` runs it.  The accumulator register of ``width`` bits holds
``[lo, hi] = [-2**(width-1), 2**(width-1) - 1]``.  Products are exact in int64 because the public
wrapper refuses accumulators narrower than one product (so ``|a*b| < 2**63``).

Three ways to sum, chosen by ``simulator.ops`` from a bound on the partial sums:

* ``matmul_modular``: int64 sums.  int64 addition wraps modulo ``2**64``, so the result is the
  exact sum modulo ``2**64`` whatever the magnitudes: exact for a wrapping accumulator of any
  width <= 64, and the exact sum itself whenever ``K * max|a*b| + |bias| < 2**63``.
* ``matmul_saturate_steps``: clamps after every addition in ascending ``k`` and counts the clamps;
  valid while ``max(|lo|, hi) + max|a*b| < 2**63``.
* ``matmul_wide``: exact sums of any size (a carry word makes the register 128 bits), every rule;
  scalar, serial and cached (compiling it in parallel form each session cost more than it
  saved), for 32-bit-and-wider codes with a saturating accumulator.

The float64 BLAS fast path computes ``a @ b`` on codes cast to float64 (exact when every partial
sum is below ``2**53``); one pass turns that into accumulator contents: the vectorized in-place
``_float_gemm_kernels.finish_float_exact`` when ``|sums| <= 2**51``, ``finish_float_serial``
here for the sums between ``2**51`` and ``2**53``.

Loop order is ``i, k, j`` with the reduction index ``k`` ascending for every output, which is the
documented accumulation order; blocking over rows and ``k`` keeps a slab of ``b`` in cache
without reordering any single output's additions.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._fixed_kernels import round_shift_right
from precision._numba_config import njit_parallel, njit_serial
from precision.modes import RND_STOCHASTIC
from precision.stochastic import bits_at

#: Row and reduction block sizes of the blocked kernels (a 64 x 512 int64 slab of b is 256 KiB).
ROW_BLOCK = 16
K_BLOCK = 64


@njit_serial
def wrap_to_width(n, width):
    """``n`` reduced modulo ``2**width`` into ``[-2**(width-1), 2**(width-1))`` (two's complement)."""
    s = 64 - width
    return (np.int64(n) << s) >> s


@njit_serial
def wrap_constants(width):
    """``(half, mask)`` = ``(2**(width-1), 2**width - 1)`` for :func:`wrap_add_mask` (both 0 for
    ``width = 64``, where every int64 is a register value and the wrap is the identity)."""
    half = np.int64(1) << np.int64(width - 1) if width < 64 else np.int64(0)
    mask = np.uint64((1 << width) - 1) if width < 64 else np.uint64(0)
    return half, mask


@njit_serial
def wrap_add_mask(v, half, mask):
    """``v`` wrapped into a register as ``((v + 2**(width-1)) mod 2**width) - 2**(width-1)`` in
    uint64: an add and a mask, which vectorize (AVX2 has no 64-bit arithmetic right shift for
    the shift-pair form of :func:`wrap_to_width`)."""
    return np.int64((np.uint64(v) + np.uint64(half)) & mask) - half


@njit_serial
def clamp(n, lo, hi):
    """``n`` clamped to ``[lo, hi]``."""
    if n < lo:
        return lo
    if n > hi:
        return hi
    return n


@njit_parallel
def matmul_modular(a, b, c):
    """``c += a @ b`` in int64 (modulo ``2**64``), ascending ``k``; ``c`` holds the preload."""
    m, kk = a.shape
    n = b.shape[1]
    n_row_blocks = (m + ROW_BLOCK - 1) // ROW_BLOCK
    for rb in prange(n_row_blocks):
        r0 = rb * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, m)
        for k0 in range(0, kk, K_BLOCK):
            k1 = min(k0 + K_BLOCK, kk)
            for i in range(r0, r1):
                for k in range(k0, k1):
                    aik = np.int64(a[i, k])
                    for j in range(n):
                        c[i, j] += aik * np.int64(b[k, j])


@njit_parallel
def matmul_saturate_steps(a, b, c, lo, hi, counts):
    """``c`` clamped to ``[lo, hi]`` after every addition of ``a[i, k] * b[k, j]``, ascending ``k``.

    ``c`` holds the (already clamped) preload; ``counts[i]`` receives the number of clamping
    additions in row ``i``.  Needs ``max(|lo|, hi) + max|a*b| < 2**63``.
    """
    m, kk = a.shape
    n = b.shape[1]
    n_row_blocks = (m + ROW_BLOCK - 1) // ROW_BLOCK
    for rb in prange(n_row_blocks):
        r0 = rb * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, m)
        for k0 in range(0, kk, K_BLOCK):
            k1 = min(k0 + K_BLOCK, kk)
            for i in range(r0, r1):
                events = 0
                for k in range(k0, k1):
                    aik = np.int64(a[i, k])
                    for j in range(n):
                        s = c[i, j] + aik * np.int64(b[k, j])
                        events += (s > hi) + (s < lo)
                        c[i, j] = min(max(s, lo), hi)
                counts[i] += events


@njit_serial
def _add_with_carry(low, carry, p):
    """The 128-bit register ``carry * 2**64 + low`` (``low`` read as unsigned) plus ``p``."""
    s = low + p  # wraps modulo 2**64
    # Unsigned carry out of the low word: compare as unsigned by flipping the sign bit.
    big = np.int64(-9223372036854775808)
    if p >= 0:
        if (s ^ big) < (low ^ big):
            carry += 1
    else:
        carry -= 1  # p as unsigned is p + 2**64
        if (s ^ big) < (low ^ big):
            carry += 1
    return s, carry


@njit_serial
def _wide_to_register(low, carry, lo, hi, width, saturate):
    """Write the exact 128-bit value ``carry * 2**64 + unsigned(low)`` into the register.

    Returns ``(content, overflowed)``.
    """
    # The value fits int64 iff carry == 0 and low >= 0, or carry == -1 and low < 0.
    fits = (carry == 0 and low >= 0) or (carry == -1 and low < 0)
    if fits:
        over = low < lo or low > hi
        if saturate:
            return clamp(low, lo, hi), over
        return wrap_to_width(low, width), over
    if saturate:
        return (hi if carry >= 0 else lo), True
    return wrap_to_width(low, width), True


@njit_serial
def matmul_wide(a, b, preload, lo, hi, width, rule, out, counts):
    """Exact ``a @ b`` for sums of any size, written into the register by ``rule``.

    ``rule``: 0 wrap at the end, 1 saturate at the end, 2 saturate after every addition
    (ascending ``k``).  ``preload[i, j]`` is the register content before ``k = 0`` (the bias).
    ``out`` receives the register contents, ``counts[i]`` the overflow events of row ``i``
    (outputs out of range for rules 0/1, clamping additions for rule 2).
    """
    m, kk = a.shape
    n = b.shape[1]
    for i in range(m):
        events = 0
        for j in range(n):
            low = np.int64(preload[i, j])
            carry = np.int64(-1) if low < 0 else np.int64(0)
            for k in range(kk):
                low, carry = _add_with_carry(low, carry, np.int64(a[i, k]) * np.int64(b[k, j]))
                if rule == 2:
                    v, over = _wide_to_register(low, carry, lo, hi, width, True)
                    events += over
                    low = v
                    carry = np.int64(-1) if low < 0 else np.int64(0)
            if rule == 2:
                out[i, j] = low
            else:
                v, over = _wide_to_register(low, carry, lo, hi, width, rule == 1)
                events += over
                out[i, j] = v
        counts[i] = events


@njit_serial
def finish_int(c, lo, hi, width, saturate, out, counts):
    """Write exact int64 sums ``c`` into the register: ``out = wrap(c)`` or ``clamp(c)``.

    ``counts[i]`` receives the number of outputs of row ``i`` outside ``[lo, hi]``.  The wrap is
    :func:`wrap_add_mask`, and the rule is chosen once per row, outside the inner loop: about
    0.3 ns per element.  Serial on
    purpose: a parallel region on a busy 2-core machine waits for a descheduled worker (or for
    OpenBLAS threads still spinning after a BLAS call) for milliseconds, a hundred times the
    cost of this pass (measured: 40 ms medians for a 512x512 pass, 80 us serial).
    """
    m, n = c.shape
    half, mask = wrap_constants(width)
    for i in range(m):
        events = 0
        if saturate:
            for j in range(n):
                v = c[i, j]
                events += (v > hi) | (v < lo)
                out[i, j] = min(max(v, lo), hi)
        elif width == 64:  # every int64 is in range: wrap is the identity
            for j in range(n):
                out[i, j] = c[i, j]
        else:
            for j in range(n):
                v = c[i, j]
                events += (v > hi) | (v < lo)
                out[i, j] = wrap_add_mask(v, half, mask)
        counts[i] = events


@njit_serial
def finish_float_serial(cf, bias, lo, hi, width, saturate, out, counts):
    """Like ``finish_int`` for an exact float64 product ``cf`` plus the int64 ``bias[j]``.

    ``cf`` holds integers below ``2**53`` in magnitude, so the conversion to int64 is exact
    (``cvttsd2si``, one element at a time on AVX2: about 1.1 ns per element).  Only for sums
    beyond ``2**51``, where the magic-number conversion of ``_float_gemm_kernels`` is not exact.
    Serial on purpose: it runs right after an OpenBLAS call, and Numba's thread pool waking up
    while OpenBLAS's threads still spin doubles the time of both (measured).
    """
    m, n = cf.shape
    has_bias = bias.shape[0] > 0
    for i in range(m):
        events = 0
        for j in range(n):
            v = np.int64(cf[i, j])
            if has_bias:
                v += bias[j]
            events += (v > hi) + (v < lo)
            if saturate:
                out[i, j] = min(max(v, lo), hi)
            else:
                out[i, j] = wrap_to_width(v, width)
        counts[i] = events


@njit_serial
def count_rounding_overflow(vs, shift, min_code, max_code, rmode, start):
    """How many of the flat int64 values ``vs * 2**-shift`` (``shift > 0``) round out of range.

    The rounding, and for ``"stochastic"`` its random word ``bits_at(start, i)``, are exactly
    those of ``FixedPoint.requantize``, so this counts the outputs whose overflow rule fired.
    """
    events = 0
    for i in range(vs.size):
        rand = bits_at(start, i) if rmode == RND_STOCHASTIC else np.uint64(0)
        r = round_shift_right(vs[i], shift, rmode, rand)
        events += (r > max_code) + (r < min_code)
    return events
