"""Dot products in floating-point accumulators: every addition rounded, ascending k."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint, FloatingPoint
from simulator import Accumulator, ops
from simulator._float_acc_kernels import sum_round_to_odd
from tests.naive_ops import float_acc_dot_ref

BF16 = FloatingPoint(8, 7)
FP16 = FloatingPoint(5, 10)
FP32 = FloatingPoint(8, 23)


def test_bf16_accumulator_stalls_at_256():
    """10,000 values just above 0.5 summed in bf16 stall at 256, as bf16 hardware does.

    From 256 on the bf16 step is 2, so 256 + 0.504 rounds back to 256.  (Exactly 0.5 stalls
    earlier, at 128: there the step is 1 and 128.5 ties to the even 128.)
    """
    x = BF16.quantize(np.full((1, 10_000), 0.50390625))  # the bf16 number after 0.5
    w = BF16.quantize(np.ones((10_000, 1)))
    res = ops.matmul(x, w, acc=Accumulator(floating=BF16))
    assert res.to_float()[0, 0] == 256.0
    wide = ops.matmul(x, w, acc=Accumulator(floating=FP32))
    assert wide.to_float()[0, 0] == 5039.0625
    half = ops.matmul(BF16.quantize(np.full((1, 10_000), 0.5)), w, acc=Accumulator(floating=BF16))
    assert half.to_float()[0, 0] == 128.0


def test_values_near_half_stall_at_256(rng):
    """Values drawn in [0.49, 0.51] (bf16): the sum stalls at 256 all the same."""
    x = BF16.quantize(rng.uniform(0.49, 0.51, (1, 10_000)))
    w = BF16.quantize(np.ones((10_000, 1)))
    res = ops.matmul(x, w, acc=Accumulator(floating=BF16))
    assert res.to_float()[0, 0] == 256.0


@settings(max_examples=40)
@given(st.sampled_from([BF16, FP16, FP32, FloatingPoint(4, 3)]),
       st.sampled_from(["nearest_even", "toward_zero"]), st.integers(0, 12),
       st.integers(0, 2**32 - 1))
def test_float_accumulator_equals_fraction_reference(fmt, rounding, k, seed):
    """Each addition rounded once from the exact sum (no float64 double rounding)."""
    rng = np.random.default_rng(seed)
    acc_fmt = FloatingPoint(fmt.exp_bits, fmt.man_bits, rounding=rounding)
    scale = 2.0 ** rng.integers(-6, 6, (2, k))
    x = fmt.quantize(rng.normal(size=(2, k)) * scale[0])
    w = fmt.quantize(rng.normal(size=(3, k)) * scale[1])
    res = ops.dense(x, w, acc=Accumulator(floating=acc_fmt))
    xv, wv = x.to_float(), w.to_float()
    ref = np.array([[float_acc_dot_ref(xv[i], wv[j], acc_fmt) for j in range(3)]
                    for i in range(2)])
    assert_array_equal(res.to_float(), ref)


def test_round_to_odd_sum_keeps_the_sticky_bit():
    """1 + 2**-60 is not representable: the sum rounds to odd (1 + 2**-52), not to 1."""
    assert sum_round_to_odd(1.0, 2.0**-60) == 1.0 + 2.0**-52
    assert sum_round_to_odd(1.5, 0.25) == 1.75
    below = sum_round_to_odd(1.0, -(2.0**-60))
    assert below < 1.0 and np.frexp(below)[0] * 2.0**53 % 2 == 1


def test_fixed_operands_in_a_float_accumulator():
    """Fixed-point operands (exact in float64) summed in fp16."""
    x = FixedPoint(4, 4).quantize(np.full((1, 3000), 1.0))
    w = FixedPoint(4, 4).quantize(np.full((1, 3000), 1.0))
    res = ops.dense(x, w, acc=Accumulator(floating=FP16))
    assert res.to_float()[0, 0] == 2048.0  # fp16 ulp at 2048 is 2: 2048 + 1 ties to even


def test_products_that_would_round_are_refused():
    x = FixedPoint(30, 0).quantize(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"need 60 bits and would round in float64"):
        ops.dense(x, x, acc=Accumulator(floating=FP32))


def test_stochastic_accumulator_is_reproducible(rng):
    """A stochastically rounding bf16 accumulator: same seed, same codes; it does not stall."""
    acc = Accumulator(floating=FloatingPoint(8, 7, rounding="stochastic"))
    x = BF16.quantize(np.full((1, 4000), 0.50390625))
    w = BF16.quantize(np.ones((1, 4000)))
    first = ops.dense(x, w, acc=acc, seed=2**63 + 1)
    again = ops.dense(x, w, acc=acc, seed=2**63 + 1)
    assert_array_equal(first.codes, again.codes)
    assert 1500 < first.to_float()[0, 0] < 2500  # unbiased on average: about 2015.6
    with pytest.raises(ValueError, match=r"needs seed="):
        ops.dense(x, w, acc=acc)
