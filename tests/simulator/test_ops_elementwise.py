"""ops.add / sub / mul / cast: exact results in the documented formats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint, QArray
from simulator import ops
from tests.naive_fixed import naive_fixed_requantize
from tests.naive_ops import align_add_ref


def fixed(codes, il, fl, signed=True):
    fmt = FixedPoint(il=il, fl=fl, signed=signed)
    return QArray(np.asarray(codes).astype(fmt.code_dtype), fmt, 2.0 ** -fl)


@st.composite
def operand(draw, shape):
    wl = draw(st.integers(1, 24))
    fl = draw(st.integers(-4, 12))
    signed = draw(st.booleans())
    lo, hi = (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)
    n = int(np.prod(shape))
    elem = st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi]))
    codes = np.array(draw(st.lists(elem, min_size=n, max_size=n)), dtype=np.int64)
    return fixed(codes.reshape(shape), wl - fl, fl, signed)


@given(operand((3, 1)), operand((1, 4)), st.sampled_from(["add", "sub", "mul"]))
def test_elementwise_is_exact_and_broadcasts(a, b, kind):
    """Codes equal the Python-int result; the format follows the documented rule."""
    res = getattr(ops, kind)(a, b)
    fa, fb = a.format, b.format
    assert res.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            ca, cb = int(a.codes[i, 0]), int(b.codes[0, j])
            if kind == "mul":
                code, fl = ca * cb, fa.fl + fb.fl
            else:
                code, fl = align_add_ref(ca, fa.fl, cb, fb.fl, 1 if kind == "add" else -1)
            assert int(res.codes[i, j]) == code
            assert res.format.fl == fl
    if kind == "mul":
        assert res.format.il == fa.il + fb.il
    elif fa.signed == fb.signed:
        assert res.format.il == max(fa.il, fb.il) + 1
    assert res.format.signed == (fa.signed or fb.signed or kind == "sub")


def test_q_format_rules():
    a = fixed([3], 4, 12)
    b = fixed([5], 6, 2)
    assert ops.add(a, b).format == FixedPoint(il=7, fl=12)
    assert ops.mul(a, b).format == FixedPoint(il=10, fl=14)
    u = fixed([255], 8, 0, signed=False)
    assert ops.add(u, u).format == FixedPoint(il=9, fl=0, signed=False)
    assert ops.sub(u, u).format == FixedPoint(il=9, fl=0, signed=True)
    assert ops.add(u, fixed([-128], 8, 0)).format == FixedPoint(il=10, fl=0)
    assert int(ops.sub(fixed([0], 8, 0, False), u).codes[0]) == -255


def test_too_wide_results_are_refused():
    a = fixed([1], 40, 0)
    with pytest.raises(ValueError, match=r"needs wl=80 bits .*expected wl <= 64"):
        ops.mul(a, a)


@given(operand((6,)), st.integers(1, 16), st.integers(-4, 12),
       st.sampled_from(["nearest", "floor", "nearest_even", "stochastic"]),
       st.sampled_from(["saturate", "wrap", "saturate_symmetric"]))
def test_cast_is_hls_assignment(q, wl, fl, rounding, overflow):
    """cast = the reference requantization, and out_overflow counts the overflowing values."""
    fmt = FixedPoint(il=wl - fl, fl=fl, rounding=rounding, overflow=overflow)
    stats = {}
    res = ops.cast(q, fmt, seed=3, stats=stats)
    expect = naive_fixed_requantize(q.codes.astype(np.int64), q.format.fl, fmt, key=3)
    assert_array_equal(res.codes, expect)
    from tests.naive_ops import out_overflow_ref

    assert stats["out_overflow"] == out_overflow_ref(q.codes, q.format.fl, fmt, key=3)
