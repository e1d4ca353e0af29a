"""DynamicFixedPoint: per-group fl by the overflow-rate rule, scale layouts, ScaleTracker."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import DynamicFixedPoint, FixedPoint, ScaleTracker
from tests.naive_fixed import naive_fixed_quantize, naive_group_fl

FL_RANGE = range(-80, 140)


@given(wl=st.integers(1, 20), signed=st.booleans(),
       rate=st.sampled_from([0.0, 0.1, 0.25, 0.5]),
       values=st.lists(st.one_of(st.floats(-1e6, 1e6).filter(lambda v: abs(v) > 1e-12),
                                 st.sampled_from([0.0, 2.0**-40, -4.0, 2.0**19, 1 - 2.0**-30])),
                       min_size=1, max_size=9))
def test_choose_fl_matches_brute_force(wl, signed, rate, values):
    """The chosen fl is the largest with at most floor(rate * n) overflows."""
    fmt = DynamicFixedPoint(wl, max_overflow_rate=rate, signed=signed)
    expected = naive_group_fl(values, wl, signed, rate, FL_RANGE)
    got = int(fmt.choose_fl(np.array(values)))
    if expected is None:  # unbounded: documented fallback
        assert got == wl - 1
    elif expected == min(FL_RANGE):  # overflows at every fl of the range: clipped low
        assert got <= expected
    else:
        assert got == expected


def test_element_fl_edges():
    """Exact boundaries: max_code and min_code themselves fit, one ulp beyond does not."""
    fmt = DynamicFixedPoint(8)
    x = np.array([127.0, 127.0 + 2**-40, -128.0, -128.0 - 2**-40, 0.0, np.inf, -np.inf, np.nan])
    assert_array_equal(fmt.element_fl(x)[:4], [0, -1, 0, -1])
    assert fmt.element_fl(x)[4] == np.iinfo(np.int64).max
    assert_array_equal(fmt.element_fl(x)[5:7], np.iinfo(np.int64).min)
    u = DynamicFixedPoint(8, signed=False)
    assert_array_equal(u.element_fl(np.array([255.0, 255.5, -1e-9]))[:2], [0, -1])
    assert u.element_fl(np.array([-1e-9]))[0] == np.iinfo(np.int64).min


@pytest.mark.parametrize("group, scale_shape", [
    ("tensor", ()),
    (("axis", 0), (3, 1, 1)),
    (("axis", -1), (1, 1, 10)),
    (("axis", 1), (1, 4, 1)),
    (("block", 4), (3, 4, 3)),
    (("block", 10), (3, 4, 1)),
    (("block", 32), (3, 4, 1)),
])
def test_codes_equal_fixed_point_per_group(group, scale_shape, rng):
    """Each group is FixedPoint(wl - fl, fl) quantization of its elements, code for code."""
    x = rng.normal(size=(3, 4, 10)) * np.exp(rng.normal(size=(3, 4, 10)) * 3)
    fmt = DynamicFixedPoint(8, group=group, rounding="stochastic", overflow="wrap")
    q = fmt.quantize(x, seed=3)
    assert np.shape(q.scale) == scale_shape and q.codes.dtype == np.int8
    fls = fmt.choose_fl(x)
    assert_array_equal(-np.frexp(np.asarray(q.scale))[1] + 1, fls)
    full_fl = np.broadcast_to(fmt._expand(fls, x.shape), x.shape)
    for fl in np.unique(full_fl):
        sel = full_fl == fl
        ref = naive_fixed_quantize(x, fmt.fixed(int(fl)), key=3)  # same flat index stream
        assert_array_equal(q.codes[sel], ref[sel])
    assert_array_equal(q.to_float(), q.codes * np.broadcast_to(fmt.expand_scale(q), x.shape))


def test_overflow_rate_allows_outliers():
    """With rate 0.1, one outlier in 10 elements saturates instead of setting the range."""
    x = np.array([0.1] * 9 + [1000.0])
    strict = DynamicFixedPoint(8).quantize(x)
    loose = DynamicFixedPoint(8, max_overflow_rate=0.1).quantize(x)
    assert loose.scale < strict.scale
    assert loose.codes[-1] == 127 and loose.to_float()[0] == pytest.approx(0.1, rel=0.01)


def test_all_zero_and_empty_groups():
    q = DynamicFixedPoint(8, group=("axis", 0)).quantize(np.zeros((2, 3)))
    assert_array_equal(q.codes, 0)
    assert_array_equal(q.scale, 2.0**-7)
    q = DynamicFixedPoint(8).quantize(np.zeros(0))
    assert q.codes.shape == (0,) and q.scale.shape == ()


def test_explicit_fl_and_validation():
    fmt = DynamicFixedPoint(8, group=("axis", 0))
    q = fmt.quantize(np.ones((2, 2)), fl=np.array([[3], [4]]))
    assert_array_equal(q.codes, [[8, 8], [16, 16]])
    with pytest.raises(ValueError, match="does not broadcast to the scale shape"):
        fmt.quantize(np.ones((2, 2)), fl=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"group=\('axis', 2\) is out of range for 2-d data"):
        DynamicFixedPoint(8, group=("axis", 2)).quantize(np.ones((2, 2)))
    with pytest.raises(ValueError, match="group='channel' is not a known grouping"):
        DynamicFixedPoint(8, group="channel")
    with pytest.raises(ValueError, match=r"group=\('block', 0\) is out of range"):
        DynamicFixedPoint(8, group=("block", 0))
    with pytest.raises(ValueError, match="max_overflow_rate=1.0 is out of range"):
        DynamicFixedPoint(8, max_overflow_rate=1.0)
    with pytest.raises(ValueError, match="wl=0 is out of range"):
        DynamicFixedPoint(0)
    with pytest.raises(ValueError, match=r"x contains 1 NaN value\(s\)"):
        DynamicFixedPoint(8).quantize(np.array([1.0, np.nan]))
    assert DynamicFixedPoint(8, group=["block", 4]) == DynamicFixedPoint(8, group=("block", 4))
    assert hash(DynamicFixedPoint(8, rounding="AP_RND_CONV")) == \
        hash(DynamicFixedPoint(8, rounding="nearest_even"))


def test_scale_tracker_policy():
    """fl -= 1 when the pooled rate exceeds the max; += 1 when one more bit would still fit."""
    fmt = DynamicFixedPoint(8, max_overflow_rate=0.1)
    tracker = ScaleTracker(fmt, update_every=2, initial_fl=4)
    x = np.array([1.0] * 9 + [7.0])          # at fl=4: 7*16 = 112 fits; at fl=5: 224 overflows
    assert int(tracker.update(x)) == 4        # mid-window: no policy step yet
    assert int(tracker.update(x)) == 5        # pooled: 0/20 overflow at 4, 2/20 at 5 -> up
    assert int(tracker.update(x)) == 5
    assert int(tracker.update(x)) == 6        # 2/20 at 5 is not > 0.1; 2/20 at 6 still fits
    assert int(tracker.update(x)) == 6
    assert int(tracker.update(x)) == 6        # at 7 the ones overflow too (128 > 127): keep
    assert_array_equal(tracker.overflow_rate(), 0.0)  # counters reset after each policy step


def test_scale_tracker_moves_down_and_up():
    fmt = DynamicFixedPoint(8, max_overflow_rate=0.0)
    tracker = ScaleTracker(fmt, update_every=1, initial_fl=4)
    assert int(tracker.update(np.array([9.0]))) == 3      # 9*16 = 144 > 127: scale doubles
    assert int(tracker.update(np.array([9.0]))) == 3      # 9*8 = 72 fits; 9*16 does not: keep
    assert int(tracker.update(np.array([1.0]))) == 4      # 1*32 = 32 fits at fl=4: one more bit
    q = tracker.quantize(np.array([1.0]))
    assert q.codes[0] == 16 and float(np.asarray(q.scale)) == 2.0**-4
    with pytest.raises(ValueError, match="update_every=0 is out of range"):
        ScaleTracker(fmt, update_every=0)
    with pytest.raises(TypeError, match="fmt must be a DynamicFixedPoint"):
        ScaleTracker(FixedPoint(4, 4))
