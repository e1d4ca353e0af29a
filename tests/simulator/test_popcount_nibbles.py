"""The AVX2 nibble-row popcount GEMMs: equal to the integer products, lane overflow included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import Binary, Ternary
from simulator import Accumulator, ops
from simulator import _gemm
from simulator._avx2_nibble import (AVAILABLE, BINARY_FLUSH, TERNARY_FLUSH, _block_python,
                                    block_dots)
from simulator._nibble_kernels import (BLOCK_COLS, BLOCK_ROWS, COL_TILE, ROW_TILE,
                                       binary_nibbles, ternary_gemm_nibbles, ternary_nibbles,
                                       xnor_gemm_nibbles)
from simulator._packed import pack_planes
from tests.naive_ops import binary_dot_ref

needs_avx2 = pytest.mark.skipif(not AVAILABLE, reason="the nibble kernels need AVX2 (the "
                                "portable kernels of test_popcount.py run instead)")

#: K (elements) at the edges of the 256-bit steps and of the byte-lane flush periods.
_K_EDGES = [1, 63, 64, 65, 255, 256, 257,
            TERNARY_FLUSH * 256 - 1, TERNARY_FLUSH * 256, TERNARY_FLUSH * 256 + 1,
            BINARY_FLUSH * 256 - 1, BINARY_FLUSH * 256, BINARY_FLUSH * 256 + 1]


def _spread_reference(word: int) -> tuple[int, int]:
    lo = sum(((word >> (8 * b)) & 0xF) << (8 * b) for b in range(8))
    hi = sum(((word >> (8 * b + 4)) & 0xF) << (8 * b) for b in range(8))
    return lo, hi


def _gemms(a, b, ternary):
    """Both kernels' results for code arrays ``a`` (M, K) and ``b`` (N, K), int32 and int64."""
    pa, pb = pack_planes(a), pack_planes(b)
    kk = a.shape[1]
    results = []
    for dtype in (np.int32, np.int64):
        out = np.full((a.shape[0], b.shape[0]), -999, dtype)
        gemm = ternary_gemm_nibbles if ternary else xnor_gemm_nibbles
        gemm(pa.nibbles(ternary), pb.nibbles(ternary), kk, out)
        results.append(out)
    return results


def test_nibble_rows_spread_each_byte_into_two_nibbles(rng):
    """Layout: per 4-word step [lo, hi] (binary) or [lo nz, hi nz, lo neg, hi neg] (ternary),
    zero past the packed words."""
    neg = rng.integers(0, 2**64, (3, 5), dtype=np.uint64)
    nz = neg | rng.integers(0, 2**64, (3, 5), dtype=np.uint64)
    rows_b, rows_t = binary_nibbles(neg), ternary_nibbles(neg, nz)
    assert rows_b.shape == (3, 16) and rows_t.shape == (3, 32)
    for r in range(3):
        for w in range(8):
            word = int(neg[r, w]) if w < 5 else 0
            zword = int(nz[r, w]) if w < 5 else 0
            v, q = divmod(w, 4)
            assert (int(rows_b[r, 8 * v + q]), int(rows_b[r, 8 * v + 4 + q])) == \
                _spread_reference(word)
            assert (int(rows_t[r, 16 * v + q]), int(rows_t[r, 16 * v + 4 + q])) == \
                _spread_reference(zword)
            assert (int(rows_t[r, 16 * v + 8 + q]), int(rows_t[r, 16 * v + 12 + q])) == \
                _spread_reference(word)


@needs_avx2
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 7), st.sampled_from(_K_EDGES) | st.integers(1, 9000), st.integers(1, 7),
       st.integers(0, 2**32 - 1))
def test_nibble_gemms_equal_integer_products(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.choice([-1, 1], (m, k)), rng.choice([-1, 1], (n, k))
    for out in _gemms(a, b, ternary=False):
        assert_array_equal(out, a @ b.T)
    ta, tb = rng.integers(-1, 2, (m, k)), rng.integers(-1, 2, (n, k))
    for out in _gemms(ta, tb, ternary=True):
        assert_array_equal(out, ta @ tb.T)
    assert out[0, 0] == binary_dot_ref(ta[0], tb[0])


@needs_avx2
@pytest.mark.parametrize("k", _K_EDGES + [2 * BINARY_FLUSH * 256 + 7])
def test_byte_lanes_do_not_overflow_at_the_largest_counts(k):
    """All elements equal or all opposite: every nibble counts 4 in every step, the most a byte
    lane can gather before it is widened (binary 31 steps x 8 = 248, ternary 15 x ±8 = ±120)."""
    ones = np.ones((2, k), np.int64)
    for sign in (1, -1):
        for ternary in (False, True):
            for out in _gemms(ones, sign * ones[:1], ternary):
                assert_array_equal(out, np.full((2, 1), sign * k))
    # Ternary zeros on one side only: nothing counts, whatever the signs.
    mixed = np.zeros((1, k), np.int64)
    for out in _gemms(mixed, -ones, ternary=True):
        assert_array_equal(out, np.zeros((1, 2)))


@needs_avx2
@pytest.mark.parametrize("m, n", [(ROW_TILE + 1, COL_TILE + 1), (2 * ROW_TILE, 2 * COL_TILE),
                                  (ROW_TILE - 1, COL_TILE - 1), (BLOCK_ROWS + 1, BLOCK_COLS + 1),
                                  (1, 1)])
def test_blocks_and_tiles_cover_every_output_once(rng, m, n):
    """Partial register blocks (the last rows repeat) and partial tiles: every output written,
    with its own value."""
    k = 300
    a, b = rng.choice([-1, 1], (m, k)), rng.choice([-1, 1], (n, k))
    for out in _gemms(a, b, ternary=False):
        assert_array_equal(out, a @ b.T)
    ta, tb = rng.integers(-1, 2, (m, k)), rng.integers(-1, 2, (n, k))
    for out in _gemms(ta, tb, ternary=True):
        assert_array_equal(out, ta @ tb.T)


@needs_avx2
@pytest.mark.parametrize("ternary", [False, True])
def test_python_form_of_the_block_equals_the_intrinsic(rng, ternary):
    """The NUMBA_DISABLE_JIT form computes what the LLVM intrinsic computes."""
    import numba

    k = 700
    a = rng.integers(-1, 2, (3, k)) if ternary else rng.choice([-1, 1], (3, k))
    b = rng.integers(-1, 2, (2, k)) if ternary else rng.choice([-1, 1], (2, k))
    an, bn = pack_planes(a).nibbles(ternary), pack_planes(b).nibbles(ternary)
    nv = an.shape[1] // (16 if ternary else 8)
    block = block_dots(2, 2, ternary)

    @numba.njit
    def run(x, i0, y, j0, steps):
        return block(x, i0, y, j0, steps)

    python_block = _block_python(2, 2, ternary)
    for i0, j0 in ((0, 0), (2, 1), (1, 0)):
        assert run(an, i0, bn, j0, nv) == python_block(an, i0, bn, j0, nv)


@pytest.mark.parametrize("fmt", [Binary(), Ternary()], ids=["binary", "ternary"])
def test_ops_results_do_not_depend_on_the_kernel(monkeypatch, rng, fmt):
    """ops.matmul with the AVX2 kernels and with the portable ones: the same codes."""
    qa = fmt.quantize(rng.normal(size=(9, 1000)))
    qb = fmt.quantize(rng.normal(size=(1000, 7)))
    results = []
    for avx2 in (AVAILABLE, False):
        monkeypatch.setattr(_gemm, "NIBBLE_KERNELS", avx2)
        for acc in (Accumulator(32), Accumulator(8, "saturate"), Accumulator(64)):
            results.append(ops.matmul(qa, qb, acc=acc).codes)
    exact = qa.codes.astype(np.int64) @ qb.codes.astype(np.int64)
    assert_array_equal(results[0], exact)
    assert results[0].dtype == np.int32 and results[2].dtype == np.int64
    for got, want in zip(results[3:], results[:3]):
        assert got.dtype == want.dtype
        assert_array_equal(got, want)
