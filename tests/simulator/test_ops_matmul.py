"""ops.matmul / ops.dense against the Python-int reference, on every path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint, QArray
from simulator import Accumulator, ops
from tests.naive_ops import matmul_ref, out_overflow_ref


def fixed(codes, il, fl, signed=True):
    """A FixedPoint QArray holding exactly these codes."""
    fmt = FixedPoint(il=il, fl=fl, signed=signed)
    return QArray(np.asarray(codes).astype(fmt.code_dtype), fmt, 2.0 ** -fl)


def code_range(wl, signed):
    return (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)


def product_bits(wa, sa, wb, sb):
    lo_a, hi_a = code_range(wa, sa)
    lo_b, hi_b = code_range(wb, sb)
    corners = [x * y for x in (lo_a, hi_a) for y in (lo_b, hi_b)]
    return max(max(corners).bit_length() + 1, (-min(corners) - 1).bit_length() + 1)


def draw_codes(data, shape, wl, signed):
    lo, hi = code_range(wl, signed)
    extremes = st.sampled_from([lo, hi, 0, lo + 1 if lo < hi else lo])
    elem = st.one_of(st.integers(lo, hi), extremes)
    n = int(np.prod(shape))
    return np.array(data.draw(st.lists(elem, min_size=n, max_size=n)), dtype=np.int64
                    ).reshape(shape)


ACCS = st.tuples(st.sampled_from(["wrap", "saturate"]), st.booleans())


@st.composite
def matmul_case(draw):
    wa, wb = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    sa, sb = draw(st.booleans()), draw(st.booleans())
    fa, fb = draw(st.integers(-3, 8)), draw(st.integers(-3, 8))
    m, k, n = draw(st.integers(0, 5)), draw(st.integers(0, 9)), draw(st.integers(0, 5))
    overflow, step = draw(ACCS)
    width = product_bits(wa, sa, wb, sb) + draw(st.integers(0, 5))
    data = draw(st.data())
    a = draw_codes(data, (m, k), wa, sa)
    b = draw_codes(data, (k, n), wb, sb)
    acc = Accumulator(width, overflow, saturate_each_step=step and overflow == "saturate")
    return fixed(a, wa - fa, fa, sa), fixed(b, wb - fb, fb, sb), acc


def _check_matmul(case):
    qa, qb, acc = case
    ref, events = matmul_ref(qa.codes, qb.codes, acc.width, acc.overflow,
                             acc.saturate_each_step)
    methods = ["int", "auto"] + ([] if acc.saturate_each_step else ["float"])
    for method in methods:
        stats = {}
        res = ops.matmul(qa, qb, acc=acc, method=method, stats=stats)
        assert_array_equal(res.codes.astype(np.int64), ref)
        assert stats["acc_overflow"] == events
        assert res.format == FixedPoint(il=acc.width - qa.format.fl - qb.format.fl,
                                        fl=qa.format.fl + qb.format.fl, overflow=acc.overflow)


@settings(max_examples=60)
@given(matmul_case())
def test_matmul_equals_reference_on_every_path(case):
    """Both paths (and auto) give the reference contents and overflow count."""
    _check_matmul(case)


@pytest.mark.slow
@settings(max_examples=2000)
@given(matmul_case())
def test_matmul_equals_reference_long_run(case):
    """The same property, many more cases (slow tier)."""
    _check_matmul(case)


def test_overflow_at_every_step_saturates_differently_from_the_end():
    """Max codes everywhere: step-wise clamping pins the register, end clamping may not."""
    a = fixed(np.full((1, 6), 127), 8, 0)
    b = fixed(np.array([[127], [127], [127], [-128], [-128], [-128]]), 8, 0)
    step, end = {}, {}
    r_step = ops.matmul(a, b, acc=Accumulator(16, "saturate", True), stats=step)
    r_end = ops.matmul(a, b, acc=Accumulator(16, "saturate"), stats=end)
    # exact partial sums: 16129, 32258, 48387 (clamped to 32767), then -16256 each step
    assert r_step.codes[0, 0] == 32767 - 3 * 16256
    assert step["acc_overflow"] == 1
    assert r_end.codes[0, 0] == 3 * 16129 - 3 * 16256
    assert end["acc_overflow"] == 0
    ref, _ = matmul_ref(a.codes, b.codes, 16, "saturate", True)
    assert_array_equal(r_step.codes, ref)


def test_every_step_overflows():
    """K products of the most negative codes: every addition after the first clamps."""
    k = 7
    a = fixed(np.full((2, k), -128), 8, 0)
    b = fixed(np.full((k, 3), -128), 8, 0)
    stats = {}
    res = ops.matmul(a, b, acc=Accumulator(16, "saturate", True), stats=stats)
    assert_array_equal(res.codes, np.full((2, 3), 32767))
    assert stats["acc_overflow"] == 2 * 3 * (k - 1)
    wrapped = ops.matmul(a, b, acc=Accumulator(16, "wrap"))
    assert_array_equal(wrapped.codes, np.full((2, 3), (k * 16384 + 32768) % 65536 - 32768))


@pytest.mark.parametrize("overflow,step", [("wrap", False), ("saturate", False),
                                          ("saturate", True)])
def test_32_bit_codes_in_a_64_bit_accumulator(rng, overflow, step):
    """Sums beyond int64 (the 128-bit wide kernel) are exact, with exact overflow counts."""
    lo, hi = code_range(32, True)
    a = rng.integers(lo, hi + 1, (3, 9))
    b = rng.integers(lo, hi + 1, (9, 4))
    a[0, :] = lo
    b[:, 0] = lo  # (-2**31)**2 * 9 overflows int64 in row 0, column 0
    acc = Accumulator(64, overflow, step)
    stats = {}
    res = ops.matmul(fixed(a, 32, 0), fixed(b, 32, 0), acc=acc, method="int", stats=stats)
    ref, events = matmul_ref(a, b, 64, overflow, step)
    assert_array_equal(res.codes, ref)
    assert stats["acc_overflow"] == events and events > 0


def test_wl1_and_unsigned_operands():
    """1-bit signed codes {-1, 0} and unsigned codes at their maxima."""
    a = fixed(np.array([[-1, 0, -1]]), 1, 0)
    b = fixed(np.array([[255], [255], [255]]), 8, 0, signed=False)
    res = ops.matmul(a, b, acc=Accumulator(12, "saturate"))
    assert res.codes[0, 0] == -510


def test_k_zero_gives_the_bias():
    """An empty sum leaves the preloaded bias in the accumulator."""
    x = fixed(np.zeros((2, 0)), 4, 4)
    w = fixed(np.zeros((3, 0)), 4, 4)
    b = fixed(np.array([1, -2, 3]), 4, 8)
    res = ops.dense(x, w, b, acc=Accumulator(20, "wrap"))
    assert_array_equal(res.codes, np.array([[1, -2, 3], [1, -2, 3]]))


def test_wide_bias_format_with_small_codes_is_aligned():
    """A bias rounded onto the accumulator grid has a 64-bit format (the executor does this for
    a bias finer than the grid); its small codes must still preload, bounded by their values."""
    x = fixed(np.array([[3, -2]]), 4, 1)
    w = fixed(np.array([[1, 2], [-3, 1]]), 4, 3)
    b = fixed(np.array([5, -7]), 60, 4)  # wl = 64; codes far below 2**62
    res = ops.dense(x, w, b, acc=Accumulator(64, "wrap"))
    assert_array_equal(res.codes, np.array([[3 - 4 + 5, -9 - 2 - 7]]))
    big = fixed(np.array([1 << 61, 0]), 60, 3)  # shifted by 1 onto fl = 4: 2**62 does not fit
    with pytest.raises(ValueError, match=r"qb aligned to fl=4 needs more than 62 bits "
                                         r"\(largest \|code\| 2305843009213693952 shifted left by 1\)"):
        ops.dense(x, w, big, acc=Accumulator(64, "wrap"))


@settings(max_examples=40)
@given(matmul_case(), st.data())
def test_dense_preloads_the_aligned_bias(case, data):
    """dense(x, w, b) = reference with the bias shifted onto the accumulator grid as preload."""
    qx, qwt, acc = case
    qw = fixed(qwt.codes.T, qwt.format.il, qwt.format.fl, qwt.format.signed)
    n = qw.shape[0]
    fl = qx.format.fl + qw.format.fl
    bfl = data.draw(st.integers(fl - 4, fl))
    bcodes = draw_codes(data, (n,), 6, True)
    qb = fixed(bcodes, 6 - bfl, bfl)
    pre = [int(c) << (fl - bfl) for c in bcodes]
    ref, events = matmul_ref(qx.codes, qwt.codes, acc.width, acc.overflow,
                             acc.saturate_each_step, preload=np.array(pre, dtype=object))
    for method in ("int", "auto"):
        stats = {}
        res = ops.dense(qx, qw, qb, acc=acc, method=method, stats=stats)
        assert_array_equal(res.codes.astype(np.int64), ref)
        assert stats["acc_overflow"] == events


@settings(max_examples=40)
@given(matmul_case(), st.sampled_from(["nearest", "floor", "nearest_even", "stochastic"]),
       st.integers(2, 10), st.integers(-2, 6))
def test_out_requantizes_and_counts_output_overflow(case, rounding, wl, fl):
    """out=fmt equals fmt.requantize of the contents; out_overflow matches the reference."""
    qa, qb, acc = case
    fmt = FixedPoint(il=wl - fl, fl=fl, rounding=rounding, overflow="saturate")
    exact = ops.matmul(qa, qb, acc=acc)
    stats = {}
    res = ops.matmul(qa, qb, acc=acc, out=fmt, seed=5, stats=stats)
    expect = fmt.requantize(exact.codes.astype(np.int64), exact.format.fl, seed=5)
    assert_array_equal(res.codes, expect.codes)
    assert stats["out_overflow"] == out_overflow_ref(exact.codes, exact.format.fl, fmt, key=5)


def test_float_path_is_refused_when_not_exact():
    a = fixed(np.full((1, 4), -2**31), 32, 0)
    with pytest.raises(ValueError, match=r"method='float' is not exact here"):
        ops.matmul(a, fixed(np.full((4, 1), -2**31), 32, 0), acc=Accumulator(64), method="float")


def test_errors_name_the_problem():
    a = fixed(np.ones((2, 3)), 8, 0)
    with pytest.raises(ValueError, match=r"acc.width=8 is narrower than one product.*16-bit"):
        ops.matmul(a, fixed(np.ones((3, 2)), 8, 0), acc=Accumulator(8))
    with pytest.raises(ValueError, match=r"K=3 != 2"):
        ops.matmul(a, fixed(np.ones((2, 2)), 8, 0))
    with pytest.raises(ValueError, match=r"method='fast' is not known"):
        ops.matmul(a, fixed(np.ones((3, 2)), 8, 0), method="fast")
    with pytest.raises(TypeError, match=r"qb must be a precision.QArray"):
        ops.matmul(a, np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"acc must be a simulator.Accumulator"):
        ops.matmul(a, fixed(np.ones((3, 2)), 8, 0), acc=32)
    with pytest.raises(ValueError, match=r"qb has fl=9, finer than the accumulator's fl=0"):
        ops.dense(a, fixed(np.ones((2, 3)), 8, 0), fixed(np.ones(2), 4, 9))
    with pytest.raises(ValueError, match=r"method='popcount' needs binary or ternary"):
        ops.matmul(a, fixed(np.ones((3, 2)), 8, 0), method="popcount")


def test_large_matmul_paths_agree(rng):
    """16-bit codes at a realistic size: the BLAS path equals the int64 path bit for bit."""
    a = fixed(rng.integers(-2**15, 2**15, (40, 300)), 4, 12)
    b = fixed(rng.integers(-2**15, 2**15, (300, 50)), 4, 12)
    acc = Accumulator(40, "saturate")
    fast = ops.matmul(a, b, acc=acc, method="float")
    slow = ops.matmul(a, b, acc=acc, method="int")
    assert_array_equal(fast.codes, slow.codes)
    exact = a.codes.astype(object) @ b.codes.astype(object)
    assert_array_equal(fast.codes, np.clip(exact, -2**39, 2**39 - 1).astype(np.int64))


@pytest.mark.parametrize("group", ["tensor", ("axis", 0), ("axis", 1), ("block", 4)])
def test_dynamic_fixed_point_groups_are_aligned_exactly(rng, group):
    """Per-group scales: the result is the exact real product (wide accumulator, no overflow)."""
    from fractions import Fraction

    from precision import DynamicFixedPoint

    fmt = DynamicFixedPoint(8, group=group)
    x = rng.normal(size=(3, 10)) * np.array([1, 8, 100])[:, None]
    qa = fmt.quantize(x)
    qb = DynamicFixedPoint(6).quantize(rng.normal(size=(10, 2)))
    res = ops.matmul(qa, qb, acc=Accumulator(64))
    va = np.vectorize(Fraction, otypes=[object])(qa.to_float())
    vb = np.vectorize(Fraction, otypes=[object])(qb.to_float())
    exact = va @ vb
    got = np.vectorize(Fraction, otypes=[object])(res.to_float())
    assert (got == exact).all()
    fls = -np.log2(np.asarray(fmt.expand_scale(qa)))
    assert res.format.fl == int(fls.max()) + int(-np.log2(qb.scale).max())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 2**63 + 5, 2**64 - 1])
def test_stochastic_out_overflow_count_for_any_seed(rng, seed):
    """The counted output overflows use requantize's own random words (any 64-bit seed)."""
    a = fixed(rng.integers(-8, 8, (3, 4)), 2, 2)
    b = fixed(rng.integers(-8, 8, (4, 3)), 2, 2)
    fmt = FixedPoint(2, 1, rounding="stochastic")
    stats = {}
    res = ops.matmul(a, b, out=fmt, seed=seed, stats=stats)
    exact = ops.matmul(a, b)
    assert_array_equal(res.codes, fmt.requantize(exact.codes.astype(np.int64), 4, seed=seed).codes)
    assert stats["out_overflow"] == out_overflow_ref(exact.codes, 4, fmt, key=seed)
