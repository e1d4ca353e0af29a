"""Numba cores of binary and ternary dot products: popcounts on packed words, sign selection.

Bit layout (the same as ``precision.packing``): element ``k`` of a row lives in word ``k // 64``,
bit ``k % 64`` (LSB first); plane "neg" has a 1 where the code is -1, plane "nz" a 1 where the
code is nonzero; padding bits are 0 in both planes.

* Binary x binary: ``a_k b_k = +1`` when the neg bits agree, ``-1`` otherwise, so
  ``dot = K - 2 * popcount(neg_a XOR neg_b)`` (padding: 0 XOR 0 adds nothing).
* Ternary x ternary: ``a_k b_k`` is nonzero where ``nz_a AND nz_b``, negative where additionally
  the neg bits differ: ``dot = popcount(nz) - 2 * popcount(nz AND (neg_a XOR neg_b))``.
* Fixed-point x binary/ternary ("sign select"): ``acc += a`` or ``acc -= a`` (or nothing for a
  ternary 0) in ascending ``k``: no multiplier, as in BinaryConnect hardware.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from simulator._popcount import popcount

#: Rows of ``a`` and of ``b`` per tile: a 64-row tile of 64 words of b is 32 KiB (L1).
ROW_TILE = 8
COL_TILE = 64


@njit_serial
def pack_rows(codes, neg, nz):
    """Pack a (R, K) array of codes in {-1, 0, 1} into (R, ceil(K/64)) uint64 planes."""
    r, kk = codes.shape
    for i in range(r):
        for w in range(neg.shape[1]):
            k0 = w * 64
            word_neg = np.uint64(0)
            word_nz = np.uint64(0)
            for k in range(k0, min(k0 + 64, kk)):
                c = codes[i, k]
                shift = np.uint64(k - k0)
                word_neg |= np.uint64(c < 0) << shift
                word_nz |= np.uint64(c != 0) << shift
            neg[i, w] = word_neg
            nz[i, w] = word_nz


@njit_parallel
def xnor_gemm(a_neg, b_neg, kk, out):
    """``out[i, j] = K - 2 popcount(a_neg[i] ^ b_neg[j])``: the ±1 dot products (a (M,W), b (N,W))."""
    m, nw = a_neg.shape
    n = b_neg.shape[0]
    n_tiles = (m + ROW_TILE - 1) // ROW_TILE
    for t in prange(n_tiles):
        i0 = t * ROW_TILE
        i1 = min(i0 + ROW_TILE, m)
        for j0 in range(0, n, COL_TILE):
            j1 = min(j0 + COL_TILE, n)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    s = 0
                    for w in range(nw):
                        s += popcount(a_neg[i, w] ^ b_neg[j, w])
                    out[i, j] = kk - 2 * s


@njit_parallel
def ternary_gemm(a_neg, a_nz, b_neg, b_nz, out):
    """``out[i, j] = popcount(nz) - 2 popcount(nz & (neg_a ^ neg_b))``, ``nz = a_nz & b_nz``."""
    m, nw = a_neg.shape
    n = b_neg.shape[0]
    n_tiles = (m + ROW_TILE - 1) // ROW_TILE
    for t in prange(n_tiles):
        i0 = t * ROW_TILE
        i1 = min(i0 + ROW_TILE, m)
        for j0 in range(0, n, COL_TILE):
            j1 = min(j0 + COL_TILE, n)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    s_nz = 0
                    s_neg = 0
                    for w in range(nw):
                        both = a_nz[i, w] & b_nz[j, w]
                        s_nz += popcount(both)
                        s_neg += popcount(both & (a_neg[i, w] ^ b_neg[j, w]))
                    out[i, j] = s_nz - 2 * s_neg


@njit_parallel
def sign_select_matmul(a, b_sign, c):
    """``c[i, j] += sum_k sel(b_sign[k, j], a[i, k])`` in ascending ``k``, int64 (modular).

    ``b_sign`` holds -1, 0 or +1: add ``a``, subtract it, or skip, with selects instead of
    multiplies.  ``c`` holds the preload.
    """
    m, kk = a.shape
    n = b_sign.shape[1]
    for i in prange(m):
        for k in range(kk):
            pos = np.int64(a[i, k])
            neg = -pos
            for j in range(n):
                s = b_sign[k, j]
                c[i, j] += pos if s > 0 else (neg if s < 0 else 0)
