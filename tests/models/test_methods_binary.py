"""Binarized and ternarized training: BinaryConnect, BNN, XNOR-Net and ternary weight networks
on the 8x8 digits, with exact references for the binarizers and their gradients."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from models import datasets, train, zoo
from models.layers import Dense, Sign
from models.methods.binary import (CLIP, BinaryConnect, binary_mlp, channel_mean_abs,
                                   glorot_lr_scale, hard_sigmoid, scaled_sign_grad, sign,
                                   stochastic_sign)
from models.methods.ternary import ternarize


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def trained(digits, method, activation, epochs=4, lr=0.003, **options):
    m = binary_mlp(digits.input_shape, hidden=(64, 64), activation=activation, seed=0)
    with threadpool_limits(1):
        h = train(m, digits, method=method, epochs=epochs, seed=0, optimizer="adam", lr=lr,
                  progress=False, **options)
    return m, h


# ---------------------------------------------------------------------------- references
def naive_ternarize(w, threshold, per_channel):
    """TWN with Fractions: Delta = t * mean|w|, alpha = mean |w| over |w| > Delta."""
    rows = w.reshape(w.shape[0], -1).tolist() if per_channel else [w.ravel().tolist()]
    out = []
    for row in rows:
        mags = [abs(Fraction(v)) for v in row]
        delta = Fraction(threshold) * sum(mags) / len(mags)
        kept = [m for m in mags if m > delta]
        alpha = sum(kept) / len(kept) if kept else Fraction(0)
        out.append([(alpha if v >= 0 else -alpha) if abs(Fraction(v)) > delta else 0
                    for v in row])
    return np.array([[float(v) for v in r] for r in out]).reshape(w.shape)


def naive_scaled_sign_grad(x, g):
    """d/dx_j of sum_i g_i * alpha * sign(x_i), alpha = mean |x| per row (exact Fractions),
    with the straight-through derivative 1{|x_j| <= 1} for sign."""
    out = np.zeros(x.shape)
    for r in range(x.shape[0]):
        xs, gs = [Fraction(v) for v in x[r]], [Fraction(v) for v in g[r]]
        n = len(xs)
        alpha = sum(abs(v) for v in xs) / n
        sg = [1 if v >= 0 else -1 for v in xs]
        total = sum(gi * si for gi, si in zip(gs, sg))
        for j in range(n):
            through = alpha * gs[j] if abs(xs[j]) <= 1 else 0
            out[r, j] = float(through + sg[j] * total / n)
    return out


finite = st.floats(-3, 3, allow_nan=False, width=32)


@settings(max_examples=80)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 7)), elements=finite),
       st.sampled_from([0.0, 0.5, 0.7, 1.0]), st.booleans())
def test_ternarize_matches_the_exact_reference(w, threshold, per_channel):
    """TWN's threshold and scale, per tensor and per channel, against Fractions."""
    got = ternarize(w, threshold, "channel" if per_channel else "tensor")
    assert_allclose(got, naive_ternarize(w, threshold, per_channel), rtol=1e-12, atol=0)


def test_ternarize_edge_grid():
    """Ties at the threshold are dropped (strict >), an all-zero tensor stays zero."""
    w = np.array([[1.0, -1.0, 0.75, 0.0]])  # mean |w| = 0.6875, Delta = 0.48125 at t=0.7
    assert_array_equal(ternarize(w, 0.7), [[11 / 12, -11 / 12, 11 / 12, 0.0]])
    w = np.array([[1.0, 1.0, -1.0, -1.0]])  # Delta = 1.0: nothing is strictly above it
    assert_array_equal(ternarize(w, 1.0), np.zeros((1, 4)))
    assert_array_equal(ternarize(np.zeros((2, 3)), 0.7), np.zeros((2, 3)))


def test_ternarize_is_idempotent(rng):
    """Ternarizing ternarized weights changes nothing (so predict may re-apply it)."""
    w = rng.standard_normal((5, 9))
    for scale in ("tensor", "channel"):
        t = ternarize(w, 0.7, scale)
        assert_array_equal(ternarize(t, 0.7, scale), t)


@settings(max_examples=60)
@given(arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 6)), elements=finite),
       st.data())
def test_xnor_gradient_matches_the_exact_chain_rule(x, data):
    """scaled_sign_grad is the exact derivative of alpha*sign(x) with the sign's STE."""
    g = data.draw(arrays(np.float64, x.shape, elements=finite))
    got = scaled_sign_grad(x, g, channel_mean_abs(x))
    assert_allclose(got, naive_scaled_sign_grad(x, g), rtol=1e-12, atol=1e-12)


def test_sign_conventions():
    """+1 for x >= 0 including -0.0 (precision.Binary's convention); hard sigmoid clips."""
    x = np.array([-2.0, -1.0, -0.0, 0.0, 0.5, 3.0])
    assert_array_equal(sign(x), [-1, -1, 1, 1, 1, 1])
    assert_array_equal(hard_sigmoid(x), [0, 0, 0.5, 0.5, 0.75, 1])


def test_stochastic_sign_is_unbiased():
    """E[w_b] = 2 * hard_sigmoid(w) - 1 (= w inside [-1, 1]), within 5 standard errors."""
    w = np.repeat(np.array([-1.5, -0.6, 0.0, 0.3, 0.9]), 4000).reshape(5, -1)
    mean = stochastic_sign(w, seed=7).mean(axis=1)
    expect = np.clip(w[:, 0], -1, 1)
    se = np.sqrt((1 - expect**2) / w.shape[1]) + 1e-12
    assert np.all(np.abs(mean - expect) <= 5 * se)
    assert_array_equal(stochastic_sign(w, seed=7), stochastic_sign(w, seed=7))


def test_training_binarizers_equal_the_deployment_formats(rng):
    """The numpy binarizers of the training pass equal precision.Binary / Ternary, which the
    qconfig hands to the simulator."""
    from precision import Binary, Ternary

    w = np.concatenate([rng.standard_normal((6, 7)), np.array([[0.0, -0.0, 1, -1, 2, -2, 0.5]])])
    assert_array_equal(Binary().quantize(w).to_float(), sign(w))
    assert_allclose(Binary(scale="channel").quantize(w).to_float(),
                    channel_mean_abs(w) * sign(w), rtol=4e-16, atol=0)
    for scale in ("tensor", "channel"):
        t = Ternary(threshold=0.7, threshold_mode="relative", scale=scale)
        assert_array_equal(t.quantize(w).to_float(), ternarize(w, 0.7, scale))
        assert_allclose(ternarize(w, 0.7, scale),
                        naive_ternarize(w, 0.7, scale == "channel"), rtol=4e-16, atol=0)


def test_glorot_learning_rate_scale():
    """1 / sqrt(1.5 / (fan_in + fan_out)) for dense and conv weights."""
    assert glorot_lr_scale(np.zeros((10, 20))) == pytest.approx(1 / np.sqrt(1.5 / 30))
    assert glorot_lr_scale(np.zeros((4, 2, 3, 3))) == pytest.approx(1 / np.sqrt(1.5 / 54))


# ---------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def bc_det(digits):
    return trained(digits, "binaryconnect", "relu")


def test_binaryconnect_learns_and_deploys_binary_weights(bc_det, digits):
    """Deterministic BinaryConnect: >= 90% on digits; every deployed weight is exactly +-1."""
    m, h = bc_det
    assert 0.9 <= m.evaluate(digits.x_test, digits.y_test) <= 1.0
    for layer in m.layers:
        if isinstance(layer, Dense):
            assert set(np.unique(layer.params()["weight"])) == {-1.0, 1.0}


def test_latent_weights_stay_within_the_clip(digits):
    """During training the latent weights never leave [-1, 1] (checked after every update)."""
    seen = []

    class Watch(BinaryConnect):
        def after_update(self, layer):
            super().after_update(layer)
            if isinstance(layer, Dense):
                seen.append(float(np.abs(layer.params()["weight"]).max()))

    m = binary_mlp(digits.input_shape, hidden=(32,), activation="relu", seed=1)
    train(m, digits, method=Watch(), epochs=1, seed=0, optimizer="sgd", lr=5.0,
          progress=False)
    assert seen and max(seen) <= CLIP
    assert max(seen) == CLIP  # the huge learning rate did push weights onto the clip


def test_forward_weights_are_binary_during_training(digits):
    """forward_params gives exactly +-1 (BinaryConnect) and alpha*+-1 (XNOR) weights."""
    m = binary_mlp(digits.input_shape, hidden=(16,), activation=None, seed=0)
    for name, method in (("bc", BinaryConnect(stochastic=True)),
                         ("xnor", __import__("models.methods", fromlist=["get"]).get("xnor")())):
        method.setup(m, np.random.default_rng(0))
        method.begin_step(3)
        for layer in m.layers:
            if not isinstance(layer, Dense):
                continue
            w = method.forward_params(layer, True)["weight"]
            latent = layer.params()["weight"]
            if name == "bc":
                assert set(np.unique(w)) <= {-1.0, 1.0}
            else:
                from precision import Binary

                assert_array_equal(w, Binary(scale="channel").quantize(latent).to_float()
                                   .astype(latent.dtype))
                alpha = np.abs(latent).mean(axis=1, keepdims=True)
                assert_allclose(w, alpha * np.where(latent >= 0, 1, -1), rtol=1e-6)


def test_binaryconnect_training_is_deterministic_for_a_seed(digits):
    """Stochastic binarization draws from the train seed: identical weights twice."""
    runs = [trained(digits, "binaryconnect", "relu", epochs=1, stochastic=True)[0]
            for _ in range(2)]
    for key, value in runs[0].params().items():
        assert_array_equal(value, runs[1].params()[key])


def test_stochastic_binaryconnect_learns(digits):
    """Stochastic BinaryConnect beats chance clearly within a few epochs (slower than det.)."""
    m, _ = trained(digits, "binaryconnect", "relu", epochs=6, lr=0.01, stochastic=True)
    assert 0.5 <= m.evaluate(digits.x_test, digits.y_test) <= 1.0


@pytest.fixture(scope="module")
def bnn(digits):
    return trained(digits, "bnn", "sign")


def test_bnn_learns_with_binary_weights_and_activations(bnn, digits):
    """BNN: >= 85% on digits; deployed weights +-1; hidden activations +-1."""
    m, _ = bnn
    assert 0.85 <= m.evaluate(digits.x_test, digits.y_test) <= 1.0
    x = digits.x_test[:50]
    for layer in m.layers:
        x = layer.forward(x)
        if isinstance(layer, Sign):
            assert set(np.unique(x)) == {-1.0, 1.0}
        if isinstance(layer, Dense):
            assert set(np.unique(layer.params()["weight"])) == {-1.0, 1.0}


def test_bnn_needs_sign_layers(digits):
    with pytest.raises(ValueError, match="no Sign layer"):
        train(zoo.get("digits-mlp"), digits, method="bnn", progress=False)


def test_xnor_refuses_non_negative_inputs(digits):
    with pytest.raises(ValueError, match="make them non-negative or already binary"):
        train(zoo.get("digits-mlp"), digits, method="xnor", progress=False)


def test_xnor_and_ternary_learn(digits):
    """XNOR-Net (scaled binary weights and inputs, 8-bit input) and TWN both train above 85%;
    the XNOR network runs in the simulator (popcount with both scales) with the same
    predictions."""
    import simulator
    from precision import FixedPoint

    m, _ = trained(digits, "xnor", None, input_fmt=FixedPoint(il=2, fl=6))
    assert 0.85 <= m.evaluate(digits.x_test, digits.y_test) <= 1.0
    r = simulator.simulate(m.to_graph(fold_batchnorm=False), m.qconfig, digits.x_test,
                           collect=False)
    assert_array_equal(r.predictions, m.predict(digits.x_test))
    t = zoo.get("digits-mlp", seed=0)
    train(t, digits, method="ternary", epochs=4, seed=0, optimizer="adam", lr=0.01,
          progress=False)
    assert 0.85 <= t.evaluate(digits.x_test, digits.y_test) <= 1.0
    for layer in t.layers:
        if isinstance(layer, Dense):
            assert len(np.unique(layer.params()["weight"])) <= 3


def test_bnn_matches_the_simulator(bnn, digits):
    """simulate(model.to_graph(fold_batchnorm=False), model.qconfig) predicts as the model:
    8-bit input x binary weights, then XNOR-popcount layers, batch norm in float."""
    import simulator

    m, _ = bnn
    r = simulator.simulate(m.to_graph(fold_batchnorm=False), m.qconfig, digits.x_test,
                           collect=False)
    assert_array_equal(r.predictions, m.predict(digits.x_test))


def test_binaryconnect_matches_the_simulator(bc_det, digits):
    """BinaryConnect's qconfig (binary weights, real activations) runs in the simulator, and
    the default export keeps its batch norms (folding them would destroy the ±1 weights)."""
    import simulator

    m, _ = bc_det
    g = m.to_graph()
    assert [n.op for n in g.nodes] == [n.op for n in m.to_graph(fold_batchnorm=False).nodes]
    assert "batchnorm" in [n.op for n in g.nodes]
    r = simulator.simulate(g, m.qconfig, digits.x_test, collect=False)
    assert_array_equal(r.predictions, m.predict(digits.x_test))
