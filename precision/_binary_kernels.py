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
            v = x[r, j]
            if v != v:
                n_nan += 1
            bit = _U1 << np.uint64(j - j0)
            if v > d:
                codes[r, j] = 1
                nz |= bit
            elif v < -d:
                codes[r, j] = -1
                nz |= bit
                neg |= bit
            else:
                codes[r, j] = 0
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


@njit_serial
def _pack_range(codes, planes, t0, t1):
    """Pack tasks of ``codes`` (outer, L, inner) int8 into ``planes`` (P, outer, inner, W).

    Returns the number of codes outside the alphabet ({-1, +1} for P == 1, {-1, 0, +1} for 2).
    """
    n_planes = planes.shape[0]
    length = codes.shape[1]
    inner = codes.shape[2]
    n_words = planes.shape[3]
    n_bad = 0
    for t in range(t0, t1):
        o = t // n_words
        w = t - o * n_words
        j0 = w * 64
        j1 = min(j0 + 64, length)
        for i in range(inner):
            neg = _U0
            nz = _U0
            for j in range(j0, j1):
                c = codes[o, j, i]
                u = np.uint64(np.uint8(c))
                sh = np.uint64(j - j0)
                neg |= ((u >> np.uint64(7)) & _U1) << sh
                nz |= (u & _U1) << sh
                if c < -1 or c > 1 or (n_planes == 1 and c == 0):
                    n_bad += 1
            planes[0, o, i, w] = neg
            if n_planes == 2:
                planes[1, o, i, w] = nz
    return n_bad


@njit_parallel
def _pack_parallel(codes, planes, chunk):
    n_tasks = planes.shape[1] * planes.shape[3]
    n_chunks = (n_tasks + chunk - 1) // chunk
    n_bad = 0
    for c in prange(n_chunks):
        t0 = c * chunk
        n_bad += _pack_range(codes, planes, t0, min(t0 + chunk, n_tasks))
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


@njit_parallel
def _unpack_parallel(planes, codes, chunk):
    n_tasks = planes.shape[1] * planes.shape[3]
    n_chunks = (n_tasks + chunk - 1) // chunk
    for c in prange(n_chunks):
        t0 = c * chunk
        _unpack_range(planes, codes, t0, min(t0 + chunk, n_tasks))
