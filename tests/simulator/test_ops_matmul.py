"""ops.matmul / ops.dense against the Python-int reference, on every path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint, QArray
from simulator import Accumulator, ops
from simulator import _float_gemm_kernels as F
from simulator._dot import plan
from tests.naive_ops import acc_write_ref, matmul_ref, out_overflow_ref


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


# --------------------------------------------------------------------------- the float path's
# closing pass: the magic-number conversion (|sums| <= 2**51), the scalar one (< 2**53), and
# the bound that skips the register rule.
RULE_OF = {"saturate": F.RULE_SATURATE, "wrap": F.RULE_WRAP}


def _finish_ref(values, bias, width, overflow):
    """Register contents and overflow events of ``values[i, j] + bias[j]`` (Python ints)."""
    out = np.zeros(values.shape, dtype=np.int64)
    events = 0
    for (i, j), v in np.ndenumerate(values):
        out[i, j], over = acc_write_ref(int(v) + int(bias[j]), width, overflow)
        events += over
    return out, events


def _magic_grid():
    """Integers the magic-number conversion must return exactly: its limits +-2**51, one
    inside them, powers of two, odd values (the lowest mantissa bit), small values and zero."""
    lim = F.MAGIC_LIMIT
    vals = [0, 1, -1, 2, -2, 3, lim, -lim, lim - 1, -(lim - 1), lim // 2 + 1, -(lim // 2) - 1,
            (1 << 32) + 1, -(1 << 32) - 1, 12345678901, -98765432109, (1 << 47) - 1, -(1 << 47)]
    return np.array(vals + [0] * (-len(vals) % 6), dtype=np.int64).reshape(-1, 6)


@pytest.mark.parametrize("kernel", ["jit", "python"])
@pytest.mark.parametrize("width,overflow", [(w, o) for w in (1, 2, 8, 31, 48, 51, 52, 53, 62,
                                                            63, 64)
                                            for o in ("saturate", "wrap")])
def test_magic_finish_edge_grid(width, overflow, kernel):
    """The in-place pass equals the Python-int register write on a hand-built grid (+-2**51,
    -0.0, odd values, biases near 2**62), for every rule; the Python form (the kernel with
    NUMBA_DISABLE_JIT) agrees bit for bit with the compiled one."""
    fn = F.finish_float_exact if kernel == "jit" else F.finish_float_exact.py_func
    values = _magic_grid()
    n = values.shape[1]
    bias = np.array([0, 5, -7, (1 << 62) - 1 - F.MAGIC_LIMIT, -(1 << 62) + 1 + F.MAGIC_LIMIT,
                     -(1 << 40)], dtype=np.int64)[:n]
    for b in (np.zeros(n, np.int64), bias):
        c = values.astype(np.float64)
        c[values == 0] = -0.0  # BLAS returns -0.0 for sums of -0.0 products
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        with np.errstate(over="ignore"):  # the Python form's wrap is modular uint64 on purpose
            events = fn(c, b, lo, hi, width, RULE_OF[overflow])
        ref, ref_events = _finish_ref(values, b, width, overflow)
        assert_array_equal(c.view(np.int64), ref)
        assert events == ref_events
    c = values.astype(np.float64)  # the proven-in-range rule only converts and adds the bias
    assert fn(c, bias, -(1 << 63), (1 << 63) - 1, 64, F.RULE_NONE) == 0
    assert_array_equal(c.view(np.int64), values + bias)


def test_plan_picks_the_magic_conversion_up_to_2_51():
    """K * max|a*b| <= 2**51 takes the vectorized conversion; one more is the scalar one."""
    acc = Accumulator(64, "saturate")
    assert plan(2, 1 << 50, 0, acc)["float_magic"]
    assert not plan(2, (1 << 50) + 1, 0, acc)["float_magic"]
    assert plan(1, (1 << 53) - 1, 0, acc)["float_ok"]
    assert not plan(1, 1 << 53, 0, acc)["float_ok"]
    assert plan(3, 100, 1 << 40, Accumulator(42))["no_overflow"]
    assert not plan(3, 100, 1 << 41, Accumulator(42))["no_overflow"]


def _all_methods(qa, qb, acc, qbias=None):
    """(method, codes, stats) for every method that applies (``float`` only where exact)."""
    maxprod = max(abs(x * y) for x in (_lo(qa), _hi(qa)) for y in (_lo(qb), _hi(qb)))
    float_ok = qa.shape[1] * maxprod < (1 << 53) and not acc.saturate_each_step
    results = []
    for method in ("int", "auto") + (("float",) if float_ok else ()):
        stats = {}
        if qbias is None:
            res = ops.matmul(qa, qb, acc=acc, method=method, stats=stats)
        else:
            qw = fixed(qb.codes.T, qb.format.il, qb.format.fl, qb.format.signed)
            res = ops.dense(qa, qw, qbias, acc=acc, method=method, stats=stats)
        results.append((method, res.codes.astype(np.int64), stats))
    return results


def _lo(q):
    return -(1 << (q.format.wl - 1)) if q.format.signed else 0


def _hi(q):
    return int(q.format.max_code)


def test_float_path_at_the_magic_limit():
    """Sums of exactly 2**51 (26-bit codes, K = 2) and the most negative reachable one: exact
    into registers just wide enough (no overflow: convert only) and one bit too narrow."""
    lo = -(1 << 25)
    a = fixed(np.array([[lo, lo], [lo, lo], [0, 1]]), 26, 0)
    b = fixed(np.array([[lo, -lo - 1, 1], [lo, -lo - 1, -1]]), 26, 0)
    exact = a.codes.astype(object) @ b.codes.astype(object)
    assert exact[0, 0] == 1 << 51 and exact[0, 1] == -(1 << 51) + (1 << 26)
    for width, overflow in [(53, "saturate"), (53, "wrap"), (52, "saturate"), (52, "wrap")]:
        acc = Accumulator(width, overflow)
        ref, events = matmul_ref(a.codes, b.codes, width, overflow)
        assert events == (2 if width == 52 else 0)
        for method, codes, stats in _all_methods(a, b, acc):
            assert_array_equal(codes, ref, err_msg=f"{method} {width} {overflow}")
            assert stats["acc_overflow"] == events
            assert stats["path"] == ("int" if method == "int" else "float")


def test_float_path_just_below_2_53():
    """27-bit signed times 27-bit unsigned codes, K = 1: sums within 2**26 of +-2**53, odd
    ones included, take the scalar conversion and stay exact (with a bias added in int64)."""
    lo_a, hi_a, hi_b = -(1 << 26), (1 << 26) - 1, (1 << 27) - 1
    a = fixed(np.array([[lo_a], [hi_a], [lo_a + 1], [1]]), 27, 0)
    b = fixed(np.array([[hi_b, hi_b - 1, 1, 0]]), 27, 0, signed=False)
    exact = a.codes.astype(object) @ b.codes.astype(object)
    assert exact[0, 0] == -(1 << 53) + (1 << 26) and exact[1, 0] % 2 == 1
    assert not plan(1, -lo_a * hi_b, 0, Accumulator(64))["float_magic"]
    bias = fixed(np.array([-3, 1 << 40, 0, (1 << 52) - 1]), 60, 0)
    for width, overflow in [(64, "saturate"), (64, "wrap"), (55, "wrap"), (55, "saturate"),
                            (54, "wrap"), (54, "saturate")]:
        acc = Accumulator(width, overflow)
        for qbias, pre in ((None, None), (bias, bias.codes.astype(object))):
            ref, events = matmul_ref(a.codes, b.codes, width, overflow, preload=pre)
            for method, codes, stats in _all_methods(a, b, acc, qbias):
                assert_array_equal(codes, ref, err_msg=f"{method} {width} {overflow}")
                assert stats["acc_overflow"] == events
                assert stats["path"] == ("int" if method == "int" else "float")


def _operands_for_width(width, k, rng):
    """Signed a (wa bits) and unsigned b (wb bits) whose products fit a ``width``-bit register
    (wa + wb = width; wa = wb = 1 for width 1, whose products are {-1, 0}), with the extreme
    codes placed so that sums overflow when K > 1."""
    wa = max(1, width // 2)
    wb = max(1, width - wa)
    lo_a, hi_a = code_range(wa, True)
    hi_b = (1 << wb) - 1
    a = rng.integers(lo_a, hi_a, (3, k), endpoint=True, dtype=np.int64)
    b = rng.integers(0, hi_b, (k, 4), endpoint=True, dtype=np.uint64).astype(np.int64)
    a[0, :], b[:, 0] = lo_a, hi_b  # the most negative sum
    a[1, :], b[:, 1] = hi_a, hi_b  # the most positive one
    return fixed(a, wa, 0), fixed(b, wb, 0, signed=False)


@pytest.mark.parametrize("width", range(1, 65))
def test_every_accumulator_width(rng, width):
    """Widths 1..64, wrap / saturate at the end / saturate each step, with and without a bias,
    K = 1 and K = 5: every applicable method equals the reference, events included."""
    for k in (1, 5):
        qa, qb = _operands_for_width(width, k, rng)
        bw = min(width, 62)
        bias_codes = np.array([-(1 << (bw - 1)), (1 << (bw - 1)) - 1, 0, 1])
        qbias = fixed(bias_codes, bw, 0)
        for overflow, step in (("wrap", False), ("saturate", False), ("saturate", True)):
            acc = Accumulator(width, overflow, saturate_each_step=step)
            for qb_, pre in ((None, None), (qbias, bias_codes.astype(object))):
                ref, events = matmul_ref(qa.codes, qb.codes, width, overflow, step, preload=pre)
                for method, codes, stats in _all_methods(qa, qb, acc, qb_):
                    assert_array_equal(codes, ref, err_msg=f"{method} {overflow} {step}")
                    assert stats["acc_overflow"] == events


@st.composite
def wide_matmul_case(draw):
    """Codes of 18..32 bits: bounds on both sides of 2**51 and 2**53."""
    wa, wb = draw(st.integers(18, 32)), draw(st.integers(18, 32))
    sa, sb = draw(st.booleans()), draw(st.booleans())
    if product_bits(wa, sa, wb, sb) > 64:  # two unsigned 32-bit codes: no register holds them
        sb = True
    m, k, n = draw(st.integers(0, 4)), draw(st.integers(0, 6)), draw(st.integers(0, 4))
    overflow, step = draw(ACCS)
    width = min(64, product_bits(wa, sa, wb, sb) + draw(st.integers(0, 14)))
    data = draw(st.data())
    a = draw_codes(data, (m, k), wa, sa)
    b = draw_codes(data, (k, n), wb, sb)
    acc = Accumulator(width, overflow, saturate_each_step=step and overflow == "saturate")
    return fixed(a, wa, 0, sa), fixed(b, wb, 0, sb), acc


def _check_wide(case):
    qa, qb, acc = case
    ref, events = matmul_ref(qa.codes, qb.codes, acc.width, acc.overflow, acc.saturate_each_step)
    for method, codes, stats in _all_methods(qa, qb, acc):
        assert_array_equal(codes, ref, err_msg=method)
        assert stats["acc_overflow"] == events


@settings(max_examples=60)
@given(wide_matmul_case())
def test_wide_codes_equal_reference_on_every_path(case):
    """18..32-bit codes (sums up to 2**64): float where exact, int always, same contents."""
    _check_wide(case)


@pytest.mark.slow
@settings(max_examples=2000)
@given(wide_matmul_case())
def test_wide_codes_long_run(case):
    """The same property, many more cases (slow tier)."""
    _check_wide(case)


@pytest.mark.parametrize("width,overflow,expect_dtype", [(32, "wrap", np.int32),
                                                         (16, "saturate", np.int16),
                                                         (48, "saturate", np.int64)])
def test_float_path_result_dtypes_and_no_overflow_bound(rng, width, overflow, expect_dtype):
    """Narrow registers return narrow codes (converted in a scratch buffer, then cast); the
    int64 result is written by BLAS and converted in place.  A bias within the proven bound
    (no event possible) and one beyond it (events counted) both match the reference."""
    a = fixed(rng.integers(-8, 8, (30, 70)), 4, 2)
    w = fixed(rng.integers(-8, 8, (20, 70)), 4, 3)
    big = (1 << (width - 1)) - 1 - 70 * 2**6  # keeps K * max|a*b| + |bias| in the register
    for bias_codes in (rng.integers(-big, big, 20, endpoint=True),
                       np.full(20, (1 << (width - 1)) - 2)):
        qb = fixed(bias_codes, width, 5)
        ref, events = matmul_ref(a.codes, w.codes.T, width, overflow,
                                 preload=bias_codes.astype(object))
        for method in ("float", "int", "auto"):
            stats = {}
            res = ops.dense(a, w, qb, acc=Accumulator(width, overflow), method=method,
                            stats=stats)
            assert res.codes.dtype == expect_dtype
            assert_array_equal(res.codes, ref)
            assert stats["acc_overflow"] == events


def test_large_dense_paths_agree(rng):
    """dense's transposed weights at a realistic size (the F-ordered buffer): float equals int
    and the exact object-dtype product with the bias, bit for bit."""
    x = fixed(rng.integers(-2**15, 2**15, (37, 300)), 4, 12)
    w = fixed(rng.integers(-2**15, 2**15, (45, 300)), 4, 12)
    b = fixed(rng.integers(-2**30, 2**30, 45), 8, 24)
    acc = Accumulator(40, "wrap")
    fast = ops.dense(x, w, b, acc=acc, method="float")
    slow = ops.dense(x, w, b, acc=acc, method="int")
    assert_array_equal(fast.codes, slow.codes)
    exact = x.codes.astype(object) @ w.codes.T.astype(object) + b.codes.astype(object)
    assert_array_equal(fast.codes, ((exact + 2**39) % 2**40 - 2**39).astype(np.int64))


@pytest.mark.parametrize("m,k,n", [(0, 3, 2), (2, 0, 3), (2, 3, 0), (0, 0, 0), (1, 1, 1)])
@pytest.mark.parametrize("method", ["float", "int", "auto"])
def test_empty_and_single_element_shapes(m, k, n, method):
    """Empty operands on every path: the bias alone for K = 0, empty results keep their shape
    and the register's dtype; K = 1 with the extreme codes gives (-128)**2 plus the bias."""
    x = fixed(np.full((m, k), -128), 8, 0)
    w = fixed(np.full((n, k), -128), 8, 0)
    bias = fixed(np.arange(n) - 1, 8, 0)
    acc = Accumulator(16, "saturate")
    stats = {}
    res = ops.dense(x, w, bias, acc=acc, method=method, stats=stats)
    ref, events = matmul_ref(x.codes, w.codes.T, 16, "saturate",
                             preload=bias.codes.astype(object))
    assert res.codes.shape == (m, n) and res.codes.dtype == np.int16
    assert_array_equal(res.codes, ref)
    assert stats["acc_overflow"] == events
    if (m, k, n) == (1, 1, 1):
        assert res.codes[0, 0] == 16384 - 1 and events == 0


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                   np.uint32])
def test_float_codes_keeps_values_and_memory_order(dtype):
    """The BLAS operands: exact float64 copies of the codes, Fortran-ordered for a transposed
    view (one contiguous pass), C-ordered otherwise (strided, read-only and byte-swapped codes
    included)."""
    from simulator._dot import float_codes

    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), -(1 << 53)), min(int(info.max), 1 << 53)  # float-path codes
    x = np.array([[lo, hi, 0, 1], [-1 if lo else 2, 3, hi - 1, 5], [7, 8, 9, lo + 1]],
                 dtype=dtype)
    swapped = x.astype(x.dtype.newbyteorder())  # same values, the other byte order
    frozen = x.copy()
    frozen.flags.writeable = False
    for view, order in ((x, "C"), (x.T, "F"), (x[:, ::2], "C"), (x[:0], "C"), (swapped, "C"),
                        (frozen.T, "F")):
        f = float_codes(view, "test")
        assert f.dtype == np.float64 and f.shape == view.shape
        assert f.flags[f"{order}_CONTIGUOUS"]
        assert [int(v) for v in f.ravel()] == [int(v) for v in view.ravel()]
