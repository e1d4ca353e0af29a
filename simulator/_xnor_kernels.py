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

``xnor_gemm`` and ``ternary_gemm`` are the portable popcount GEMMs: on machines with AVX2 the
table-lookup kernels of :mod:`simulator._table_kernels` run instead (1-thread CPU time at
512x4096x512: 1.4x less binary, 1.6x less ternary), and these remain the fallback and the
tests' second implementation.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from simulator._popcount import popcount

#: Rows of ``a`` per parallel task and rows of ``b`` per cache tile: a 64-row tile of ``b`` with
#: 64 words per row (K = 4096) is 32 KiB, one L1 data cache, reused by the task's 8 rows of ``a``.
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
    """``out[i, j] = K - 2 popcount(a_neg[i] ^ b_neg[j])``: the ±1 dot products (a (M,W), b (N,W)).

    A 2x2 register block: each loaded word of two rows of ``a`` meets two rows of ``b``, so the
    loop issues one load per popcount instead of two (the popcounts themselves, vectorized by
    LLVM, are the cost).  An odd last row or column repeats its neighbour's row and is written
    once.  The tiles over rows are independent tasks (see ``ROW_TILE``).
    """
    m, nw = a_neg.shape
    n = b_neg.shape[0]
    n_tiles = (m + ROW_TILE - 1) // ROW_TILE
    for t in prange(n_tiles):
        i0 = t * ROW_TILE
        i1 = min(i0 + ROW_TILE, m)
        for j0 in range(0, n, COL_TILE):
            j1 = min(j0 + COL_TILE, n)
            for i in range(i0, i1, 2):
                ib = min(i + 1, m - 1)
                for j in range(j0, j1, 2):
                    jb = min(j + 1, n - 1)
                    s00 = 0
                    s01 = 0
                    s10 = 0
                    s11 = 0
                    for w in range(nw):
                        x0 = a_neg[i, w]
                        x1 = a_neg[ib, w]
                        y0 = b_neg[j, w]
                        y1 = b_neg[jb, w]
                        s00 += popcount(x0 ^ y0)
                        s01 += popcount(x0 ^ y1)
                        s10 += popcount(x1 ^ y0)
                        s11 += popcount(x1 ^ y1)
                    out[i, j] = kk - 2 * s00
                    out[i, jb] = kk - 2 * s01
                    out[ib, j] = kk - 2 * s10
                    out[ib, jb] = kk - 2 * s11


@njit_parallel
def ternary_gemm(a_neg, a_nz, b_neg, b_nz, out):
    """``out[i, j] = popcount(nz) - 2 popcount(nz & (neg_a ^ neg_b))``, ``nz = a_nz & b_nz``.

    The same 2x2 register blocking and tiling as :func:`xnor_gemm`, two planes per operand.
    """
    m, nw = a_neg.shape
    n = b_neg.shape[0]
    n_tiles = (m + ROW_TILE - 1) // ROW_TILE
    for t in prange(n_tiles):
        i0 = t * ROW_TILE
        i1 = min(i0 + ROW_TILE, m)
        for j0 in range(0, n, COL_TILE):
            j1 = min(j0 + COL_TILE, n)
            for i in range(i0, i1, 2):
                ib = min(i + 1, m - 1)
                for j in range(j0, j1, 2):
                    jb = min(j + 1, n - 1)
                    z00 = 0
                    z01 = 0
                    z10 = 0
                    z11 = 0
                    g00 = 0
                    g01 = 0
                    g10 = 0
                    g11 = 0
                    for w in range(nw):
                        n0 = a_neg[i, w]
                        n1 = a_neg[ib, w]
                        z0 = a_nz[i, w]
                        z1 = a_nz[ib, w]
                        m0 = b_neg[j, w]
                        m1 = b_neg[jb, w]
                        y0 = b_nz[j, w]
                        y1 = b_nz[jb, w]
                        both = z0 & y0
                        z00 += popcount(both)
                        g00 += popcount(both & (n0 ^ m0))
                        both = z0 & y1
                        z01 += popcount(both)
                        g01 += popcount(both & (n0 ^ m1))
                        both = z1 & y0
                        z10 += popcount(both)
                        g10 += popcount(both & (n1 ^ m0))
                        both = z1 & y1
                        z11 += popcount(both)
                        g11 += popcount(both & (n1 ^ m1))
                    out[i, j] = z00 - 2 * g00
                    out[i, jb] = z01 - 2 * g01
                    out[ib, j] = z10 - 2 * g10
                    out[ib, jb] = z11 - 2 * g11


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
