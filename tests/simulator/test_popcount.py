"""popcount, XNOR / ternary popcount GEMMs and sign selection: equal to the integer products."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import Binary, FixedPoint, QArray, Ternary
from simulator import Accumulator, ops
from simulator._matmul_kernels import finish_int
from simulator._popcount import _popcount_python, popcount
from simulator._results import scale_by_power_of_two
from simulator._xnor_kernels import (
    COL_TILE,
    ROW_TILE,
    pack_rows,
    ternary_gemm,
    xnor_gemm,
)
from tests.naive_ops import acc_write_ref, binary_dot_ref, conv2d_ref, matmul_ref

_EDGES = [0, 1, 2**63, 2**64 - 1, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA, 2**32 - 1]


@numba.njit
def _count_all(words):
    out = np.empty(words.size, np.int64)
    for i in range(words.size):
        out[i] = popcount(words[i])
    return out


@given(st.lists(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from(_EDGES)), max_size=40))
def test_popcount_counts_set_bits(words):
    arr = np.array(words, dtype=np.uint64)
    expected = [sum((w >> b) & 1 for b in range(64)) for w in words]
    assert_array_equal(_count_all(arr), expected)
    assert [_popcount_python(w) for w in words] == expected


def _planes(codes):
    r, k = codes.shape
    neg = np.empty((r, (k + 63) // 64), np.uint64)
    nz = np.empty_like(neg)
    pack_rows(codes.astype(np.int8), neg, nz)
    return neg, nz


@settings(max_examples=60)
@given(st.integers(0, 5), st.integers(0, 200), st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_xnor_and_ternary_gemm_equal_integer_products(m, k, n, seed):
    """Every K across word boundaries (padding bits must not count)."""
    rng = np.random.default_rng(seed)
    a = rng.choice([-1, 1], (m, k))
    b = rng.choice([-1, 1], (n, k))
    out = np.empty((m, n), np.int64)
    xnor_gemm(_planes(a)[0], _planes(b)[0], k, out)
    assert_array_equal(out, a @ b.T)
    ta, tb = rng.integers(-1, 2, (m, k)), rng.integers(-1, 2, (n, k))
    (an, az), (bn, bz) = _planes(ta), _planes(tb)
    ternary_gemm(an, az, bn, bz, out)
    assert_array_equal(out, ta @ tb.T)
    if m and n:
        assert out[0, 0] == binary_dot_ref(ta[0], tb[0])


@pytest.mark.parametrize("m, k, n", [(ROW_TILE + 1, 130, COL_TILE + 3), (2 * ROW_TILE, 64, 2 * COL_TILE),
                                     (ROW_TILE - 1, 4097, COL_TILE - 1), (1, 1, 1), (3, 65, 2)])
def test_register_blocks_cover_tile_edges(rng, m, k, n):
    """Odd rows/columns (the 2x2 block repeats a neighbour) and partial row/column tiles."""
    a, b = rng.choice([-1, 1], (m, k)), rng.choice([-1, 1], (n, k))
    out = np.full((m, n), -999, np.int64)
    xnor_gemm(_planes(a)[0], _planes(b)[0], k, out)
    assert_array_equal(out, a @ b.T)
    ta, tb = rng.integers(-1, 2, (m, k)), rng.integers(-1, 2, (n, k))
    (an, az), (bn, bz) = _planes(ta), _planes(tb)
    out[...] = -999
    ternary_gemm(an, az, bn, bz, out)
    assert_array_equal(out, ta @ tb.T)


def _finish_edge_values(width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    grid = {lo, hi, lo - 1, hi + 1, lo + 1, hi - 1, 0, 1, -1, 2 * hi + 2, -(2 * hi + 2) - 1,
            -(1 << 63), (1 << 63) - 1, -(1 << 62), (1 << 62) + 3}
    return sorted(v for v in grid if -(1 << 63) <= v < (1 << 63))


@pytest.mark.parametrize("width", [1, 2, 3, 7, 8, 16, 31, 32, 33, 48, 62, 63, 64])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_finish_pass_writes_the_register_like_the_reference(width, overflow):
    """Edge grid: the register's ends, one past them, and int64's ends, for every rule."""
    values = _finish_edge_values(width)
    c = np.array([values, values[::-1]], dtype=np.int64)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    out = np.empty_like(c)
    counts = np.zeros(2, np.int64)
    finish_int(c, lo, hi, width, overflow == "saturate", out, counts)
    refs = [[acc_write_ref(int(v), width, overflow) for v in row] for row in c]
    assert_array_equal(out, [[r[0] for r in row] for row in refs])
    assert_array_equal(counts, [sum(r[1] for r in row) for row in refs])


@pytest.mark.parametrize("k", [1, 63, 64, 65, 300])
def test_binary_matmul_dispatches_to_popcount(rng, k):
    """ops.matmul on Binary().quantize results: XNOR-popcount, equal to the ±1 products."""
    qa = Binary().quantize(rng.normal(size=(7, k)))
    qb = Binary().quantize(rng.normal(size=(k, 5)))
    stats = {}
    res = ops.matmul(qa, qb, acc=Accumulator(16), stats=stats)
    assert stats["path"] == "popcount"
    assert_array_equal(res.codes, qa.codes.astype(np.int64) @ qb.codes.astype(np.int64))
    forced = ops.matmul(qa, qb, acc=Accumulator(16), method="int")
    assert_array_equal(forced.codes, res.codes)


def test_ternary_and_mixed_dispatch_to_two_plane_popcount(rng):
    qa = Ternary().quantize(rng.normal(size=(6, 130)))
    qb = Ternary().quantize(rng.normal(size=(130, 4)))
    qbin = Binary().quantize(rng.normal(size=(130, 4)))
    for other in (qb, qbin):
        stats = {}
        res = ops.matmul(qa, other, stats=stats)
        assert stats["path"] == "popcount"
        assert_array_equal(res.codes, qa.codes.astype(np.int64) @ other.codes.astype(np.int64))


def test_popcount_result_saturates_like_the_reference(rng):
    """A 4-bit accumulator: popcount sums are exact, then clamped (or wrapped) at the end."""
    qa = Binary().quantize(rng.normal(size=(5, 40)))
    qb = Binary().quantize(rng.normal(size=(40, 6)))
    for overflow in ("wrap", "saturate"):
        stats = {}
        res = ops.matmul(qa, qb, acc=Accumulator(4, overflow), stats=stats)
        ref, events = matmul_ref(qa.codes, qb.codes, 4, overflow)
        assert_array_equal(res.codes, ref)
        assert stats["acc_overflow"] == events
    stepped = ops.matmul(qa, qb, acc=Accumulator(4, "saturate", True))
    assert_array_equal(stepped.codes, matmul_ref(qa.codes, qb.codes, 4, "saturate", True)[0])


@pytest.mark.parametrize("fmt", [Binary(), Ternary()])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_popcount_with_bias_in_a_narrow_register(rng, fmt, overflow):
    """The bias is preloaded, the exact sum then wrapped / clamped into 6 bits (finish pass)."""
    qx = fmt.quantize(rng.normal(size=(9, 150)))
    qw = fmt.quantize(rng.normal(size=(11, 150)))
    qb = FixedPoint(6, 0).quantize(rng.integers(-32, 32, 11).astype(np.float64))
    stats = {}
    res = ops.dense(qx, qw, qb, acc=Accumulator(6, overflow), stats=stats)
    assert stats["path"] == "popcount"
    ref, events = matmul_ref(qx.codes, qw.codes.T, 6, overflow, preload=qb.codes.astype(np.int64))
    assert_array_equal(res.codes, ref)
    assert stats["acc_overflow"] == events > 0


def test_weights_are_packed_once(rng):
    """The packed planes of a weight live in the QArray: a second product reuses them."""
    qx = Binary().quantize(rng.normal(size=(3, 100)))
    qw = Binary().quantize(rng.normal(size=(8, 100)))
    ops.dense(qx, qw)
    planes = [v for key, v in qw._cache.items() if "simulator.row_planes" in key]
    assert len(planes) == 1
    ops.dense(qx, qw)
    again = [v for key, v in qw._cache.items() if "simulator.row_planes" in key]
    assert again[0].neg is planes[0].neg


def test_xnor_net_scales_factor_out(rng):
    """Per-channel α of the weights and per-tensor α of the input: codes * scale is the value."""
    qx = Binary(scale="tensor").quantize(rng.normal(size=(4, 70)))
    qw = Binary(scale="channel").quantize(rng.normal(size=(6, 70)))
    res = ops.dense(qx, qw, acc=Accumulator(16))
    dot = qx.codes.astype(np.int64) @ qw.codes.T.astype(np.int64)
    assert_array_equal(res.codes, dot)
    expect = dot * (qx.scale * np.asarray(qw.scale).reshape(1, -1))
    assert_array_equal(res.codes * res.scale, expect)
    out = ops.dense(qx, qw, acc=Accumulator(16), out=FixedPoint(8, 8))
    assert_array_equal(out.codes, FixedPoint(8, 8).quantize(expect).codes)


def test_scale_along_the_reduction_is_refused(rng):
    qa = Binary().quantize(rng.normal(size=(3, 5)))
    qb = Binary(scale="channel").quantize(rng.normal(size=(5, 4)))  # α per k: not factorable
    with pytest.raises(ValueError, match=r"qb has a scale that varies along the contracted axis"):
        ops.matmul(qa, qb)


@pytest.mark.parametrize("fmt", [Binary(), Ternary()])
def test_fixed_times_binary_is_sign_selection(rng, fmt):
    """Fixed-point activations with binary/ternary weights: adds and subtracts only."""
    qx = FixedPoint(4, 4).quantize(rng.normal(size=(5, 33)))
    qw = fmt.quantize(rng.normal(size=(7, 33)))
    stats = {}
    res = ops.dense(qx, qw, acc=Accumulator(16), stats=stats)
    assert stats["path"] == "sign_select"
    assert_array_equal(res.codes, qx.codes.astype(np.int64) @ qw.codes.T.astype(np.int64))
    flipped = ops.matmul(Binary().quantize(rng.normal(size=(3, 33))),
                         FixedPoint(4, 4).quantize(rng.normal(size=(33, 2))), stats=stats)
    assert stats["path"] == "sign_select"
    assert flipped.shape == (3, 2)


def test_binary_conv_with_padding_counts_zeros(rng):
    """Zero padding is a ternary 0 for binary activations; the result stays exact."""
    x = Binary().quantize(rng.normal(size=(2, 3, 5, 5)))
    w = Binary().quantize(rng.normal(size=(4, 3, 3, 3)))
    for padding in (0, 1):
        stats = {}
        res = ops.conv2d(x, w, padding=padding, stats=stats)
        ref, _ = conv2d_ref(x.codes, w.codes, padding=(padding, padding))
        assert_array_equal(res.codes, ref)
        assert stats["path"] == "popcount"


def test_packing_helper_matches_precision_packing(rng):
    q = Ternary().quantize(rng.normal(size=(3, 130)))
    neg, nz = _planes(q.codes)
    packed = q.packed(-1)
    assert_array_equal(neg, packed.planes[0])
    assert_array_equal(nz, packed.planes[1])
    assert isinstance(q, QArray)


def test_xnor_conv_with_per_sample_and_per_channel_scales(rng):
    """x scaled per sample (axis 0), w per output channel: both factor out of every window."""
    x = Binary(scale="channel").quantize(rng.normal(size=(3, 2, 5, 5)))
    w = Binary(scale="channel").quantize(rng.normal(size=(4, 2, 3, 3)))
    res = ops.conv2d(x, w, stride=2)
    ref, _ = conv2d_ref(x.codes, w.codes, stride=(2, 2))
    assert_array_equal(res.codes, ref)
    alpha = np.asarray(x.scale).reshape(3, 1, 1, 1) * np.asarray(w.scale).reshape(1, 4, 1, 1)
    assert_array_equal(res.codes * res.scale, ref * alpha)
    bad = QArray(x.codes, x.format, np.broadcast_to(rng.random((1, 2, 1, 1)), (3, 2, 1, 1)))
    with pytest.raises(ValueError, match=r"qx has a scale that varies within a sample"):
        ops.conv2d(bad, w)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
                min_size=1, max_size=8),
       st.integers(-1100, 1100) | st.sampled_from([-1074, -1023, -1022, 1022, 1023, 1074]))
def test_result_scales_are_ldexp_of_the_alphas(values, fl):
    """alpha * 2**-fl by one multiplication (or ldexp past the normal range), once per distinct
    value of a broadcast alpha: bit for bit np.ldexp, shape kept."""
    alpha = np.array(values)
    with np.errstate(over="ignore"):
        assert_array_equal(scale_by_power_of_two(alpha, fl), np.ldexp(alpha, -fl))
        wide = np.broadcast_to(alpha.reshape(-1, 1), (alpha.size, 5))
        got = scale_by_power_of_two(wide, fl)
        assert got.shape == wide.shape
        assert_array_equal(got, np.ldexp(wide, -fl))


def test_xnor_net_result_scale_is_the_outer_product(rng):
    """Per-tensor scales give a broadcast view, per-row x per-channel a full outer product:
    either way the value is codes * scale with scale = 2**-fl * alpha_x * alpha_w."""
    qx_rows = Binary(scale="channel").quantize(rng.normal(size=(5, 70)))
    qx_tensor = Binary(scale="tensor").quantize(rng.normal(size=(5, 70)))
    qw = Binary(scale="channel").quantize(rng.normal(size=(6, 70)))
    for qx in (qx_rows, qx_tensor):
        res = ops.dense(qx, qw, acc=Accumulator(16))
        outer = np.asarray(qx.scale).reshape(-1, 1) * np.asarray(qw.scale).reshape(1, -1)
        want = np.broadcast_to(np.ldexp(outer, -res.format.fl), res.codes.shape)
        assert_array_equal(np.broadcast_to(res.scale, res.codes.shape), want)
