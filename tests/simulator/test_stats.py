"""Per-layer statistics: the one-pass code kernel against the exact reference, and the SQNR of
a layer whose relu is fused into its requantization (compared after the relu, like the relu)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import FixedPoint
from simulator import Graph, QConfig, calibrate, simulate
from simulator._stats_kernels import code_pass
from tests.naive_stats import code_pass_ref, sqnr_parts

# (dtype, wl, signed) grids: the format's extreme codes are in every case
# (unsigned 64-bit codes do not fit int64: stats takes the numpy path for them)
FORMATS = [(np.int8, 8, True), (np.uint8, 8, False), (np.int16, 12, True),
           (np.int32, 1, False), (np.int64, 64, True), (np.uint32, 32, False)]


def _range(wl: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)


def _check_code_pass(codes, fl, ref, lo, hi):
    width = max(1, ((hi - lo + 1) + 31) // 32)
    hist, err = np.zeros(32, np.int64), np.empty(len(codes))
    sat = code_pass(codes, fl, ref, lo, hi, width, hist, err)
    want_sat, want_hist, want_err = code_pass_ref(codes, fl, ref, lo, hi, width, 32)
    assert sat == want_sat
    assert_array_equal(hist, want_hist)
    # float64 errors are the exact ones rounded once (numpy's ldexp(codes) - ref)
    assert_array_equal(err, np.array([float(e) for e in want_err]))
    assert_array_equal(err, np.ldexp(codes.astype(np.float64), -fl) - ref)


@pytest.mark.parametrize("dtype, wl, signed", FORMATS)
def test_code_pass_edge_grid(dtype, wl, signed):
    """Extreme codes, zero and their neighbours, every bin boundary of a small format."""
    lo, hi = _range(wl, signed)
    grid = {lo, hi, min(max(0, lo), hi), lo + 1 if lo < hi else lo, hi - 1 if hi > lo else hi}
    width = max(1, ((hi - lo + 1) + 31) // 32)
    grid |= {min(hi, lo + k * width) for k in range(33)} | {min(hi, lo + k * width - 1)
                                                             for k in range(1, 33)}
    codes = np.array(sorted(grid), dtype=dtype)
    ref = np.linspace(-3.0, 3.0, len(codes))
    for fl in (0, 3, -2, 900, 1000, -900):  # 1000: subnormal products, the ldexp path
        _check_code_pass(codes, fl, ref, lo, hi)


@settings(max_examples=40, deadline=None)
@given(fmt=st.sampled_from(FORMATS), fl=st.integers(-4, 20), data=st.data())
def test_code_pass_random(fmt, fl, data):
    dtype, wl, signed = fmt
    lo, hi = _range(wl, signed)
    codes = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=40)),
                     dtype=dtype)
    ref = np.array(data.draw(st.lists(st.floats(-1e6, 1e6), min_size=len(codes),
                                      max_size=len(codes))))
    _check_code_pass(codes, fl, ref, lo, hi)


def _relu_net(fl_out: int) -> tuple[Graph, QConfig, np.ndarray]:
    g = Graph((3,))
    g.add("fc", "dense", weight=np.array([[0.5, -0.25, 1.0], [-1.0, 0.75, 0.5]]),
          bias=np.array([0.125, -0.5]))
    g.add("relu", "relu")
    q = QConfig.uniform(FixedPoint(il=4, fl=fl_out))
    x = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 0.25], [-1.0, 1.5, 2.0], [0.75, 0.25, -0.5]])
    return g, q, x


def test_fused_layer_sqnr_exact_on_a_hand_built_case():
    """A dense layer read only by a relu records its post-relu codes; its SQNR is measured
    against the post-relu float output, so it equals the relu's, and both equal the exact
    10 log10(sum f**2 / sum (f - q)**2) (every sum here is exact in float64)."""
    g, q, x = _relu_net(fl_out=1)
    res = simulate(g, q, x)
    y = x @ g.nodes[0].params["weight"].T + g.nodes[0].params["bias"]
    after = np.maximum(y, 0)
    assert np.any(y < 0)  # the relu clips something: pre- and post-relu references differ
    signal, noise = sqnr_parts(res.outputs.ravel(), after.ravel())
    want = 10.0 * math.log10(float(signal) / float(noise))
    got = res.stats["sqnr_db"].values
    assert_array_equal(got, [want, want])
    # against the pre-relu value the figure would have been much lower
    wrong_signal, wrong_noise = sqnr_parts(res.outputs.ravel(), y.ravel())
    assert want - 10.0 * math.log10(float(wrong_signal) / float(wrong_noise)) > 3.0
    assert res.stats["saturation_rate"].sel(layer="fc") == 0.0


def test_fused_and_relu_sqnr_agree_on_the_digits_cnn():
    """The reported bug: on the digits CNN at 8 bits conv1's SQNR (~5 dB) disagreed with
    relu1's (~37 dB).  A fused conv and its relu now agree (same codes, same reference), on the
    first call and on the cached float run."""
    from models import datasets, zoo

    g = zoo.get("digits-cnn", seed=0).to_graph()
    x = np.asarray(datasets.load("digits").x_test[:128])
    q = calibrate(g, x[:64], wl=8)
    for _ in range(2):
        s = simulate(g, q, x).stats["sqnr_db"]
        for conv, relu in (("conv1", "relu1"), ("conv2", "relu2")):
            assert abs(float(s.sel(layer=conv)) - float(s.sel(layer=relu))) < 0.01
            assert float(s.sel(layer=conv)) > 25.0


def test_sum_of_squares_does_not_depend_on_blas_threads(rng):
    """SQNR sums must not change in the last bit with BLAS's thread count (a sweep point gives
    the same figures on any worker)."""
    import math

    from threadpoolctl import threadpool_limits

    from simulator.stats import sum_of_squares

    v = rng.normal(size=1_000_003)
    with threadpool_limits(limits=1, user_api="blas"):
        one = sum_of_squares(v)
    with threadpool_limits(limits=2, user_api="blas"):
        two = sum_of_squares(v)
    assert one == two
    assert math.isclose(one, math.fsum(v * v), rel_tol=1e-12)
    assert sum_of_squares(np.zeros(0)) == 0.0
