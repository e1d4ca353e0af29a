"""ops.conv2d against the direct Python-int convolution (NCHW / OIHW, ascending (c, kh, kw))."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint, QArray
from simulator import Accumulator, ops
from tests.naive_ops import conv2d_ref, im2col_order_ref


def fixed(codes, il, fl, signed=True):
    fmt = FixedPoint(il=il, fl=fl, signed=signed)
    return QArray(np.asarray(codes).astype(fmt.code_dtype), fmt, 2.0 ** -fl)


@st.composite
def conv_case(draw):
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 6))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 6))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, groups * cg, h, w))
    wt = rng.integers(-128, 128, (groups * og, cg, kh, kw))
    overflow, step = draw(st.sampled_from([("wrap", False), ("saturate", False),
                                           ("saturate", True)]))
    width = draw(st.sampled_from([16, 18, 32]))
    bias = rng.integers(-2000, 2000, groups * og) if draw(st.booleans()) else None
    return dict(x=x, w=wt, b=bias, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw),
                groups=groups, acc=Accumulator(width, overflow, step))


@settings(max_examples=60)
@given(conv_case())
def test_conv2d_equals_direct_reference(case):
    """Every geometry, groups and accumulator rule: same contents and overflow count."""
    acc = case["acc"]
    qx, qw = fixed(case["x"], 4, 4), fixed(case["w"], 2, 6)
    qb = None if case["b"] is None else fixed(case["b"], 6, 10)
    ref, events = conv2d_ref(case["x"], case["w"], case["b"], case["stride"], case["padding"],
                             case["dilation"], case["groups"], acc.width, acc.overflow,
                             acc.saturate_each_step)
    stats = {}
    res = ops.conv2d(qx, qw, qb, stride=case["stride"], padding=case["padding"],
                     dilation=case["dilation"], groups=case["groups"], acc=acc, stats=stats)
    assert_array_equal(res.codes.astype(np.int64), ref)
    assert stats["acc_overflow"] == events
    assert res.format.fl == 10


def test_depthwise_conv(rng):
    """groups == C (depthwise) with scalar stride/padding arguments."""
    x = rng.integers(-8, 8, (2, 4, 5, 5))
    w = rng.integers(-8, 8, (4, 1, 3, 3))
    res = ops.conv2d(fixed(x, 4, 0), fixed(w, 4, 0), stride=2, padding=1, groups=4)
    ref, _ = conv2d_ref(x, w, None, (2, 2), (1, 1), (1, 1), 4, 32, "wrap")
    assert_array_equal(res.codes, ref)
    assert res.shape == (2, 4, 3, 3)


def test_accumulation_order_is_c_then_kh_then_kw():
    """Step-wise saturation exposes the order of the additions."""
    assert im2col_order_ref(2, 1, 2) == [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 0, 1)]
    x = np.full((1, 2, 1, 2), -2)                   # 2-bit codes
    w = np.array([[[[-8, -8]], [[7, 7]]]])          # (1, 2, 1, 2), 4-bit codes
    acc = Accumulator(6, "saturate", saturate_each_step=True)  # range [-32, 31]
    stats = {}
    res = ops.conv2d(fixed(x, 2, 0), fixed(w, 4, 0), acc=acc, stats=stats)
    # (c, kh, kw) order: 16, 32 -> 31 (clamped), 17, 3.  kw-major order would give 4.
    assert res.codes[0, 0, 0, 0] == 3
    assert stats["acc_overflow"] == 1


def test_conv_errors():
    x = fixed(np.zeros((1, 3, 4, 4)), 4, 0)
    with pytest.raises(ValueError, match=r"groups=2 does not fit qx channels C=3"):
        ops.conv2d(x, fixed(np.zeros((2, 1, 3, 3)), 4, 0), groups=2)
    with pytest.raises(ValueError, match=r"does not fit the padded 4x4 input"):
        ops.conv2d(x, fixed(np.zeros((2, 3, 5, 5)), 4, 0))
    with pytest.raises(ValueError, match=r"stride=0 is out of range"):
        ops.conv2d(x, fixed(np.zeros((2, 3, 3, 3)), 4, 0), stride=0)
    with pytest.raises(TypeError, match=r"padding must be an int or a pair of ints"):
        ops.conv2d(x, fixed(np.zeros((2, 3, 3, 3)), 4, 0), padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"qw has shape \(2, 3, 3\); expected 4 dimensions"):
        ops.conv2d(x, fixed(np.zeros((2, 3, 3)), 4, 0))
