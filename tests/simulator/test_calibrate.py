"""calibrate(): the integer-length rule, per-layer and global formats, and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from precision import FixedPoint
from simulator import Graph, QConfig, calibrate, simulate
from simulator.calibrate import integer_length


def net(rng) -> Graph:
    g = Graph((1, 6, 6))
    g.add("conv", "conv2d", weight=rng.normal(size=(3, 1, 3, 3)), bias=rng.normal(size=3))
    g.add("relu", "relu")
    g.add("pool", "avgpool2d", kernel=2)
    g.add("flat", "flatten")
    g.add("fc", "dense", weight=rng.normal(size=(4, 12)) * 0.1, bias=rng.normal(size=4) * 0.01)
    return g


@pytest.mark.parametrize("m, wl, signed, il", [
    (1.0, 8, True, 2),        # Q2.6 holds up to 1.984; Q1.7 only 0.992
    (0.99, 8, True, 1),       # 0.99 <= 127/128
    (0.9921875, 8, True, 1),  # exactly the top code of Q1.7
    (0.9921876, 8, True, 2),
    (3.0, 4, True, 3),        # Q3.1: top 3.5
    (3.75, 4, True, 4),       # Q3.1 tops at 3.5
    (255.0, 8, False, 8),
    (0.001, 8, True, -8),     # very small ranges get negative il (fine steps)
    (0.0, 8, True, 1), (0.0, 8, False, 0),
])
def test_integer_length_edges(m, wl, signed, il):
    assert integer_length(m, wl, signed) == il


@given(m=st.floats(1e-6, 1e6), wl=st.integers(2, 32), signed=st.booleans())
def test_integer_length_is_the_smallest_that_holds(m, wl, signed):
    """m fits under il's top code and not under il - 1's."""
    il = integer_length(m, wl, signed)
    top = (1 << (wl - 1)) - 1 if signed else (1 << wl) - 1
    assert m <= math.ldexp(top, il - wl)
    assert m > math.ldexp(top, il - 1 - wl)


def test_per_layer_formats_fit_observed_ranges(rng):
    g = net(rng)
    x = rng.uniform(0, 1, (20, 1, 6, 6))
    q = calibrate(g, x, wl=8)
    assert set(q.layers) == {"conv", "pool", "fc"}
    w = q.resolve("fc").weights
    assert w == FixedPoint(il=integer_length(float(np.abs(g["fc"].weight).max()), 8, True),
                           fl=8 - w.il)
    assert q.input == FixedPoint(il=integer_length(float(x.max()), 8, True),
                                 fl=8 - integer_length(float(x.max()), 8, True))
    res = simulate(g, q, x)
    # calibrated ranges never clip the calibration data by more than rounding: no overflow
    assert int(res.stats["out_overflow"].sum()) == 0
    assert float(res.stats["sqnr_db"].sel(layer="fc")) > 20


def test_unsigned_activations_after_relu(rng):
    """signed=False makes never-negative outputs (relu-fused conv, pools) unsigned."""
    g = net(rng)
    q = calibrate(g, rng.uniform(0, 1, (8, 1, 6, 6)), wl=8, signed=False)
    assert not q.resolve("conv").activations.signed
    assert not q.resolve("pool").activations.signed
    assert q.resolve("fc").activations.signed  # logits go negative
    assert q.resolve("conv").weights.signed


def test_global_formats(rng):
    g = net(rng)
    x = rng.uniform(0, 1, (8, 1, 6, 6))
    q = calibrate(g, x, wl=6, per_layer=False, rounding="nearest_even", overflow="wrap")
    assert q.layers == {} and q.default.weights.wl == 6
    assert q.default.weights.il == integer_length(
        max(float(np.abs(n.weight).max()) for n in g.layers()), 6, True)
    assert q.default.activations.rounding == "nearest_even"
    assert q.default.activations.overflow == "wrap"


def test_calibrate_errors(rng):
    g = net(rng)
    x = rng.uniform(0, 1, (2, 1, 6, 6))
    with pytest.raises(ValueError, match=r"wl=1 is out of range; expected 2 <= wl <= 64"):
        calibrate(g, x, wl=1)
    with pytest.raises(TypeError, match="wl must be an int"):
        calibrate(g, x, wl=8.0)
    with pytest.raises(ValueError, match="x has no samples"):
        calibrate(g, x[:0])
    with pytest.raises(ValueError, match=r"x has shape \(2, 6, 6\)"):
        calibrate(g, x[:, 0])
    assert isinstance(calibrate(g, x), QConfig)
