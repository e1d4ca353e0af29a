"""Numba cores of binarization, ternarization and bit packing.

Packed layout (the contract of ``precision.packing``): element ``j`` along the packed axis goes
to word ``j // 64``, bit ``j % 64`` (LSB first); plane 0 holds the "negative" bit (code == -1),
plane 1 (ternary only) the "nonzero" bit (code != 0); padding bits are 0 in every plane.

Work is split into tasks ``(o, w)``: one outer index and one 64-element word along the packed
axis, so every task writes its own words and a parallel driver needs no synchronisation.  For
int8 codes, ``(c >> 7) & 1`` is the negative bit and ``c & 1`` the nonzero bit (-1 = 0xFF,
+1 = 0x01, 0 = 0x00), so packing is branch-free.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from precision.stochastic import bits_at, mix64

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_SHIFT11 = np.uint64(11)
_TWO_M52 = 2.0 ** -52


@njit_serial
def _sign_code(v, stochastic, stream, index):
    """+1 / -1 for the real ``v``: sign with +1 for v >= 0 (also -0.0), or stochastic +1 iff
    ``t < v`` with ``t = (r >> 11) * 2**-52 - 1`` exact, i.e. probability hard_sigmoid(v)."""
    if stochastic:
        t = np.float64(bits_at(stream, index) >> _SHIFT11) * _TWO_M52 - 1.0
        return 1 if t < v else -1
    return 1 if v >= 0 else -1


@njit_serial
def _binarize_range(x, codes, planes, t0, t1, stochastic, key):
    """Tasks ``t0 .. t1-1`` of binarizing the (rows, L) array ``x`` into int8 ``codes`` and the
    (1, rows, W) ``planes``; returns the number of NaN inputs met."""
    length = x.shape[1]
    n_words = planes.shape[2]
    stream = mix64(key)
    n_nan = 0
    for t in range(t0, t1):
        r = t // n_words
        w = t - r * n_words
        j0 = w * 64
        j1 = min(j0 + 64, length)
        neg = _U0
        for j in range(j0, j1):
            v = x[r, j]
            if v != v:
                n_nan += 1
            c = _sign_code(v, stochastic, stream, np.uint64(r * length + j))
            codes[r, j] = c
            if c < 0:
                neg |= _U1 << np.uint64(j - j0)
        planes[0, r, w] = neg
    return n_nan


@njit_parallel
def _binarize_parallel(x, codes, planes, stochastic, key, chunk):
    n_tasks = planes.shape[1] * planes.shape[2]
    n_chunks = (n_tasks + chunk - 1) // chunk
    n_nan = 0
    for c in prange(n_chunks):
        t0 = c * chunk
        n_nan += _binarize_range(x, codes, planes, t0, min(t0 + chunk, n_tasks), stochastic, key)
    return n_nan


@njit_serial
def _ternarize_range(x, delta, rows_per_group, codes, planes, t0, t1):
    """Tasks of ternarizing ``x`` (rows, L): +1 where x > Δ, -1 where x < -Δ, else 0, with
    ``Δ = delta[r // rows_per_group]``; writes ``codes`` and the (2, rows, W) ``planes``.
    Returns the number of NaN inputs met."""
    length = x.shape[1]
    n_words = planes.shape[2]
    n_nan = 0
    for t in range(t0, t1):
        r = t // n_words
        w = t - r * n_words
        d = delta[r // rows_per_group]
        j0 = w * 64
        j1 = min(j0 + 64, length)
        neg = _U0
        nz = _U0
        for j in range(j0, j1):
            # branch-free: random signs would defeat the branch predictor
            v = x[r, j]
            n_nan += 1 if v != v else 0
            pos = v > d
            ng = v < -d
            sh = np.uint64(j - j0)
            codes[r, j] = np.int8(pos) - np.int8(ng)
            neg |= np.uint64(ng) << sh
            nz |= np.uint64(pos or ng) << sh
        planes[0, r, w] = neg
        planes[1, r, w] = nz
    return n_nan


@njit_parallel
def _ternarize_parallel(x, delta, rows_per_group, codes, planes, chunk):
    n_tasks = planes.shape[1] * planes.shape[2]
    n_chunks = (n_tasks + chunk - 1) // chunk
    n_nan = 0
    for c in prange(n_chunks):
        t0 = c * chunk
        n_nan += _ternarize_range(x, delta, rows_per_group, codes, planes, t0,
                                  min(t0 + chunk, n_tasks))
    return n_nan


_LOW_BITS = np.uint64(0x0101010101010101)
_GATHER = np.uint64(0x0102040810204080)   # moves bit 8k to bit 56 + k (k = 0..7), no carries
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)


@njit_serial(inline="always")
def _eight_codes(codes, o, j, i):
    """Codes ``j .. j+7`` of row ``(o, :, i)`` as the bytes of one uint64 (byte k = code j+k)."""
    w = _U0
    for b in range(8):
        w |= np.uint64(np.uint8(codes[o, j + b, i])) << np.uint64(8 * b)
    return w


@njit_serial(inline="always")
def _bad_bytes(w, ternary):
    """Nonzero when a byte of ``w`` is not a valid code: binary {0x01, 0xFF}, ternary also 0."""
    neg = (w >> np.uint64(7)) & _LOW_BITS
    bad = ((w >> _U1) & _LOW7) ^ (neg * np.uint64(0x7F))   # bits 1..7 must copy the sign bit
    odd = w & _LOW_BITS
    if ternary:
        return bad | (neg & ~odd)                           # -1 must be odd (0xFF)
    return bad | (odd ^ _LOW_BITS)                          # binary: every code odd


@njit_serial
def _pack_range(codes, planes, t0, t1):
    """Pack tasks ``t0 .. t1-1`` of ``codes`` (outer, L, inner) int8 into ``planes``
    (P, outer, inner, W); returns nonzero when a code is outside the alphabet ({-1, +1} for
    P == 1, {-1, 0, +1} for P == 2).

    Eight codes at a time: read as the bytes of a uint64, the sign bits ``(w >> 7) & 0x01..01``
    and the low bits ``w & 0x01..01`` are gathered into one byte each by a multiplication.
    """
    ternary = planes.shape[0] == 2
    length = codes.shape[1]
    inner = codes.shape[2]
    n_words = planes.shape[3]
    bad = _U0
    neg_acc = np.zeros(inner, dtype=np.uint64)
    nz_acc = np.zeros(inner, dtype=np.uint64)
    for t in range(t0, t1):
        o = t // n_words
        w = t - o * n_words
        j0 = w * 64
        j1 = min(j0 + 64, length)
        if inner == 1:
            neg = _U0
            nz = _U0
            j = j0
            while j + 8 <= j1:
                b = _eight_codes(codes, o, j, 0)
                bad |= _bad_bytes(b, ternary)
                sh = np.uint64(j - j0)
                neg |= ((((b >> np.uint64(7)) & _LOW_BITS) * _GATHER) >> np.uint64(56)) << sh
                nz |= (((b & _LOW_BITS) * _GATHER) >> np.uint64(56)) << sh
                j += 8
            for jj in range(j, j1):
                b = np.uint64(np.uint8(codes[o, jj, 0]))
                bad |= _U1 if ((b + _U1) & np.uint64(0xFF)) > np.uint64(2) else _U0
                if not ternary:
                    bad |= _U1 if b == _U0 else _U0
                sh = np.uint64(jj - j0)
                neg |= ((b >> np.uint64(7)) & _U1) << sh
                nz |= (b & _U1) << sh
            planes[0, o, 0, w] = neg
            if ternary:
                planes[1, o, 0, w] = nz
        else:
            # Rows of `inner` codes are contiguous: loop over them innermost (vectorizable).
            neg_acc[:] = 0
            nz_acc[:] = 0
            for j in range(j0, j1):
                sh = np.uint64(j - j0)
                for i in range(inner):
                    u = np.uint64(np.uint8(codes[o, j, i]))
                    neg_acc[i] |= ((u >> np.uint64(7)) & _U1) << sh
                    nz_acc[i] |= (u & _U1) << sh
                    bad |= _U1 if ((u + _U1) & np.uint64(0xFF)) > np.uint64(2) else _U0
                    if not ternary:
                        bad |= _U1 if u == _U0 else _U0
            for i in range(inner):
                planes[0, o, i, w] = neg_acc[i]
                if ternary:
                    planes[1, o, i, w] = nz_acc[i]
    return bad


@njit_serial
def _pack_words_range(words, planes, t0, t1):
    """:func:`_pack_range` for the last axis when its length is a multiple of 8: ``words`` is
    the (rows, L / 8) uint64 view of the int8 codes (byte k of a word = code 8g + k)."""
    ternary = planes.shape[0] == 2
    n8 = words.shape[1]
    n_words = planes.shape[2]
    bad = _U0
    for t in range(t0, t1):
        r = t // n_words
        w = t - r * n_words
        g0 = w * 8
        g1 = min(g0 + 8, n8)
        neg = _U0
        nz = _U0
        for g in range(g0, g1):
            b = words[r, g]
            bad |= _bad_bytes(b, ternary)
            sh = np.uint64(8 * (g - g0))
            neg |= ((((b >> np.uint64(7)) & _LOW_BITS) * _GATHER) >> np.uint64(56)) << sh
            nz |= (((b & _LOW_BITS) * _GATHER) >> np.uint64(56)) << sh
        planes[0, r, w] = neg
        if ternary:
            planes[1, r, w] = nz
    return bad


@njit_parallel
def _pack_words_parallel(words, planes, chunk):
    n_tasks = planes.shape[1] * planes.shape[2]
    n_chunks = (n_tasks + chunk - 1) // chunk
    n_bad = 0
    for c in prange(n_chunks):
        t0 = c * chunk
        n_bad += 1 if _pack_words_range(words, planes, t0, min(t0 + chunk, n_tasks)) != 0 else 0
    return n_bad


@njit_parallel
def _pack_parallel(codes, planes, chunk):
    n_tasks = planes.shape[1] * planes.shape[3]
    n_chunks = (n_tasks + chunk - 1) // chunk
    n_bad = 0
    for c in prange(n_chunks):
        t0 = c * chunk
        n_bad += 1 if _pack_range(codes, planes, t0, min(t0 + chunk, n_tasks)) != 0 else 0
    return n_bad


@njit_serial
def _unpack_range(planes, codes, t0, t1):
    """Inverse of :func:`_pack_range`: code = (1 - 2 neg) for one plane, nz (1 - 2 neg) for two."""
    n_planes = planes.shape[0]
    length = codes.shape[1]
    inner = codes.shape[2]
    n_words = planes.shape[3]
    for t in range(t0, t1):
        o = t // n_words
        w = t - o * n_words
        j0 = w * 64
        j1 = min(j0 + 64, length)
        for i in range(inner):
            neg = planes[0, o, i, w]
            nz = planes[1, o, i, w] if n_planes == 2 else ~_U0
            for j in range(j0, j1):
                sh = np.uint64(j - j0)
                n_bit = np.int8((neg >> sh) & _U1)
                z_bit = np.int8((nz >> sh) & _U1)
                codes[o, j, i] = z_bit * (1 - 2 * n_bit)


_SPREAD = np.uint64(0x8040201008040201)   # after * 0x01..01: byte k keeps bit k
_HIGH_BITS = np.uint64(0x8080808080808080)


@njit_serial(inline="always")
def _bits_to_bytes(byte):
    """Byte k of the result = bit k of ``byte`` (0 or 1)."""
    x = (byte * _LOW_BITS) & _SPREAD
    return ((x + _LOW7) & _HIGH_BITS) >> np.uint64(7)


@njit_serial
def _unpack_words_range(planes, words, t0, t1):
    """Inverse of :func:`_pack_words_range`: writes 8 codes per uint64 of ``words``."""
    ternary = planes.shape[0] == 2
    n8 = words.shape[1]
    n_words = planes.shape[2]
    for t in range(t0, t1):
        r = t // n_words
        w = t - r * n_words
        neg = planes[0, r, w]
        nz = planes[1, r, w] if ternary else ~_U0
        g0 = w * 8
        for g in range(g0, min(g0 + 8, n8)):
            sh = np.uint64(8 * (g - g0))
            n01 = _bits_to_bytes((neg >> sh) & np.uint64(0xFF))
            z01 = _bits_to_bytes((nz >> sh) & np.uint64(0xFF))
            words[r, g] = z01 | (n01 * np.uint64(0xFE))


@njit_parallel
def _unpack_words_parallel(planes, words, chunk):
    n_tasks = planes.shape[1] * planes.shape[2]
    n_chunks = (n_tasks + chunk - 1) // chunk
    for c in prange(n_chunks):
        t0 = c * chunk
        _unpack_words_range(planes, words, t0, min(t0 + chunk, n_tasks))


@njit_parallel
def _unpack_parallel(planes, codes, chunk):
    n_tasks = planes.shape[1] * planes.shape[3]
    n_chunks = (n_tasks + chunk - 1) // chunk
    for c in prange(n_chunks):
        t0 = c * chunk
        _unpack_range(planes, codes, t0, min(t0 + chunk, n_tasks))


_FRAC = np.uint64(0x000FFFFFFFFFFFFF)
_LOW27 = np.uint64((1 << 27) - 1)


@njit_serial
def abs_sum_bins(x, lo, hi):
    """Exact sum of |x| (x a 1-d float array) as integer bins: ``sum |x| = 2**-1074 *
    sum_E (lo[E] + hi[E] * 2**27) * 2**(E - 1)`` with ``E = max(float64 exponent field, 1)``.

    Each float64 significand (< 2**53) is split into 27 + 26 bits, so an int64 bin absorbs
    2**36 additions before it could overflow; the caller turns the bins into a Python int.
    """
    for k in range(x.shape[0]):
        u = np.float64(abs(x[k])).view(np.uint64)
        e = np.int64(u >> np.uint64(52))
        sig = (u & _FRAC) | (np.uint64(1 if e > 0 else 0) << np.uint64(52))
        e = e if e > 1 else 1
        lo[e] += np.int64(sig & _LOW27)
        hi[e] += np.int64(sig >> np.uint64(27))

