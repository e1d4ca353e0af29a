"""Popcount GEMMs on nibble planes: the AVX2 path of binary x binary and ternary x ternary.

Same results as :func:`simulator._xnor_kernels.xnor_gemm` and ``ternary_gemm`` (the portable
kernels, kept for machines without AVX2 and as the reference in the tests); the operands are
first spread into nibble rows (layout in :mod:`simulator._avx2_nibble`), one cheap pass per
operand, cached with the operand's packed planes.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from simulator._avx2_nibble import BINARY_STEP_WORDS, TERNARY_STEP_WORDS, block_dots

#: Rows of ``a`` per parallel task and rows of ``b`` per cache tile.  A nibble row is twice (binary)
#: or four times (ternary) the packed row: with K = 4096, 32 binary rows of ``b`` are 32 KiB.
ROW_TILE = 32
COL_TILE = 8
#: Rows of ``a`` and of ``b`` per register block (each loaded vector serves 2 products).
BLOCK_ROWS = 2
BLOCK_COLS = 2

_LOW_NIBBLES = np.uint64(0x0F0F_0F0F_0F0F_0F0F)


def steps(words: int) -> int:
    """256-bit steps covering ``words`` packed uint64 words."""
    return (words + 3) // 4


@njit_serial
def spread_binary(neg, out):
    """Nibble rows of packed (R, W) planes: per step ``[lo(neg), hi(neg)]``, 4 words each,
    zero past ``W`` (``out`` is (R, 8 * steps(W)))."""
    r, w = neg.shape
    nv = out.shape[1] // 8
    four = np.uint64(4)
    for i in range(r):
        for v in range(nv):
            for q in range(4):
                k = 4 * v + q
                word = neg[i, k] if k < w else np.uint64(0)
                out[i, 8 * v + q] = word & _LOW_NIBBLES
                out[i, 8 * v + 4 + q] = (word >> four) & _LOW_NIBBLES


@njit_serial
def spread_ternary(neg, nz, out):
    """Nibble rows of packed (R, W) planes: per step ``[lo(nz), hi(nz), lo(neg), hi(neg)]``,
    4 words each, zero past ``W`` (``out`` is (R, 16 * steps(W)))."""
    r, w = neg.shape
    nv = out.shape[1] // 16
    four = np.uint64(4)
    for i in range(r):
        for v in range(nv):
            for q in range(4):
                k = 4 * v + q
                zw = nz[i, k] if k < w else np.uint64(0)
                nw = neg[i, k] if k < w else np.uint64(0)
                out[i, 16 * v + q] = zw & _LOW_NIBBLES
                out[i, 16 * v + 4 + q] = (zw >> four) & _LOW_NIBBLES
                out[i, 16 * v + 8 + q] = nw & _LOW_NIBBLES
                out[i, 16 * v + 12 + q] = (nw >> four) & _LOW_NIBBLES


def binary_nibbles(neg: np.ndarray) -> np.ndarray:
    """The binary nibble rows of a packed ``neg`` plane (R, W)."""
    out = np.empty((neg.shape[0], BINARY_STEP_WORDS * steps(neg.shape[1])), dtype=np.uint64)
    spread_binary(np.ascontiguousarray(neg), out)
    return out


def ternary_nibbles(neg: np.ndarray, nz: np.ndarray) -> np.ndarray:
    """The ternary nibble rows of packed ``neg`` and ``nz`` planes (R, W)."""
    out = np.empty((neg.shape[0], TERNARY_STEP_WORDS * steps(neg.shape[1])), dtype=np.uint64)
    spread_ternary(np.ascontiguousarray(neg), np.ascontiguousarray(nz), out)
    return out


def _gemm_driver(ternary: bool, rows: int, cols: int, row_tile: int, col_tile: int):
    """A parallel GEMM over ``rows x cols`` register blocks of :func:`block_dots`: tasks of
    ``row_tile`` rows of ``a``, each sweeping ``b`` in tiles of ``col_tile`` rows (cache reuse).
    Binary: ``out = K - 2 popcount``; ternary: the signed sums as they are."""
    block = block_dots(rows, cols, ternary)
    step_words = TERNARY_STEP_WORDS if ternary else BINARY_STEP_WORDS
    is_ternary = ternary

    def gemm(a, b, kk, out):
        m = a.shape[0]
        n = b.shape[0]
        nv = a.shape[1] // step_words
        n_tiles = (m + row_tile - 1) // row_tile
        for t in prange(n_tiles):
            i_lo = t * row_tile
            i_hi = min(i_lo + row_tile, m)
            for j_lo in range(0, n, col_tile):
                j_hi = min(j_lo + col_tile, n)
                for i in range(i_lo, i_hi, rows):
                    for j in range(j_lo, j_hi, cols):
                        d = block(a, i, b, j, nv)
                        for r in range(rows):
                            for c in range(cols):
                                if i + r < m and j + c < n:
                                    v = d[r * cols + c]
                                    out[i + r, j + c] = v if is_ternary else kk - 2 * v

    gemm.__name__ = f"{'ternary' if ternary else 'xnor'}_gemm_nibbles"
    gemm.__qualname__ = gemm.__name__
    return njit_parallel(gemm)


#: ``xnor_gemm_nibbles(a, b, kk, out)``: ``out[i, j] = K - 2 popcount(neg_a[i] ^ neg_b[j])``
#: from binary nibble rows ``a`` (M, .) and ``b`` (N, .), the ±1 dot products of length ``kk``.
xnor_gemm_nibbles = _gemm_driver(False, BLOCK_ROWS, BLOCK_COLS, ROW_TILE, COL_TILE)
#: ``ternary_gemm_nibbles(a, b, kk, out)``: ``out[i, j] = popcount(nz) - 2 popcount(nz & (neg_a ^
#: neg_b))``, ``nz = nz_a & nz_b``, from ternary nibble rows (``kk`` unused).
ternary_gemm_nibbles = _gemm_driver(True, BLOCK_ROWS, BLOCK_COLS, ROW_TILE, COL_TILE)
