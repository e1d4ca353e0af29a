"""Unstructured pruning: magnitude (exact counts, masks kept through retraining, iterative
schedule), sparse storage sizes, and Optimal Brain Damage's Hessian diagonal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import datasets, train, zoo
from models.compress import (hessian_diagonal, prune_iterative, prune_magnitude, prune_obd,
                             retrain)
from models.compress.obd import obd_saliency
from models.compress.pruning import mask_smallest
from models.layers import (AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, HardTanh,
                           MaxPool2D, ReLU, Sign)
from models.sequential import Sequential, softmax_cross_entropy
from tests.naive import naive_lecun_hessian_diagonal, naive_sparse_entries


def _mlp(seed=0, sizes=(64, 12, 10)):
    return zoo.mlp(sizes[1:-1], (1, 8, 8), sizes[-1], seed=seed)


@pytest.fixture(scope="module")
def digits():
    """A 400-image training split of digits: enough to train, fast on a shared machine."""
    d = datasets.load("digits")
    return datasets.Dataset(d.x_train[:400].copy(), d.y_train[:400].copy(), d.x_val.copy(),
                            d.y_val.copy(), d.x_test.copy(), d.y_test.copy(), name="digits400",
                            n_classes=10)


def naive_magnitude_mask(scores, fraction):
    """Python reference: sort (score, flat index) and drop the first round(fraction * n)."""
    flat = [float(v) for v in np.asarray(scores).ravel()]
    order = sorted(range(len(flat)), key=lambda i: (flat[i], i))
    drop = set(order[:int(round(fraction * len(flat)))])
    return np.array([i not in drop for i in range(len(flat))]).reshape(np.shape(scores))


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), fraction=st.floats(0, 0.95),
       ties=st.booleans())
def test_magnitude_mask_equals_reference(seed, fraction, ties):
    """The mask drops exactly round(s*n) weights, the smallest |w| (ties by flat index)."""
    model = _mlp(seed % 1000)
    if ties:  # many equal magnitudes, and exact zeros
        for layer in model.layers:
            if layer.params():
                w = layer.params()["weight"]
                w[...] = np.round(w * 4) / 4
    pruned, report = prune_magnitude(model, fraction)
    for layer in (lay for lay in model.layers if lay.params()):
        w = layer.params()["weight"]
        expected = naive_magnitude_mask(np.where(w == 0, -1.0, np.abs(w)), fraction)
        mask = report.extra["masks"][layer.name]
        np.testing.assert_array_equal(mask, expected)
        after = next(lay for lay in pruned.layers if lay.name == layer.name).params()["weight"]
        np.testing.assert_array_equal(after, np.where(mask, w, 0))
        assert report.row(layer.name).nonzeros == int(mask.sum())


def test_input_model_untouched_and_per_layer_rates():
    """Pruning returns a copy; a dict of rates prunes only the named layers."""
    model = _mlp()
    before = {k: v.copy() for k, v in model.params().items()}
    pruned, report = prune_magnitude(model, {"dense1": 0.5})
    for k, v in model.params().items():
        np.testing.assert_array_equal(v, before[k])
    np.testing.assert_array_equal(pruned.params()["dense2/weight"], before["dense2/weight"])
    assert np.count_nonzero(pruned.params()["dense1/weight"] == 0) == 384
    assert [r.layer for r in report.layers] == ["dense1"]


@pytest.mark.parametrize("bad, match", [
    (1.0, r"sparsity=1.0 is out of range; expected 0 <= sparsity < 1"),
    (-0.1, r"sparsity=-0.1 is out of range"),
    (float("nan"), r"sparsity=nan is out of range"),
    ({"dense9": 0.5}, r"sparsity names layer 'dense9'"),
])
def test_bad_sparsity(bad, match):
    with pytest.raises(ValueError, match=match):
        prune_magnitude(_mlp(), bad)


def test_pruning_a_layer_to_nothing_is_refused():
    model = _mlp(sizes=(64, 2, 10))
    with pytest.raises(ValueError, match=r"sparsity=0.99 prunes all 20 weights of layer "
                                         r"'dense2'"):
        prune_magnitude(model, 0.99)
    with pytest.raises(TypeError, match="sparsity must be a number"):
        prune_magnitude(model, "0.5")


def test_sparse_storage_row_matches_reference():
    """Stored bits = entries (fillers included) * (5-bit index + 32-bit value) for dense."""
    model = _mlp()
    _, report = prune_magnitude(model, 0.9)
    for row in report.layers:
        mask = report.extra["masks"][row.layer]
        entries = naive_sparse_entries([int(v) for v in mask.ravel()], 5)
        assert row.entries == len(entries)
        assert row.stored_bits == len(entries) * (5 + 32)
        assert row.index_bits == 5
    assert report.compression_ratio == report.bytes_before / report.bytes_after


def test_masks_stay_zero_through_retraining(digits):
    """Momentum and weight decay never revive a pruned weight; kept weights do train."""
    model = zoo.get("digits-mlp", seed=0)
    train(model, digits, epochs=1, seed=0, progress=False)
    pruned, report = prune_magnitude(model, 0.8)
    before = pruned.params()["dense1/weight"].copy()
    retrain(pruned, digits, report.extra["masks"], epochs=1, seed=1,
            optimizer=__import__("models.optim", fromlist=["SGD"]).SGD(
                momentum=0.9, weight_decay=1e-3))
    for name, mask in report.extra["masks"].items():
        w = pruned.params()[f"{name}/weight"]
        assert np.all(w[~mask] == 0)
    assert not np.array_equal(pruned.params()["dense1/weight"], before)


def test_iterative_schedule_nests_masks_and_lands_on_target(digits):
    model = zoo.get("digits-mlp", seed=0)
    train(model, digits, epochs=1, seed=0, progress=False)
    pruned, report = prune_iterative(model, digits, 0.75, steps=3, epochs_per_step=1)
    for name, mask in report.extra["masks"].items():
        w = pruned.params()[f"{name}/weight"]
        assert int((~mask).sum()) == int(round(0.75 * w.size))
        assert np.all(w[~mask] == 0)
    assert len(report.extra["history"]) == 3
    with pytest.raises(ValueError, match="steps=0 is out of range"):
        prune_iterative(model, digits, 0.5, steps=0)


def test_mask_smallest_breaks_ties_by_index():
    scores = np.array([1.0, 0.5, 0.5, 0.5, 2.0])
    np.testing.assert_array_equal(mask_smallest(scores, 2), [True, False, False, True, True])


# ----------------------------------------------------------------------------- OBD
def _loss(model, x, y):
    return softmax_cross_entropy(model.forward(x), y)[0]


def test_hessian_diagonal_of_last_layer_is_exact(rng):
    """For the last layer the logits are linear in W, so the Gauss-Newton diagonal is the true
    second derivative: check it by central differences in float64."""
    model = _mlp(3).astype(np.float64)
    x = rng.random((20, 1, 8, 8))
    y = rng.integers(0, 10, 20)
    hess = hessian_diagonal(model, x, y)["dense2"]
    w = model.params()["dense2/weight"]
    eps = 1e-4
    l0 = _loss(model, x, y)
    for (o, i) in [(0, 0), (3, 5), (9, 11), (4, 2)]:
        old = w[o, i]
        w[o, i] = old + eps
        lp = _loss(model, x, y)
        w[o, i] = old - eps
        lm = _loss(model, x, y)
        w[o, i] = old
        assert abs((lp - 2 * l0 + lm) / eps**2 - hess[o, i]) < 1e-5 * max(1.0, hess[o, i])


def naive_lecun_hidden(model, x):
    """LeCun et al.'s recursion for the first layer of Flatten-Dense-ReLU-Dense, in loops."""
    w1 = model.params()["dense1/weight"].astype(np.float64)
    b1 = model.params()["dense1/bias"].astype(np.float64)
    w2 = model.params()["dense2/weight"].astype(np.float64)
    b2 = model.params()["dense2/bias"].astype(np.float64)
    out = np.zeros_like(w1)
    for xn in x.reshape(len(x), -1).astype(np.float64):
        a = w1 @ xn + b1
        h = np.maximum(a, 0)
        z = w2 @ h + b2
        p = np.exp(z - z.max())
        p /= p.sum()
        for j in range(w1.shape[0]):
            d2a = sum(w2[o, j] ** 2 * p[o] * (1 - p[o]) for o in range(len(p))) * (a[j] > 0)
            for i in range(w1.shape[1]):
                out[j, i] += xn[i] ** 2 * d2a
    return out / len(x)


def test_hessian_diagonal_hidden_layer_matches_recursion(rng):
    model = _mlp(5)
    x = rng.random((7, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 7)
    np.testing.assert_allclose(hessian_diagonal(model, x, y)["dense1"],
                               naive_lecun_hidden(model, x), rtol=1e-12, atol=1e-15)


def test_obd_prunes_smallest_saliency(digits):
    model = zoo.get("digits-mlp", seed=0)
    pruned, report = prune_obd(model, digits, 0.5, samples=200)
    for name, sal in report.extra["saliency"].items():
        mask = report.extra["masks"][name]
        assert sal[~mask].max() <= sal[mask].min()
        assert np.all(pruned.params()[f"{name}/weight"][~mask] == 0)
    sal = obd_saliency(model, digits.x_train[:10], digits.y_train[:10])
    assert all(np.all(s >= 0) for s in sal.values())


def _tiny_cnn(seed):
    """Grouped, padded, strided, dilated convs; batch norm, both pools, HardTanh, Dropout."""
    rng = np.random.default_rng(seed)
    bn = BatchNorm(4)
    bn.params()["gamma"][:] = rng.uniform(0.5, 2.0, 4)
    bn.params()["beta"][:] = rng.normal(0, 0.3, 4)
    bn.buffers()["running_mean"][:] = rng.normal(0, 0.3, 4)
    bn.buffers()["running_var"][:] = rng.uniform(0.5, 2.0, 4)
    layers = [Conv2D(2, 4, 3, padding=1, groups=2, seed=rng), bn, ReLU(), MaxPool2D(2),
              Conv2D(4, 3, 2, stride=2, padding=1, dilation=2, seed=rng), HardTanh(), Dropout(0.5),
              AvgPool2D(2), Flatten(), Dense(3, 5, seed=rng)]
    for layer in layers:
        if layer.kind in ("conv", "dense"):
            layer.params()["bias"][:] = rng.normal(0, 0.2, layer.params()["bias"].shape)
    return Sequential(layers, (2, 6, 6)).astype(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_diagonal_cnn_matches_connection_by_connection(seed):
    """Conv/pool/batch-norm recursion equals the explicit per-connection recursion (shared
    weights summed over their connections); float64 sums in another order, hence rtol."""
    model = _tiny_cnn(seed)
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(0, 1, (5, 2, 6, 6))
    y = rng.integers(0, 5, 5)
    got = hessian_diagonal(model, x, y, batch_size=2)
    want = naive_lecun_hessian_diagonal(model, x)
    assert sorted(got) == sorted(want) == ["conv1", "conv2", "dense1"]
    for name in want:
        assert np.count_nonzero(want[name]) > want[name].size // 2  # the check has teeth
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-300)


def test_hessian_diagonal_conv_covering_the_image_is_a_dense_layer(rng):
    """A conv whose kernel covers the whole input has one connection per weight: its diagonal
    is the dense layer's with the same weights."""
    conv = Conv2D(1, 6, 8, seed=3)
    dense = Dense(64, 6, seed=0)
    dense.params()["weight"][:] = conv.params()["weight"].reshape(6, 64)
    head = Dense(6, 10, seed=4)
    as_conv = Sequential([conv, ReLU(), Flatten(), head], (1, 8, 8))
    as_dense = Sequential([Flatten(), dense, ReLU(), head], (1, 8, 8))
    x = rng.random((9, 1, 8, 8))
    y = rng.integers(0, 10, 9)
    hc, hd = hessian_diagonal(as_conv, x, y), hessian_diagonal(as_dense, x, y)
    np.testing.assert_allclose(hc[conv.name].reshape(6, 64), hd[dense.name], rtol=1e-12)
    np.testing.assert_allclose(hc[head.name], hd[head.name], rtol=1e-12)


def test_hessian_diagonal_leaves_the_model_untouched(rng):
    model = _tiny_cnn(0)
    before = {k: v.copy() for k, v in model.params().items()}
    hessian_diagonal(model, rng.normal(0, 1, (3, 2, 6, 6)), [0, 1, 2])
    for k, v in model.params().items():
        np.testing.assert_array_equal(v, before[k])
    assert all(layer._cache is None for layer in model.layers)


def test_obd_prunes_conv_layers(digits):
    model = zoo.get("digits-cnn", seed=0)
    pruned, report = prune_obd(model, digits, 0.5, samples=50)
    assert {"conv1", "conv2", "dense1"} <= set(report.extra["masks"])
    for name in ("conv1", "conv2"):
        mask, sal = report.extra["masks"][name], report.extra["saliency"][name]
        assert mask.shape == model.params()[f"{name}/weight"].shape
        assert sal[~mask].max() <= sal[mask].min()
        assert np.count_nonzero(pruned.params()[f"{name}/weight"]) == mask.sum()


def test_hessian_diagonal_refuses_unknown_layers():
    model = Sequential([Flatten(), Dense(64, 8), Sign(), Dense(8, 10)], (1, 8, 8))
    with pytest.raises(NotImplementedError, match="layer 'sign1' is 'sign'"):
        hessian_diagonal(model, np.zeros((1, 1, 8, 8)), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="batch_size=0 is out of range"):
        hessian_diagonal(_mlp(), np.zeros((1, 1, 8, 8)), np.zeros(1, np.int64), batch_size=0)
