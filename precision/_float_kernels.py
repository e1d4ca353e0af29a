"""Numba cores of the minifloat quantizer (``FloatingPoint``): integer bit manipulation only.

A minifloat with ``e`` exponent bits, ``m`` mantissa bits and bias ``b`` stores
``sign | exponent field F | mantissa M`` in its low ``1 + e + m`` bits.  Its values are
``(-1)**s * 2**(F - b) * (1 + M / 2**m)`` for ``F >= 1`` and ``(-1)**s * 2**(1 - b) * M / 2**m``
(subnormals) for ``F == 0``.  The top field ``F = 2**e - 1`` holds inf (``M == 0``) and NaN in the
IEEE encoding; in the ``finite`` encoding (OCP fp8 E4M3FN) it holds normal numbers and only the
all-ones mantissa is NaN.

Rounding works on the exact input ``sig * 2**e2`` (``sig`` an unsigned integer): the grid step
at magnitude ``2**k`` is ``2**(max(k, emin) - m)`` with ``emin = 1 - b``, so the value is rounded
once, on an exponent range unbounded above, and overflow is decided on the rounded result.

Everything here takes only scalars and arrays and stays valid Python (``NUMBA_DISABLE_JIT=1``).
Unsigned arithmetic uses typed ``uint64`` constants throughout: mixing ``uint64`` with ``int64``
in Numba silently promotes to float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from precision.modes import RND_NEAREST_EVEN, RND_STOCHASTIC, RND_TOWARD_ZERO
from precision.stochastic import bits_at, mix64

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_HALF64 = np.uint64(1 << 63)
_TOP53 = np.uint64(0xFFFFFFFFFFFFF800)

#: Mode codes accepted by the kernels (a subset of ``precision.modes``).
FLOAT_ROUNDING_CODES = (RND_NEAREST_EVEN, RND_TOWARD_ZERO, RND_STOCHASTIC)


@njit_serial(inline="always")
def _bit_length(v):
    """Number of significant bits of the uint64 ``v`` (0 for 0)."""
    n = 0
    if v >= np.uint64(1 << 32):
        v >>= np.uint64(32)
        n += 32
    if v >= np.uint64(1 << 16):
        v >>= np.uint64(16)
        n += 16
    if v >= np.uint64(1 << 8):
        v >>= np.uint64(8)
        n += 8
    while v != _U0:
        v >>= _U1
        n += 1
    return n


@njit_serial(inline="always")
def _special_codes(exp_bits, man_bits, finite):
    """(max finite magnitude code, inf-or-NaN code on overflow, canonical NaN code).

    The canonical NaN has sign 0: IEEE the quiet NaN (top mantissa bit set), finite the
    all-ones pattern (0x7F for E4M3FN).
    """
    e = np.uint64(exp_bits)
    m = np.uint64(man_bits)
    top_field = (_U1 << e) - _U1
    mant_ones = (_U1 << m) - _U1
    if finite:
        max_code = (top_field << m) | (mant_ones - _U1)
        nan_code = (top_field << m) | mant_ones
        return max_code, nan_code, nan_code
    max_code = ((top_field - _U1) << m) | mant_ones
    inf_code = top_field << m
    nan_code = inf_code | (_U1 << (m - _U1))
    return max_code, inf_code, nan_code


@njit_serial(inline="always")
def _encode_magnitude(sig, bl, e2, exp_bits, man_bits, bias, subnormals, finite, mode,
                      saturate, rand):
    """Code (without sign) of ``sig * 2**e2`` rounded into the format; ``sig > 0``, ``bl`` its
    bit length.

    Discarded bits are summarised as ``f64 = floor(frac * 2**64)`` plus a sticky flag, ``frac``
    in [0, 1) being the fraction of a grid step below the kept part.  nearest_even rounds up when
    ``frac > 1/2`` or ``frac == 1/2`` and the kept part is odd; toward_zero never rounds up;
    stochastic rounds up iff ``(rand >> 11) * 2**-53 < frac`` exactly (the rule of
    ``precision.fixed``): probability ``ceil(frac * 2**53) / 2**53``, i.e. exactly ``frac``
    whenever ``frac`` is a multiple of ``2**-53``.
    """
    emin = 1 - bias
    k = e2 + bl - 1
    q = (k if k > emin else emin) - man_bits
    shift = q - e2
    if shift <= 0:
        n = sig << np.uint64(-shift)
        f64 = _U0
        sticky = False
    elif shift < 64:
        n = sig >> np.uint64(shift)
        f64 = sig << np.uint64(64 - shift)
        sticky = False
    elif shift == 64:
        n = _U0
        f64 = sig
        sticky = False
    elif shift < 128:
        n = _U0
        f64 = sig >> np.uint64(shift - 64)
        sticky = (sig & ((_U1 << np.uint64(shift - 64)) - _U1)) != _U0
    else:
        n = _U0
        f64 = _U0
        sticky = True
    if mode == RND_NEAREST_EVEN:
        if f64 > _HALF64 or (f64 == _HALF64 and (sticky or (n & _U1) == _U1)):
            n += _U1
    elif mode == RND_STOCHASTIC:
        r53 = rand & _TOP53
        if r53 < f64 or (r53 == f64 and sticky):
            n += _U1
    if n == _U0:
        return _U0
    m = np.uint64(man_bits)
    hidden = _U1 << m
    if n == (hidden << _U1):
        n = hidden
        q += 1
    if n < hidden:
        # Only reachable at q == emin - m: a subnormal, or zero when they are flushed.
        return n if subnormals else _U0
    field = q + man_bits + bias
    mant = n - hidden
    max_code, over_code, nan_code = _special_codes(exp_bits, man_bits, finite)
    top_field = (1 << exp_bits) - 1
    max_field = top_field if finite else top_field - 1
    max_mant = (hidden - np.uint64(2)) if finite else (hidden - _U1)
    if field > max_field or (field == max_field and mant > max_mant):
        if saturate or (mode == RND_TOWARD_ZERO and not finite):
            # IEEE 754 7.4: directed rounding toward zero carries overflow to the largest finite.
            return max_code
        return over_code
    return (np.uint64(field) << m) | mant


@njit_serial(inline="always")
def _with_sign(out_sign, mag, exp_bits, man_bits, finite):
    """``out_sign | mag``, except that a NaN produced by overflow stays the canonical NaN."""
    if finite and mag == (_U1 << np.uint64(exp_bits + man_bits)) - _U1:
        return mag
    return out_sign | mag


@njit_serial(inline="always")
def _encode_float_bits(u, src_exp_bits, src_man_bits, exp_bits, man_bits, bias, subnormals,
                       finite, mode, saturate, rand):
    """Full code of the IEEE binary float whose bit pattern is ``u`` (uint64)."""
    sm = np.uint64(src_man_bits)
    emask = (_U1 << np.uint64(src_exp_bits)) - _U1
    mmask = (_U1 << sm) - _U1
    sign = (u >> (sm + np.uint64(src_exp_bits))) & _U1
    out_sign = sign << np.uint64(exp_bits + man_bits)
    big_e = (u >> sm) & emask
    mant = u & mmask
    src_bias = (1 << (src_exp_bits - 1)) - 1
    if big_e == emask:
        max_code, over_code, nan_code = _special_codes(exp_bits, man_bits, finite)
        if mant != _U0 or (finite and not saturate):
            return nan_code
        return out_sign | (max_code if saturate else over_code)
    if big_e == _U0:
        if mant == _U0:
            return out_sign
        sig = mant
        bl = _bit_length(mant)
        e2 = 1 - src_bias - src_man_bits
    else:
        sig = mant | (_U1 << sm)
        bl = src_man_bits + 1
        e2 = np.int64(big_e) - src_bias - src_man_bits
    return _with_sign(out_sign, _encode_magnitude(sig, bl, e2, exp_bits, man_bits, bias,
                                                  subnormals, finite, mode, saturate, rand),
                      exp_bits, man_bits, finite)


@njit_serial(inline="always")
def _encode_int_bits(u, signed, exp_bits, man_bits, bias, subnormals, finite, mode, saturate,
                     rand):
    """Full code of an integer given as 64 bits ``u`` (two's complement when ``signed``)."""
    sign = _U0
    mag = u
    if signed and (u >> np.uint64(63)) == _U1:
        sign = _U1
        mag = (~u) + _U1  # |INT64_MIN| = 2**63 still fits
    out_sign = sign << np.uint64(exp_bits + man_bits)
    if mag == _U0:
        return out_sign
    return _with_sign(out_sign, _encode_magnitude(mag, _bit_length(mag), 0, exp_bits, man_bits,
                                                  bias, subnormals, finite, mode, saturate, rand),
                      exp_bits, man_bits, finite)


@njit_serial
def _quantize_float_range(src, src_exp_bits, src_man_bits, out, start, stop, exp_bits, man_bits,
                          bias, subnormals, finite, mode, saturate, key):
    """Encode ``src[start:stop]`` (float bit patterns) into ``out``: any mode, any source."""
    stream = mix64(key)
    for i in range(start, stop):
        rand = bits_at(stream, i) if mode == RND_STOCHASTIC else _U0
        out[i] = _encode_float_bits(np.uint64(src[i]), src_exp_bits, src_man_bits, exp_bits,
                                    man_bits, bias, subnormals, finite, mode, saturate, rand)


@njit_parallel
def _quantize_float_parallel(src, src_exp_bits, src_man_bits, out, exp_bits, man_bits, bias,
                             subnormals, finite, mode, saturate, key, chunk):
    """Parallel driver of :func:`_quantize_float_range` over chunks of ``chunk`` elements."""
    n = src.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        start = c * chunk
        _quantize_float_range(src, src_exp_bits, src_man_bits, out, start, min(start + chunk, n),
                              exp_bits, man_bits, bias, subnormals, finite, mode, saturate, key)


@njit_serial
def _nearest_f64_range(x, out, start, stop, exp_bits, man_bits, bias, subnormals, finite,
                       saturate):
    """Fast path for float64 input and nearest_even: the same codes as
    :func:`_quantize_float_range`, computed branch-free so that LLVM vectorizes the loop.

    Normal results: ``|u| - ((1023 - b) << 52)`` (``u`` the float64 bits) shifted right by
    ``52 - m`` with the round-half-even increment; a mantissa carry moves into the exponent
    field by itself.  Subnormal results: ``|x| + C`` with ``C = 2**(emin - m + 52)``, whose
    float64 step is the subnormal step, rounds ``|x|`` to that grid once (IEEE addition, no
    fastmath), and its bits minus those of ``C`` are the code.  Overflow, NaN and the sign are
    selected afterwards.
    """
    m = np.uint64(man_bits)
    shift = np.uint64(52 - man_bits)
    half_m1 = (_U1 << (shift - _U1)) - _U1
    offset = np.uint64(1023 - bias) << np.uint64(52)
    normal_min = np.uint64(1024 - bias) << np.uint64(52)   # bits of 2**emin
    magic = math.ldexp(1.0, 1 - bias - man_bits + 52)
    magic_bits = np.float64(magic).view(np.uint64)
    hidden = _U1 << m
    max_code, over_code, nan_code = _special_codes(exp_bits, man_bits, finite)
    over_val = max_code if saturate else over_code
    nan_over = finite and not saturate
    sign_shift = np.uint64(63 - exp_bits - man_bits)
    abs_mask = np.uint64(0x7FFFFFFFFFFFFFFF)
    inf_bits = np.uint64(0x7FF0000000000000)
    sign_bit = np.uint64(0x8000000000000000)
    for i in range(start, stop):
        v = x[i]
        u = np.float64(v).view(np.uint64)
        a = u & abs_mask
        t = a - offset
        mag_n = (t + half_m1 + ((t >> shift) & _U1)) >> shift
        mag_s = np.float64(abs(v) + magic).view(np.uint64) - magic_bits
        mag = mag_s if a < normal_min else mag_n
        mag = mag if (subnormals or mag >= hidden) else _U0
        over = mag > max_code
        res = (over_val if over else mag) | ((u & sign_bit) >> sign_shift)
        res = over_val if (over and nan_over) else res
        out[i] = nan_code if a > inf_bits else res


@njit_parallel
def _nearest_f64_parallel(x, out, exp_bits, man_bits, bias, subnormals, finite, saturate, chunk):
    """Parallel driver of :func:`_nearest_f64_range`."""
    n = x.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        start = c * chunk
        _nearest_f64_range(x, out, start, min(start + chunk, n), exp_bits, man_bits, bias,
                           subnormals, finite, saturate)


@njit_serial
def _quantize_int_range(src, signed, out, start, stop, exp_bits, man_bits, bias, subnormals,
                        finite, mode, saturate, key):
    """Encode 64-bit integers ``src[start:stop]`` (viewed as uint64) into ``out``."""
    stream = mix64(key)
    for i in range(start, stop):
        rand = bits_at(stream, i) if mode == RND_STOCHASTIC else _U0
        out[i] = _encode_int_bits(src[i], signed, exp_bits, man_bits, bias, subnormals, finite,
                                  mode, saturate, rand)
    return 0


@njit_parallel
def _quantize_int_parallel(src, signed, out, exp_bits, man_bits, bias, subnormals, finite, mode,
                           saturate, key, chunk):
    """Parallel driver of :func:`_quantize_int_range`."""
    n = src.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        start = c * chunk
        _quantize_int_range(src, signed, out, start, min(start + chunk, n), exp_bits, man_bits,
                            bias, subnormals, finite, mode, saturate, key)
    return 0


@njit_serial
def decode_minifloat(code, exp_bits, man_bits, bias, subnormals, finite):
    """The float64 value of one code (uint64); exact for every accepted format.

    With ``subnormals=False`` the subnormal patterns read as zeros of their sign (the format
    never produces them).
    """
    m = np.uint64(man_bits)
    sign = (code >> np.uint64(exp_bits + man_bits)) & _U1
    field = np.int64((code >> m) & ((_U1 << np.uint64(exp_bits)) - _U1))
    mant = code & ((_U1 << m) - _U1)
    top_field = (1 << exp_bits) - 1
    if field == top_field:
        if finite:
            if mant == (_U1 << m) - _U1:
                return np.nan
        elif mant == _U0:
            return -np.inf if sign == _U1 else np.inf
        else:
            return np.nan
    if field == 0:
        if not subnormals:
            mag = 0.0
        else:
            mag = math.ldexp(float(mant), int(1 - bias - man_bits))
    else:
        mag = math.ldexp(float(mant | (_U1 << m)), int(field - bias - man_bits))
    return -mag if sign == _U1 else mag


@njit_serial
def _dequantize_range(codes, out, start, stop, exp_bits, man_bits, bias, subnormals, finite):
    for i in range(start, stop):
        out[i] = decode_minifloat(np.uint64(codes[i]), exp_bits, man_bits, bias, subnormals,
                                  finite)


@njit_parallel
def _dequantize_parallel(codes, out, exp_bits, man_bits, bias, subnormals, finite, chunk):
    n = codes.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        start = c * chunk
        _dequantize_range(codes, out, start, min(start + chunk, n), exp_bits, man_bits, bias,
                          subnormals, finite)


@njit_serial
def round_to_minifloat(x, exp_bits, man_bits, bias, subnormals, finite, mode, saturate, rand):
    """``x`` (float64) rounded once to the nearest value of a minifloat; returns that value.

    Parameters: ``exp_bits`` in [2, 8], ``man_bits`` in [1, 23], ``bias`` the exponent bias (the
    value range must lie in float64's normal range, as ``FloatingPoint`` checks); ``subnormals``
    False flushes results below ``2**(1 - bias)`` *after* rounding to a zero of the same sign;
    ``finite`` selects the E4M3FN-style encoding (no infinities); ``mode`` a code from
    ``precision.modes``: ``RND_NEAREST_EVEN``, ``RND_TOWARD_ZERO`` or ``RND_STOCHASTIC``;
    ``saturate`` True clamps overflow (and ±inf) to the largest finite magnitude, False gives
    ±inf (IEEE; toward_zero gives the largest finite for finite ``x``, IEEE 754 7.4) or NaN
    (``finite``); ``rand`` a 64-bit uniform word (``precision.stochastic``) used only by
    stochastic rounding: the magnitude rounds up iff ``(rand >> 11) * 2**-53 < frac`` exactly,
    ``frac`` the discarded fraction of a grid step (the rule of ``precision.fixed``).
    NaN gives NaN; ±0 keep their sign.  The result is the exact value, a float64.
    """
    if x != x:
        return np.nan
    if x == 0.0:
        return x
    if math.isinf(x):
        u = np.uint64(0xFFF0000000000000) if x < 0 else np.uint64(0x7FF0000000000000)
    else:
        frac, ex = math.frexp(abs(x))
        # frac in [0.5, 1): frac * 2**53 is an exact 53-bit integer, also for subnormal x.
        sig = np.uint64(frac * 9007199254740992.0)
        mag = _encode_magnitude(sig, 53, ex - 53, exp_bits, man_bits, bias, subnormals, finite,
                                mode, saturate, rand)
        sign = _U1 << np.uint64(exp_bits + man_bits)
        return decode_minifloat(mag | sign if x < 0 else mag, exp_bits, man_bits, bias,
                                subnormals, finite)
    code = _encode_float_bits(u, 11, 52, exp_bits, man_bits, bias, subnormals, finite, mode,
                              saturate, rand)
    return decode_minifloat(code, exp_bits, man_bits, bias, subnormals, finite)
