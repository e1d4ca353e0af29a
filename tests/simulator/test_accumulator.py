"""Accumulator: validation, range, the end-of-sum write rule, and wrap-is-modular."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from precision import FixedPoint, FloatingPoint
from simulator import Accumulator
from tests.naive_ops import acc_write_ref, dot_ref


def test_defaults_and_aliases():
    acc = Accumulator()
    assert (acc.width, acc.overflow, acc.saturate_each_step, acc.floating) == (32, "wrap", False,
                                                                               None)
    assert Accumulator(16, "AP_SAT").overflow == "saturate"
    assert Accumulator(8).min_value == -128 and Accumulator(8).max_value == 127
    assert Accumulator(64).max_value == 2**63 - 1
    assert Accumulator(floating=FloatingPoint(8, 7)).is_floating


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(width=0), ValueError, r"width=0 is out of range; expected 1 <= width <= 64"),
    (dict(width=65), ValueError, r"width=65 is out of range"),
    (dict(width=8.0), TypeError, r"width must be an int, got float"),
    (dict(width=True), TypeError, r"width must be an int"),
    (dict(overflow="saturate_zero"), ValueError, r"not an accumulator mode; expected 'wrap'"),
    (dict(overflow="clip"), ValueError, r"overflow='clip' is not a known mode"),
    (dict(saturate_each_step=True), ValueError, r"saturate_each_step=True needs overflow="),
    (dict(overflow="saturate", saturate_each_step=1), TypeError, r"must be a bool"),
    (dict(floating=FixedPoint(4, 4)), TypeError, r"floating must be a precision.FloatingPoint"),
])
def test_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Accumulator(**kwargs)


def test_frozen_and_hashable():
    acc = Accumulator(16, "saturate")
    with pytest.raises(AttributeError):
        acc.width = 8
    assert hash(acc) == hash(Accumulator(16, "saturate"))


@given(st.integers(1, 64), st.integers(-2**70, 2**70), st.sampled_from(["wrap", "saturate"]))
def test_apply_matches_reference(width, n, overflow):
    assert Accumulator(width, overflow).apply(n) == acc_write_ref(n, width, overflow)[0]


@given(st.integers(2, 16), st.lists(st.integers(-300, 300), max_size=20))
def test_wrap_at_the_end_equals_wrap_at_every_step(width, terms):
    """Two's-complement wrap is arithmetic modulo 2**width: the order of wrapping is free."""
    acc = Accumulator(width, "wrap")
    stepwise = 0
    for t in terms:
        stepwise = acc.apply(stepwise + t)
    assert stepwise == acc.apply(sum(terms))
    assert dot_ref(terms, [1] * len(terms), width, "wrap", False)[0] == stepwise


def test_saturating_at_the_end_and_each_step_differ():
    terms = [100, 100, -100]
    assert dot_ref(terms, [1, 1, 1], 8, "saturate", False) == (100, 0)
    assert dot_ref(terms, [1, 1, 1], 8, "saturate", True) == (27, 1)
    assert np.int64(Accumulator(8, "saturate").apply(300)) == 127
