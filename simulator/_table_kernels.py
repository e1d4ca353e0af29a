"""Popcount GEMMs by table lookup: the AVX2 path of binary x binary and ternary x ternary.

Same results as :func:`simulator._xnor_kernels.xnor_gemm` and ``ternary_gemm`` (the portable
kernels, kept for machines without AVX2 and as the reference in the tests).  The operands are
first turned into 4-bit *positions* (layout and tables in :mod:`simulator._avx2_table`): the
left operand as one index byte per position, ``a_idx`` (M, P); the right one transposed into
chunks of 32 rows, ``b_tr`` (NC, P, 32).  Both are one cheap pass per operand, cached with the
operand's packed planes (:class:`simulator._packed.RowPlanes`).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from precision._numba_config import njit_parallel, njit_serial
from simulator._avx2_table import (BLOCK_CHUNKS, BLOCK_ROWS, FLUSH, LANE_TABLES, LANES,
                                   table_block)

#: Rows of ``a`` per parallel task (each task also takes one block of chunks of ``b``): the
#: task's uint16 sums, its slice of ``b`` for one flush period (8 KiB) and of ``a`` stay in L1.
ROW_TILE = 32
#: Positions per call of the driver: the uint16 sums hold at most 4 per position.
MAX_POSITIONS = FLUSH * (65535 // (4 * FLUSH))


_LOW_NIBBLES = np.uint64(0x0F0F_0F0F_0F0F_0F0F)


@njit_serial
def _spread(x, step, mask):
    return (x | (x << np.uint64(step))) & np.uint64(mask)


@njit_serial
def _spread_bits(half):
    """The 32 low bits of ``half`` moved to the even bit positions of a 64-bit word."""
    x = _spread(half & np.uint64(0xFFFF_FFFF), 16, 0x0000_FFFF_0000_FFFF)
    x = _spread(x, 8, 0x00FF_00FF_00FF_00FF)
    x = _spread(x, 4, 0x0F0F_0F0F_0F0F_0F0F)
    x = _spread(x, 2, 0x3333_3333_3333_3333)
    return _spread(x, 1, 0x5555_5555_5555_5555)


@njit_serial
def _spread_bytes(half):
    """The 4 low bytes of ``half`` moved to the even byte positions of a 64-bit word."""
    x = _spread(half & np.uint64(0xFFFF_FFFF), 16, 0x0000_FFFF_0000_FFFF)
    return _spread(x, 8, 0x00FF_00FF_00FF_00FF)


@njit_serial
def _write_nibbles(word, out, r, k):
    """The 16 nibbles of ``word``, LSB first, one per byte: words ``out[r, k]``, ``[r, k + 1]``
    (little-endian bytes)."""
    lo = word & _LOW_NIBBLES
    hi = (word >> np.uint64(4)) & _LOW_NIBBLES
    out[r, k] = _spread_bytes(lo) | (_spread_bytes(hi) << np.uint64(8))
    out[r, k + 1] = _spread_bytes(lo >> np.uint64(32)) | (_spread_bytes(hi >> np.uint64(32))
                                                         << np.uint64(8))


@njit_serial
def word_positions(neg, nz, ternary, out):
    """Positions of packed (R, W) planes as index bytes, viewed as uint64 words ``out``
    (R or more rows, 2 W words binary, 4 W ternary; extra rows are left as they are).

    Binary: nibble ``p`` of the ``neg`` row (elements 4p..4p+3).  Ternary: bits ``2e`` = nz and
    ``2e + 1`` = neg of the position's elements ``e = 0, 1`` (the neg and nz bits interleaved,
    then split into nibbles)."""
    one = np.uint64(1)
    thirty_two = np.uint64(32)
    for r in range(neg.shape[0]):
        for w in range(neg.shape[1]):
            if ternary:
                z, s = nz[r, w], neg[r, w]
                _write_nibbles(_spread_bits(z) | (_spread_bits(s) << one), out, r, 4 * w)
                _write_nibbles(_spread_bits(z >> thirty_two)
                               | (_spread_bits(s >> thirty_two) << one), out, r, 4 * w + 2)
            else:
                _write_nibbles(neg[r, w], out, r, 2 * w)


@njit_serial
def transpose_chunks(idx, out):
    """``out[c, p, q] = idx[32 c + q, p]`` for (32 NC, P) bytes ``idx``."""
    for c in range(out.shape[0]):
        for p0 in range(0, out.shape[1], 64):
            p1 = min(p0 + 64, out.shape[1])
            for q in range(LANES):
                for p in range(p0, p1):
                    out[c, p, q] = idx[LANES * c + q, p]


def _word_positions(neg: np.ndarray, nz: np.ndarray, ternary: bool, rows: int) -> np.ndarray:
    """(``rows``, P) index bytes of the planes, rows past R zero."""
    words_per = 4 if ternary else 2
    out = np.zeros((rows, words_per * neg.shape[1]), dtype=np.uint64)
    word_positions(np.ascontiguousarray(neg), np.ascontiguousarray(nz), ternary, out)
    return out.view(np.uint8) if np.little_endian else out.byteswap().view(np.uint8)


def left_positions(neg: np.ndarray, nz: np.ndarray, ternary: bool) -> np.ndarray:
    """``a_idx`` (M rounded up to :data:`BLOCK_ROWS`, P): one index byte per position."""
    rows = -(-neg.shape[0] // BLOCK_ROWS) * BLOCK_ROWS
    return _word_positions(neg, nz, ternary, rows)


def right_positions(neg: np.ndarray, nz: np.ndarray, ternary: bool) -> np.ndarray:
    """``b_tr`` (NC, P, 32): position ``p`` of row ``32 c + q`` at ``[c, p, q]``, NC a whole
    number of register blocks (rows past N are zero)."""
    per_block = LANES * BLOCK_CHUNKS
    rows = -(-neg.shape[0] // per_block) * per_block
    idx = _word_positions(neg, nz, ternary, rows)
    out = np.empty((rows // LANES, idx.shape[1], LANES), dtype=np.uint8)
    transpose_chunks(idx, out)
    return out


@njit_parallel
def _table_gemm(a_idx, b_tr, tables, p_lo, p_hi, base, mult, accumulate, out):
    """``out[i, j] (+)= base + mult * sum_p tables[a_idx[i, p], b_idx[j, p]]`` over positions
    ``p_lo <= p < p_hi``: parallel tasks of ``ROW_TILE`` rows of ``a`` x one register block of
    chunks of ``b``, each summing in uint16 and flushing its byte lanes every ``FLUSH``."""
    m, n = out.shape
    m_pad = a_idx.shape[0]
    groups = b_tr.shape[0] // BLOCK_CHUNKS
    width = BLOCK_CHUNKS * LANES
    row_tiles = (m_pad + ROW_TILE - 1) // ROW_TILE
    for task in prange(row_tiles * groups):
        i_lo = (task // groups) * ROW_TILE
        i_hi = min(i_lo + ROW_TILE, m_pad)
        c0 = (task % groups) * BLOCK_CHUNKS
        sums = np.zeros((ROW_TILE, width), dtype=np.uint16)
        for q0 in range(p_lo, p_hi, FLUSH):
            q1 = min(q0 + FLUSH, p_hi)
            for i in range(i_lo, i_hi, BLOCK_ROWS):
                table_block(a_idx, i, b_tr, c0, q0, q1, sums, i - i_lo, 0, tables)
        cols = min(width, n - c0 * LANES)
        j0 = c0 * LANES
        if accumulate:  # two loops, so that each vectorizes without a branch
            for i in range(i_lo, min(i_hi, m)):
                for jj in range(cols):
                    out[i, j0 + jj] += base + mult * np.int64(sums[i - i_lo, jj])
        else:
            for i in range(i_lo, min(i_hi, m)):
                for jj in range(cols):
                    out[i, j0 + jj] = base + mult * np.int64(sums[i - i_lo, jj])


def table_gemm(a_idx: np.ndarray, b_tr: np.ndarray, kk: int, ternary: bool,
               out: np.ndarray) -> None:
    """``out[i, j]`` = the ±1 (binary) or {-1, 0, 1} (ternary) dot product of length ``kk`` of
    row ``i`` of the left operand and row ``j`` of the right one, from their positions.

    Binary: ``K - 2 popcount(neg_a ^ neg_b)``; ternary: the biased table sum minus 2 per
    position.  Positions beyond :data:`MAX_POSITIONS` are summed in further passes.
    """
    tables = LANE_TABLES[ternary]
    positions = a_idx.shape[1]
    for p_lo in range(0, max(positions, 1), MAX_POSITIONS):
        p_hi = min(p_lo + MAX_POSITIONS, positions)
        if ternary:
            base, mult = -2 * (p_hi - p_lo), 1
        else:
            base, mult = (kk if p_lo == 0 else 0), -2
        _table_gemm(a_idx, b_tr, tables, p_lo, p_hi, base, mult, p_lo > 0, out)
