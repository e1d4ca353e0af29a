"""Structured pruning: L1-norm filter removal (Li et al. 2017) and the Taylor criterion
(Molchanov et al. 2016) give smaller dense models whose shapes chain correctly."""

from __future__ import annotations

import numpy as np
import pytest

from models import zoo
from models.compress import prune_filters_l1, prune_taylor, remove_units, taylor_scores
from models.compress.filters import filter_l1_norms


class _Data:
    def __init__(self, rng, shape=(1, 8, 8), n=64):
        self.x_train = rng.random((n, *shape)).astype(np.float32)
        self.y_train = rng.integers(0, 10, n)


def _zero_units(model, name, units):
    layer = next(lay for lay in model.layers if lay.name == name)
    layer.params()["weight"][units] = 0
    layer.params()["bias"][units] = 0


@pytest.mark.parametrize("name, model_name", [("conv1", "digits-cnn"), ("conv2", "digits-cnn"),
                                              ("dense1", "digits-mlp")])
def test_removed_all_zero_filters_leave_outputs_unchanged(rng, name, model_name):
    """conv->conv, conv->flatten->dense and dense->dense: removing filters whose weights and
    bias are all zero (their maps are 0 after ReLU) changes no output; shapes chain."""
    model = zoo.get(model_name, seed=1).astype(np.float64)
    layer = next(lay for lay in model.layers if lay.name == name)
    n = layer.params()["weight"].shape[0]
    dead = [1, n // 2, n - 1]
    _zero_units(model, name, dead)
    pruned, report = prune_filters_l1(model, name, 3)
    np.testing.assert_array_equal(report.extra["removed"][name], dead)
    assert pruned.n_params < model.n_params
    x = rng.random((16, *model.input_shape))
    # the products of removed zero maps are gone, so BLAS may sum in another order: 1e-12
    np.testing.assert_allclose(pruned.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)
    pl = next(lay for lay in pruned.layers if lay.name == name)
    assert pl.params()["weight"].shape[0] == n - 3
    assert pruned.to_graph() is not None  # the IR accepts the new shapes


def test_l1_removes_smallest_norms_and_next_layer_shape(rng):
    model = zoo.get("digits-cnn", seed=0)
    norms = filter_l1_norms(model.layers[0])
    pruned, report = prune_filters_l1(model, "conv1", 0.25)
    removed = report.extra["removed"]["conv1"]
    assert removed.size == 4
    assert norms[removed].max() <= np.delete(norms, removed).min()
    conv2 = next(lay for lay in pruned.layers if lay.name == "conv2")
    assert conv2.params()["weight"].shape == (32, 12, 3, 3)
    np.testing.assert_array_equal(
        conv2.params()["weight"],
        np.delete(model.layers[3].params()["weight"], removed, axis=1))
    assert report.row("conv1").weights == 12 * 9 and report.row("conv1").original_weights == 144
    assert report.row("conv1").bytes_before == (144 + 16) * 4
    assert report.row("conv1").bytes_after == (108 + 12) * 4
    assert report.bytes_before == sum((lay.params()["weight"].size + lay.params()["bias"].size)
                                      * 4 for lay in model.layers if lay.params())
    assert pruned.forward(rng.random((2, 1, 8, 8)).astype(np.float32)).shape == (2, 10)


@pytest.mark.parametrize("amount, exc, match", [
    (16, ValueError, r"amount=16 removes all 16 filters of layer 'conv1'"),
    (1.0, ValueError, r"amount=1.0 is out of range; expected 0 <= amount < 1"),
    (-1, ValueError, r"amount=-1 is out of range"),
    ("2", TypeError, r"amount must be an int"),
])
def test_bad_amount(amount, exc, match):
    with pytest.raises(exc, match=match):
        prune_filters_l1(zoo.get("digits-cnn"), "conv1", amount)


def test_output_layer_and_unknown_layer_are_refused():
    model = zoo.get("digits-mlp")
    with pytest.raises(ValueError, match="produces the model's outputs"):
        prune_filters_l1(model, "dense2", 1)
    with pytest.raises(ValueError, match="layer_name='conv7' is not a dense or conv layer"):
        prune_filters_l1(model, "conv7", 1)
    with pytest.raises(ValueError, match="keep must name at least one"):
        remove_units(model, "dense1", [])


def test_taylor_scores_definition(rng):
    """Theta = |mean_{n,h,w} z * dL/dz| over the ReLU output, normalized to unit L2 norm; a
    dead filter scores 0 and goes first."""
    model = zoo.get("digits-cnn", seed=2).astype(np.float64)
    _zero_units(model, "conv1", [5])
    data = _Data(rng)
    scores = taylor_scores(model, "conv1", data.x_train, data.y_train)
    assert scores.shape == (16,) and scores[5] == 0
    assert abs(np.sqrt((scores ** 2).sum()) - 1) < 1e-12
    # reference by perturbation: d/d(eps) L(z * (1 + eps)) at 0 equals sum(z * dL/dz)
    from models.sequential import softmax_cross_entropy

    x, y = data.x_train.astype(np.float64), data.y_train
    relu_out = model.layers[0].forward(x)
    relu_out = np.maximum(relu_out, 0)

    def loss_scaled(c, eps):
        z = relu_out.copy()
        z[:, c] *= 1 + eps
        h = z
        for layer in model.layers[2:]:
            h = layer.forward(h)
        return softmax_cross_entropy(h, y)[0] * len(x)

    raw = np.array([(loss_scaled(c, 1e-6) - loss_scaled(c, -1e-6)) / 2e-6 for c in range(16)])
    theta = np.abs(raw / (len(x) * 8 * 8))
    np.testing.assert_allclose(scores, theta / np.sqrt((theta ** 2).sum()), rtol=1e-5,
                               atol=1e-9)
    pruned, report = prune_taylor(model, data, "conv1", 1, samples=64)
    np.testing.assert_array_equal(report.extra["removed"]["conv1"], [5])
    assert pruned.layers[0].params()["weight"].shape[0] == 15
