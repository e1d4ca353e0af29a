"""Counter-based stochastic rounding: reproducible for any thread count, unbiased, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint
from precision.stochastic import uniform_bits
from tests.naive_fixed import naive_fixed_quantize, naive_uniform_bits

STOCHASTIC = FixedPoint(4, 4, rounding="stochastic")


@given(key=st.integers(0, 2**64 - 1), index=st.integers(0, 2**64 - 1))
def test_uniform_bits_matches_reference(key, index):
    """The jitted generator equals the pure-int splitmix64 definition."""
    assert int(uniform_bits(np.uint64(key), np.uint64(index))) == naive_uniform_bits(key, index)


def test_uniform_bits_edge_keys():
    for key in (0, 1, 2**63, 2**64 - 1):
        for index in (0, 1, 2**32, 2**64 - 1):
            assert int(uniform_bits(np.uint64(key), np.uint64(index))) == \
                naive_uniform_bits(key, index)


@pytest.mark.parametrize("value", [0.3, -0.3, 1 / 32 + 1 / 64, -7.99])
def test_unbiased(value):
    """Mean of many draws of one value is within 5 standard errors of x * 2**fl."""
    n = 32_000  # below the parallel threshold: the cached serial kernel
    codes = STOCHASTIC.quantize(np.full(n, value), seed=2015).codes.astype(np.float64)
    y = value * 16
    frac = y - np.floor(y)
    stderr = np.sqrt(frac * (1 - frac) / n)
    assert abs(codes.mean() - y) <= 5 * stderr + 1e-12
    assert set(np.unique(codes)) <= {np.floor(y), np.floor(y) + 1}


def test_exact_dyadic_probability():
    """frac = 1/4 exactly: the up-rate over many draws is 1/4 within 5 standard errors."""
    n = 32_000
    codes = FixedPoint(8, 2, rounding="stochastic").quantize(np.full(n, 0.0625), seed=9).codes
    up = codes.astype(np.float64).mean()
    assert abs(up - 0.25) <= 5 * np.sqrt(0.25 * 0.75 / n)


def test_seed_is_required():
    with pytest.raises(ValueError, match="rounds stochastically and needs seed="):
        STOCHASTIC.quantize([0.1])
    with pytest.raises(ValueError, match="needs seed="):
        STOCHASTIC.requantize(np.array([1]), 3)


def test_generator_seeds_are_accepted():
    """A Generator contributes one uint64 draw: same generator state, same codes."""
    x = np.linspace(-1, 1, 1000)
    a = STOCHASTIC.quantize(x, seed=np.random.default_rng(5)).codes
    b = STOCHASTIC.quantize(x, seed=np.random.default_rng(5)).codes
    key = int(np.random.default_rng(5).integers(0, 2**64, dtype=np.uint64))
    assert_array_equal(a, b)
    assert_array_equal(a, STOCHASTIC.quantize(x, seed=key).codes)


def test_different_seeds_differ_and_bad_seeds_fail():
    x = np.linspace(-1, 1, 1000)
    assert (STOCHASTIC.quantize(x, seed=0).codes != STOCHASTIC.quantize(x, seed=1).codes).any()
    with pytest.raises(TypeError, match="seed must be an int or numpy.random.Generator"):
        STOCHASTIC.quantize(x, seed=1.5)
    with pytest.raises(ValueError, match=r"seed=-1 is out of range"):
        STOCHASTIC.quantize(x, seed=-1)


def test_mix64_array_is_the_scalar_finalizer_elementwise(rng):
    from precision.stochastic import mix64, mix64_array

    z = rng.integers(0, 2**64, size=200, dtype=np.uint64)
    z[:3] = (0, 1, 2**64 - 1)
    assert_array_equal(mix64_array(z), [mix64(v) for v in z])
    assert mix64_array(np.zeros(0, np.uint64)).shape == (0,)
