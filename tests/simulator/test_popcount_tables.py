"""The AVX2 table-lookup popcount GEMMs: equal to the integer products, lane overflow included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import Binary, Ternary
from simulator import Accumulator, _gemm, ops
from simulator import _table_kernels as TK
from simulator._avx2_table import (
    AVAILABLE,
    BLOCK_CHUNKS,
    BLOCK_ROWS,
    FLUSH,
    LANE_TABLES,
    LANES,
    TABLES,
    block_python,
    table_block,
)
from simulator._packed import pack_planes
from tests.naive_ops import binary_dot_ref

needs_avx2 = pytest.mark.skipif(not AVAILABLE, reason="the table kernels need AVX2 (the "
                                "portable kernels of test_popcount.py run instead)")

#: K (elements) at the edges of words and of the byte-lane flush periods (binary positions hold
#: 4 elements, ternary ones 2).
_K_EDGES = [1, 2, 3, 4, 5, 63, 64, 65, 2 * FLUSH - 1, 2 * FLUSH, 2 * FLUSH + 1,
            4 * FLUSH - 1, 4 * FLUSH, 4 * FLUSH + 1, 8 * FLUSH + 3]


def _dot(a, b):
    return a.astype(np.int64) @ b.astype(np.int64).T


def _gemm_both_dtypes(a, b, ternary):
    """The table GEMM of code arrays ``a`` (M, K) and ``b`` (N, K) into int32 and int64."""
    pa, pb = pack_planes(a), pack_planes(b)
    results = []
    for dtype in (np.int32, np.int64):
        out = np.full((a.shape[0], b.shape[0]), -999, dtype)
        TK.table_gemm(pa.positions("left", ternary), pb.positions("right", ternary), a.shape[1],
                      ternary, out)
        results.append(out)
    return results


def _check_random_products(rng, m, k, n):
    """±1 and {-1, 0, 1} codes of shapes (m, k) and (n, k): both kernels equal the products."""
    a, b = rng.choice([-1, 1], (m, k)), rng.choice([-1, 1], (n, k))
    for out in _gemm_both_dtypes(a, b, ternary=False):
        assert_array_equal(out, _dot(a, b))
    ta, tb = rng.integers(-1, 2, (m, k)), rng.integers(-1, 2, (n, k))
    for out in _gemm_both_dtypes(ta, tb, ternary=True):
        assert_array_equal(out, _dot(ta, tb))
    return ta, tb


def test_tables_are_the_products_of_the_positions():
    """Binary: popcount(x ^ y) of 4 elements; ternary: 2 + the sum of two {-1, 0, 1} products
    with index bits (nz_0, neg_0, nz_1, neg_1) — codes 00 = 0, 01 = +1, 11 = -1."""
    def ternary_codes(v):
        return [(0, 1, 0, -1)[(v >> (2 * e)) & 3] for e in range(2)]

    for x in range(16):
        for y in range(16):
            assert TABLES[False][x, y] == sum(((x ^ y) >> b) & 1 for b in range(4))
            cx, cy = ternary_codes(x), ternary_codes(y)
            assert TABLES[True][x, y] == 2 + cx[0] * cy[0] + cx[1] * cy[1]


def test_positions_hold_the_elements_in_order(rng):
    """Left: one index per position, rows padded to whole blocks; right: 32 rows per chunk,
    transposed, padded with zero rows."""
    codes = rng.integers(-1, 2, (3, 150))
    planes = pack_planes(codes)
    for ternary, per in ((False, 4), (True, 2)):
        left = planes.positions("left", ternary)
        right = planes.positions("right", ternary)
        assert left.shape[0] == BLOCK_ROWS * 2 and right.shape[0] == BLOCK_CHUNKS
        assert right.shape[2] == LANES and right.shape[1] == left.shape[1]
        assert not left[3:].any() and not right[0, :, 3:].any() and not right[1:].any()
        for r in range(3):
            for p in range(left.shape[1]):
                elems = codes[r, per * p: per * p + per]
                if ternary:
                    want = sum((int(c != 0) | (int(c < 0) << 1)) << (2 * e)
                               for e, c in enumerate(elems))
                else:
                    want = sum(int(c < 0) << e for e, c in enumerate(elems))
                assert left[r, p] == want == right[0, p, r]


@needs_avx2
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 7), st.sampled_from(_K_EDGES) | st.integers(1, 3000), st.integers(1, 140),
       st.integers(0, 2**32 - 1))
def test_table_gemms_equal_integer_products(m, k, n, seed):
    ta, tb = _check_random_products(np.random.default_rng(seed), m, k, n)
    out = _gemm_both_dtypes(ta, tb, ternary=True)[0]
    assert out[0, 0] == binary_dot_ref(ta[0], tb[0])


@needs_avx2
@pytest.mark.parametrize("k", _K_EDGES + [4 * TK.MAX_POSITIONS + 9])
def test_lanes_do_not_overflow_at_the_largest_counts(k):
    """All elements opposite (binary: every lookup 4, the most a byte lane gathers before it is
    widened: 63 x 4 = 252) or equal; ternary: every product ±1.  The last K needs more
    positions than the uint16 sums hold, so the driver makes a second pass."""
    ones = np.ones((3, k), np.int64)
    for sign in (1, -1):
        for ternary in (False, True):
            for out in _gemm_both_dtypes(ones, sign * ones[:2], ternary):
                assert_array_equal(out, np.full((3, 2), sign * k))
    zeros = np.zeros((1, k), np.int64)
    for out in _gemm_both_dtypes(zeros, -ones, ternary=True):
        assert_array_equal(out, np.zeros((1, 3)))


@needs_avx2
@pytest.mark.parametrize("m, n", [(TK.ROW_TILE + 1, BLOCK_CHUNKS * LANES + 1),
                                  (2 * TK.ROW_TILE, 2 * BLOCK_CHUNKS * LANES),
                                  (TK.ROW_TILE - 1, LANES - 1), (BLOCK_ROWS + 1, 1), (1, 1)])
def test_blocks_and_tasks_cover_every_output_once(rng, m, n):
    """Partial register blocks (padded rows and chunks) and partial tasks: every output written
    with its own value."""
    _check_random_products(rng, m, 300, n)


@needs_avx2
@pytest.mark.parametrize("ternary", [False, True])
def test_python_form_of_the_block_equals_the_intrinsic(rng, ternary):
    """The NUMBA_DISABLE_JIT form adds to the uint16 sums what the LLVM intrinsic adds."""
    import numba

    codes = rng.integers(-1, 2, (4, 900))
    planes = pack_planes(codes)
    a_idx = planes.positions("left", ternary)
    b_tr = np.ascontiguousarray(np.concatenate([planes.positions("right", ternary)] * 2))
    tables = LANE_TABLES[ternary]

    @numba.njit
    def run(x, i, y, c, p0, p1, acc, row, col, tab):
        table_block(x, i, y, c, p0, p1, acc, row, col, tab)

    for i, c, p0, p1 in ((0, 0, 0, FLUSH), (2, 4, 5, 5 + FLUSH), (1, 1, 3, 3), (2, 2, 0, 7)):
        want = rng.integers(0, 1000, (5, 300)).astype(np.uint16)
        got = want.copy()
        run(a_idx, i, b_tr, c, p0, p1, got, 1, 7, tables)
        block_python(a_idx, i, b_tr, c, p0, p1, want, 1, 7, tables)
        assert_array_equal(got, want)


@pytest.mark.parametrize("fmt", [Binary(), Ternary()], ids=["binary", "ternary"])
def test_ops_results_do_not_depend_on_the_kernel(monkeypatch, rng, fmt):
    """ops.matmul with the AVX2 kernels and with the portable ones: the same codes and dtypes,
    for accumulators that need no pass, a saturating one and a 64-bit one."""
    qa = fmt.quantize(rng.normal(size=(9, 1000)))
    qb = fmt.quantize(rng.normal(size=(1000, 7)))
    qbin = Binary().quantize(rng.normal(size=(1000, 7)))
    results = []
    for avx2 in (AVAILABLE, False):
        monkeypatch.setattr(_gemm, "TABLE_KERNELS", avx2)
        for other in (qb, qbin):
            for acc in (Accumulator(32), Accumulator(8, "saturate"), Accumulator(64)):
                results.append(ops.matmul(qa, other, acc=acc).codes)
    assert_array_equal(results[0], qa.codes.astype(np.int64) @ qb.codes.astype(np.int64))
    assert results[0].dtype == np.int32 and results[2].dtype == np.int64
    assert results[1].max() <= 127 and results[1].min() >= -128
    half = len(results) // 2
    for got, want in zip(results[half:], results[:half]):
        assert got.dtype == want.dtype
        assert_array_equal(got, want)
