"""Layers: exact forward/backward against the Python-int oracle, central finite-difference
gradient checks in float64 for every layer, and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from models.layers import (LAYER_KINDS, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten,
                           HardTanh, HashedDense, MaxPool2D, ReLU, Sign, fold_batchnorm)
from tests.naive_models import (naive_conv2d, naive_conv2d_backward, naive_dense,
                                naive_maxpool2d_backward, naive_pool2d)


def _as_float(obj_array) -> np.ndarray:
    return np.array([float(v) for v in obj_array.ravel()]).reshape(obj_array.shape)


def _int_params(layer, rng, lo=-3, hi=4):
    for key, value in layer.params().items():
        layer.params()[key] = rng.integers(lo, hi, value.shape).astype(np.float64)


# ----------------------------------------------------------------------------- gradient checks
def numeric_grad(f, arr: np.ndarray, eps: float = 1e-6, max_points: int = 60,
                 rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of the scalar ``f()`` w.r.t. (a sample of) the entries of ``arr``,
    perturbed in place; returns (flat indices, derivatives)."""
    flat = arr.reshape(-1)
    idx = np.arange(flat.size)
    if flat.size > max_points:
        idx = np.sort((rng or np.random.default_rng(0)).choice(flat.size, max_points, False))
    out = np.empty(len(idx))
    for k, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        out[k] = (fp - fm) / (2 * eps)
    return idx, out


def check_gradients(layer, x: np.ndarray, rng, before_forward=lambda: None, rtol=1e-6,
                    atol=1e-8):
    """Backward of ``L = sum(forward(x) * R)`` equals central differences (input and params)."""
    layer.astype(np.float64)
    x = x.astype(np.float64)
    before_forward()
    y = layer.forward(x, training=True)
    r = rng.standard_normal(y.shape)

    def loss():
        before_forward()
        return float(np.sum(layer.forward(x, training=True) * r))

    before_forward()
    layer.forward(x, training=True)
    dx = layer.backward(r)
    grads = {k: v.copy() for k, v in layer.grads().items()}
    assert dx.shape == x.shape
    idx, num = numeric_grad(loss, x, rng=rng)
    assert_allclose(dx.reshape(-1)[idx], num, rtol=rtol, atol=atol)
    assert set(grads) == set(layer.params())
    for key, p in layer.params().items():
        assert grads[key].shape == p.shape
        idx, num = numeric_grad(loss, p, rng=rng)
        assert_allclose(grads[key].reshape(-1)[idx], num, rtol=rtol, atol=atol,
                        err_msg=f"parameter {key}")


def test_dense_gradients(rng):
    check_gradients(Dense(7, 5, seed=1), rng.standard_normal((4, 7)), rng)


def test_dense_without_bias_gradients(rng):
    layer = Dense(3, 2, bias=False)
    assert list(layer.params()) == ["weight"]
    check_gradients(layer, rng.standard_normal((5, 3)), rng)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(2, 0)),
    dict(kernel_size=3, dilation=2, padding=2),
    dict(kernel_size=2, groups=2),
    dict(kernel_size=3, groups=4, padding=1),   # depthwise
    dict(kernel_size=1, stride=3),
])
def test_conv_gradients(rng, kw):
    out = 8 if kw.get("groups", 1) == 4 else 6
    check_gradients(Conv2D(4, out, **kw, seed=2), rng.standard_normal((2, 4, 7, 6)), rng)


def test_maxpool_gradients(rng):
    # distinct values spaced well beyond eps: no ties, no switch of the maximum
    x = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) * 0.01
    check_gradients(MaxPool2D(2), x, rng)
    check_gradients(MaxPool2D(3, stride=2), x, rng)


def test_avgpool_gradients(rng):
    check_gradients(AvgPool2D((2, 3), stride=(2, 1)), rng.standard_normal((2, 3, 6, 7)), rng)


def _away_from(x: np.ndarray, points, margin=1e-3) -> np.ndarray:
    for p in points:
        near = np.abs(x - p) < margin
        x[near] = p + 2 * margin
    return x


def test_relu_gradients(rng):
    check_gradients(ReLU(), _away_from(rng.standard_normal((4, 9)), [0.0]), rng)


def test_hardtanh_gradients(rng):
    x = _away_from(2 * rng.standard_normal((4, 3, 5)), [-1.0, 1.0])
    check_gradients(HardTanh(), x, rng)


def test_sign_straight_through_is_the_hardtanh_gradient(rng):
    """Sign's backward (the STE) equals HardTanh's exact gradient, and ignores |x| > 1."""
    x = _away_from(2 * rng.standard_normal((5, 8)), [-1.0, 1.0])
    g = rng.standard_normal(x.shape)
    sign, tanh = Sign(), HardTanh()
    sign.forward(x, training=True)
    tanh.forward(x, training=True)
    assert_array_equal(sign.backward(g), tanh.backward(g))
    assert_array_equal(sign.backward(g), np.where(np.abs(x) <= 1, g, 0))


def test_sign_forward_edges():
    """+1 for x >= 0 (zero and negative zero included), -1 below; exact at +-1 boundaries."""
    x = np.array([[-np.inf, -1.5, -1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0, 7.0]], np.float32)
    s = Sign()
    assert_array_equal(s.forward(x, training=True),
                       np.array([[-1, -1, -1, -1, 1, 1, 1, 1, 1]], np.float32))
    g = np.ones_like(x)
    assert_array_equal(s.backward(g), [[0, 0, 1, 1, 1, 1, 1, 1, 0]])


@pytest.mark.parametrize("shape", [(6, 5), (4, 5, 3, 2)])
def test_batchnorm_gradients(rng, shape):
    layer = BatchNorm(5)
    layer.params()["gamma"][...] = rng.uniform(0.5, 2, 5)
    layer.params()["beta"][...] = rng.standard_normal(5)
    check_gradients(layer, 3 * rng.standard_normal(shape) + 1, rng, rtol=1e-5, atol=1e-7)


def test_dropout_gradients(rng):
    layer = Dropout(0.3)
    check_gradients(layer, rng.standard_normal((6, 10)), rng,
                    before_forward=lambda: layer.reseed(5))


def test_flatten_gradients(rng):
    check_gradients(Flatten(), rng.standard_normal((3, 2, 4, 5)), rng)


def test_hashed_dense_gradients(rng):
    """Real-weight gradients sum the virtual ones per bucket, signed (HashedNets)."""
    check_gradients(HashedDense(9, 6, compression=0.3, seed=1, hash_seed=2),
                    rng.standard_normal((4, 9)), rng)


def test_every_layer_kind_has_a_gradient_check():
    """The checks above cover every registered kind (a new layer must add one)."""
    checked = {"dense", "conv", "maxpool", "avgpool", "relu", "hardtanh", "sign", "batchnorm",
               "dropout", "flatten", "hashed_dense"}
    assert set(LAYER_KINDS) == checked


# ----------------------------------------------------------------------------- exact oracle
@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    assume(h + 2 * padding[0] >= dilation[0] * (kh - 1) + 1)
    assume(w + 2 * padding[1] >= dilation[1] * (kw - 1) + 1)
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    return groups, cg, og, (kh, kw), stride, padding, dilation, (n, groups * cg, h, w), seed


@settings(max_examples=60)
@given(conv_cases())
def test_conv_forward_backward_equal_the_integer_oracle(case):
    """Small-integer data: float64 results are exact, so they equal the Python-int oracle."""
    _check_conv_against_oracle(case)


@pytest.mark.slow
@settings(max_examples=2000)
@given(conv_cases())
def test_conv_forward_backward_equal_the_integer_oracle_long(case):
    """The same property on many more geometries (slow tier)."""
    _check_conv_against_oracle(case)


def _check_conv_against_oracle(case):
    groups, cg, og, kernel, stride, padding, dilation, xshape, seed = case
    rng = np.random.default_rng(seed)
    layer = Conv2D(groups * cg, groups * og, kernel, stride, padding, dilation, groups)
    _int_params(layer, rng)
    x = rng.integers(-4, 5, xshape).astype(np.float64)
    y = layer.forward(x, training=True)
    w, b = layer.params()["weight"], layer.params()["bias"]
    assert_array_equal(y, _as_float(naive_conv2d(x, w, b, stride, padding, dilation, groups)))
    g = rng.integers(-3, 4, y.shape).astype(np.float64)
    dx = layer.backward(g)
    ndx, ndw, ndb = naive_conv2d_backward(x, w, g, stride, padding, dilation, groups)
    assert_array_equal(dx, _as_float(ndx))
    assert_array_equal(layer.grads()["weight"], _as_float(ndw))
    assert_array_equal(layer.grads()["bias"], _as_float(ndb))


@pytest.mark.parametrize("kw,xshape", [
    (dict(in_channels=1, out_channels=1, kernel_size=5), (1, 1, 5, 5)),       # kernel = input
    (dict(in_channels=2, out_channels=3, kernel_size=1), (2, 2, 3, 4)),       # 1x1
    (dict(in_channels=1, out_channels=2, kernel_size=2, padding=3), (1, 1, 2, 2)),  # pad > k
    (dict(in_channels=1, out_channels=1, kernel_size=2, stride=5), (1, 1, 7, 7)),   # s > k
    (dict(in_channels=3, out_channels=3, kernel_size=3, groups=3, padding=1), (2, 3, 4, 4)),
    (dict(in_channels=1, out_channels=1, kernel_size=3, dilation=3), (1, 1, 7, 9)),  # taps at edges
])
def test_conv_edge_grid(rng, kw, xshape):
    layer = Conv2D(**kw)
    _int_params(layer, rng)
    x = rng.integers(-5, 6, xshape).astype(np.float32)
    layer.astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    expected = naive_conv2d(x, layer.params()["weight"], layer.params()["bias"], layer.stride,
                            layer.padding, layer.dilation, layer.groups)
    assert_array_equal(y, _as_float(expected))
    assert y.shape[1:] == layer.output_shape(xshape[1:])


@settings(max_examples=60)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_dense_equals_the_integer_oracle(n, k, o, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(k, o)
    _int_params(layer, rng)
    x = rng.integers(-9, 10, (n, k)).astype(np.float64)
    assert_array_equal(layer.forward(x), _as_float(naive_dense(x, layer.params()["weight"],
                                                               layer.params()["bias"])))


@settings(max_examples=60)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2**32 - 1))
def test_pooling_equals_the_oracle_including_ties(kh, kw, sh, sw, seed):
    """Values from {-2..2} make ties common: the gradient goes to the first maximum."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (2, 2, kh + 4, kw + 3)).astype(np.float64)
    mp, ap = MaxPool2D((kh, kw), (sh, sw)), AvgPool2D((kh, kw), (sh, sw))
    y = mp.forward(x, training=True)
    assert_array_equal(y, _as_float(naive_pool2d(x, (kh, kw), (sh, sw), "max")))
    g = rng.integers(-3, 4, y.shape).astype(np.float64)
    assert_array_equal(mp.backward(g), _as_float(naive_maxpool2d_backward(x, g, (kh, kw),
                                                                          (sh, sw))))
    # the average of k integers is exact in float64 when k is a power of two; compare the
    # k-fold sums, which are integers, for every k
    k = kh * kw
    assert_array_equal(ap.forward(x) * k, _as_float(naive_pool2d(x, (kh, kw), (sh, sw),
                                                                 "avg") * k))


# ----------------------------------------------------------------------------- batch norm
def test_batchnorm_running_statistics(rng):
    """running <- (1 - m) running + m batch, with the unbiased batch variance."""
    layer = BatchNorm(3, momentum=0.25).astype(np.float64)
    x = rng.standard_normal((8, 3, 2, 2)) * 2 + 5
    layer.forward(x, training=True)
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3), ddof=1)
    assert_allclose(layer.buffers()["running_mean"], 0.25 * mean, rtol=1e-14)
    assert_allclose(layer.buffers()["running_var"], 0.75 + 0.25 * var, rtol=1e-14)
    # inference uses the running statistics, not the batch's
    y = layer.forward(x)
    s = 1 / np.sqrt(layer.buffers()["running_var"] + 1e-5)
    assert_allclose(y, (x - layer.buffers()["running_mean"].reshape(1, 3, 1, 1))
                    * s.reshape(1, 3, 1, 1), rtol=1e-13)


@pytest.mark.parametrize("make,xshape", [
    (lambda: Dense(6, 4, seed=3), (5, 6)),
    (lambda: Conv2D(2, 4, 3, padding=1, seed=3), (3, 2, 5, 5)),
    (lambda: Dense(6, 4, bias=False, seed=3), (5, 6)),
])
def test_fold_batchnorm_equals_the_unfolded_inference(rng, make, xshape):
    """W' = s W, b' = s b + t reproduce layer -> batch norm at inference (float64)."""
    layer = make().astype(np.float64)
    bn = BatchNorm(4).astype(np.float64)
    bn.params()["gamma"][...] = rng.uniform(0.5, 2, 4)
    bn.params()["beta"][...] = rng.standard_normal(4)
    bn.buffers()["running_mean"][...] = rng.standard_normal(4)
    bn.buffers()["running_var"][...] = rng.uniform(0.1, 3, 4)
    x = rng.standard_normal(xshape)
    folded = fold_batchnorm(layer, bn)
    assert_allclose(folded.forward(x), bn.forward(layer.forward(x)), rtol=1e-12, atol=1e-12)
    assert folded.params()["weight"] is not layer.params()["weight"]
    assert "bias" in folded.params()


def test_fold_batchnorm_rejects_other_layers():
    with pytest.raises(TypeError, match="only Dense and Conv2D fold a batch norm, got ReLU"):
        fold_batchnorm(ReLU(), BatchNorm(3))
    with pytest.raises(ValueError, match="has 3 features but layer 'dense' has 4 outputs"):
        fold_batchnorm(Dense(2, 4), BatchNorm(3))


# ----------------------------------------------------------------------------- dropout
def test_dropout_is_seeded_inverted_and_identity_at_inference(rng):
    x = np.ones((200, 50), np.float32)
    a, b = Dropout(0.25, seed=7), Dropout(0.25, seed=7)
    ya, yb = a.forward(x, training=True), b.forward(x, training=True)
    assert_array_equal(ya, yb)
    assert set(np.unique(ya)) == {0.0, np.float32(1 / 0.75)}
    assert abs((ya == 0).mean() - 0.25) < 0.02
    assert a.forward(x) is x


# ----------------------------------------------------------------------------- validation
def test_layer_argument_errors():
    with pytest.raises(ValueError, match=r"in_features=0 is out of range; expected "
                                         r"in_features >= 1"):
        Dense(0, 3)
    with pytest.raises(TypeError, match="out_features must be an int, got float"):
        Dense(3, 2.0)
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        Conv2D(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"padding=-1 is out of range; expected padding >= 0"):
        Conv2D(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"kernel_size=\(1, 2, 3\) must be an int or a pair"):
        MaxPool2D((1, 2, 3))
    with pytest.raises(ValueError, match=r"rate=1.0 is out of range; expected 0 <= rate < 1"):
        Dropout(1.0)
    with pytest.raises(ValueError, match=r"momentum=0 is out of range"):
        BatchNorm(3, momentum=0)


def test_layer_input_errors():
    with pytest.raises(ValueError, match="expects 4 input features, got shape"):
        Dense(4, 2).forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="expects input of rank 4"):
        Conv2D(1, 1, 3).forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="input 2x2 is too small for kernel_size"):
        Conv2D(1, 1, 3).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="is smaller than kernel_size"):
        MaxPool2D(3).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(RuntimeError, match=r"backward\(\) called without a forward"):
        ReLU().backward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="batch statistics need at least 2 values"):
        BatchNorm(2).forward(np.zeros((1, 2)), training=True)
    with pytest.raises(ValueError, match=r"params for layer 'dense' lack \['bias'\]"):
        Dense(2, 2).forward(np.zeros((1, 2)), params={"weight": np.zeros((2, 2))})


def test_forward_params_substitute_the_weights_and_gradients_follow_them(rng):
    """params= replaces what the forward pass uses; latent weights are untouched; the input
    gradient uses the substituted weights (the STE contract of models.methods)."""
    layer = Dense(3, 2).astype(np.float64)
    latent = layer.params()["weight"].copy()
    wb = np.sign(latent)
    x = rng.standard_normal((4, 3))
    y = layer.forward(x, training=True, params={"weight": wb, "bias": np.zeros(2)})
    assert_array_equal(y, x @ wb.T)
    g = rng.standard_normal((4, 2))
    assert_array_equal(layer.backward(g), g @ wb)
    assert_array_equal(layer.params()["weight"], latent)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    for layer in (Conv2D(1, 2, 3), MaxPool2D(2), AvgPool2D(2), ReLU(), HardTanh(), Sign(),
                  BatchNorm(1), Flatten(), Dropout(0.5)):
        y = layer.forward(x, training=True)
        assert y.dtype == np.float32, layer
        assert layer.backward(np.ones_like(y)).dtype == np.float32, layer
